/**
 * Whole-model gradients (`finetune --train-trunk`): on enformer-small, the loss and the head gradient
 * equal grads.safetensors, the gradient of every trainable weight agrees with central finite
 * differences of the loss along the gradient's own directions (trunk part alone, then all of it),
 * and one gradient step lowers the loss by what the gradient predicts; the tiled trunk backward
 * gives the untiled gradients. On borzoi-small and flashzoi-small (U-Net skips into the tail) the
 * same checks in short, and the trainer's predictions equal `Model.predict`'s. With use_tf_gamma
 * at 196,608 bp the trainer uses the TF gamma table as `Model` does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfig, architectureFromConfig, loadModel, readGammaTable, TF_GAMMA_FILE } from '../models/load.js';
import { Model } from '../models/model.js';
import { WholeModelTrainer } from '../models/trainable.js';
import { SafetensorsFile, writeSafetensors } from '../weights/safetensors.js';
import { poissonLoss, poissonLossGraph } from '../train/losses.js';
import { assertClose, compare, fixture, fixturePath, skipUnless, tempDir } from './fixtures.js';

/** The loss after moving the weights by h·direction (restored after). */
async function lossAlong(trainer: WholeModelTrainer, direction: Map<string, Float32Array>, h: number, batch: { data: Float32Array; batch: number; length: number }, targets: Float32Array): Promise<number> {
  const params = trainer.params;
  const saved = new Map([...direction.keys()].map((n) => [n, params.get(n)!.slice()]));
  for (const [n, d] of direction) {
    const p = params.get(n)!;
    for (let i = 0; i < p.length; i++) p[i]! += h * d[i]!;
  }
  trainer.weightsChanged();
  const r = await trainer.lossAndGradients(batch, targets);
  for (const [n, s] of saved) params.get(n)!.set(s);
  trainer.weightsChanged();
  return r.loss;
}

/** The gradient's norm and its unit direction over the weights `keep` selects. */
function unitGradient(grads: Map<string, Float32Array>, keep: (n: string) => boolean = () => true): { norm: number; direction: Map<string, Float32Array> } {
  const chosen = [...grads.keys()].filter(keep);
  const norm = Math.sqrt(chosen.reduce((a, n) => a + grads.get(n)!.reduce((s, x) => s + x * x, 0), 0));
  return { norm, direction: new Map(chosen.map((n) => [n, Float32Array.from(grads.get(n)!, (x) => x / norm)])) };
}

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
    const lossAt = (direction: Map<string, Float32Array>, h: number) => lossAlong(trainer, direction, h, batch, targets);
    // Unit directions along the gradient: the directional derivative is the gradient's norm.
    const unit = (keep: (n: string) => boolean) => unitGradient(g, keep);
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

for (const { set, weight } of [
  { set: 'borzoi-small', weight: 'human_head.weight' },
  { set: 'flashzoi-small', weight: 'human_head.weight' },
]) {
  test(`train-trunk: ${set}: loss and head gradient equal grads.safetensors, tiled == untiled, predictions equal Model.predict, finite differences`, { skip: skipUnless(set) }, async () => {
    const dir = fixturePath(set);
    const arch = architectureFromConfig(await readConfig(`${dir}/config.json`), dir);
    const weights = await SafetensorsFile.open(`${dir}/weights.safetensors`);
    arch.adaptToWeights?.(new Map([...weights.tensors.values()].map((t) => [arch.canonicalName(t.name) ?? t.name, t.shape])));
    const params = new Map(arch.expectedWeights().map((t) => [t.name, weights.readFloat32(t.name)]));
    const grads = await SafetensorsFile.open(`${dir}/grads.safetensors`);
    const inputs = await SafetensorsFile.open(`${dir}/inputs.safetensors`);
    const [batchSize, length] = inputs.tensors.get('x')!.shape as [number, number];
    const [, bins] = grads.tensors.get('targets_human')!.shape as [number, number, number];
    const x = { data: inputs.readFloat32('x'), batch: batchSize, length };
    const targets = grads.readFloat32('targets_human');
    const trainer = await WholeModelTrainer.create(arch, params, 'human', poissonLossGraph, bins, { threads: 1, tileLength: 0 });
    const tiled = await WholeModelTrainer.create(arch, params, 'human', poissonLossGraph, bins, { threads: 1, tileLength: 1024 });
    const model = await loadModel(dir, { threads: 1 });
    try {
      const r = await trainer.lossAndGradients(x, targets);
      assert.ok(Math.abs(r.loss - grads.readFloat64('poisson_loss_f64')[0]!) < 4e-7, `loss ${r.loss}`);
      assertClose(r.grads.get(weight)!, grads.readFloat64('grad_head_weight_poisson_f64'), { atol: 2e-7 }, 'head weight gradient');
      assert.deepEqual(new Set(r.grads.keys()), new Set(trainer.trainable));

      // 1,024-bp tiles (8 tiles with halos) give the untiled loss and gradients; the U-Net skips' cotangents reach every tile.
      const t = await tiled.lossAndGradients(x, targets);
      assert.ok(Math.abs(t.loss - r.loss) <= 1e-6 * r.loss);
      for (const [name, g] of r.grads) {
        const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assertClose(t.grads.get(name)!, g, { atol: 1e-5 * scale + 1e-12 }, `tiled gradient of ${name}`);
      }

      // The same predictions as the model's own sessions (weights as inputs here, initializers there).
      const want = (await model.predict(x)).heads.human!.data;
      for (const tr of [trainer, tiled]) assertClose(await tr.predict(x), want, { atol: 1e-6, rtol: 1e-5 }, 'trainer predictions');

      // Central difference along the gradient (see the Enformer test above for h and the 1 % bound).
      const { norm, direction } = unitGradient(r.grads);
      const h = 1e-3;
      const fd = ((await lossAlong(trainer, direction, h, x, targets)) - (await lossAlong(trainer, direction, -h, x, targets))) / (2 * h);
      assert.ok(Math.abs(fd - norm) <= 0.01 * norm, `finite difference ${fd} vs gradient norm ${norm}`);
    } finally {
      await trainer.close();
      await tiled.close();
      await model.close();
    }
  });
}

