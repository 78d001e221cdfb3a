/**
 * Whole-model gradients (`finetune --train-trunk`): on enformer-small, the loss and the head gradient
 * equal grads.safetensors, the gradient of every trainable weight agrees with central finite
 * differences of the loss along the gradient's own directions (trunk part alone, then all of it),
 * and one gradient step lowers the loss by what the gradient predicts; the tiled trunk backward
 * gives the untiled gradients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readConfig, architectureFromConfig } from '../models/load.js';
import { WholeModelTrainer } from '../models/trainable.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { poissonLossGraph } from '../train/losses.js';
import { assertClose, fixturePath, skipUnless } from './fixtures.js';

test('train-trunk: whole-model gradients of the Poisson loss agree with grads.safetensors and with finite differences', { skip: skipUnless('enformer-small') }, async () => {
  const dir = fixturePath('enformer-small');
  const arch = architectureFromConfig(await readConfig(`${dir}/config.json`), dir);
  const weights = await SafetensorsFile.open(`${dir}/weights.safetensors`);
  const params = new Map(arch.expectedWeights().map((t) => [t.name, weights.readFloat32(t.name)]));
  const grads = await SafetensorsFile.open(`${dir}/grads.safetensors`);
  const inputs = await SafetensorsFile.open(`${dir}/inputs.safetensors`);
  const [, length] = inputs.tensors.get('x')!.shape as [number, number];
  const [, bins, tracks] = grads.tensors.get('targets_human')!.shape as [number, number, number];
  // Sequence 0 alone keeps the five loss evaluations below short.
  const batch = { data: inputs.readFloat32('x').subarray(0, length * 4), batch: 1, length };
  const targets = grads.readFloat32('targets_human').subarray(0, bins * tracks);
  const trainer = await WholeModelTrainer.create(arch, params, 'human', poissonLossGraph, bins, { threads: 1, tileLength: 0 });
  try {
    // Both sequences at once reproduce the fixture's loss and head gradient (sanity of the assembly).
    const both = await trainer.lossAndGradients({ data: inputs.readFloat32('x'), batch: 2, length }, grads.readFloat32('targets_human'));
    assert.ok(Math.abs(both.loss - grads.readFloat64('poisson_loss_f64')[0]!) < 4e-7);
    assertClose(both.grads.get('_heads.human.0.weight')!, grads.readFloat64('grad_head_weight_poisson_f64'), { atol: 7e-7 }, 'head weight gradient');

    // The trunk on 2,048-bp tiles (4 tiles with 384-bp halos) gives the untiled loss and gradients.
    const tiled = await WholeModelTrainer.create(arch, params, 'human', poissonLossGraph, bins, { threads: 1, tileLength: 2048 });
    try {
      const t = await tiled.lossAndGradients({ data: inputs.readFloat32('x'), batch: 2, length }, grads.readFloat32('targets_human'));
      assert.ok(Math.abs(t.loss - both.loss) <= 1e-6 * both.loss);
      for (const [name, g] of both.grads) {
        const scale = g.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        // Tiles sum each weight's gradient in another order: float32 round-off, relative to the tensor's largest entry.
        assertClose(t.grads.get(name)!, g, { atol: 1e-5 * scale + 1e-12 }, `tiled gradient of ${name}`);
      }
    } finally {
      await tiled.close();
    }

    const { loss, grads: g } = await trainer.lossAndGradients(batch, targets);
    const names = trainer.trainable;
    assert.equal(names.length, g.size);
    const lossAt = async (direction: Map<string, Float32Array>, h: number) => {
      const saved = new Map([...direction.keys()].map((n) => [n, params.get(n)!.slice()]));
      for (const [n, d] of direction) {
        const p = params.get(n)!;
        for (let i = 0; i < p.length; i++) p[i]! += h * d[i]!;
      }
      const r = await trainer.lossAndGradients(batch, targets);
      for (const [n, s] of saved) params.get(n)!.set(s);
      return r.loss;
    };
    // Unit directions along the gradient: the directional derivative is the gradient's norm.
    const unit = (keep: (n: string) => boolean) => {
      const chosen = names.filter(keep);
      const norm = Math.sqrt(chosen.reduce((a, n) => a + g.get(n)!.reduce((s, x) => s + x * x, 0), 0));
      return { norm, direction: new Map(chosen.map((n) => [n, Float32Array.from(g.get(n)!, (x) => x / norm)])) };
    };
    const h = 1e-3;
    for (const [what, keep] of [['trunk weights', (n: string) => !n.startsWith('_heads.')], ['all weights', () => true]] as const) {
      const { norm, direction } = unit(keep);
      const fd = ((await lossAt(direction, h)) - (await lossAt(direction, -h))) / (2 * h);
      // float32 losses (~1e-7 round-off) over 2h = 0.002 (~1e-5 of the norm) and O(h²) terms: 1 % is ample
      // (at h = 1e-2 the third-order term alone is ~3 %).
      assert.ok(Math.abs(fd - norm) <= 0.01 * norm, `${what}: finite difference ${fd} vs gradient norm ${norm}`);
    }
    // A plain gradient step of length ε lowers the loss by ε·‖g‖ to first order (second order ~1 % at ε = 1e-3).
    const { norm, direction } = unit(() => true);
    const eps = 1e-3;
    const after = await lossAt(direction, -eps);
    assert.ok(after < loss, `loss ${loss} -> ${after}`);
    assert.ok(Math.abs(loss - after - eps * norm) <= 0.05 * eps * norm, `decrease ${loss - after} vs predicted ${eps * norm}`);
  } finally {
    await trainer.close();
  }
});