test('train-trunk: with use_tf_gamma the trainer uses the TF gamma table at 196,608 bp, as Model does', { skip: skipUnless('enformer-small') }, async () => {
  const src = fixture('enformer-small')!;
  const tmp = tempDir();
  try {
    const config = { ...JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')), use_tf_gamma: true };
    writeFileSync(join(tmp.dir, 'config.json'), JSON.stringify(config));
    copyFileSync(join(src, 'weights.safetensors'), join(tmp.dir, 'weights.safetensors'));
    // A table for this model's 4 gamma basis functions at the TF table's 1,536 positions, far from the
    // formula it replaces (values in [0, 20) from a fixed sequence, the formula's in [0, 1]), so
    // using it or not shows (observed: predictions move by up to 3.8e-3).
    const rows = 2 * 1536 - 1;
    const values = Float32Array.from({ length: rows * 4 }, (_, i) => ((i * 0.6180339887) % 1) * 20);
    await writeSafetensors(join(tmp.dir, TF_GAMMA_FILE), [{ name: 'tf_gammas', dtype: 'F32', shape: [rows, 4], data: values }]);

    const arch = architectureFromConfig(config, tmp.dir);
    const weights = await SafetensorsFile.open(join(src, 'weights.safetensors'));
    const params = new Map(arch.expectedWeights().map((t) => [t.name, weights.readFloat32(t.name)]));
    const length = 196_608;
    const { start, end } = arch.cropRange(length);
    const bins = end - start;
    const sequence = Array.from({ length }, (_, i) => 'ACGT'[(i * 7 + (i >> 5)) % 4]).join('');
    const x = Model.encode([sequence]);
    const targets = Float32Array.from({ length: bins * arch.tracks('human') }, (_, i) => i % 3);

    const model = await loadModel(tmp.dir, { threads: 1 });
    const withTable = await model.predict(x).finally(() => model.close());
    const plain = await loadModel(src, { threads: 1 });
    const withoutTable = await plain.predict(x).finally(() => plain.close());
    const want = withTable.heads.human!.data;
    // The table changes the predictions by more than 10× the tolerance below.
    assert.ok(!compare(withoutTable.heads.human!.data, want, 1e-5, 1e-4).ok, 'the gamma table should change the predictions');

    const trainer = await WholeModelTrainer.create(arch, params, 'human', poissonLossGraph, bins, { threads: 1, gammaTable: await readGammaTable(join(tmp.dir, TF_GAMMA_FILE)) });
    try {
      assertClose(await trainer.predict(x), want, { atol: 1e-6, rtol: 1e-5 }, 'trainer predictions with the gamma table');
      // The training path (blocks, tail, loss) sees the same positions: its loss is the predictions'.
      const { loss } = await trainer.lossAndGradients(x, targets);
      const expected = poissonLoss(want, targets);
      assert.ok(Math.abs(loss - expected) <= 1e-5 * Math.abs(expected), `loss ${loss} vs ${expected} from Model.predict`);
    } finally {
      await trainer.close();
    }
  } finally {
    tmp.cleanup();
  }
});
