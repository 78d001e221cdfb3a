/** Parity tests shared by the Borzoi and Flashzoi fixtures (same network apart from attention). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadModel } from '../models/load.js';
import type { TensorData } from '../engine/protocol.js';
import { Graph } from '../engine/graph.js';
import { Engine } from '../engine/engine.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';
import { LayerContext, layerNorm, linear } from '../models/layers.js';
import { relativeAttention, rotaryAttention } from '../models/attention.js';
import { Borzoi, parseBorzoiConfig } from '../models/borzoi.js';
import { architectureFromConfig } from '../models/load.js';
import { Model, type OneHotBatch } from '../models/model.js';
import { assertClose, channelsLast, maxAbsDiff, openFixture, readRef, type Fixture } from './fixtures.js';
import { skipUnless } from './fixtures.js';

/** The bar for float32 intermediates: atol 5e-5 + rtol 1e-4 (≥ 10x the reference's own f32-vs-f64 error). */
export const INTERMEDIATE_TOL = { atol: 5e-5, rtol: 1e-4 };

interface Suggested {
  [name: string]: { atol: number };
}

export async function suggestedTolerances(fixture: Fixture): Promise<Suggested> {
  const ref = JSON.parse(await readFile(`${fixture.dir}/reference.json`, 'utf8'));
  return ref.suggested_tolerances as Suggested;
}

async function withModel<T>(dir: string, options: Parameters<typeof loadModel>[1], fn: (m: Model) => Promise<T>): Promise<T> {
  const model = await loadModel(dir, options);
  try {
    return await fn(model);
  } finally {
    await model.close();
  }
}

export function unetParityTests(fixtureName: string, kind: 'borzoi' | 'flashzoi'): void {
  test(`${fixtureName}: trunk outputs, heads and embeddings match the reference`, { skip: skipUnless(fixtureName) }, async () => {
    const fx = await openFixture(fixtureName);
    const tol = await suggestedTolerances(fx);
    const out = fx.outputs;
    await withModel(fx.dir, { tileLength: 0 }, async (model) => {
      assert.equal(model.arch.kind, kind);
      assert.deepEqual(model.headNames, ['human', 'mouse']);
      const trunk = await model.trunk({ data: fx.x, batch: fx.batch, length: fx.length });
      const shape = (n: string) => out.tensors.get(n)!.shape;
      // Trunk outputs are [B, positions, C]; the reference's conv stages are channels-first.
      assertClose(trunk.x_unet0!.data as Float32Array, channelsLast(readRef(out, 'after_res_tower'), shape('after_res_tower')), INTERMEDIATE_TOL, 'x_unet0 vs after_res_tower');
      assertClose(trunk.x_unet1!.data as Float32Array, channelsLast(readRef(out, 'after_unet1'), shape('after_unet1')), INTERMEDIATE_TOL, 'x_unet1 vs after_unet1');
      assertClose(trunk.transformer_in!.data as Float32Array, readRef(out, 'transformer_in'), INTERMEDIATE_TOL, 'transformer_in');

      const p = await model.head(trunk, fx.length, { embeddings: true });
      for (const head of ['human', 'mouse']) {
        const got = p.heads[head]!;
        assert.deepEqual(got.shape, shape(head));
        // README: atol vs *_f64 = 10x the reference's own float32 error; allow 2x that against float32.
        assertClose(got.data, readRef(out, `${head}_f64`), { atol: tol[head]!.atol }, `${head} vs ${head}_f64`);
        assertClose(got.data, readRef(out, head), { atol: 2 * tol[head]!.atol }, `${head} vs float32 ${head}`);
      }
      const emb = p.embeddings!;
      assertClose(emb.data, channelsLast(readRef(out, 'embeddings_f64'), shape('embeddings')), { atol: tol.embeddings!.atol }, 'embeddings vs embeddings_f64');
      assertClose(emb.data, channelsLast(readRef(out, 'embeddings'), shape('embeddings')), { atol: 2 * tol.embeddings!.atol }, 'embeddings vs float32');
    });
  });

  test(`${fixtureName}: tiled trunk equals the untiled one, in both conv layouts`, { skip: skipUnless(fixtureName) }, async () => {
    const fx = await openFixture(fixtureName);
    const input = { data: fx.x, batch: fx.batch, length: fx.length };
    const whole = await withModel(fx.dir, { tileLength: 0 }, (m) => m.trunk(input));
    for (const layout of ['2d', '1d'] as const) {
      // 512-bp tiles: core on the 128-bp grid, halo 384 bp, so most tiles have both halos.
      const { tiled, prediction } = await withModel(fx.dir, { tileLength: 512, layout }, async (m) => {
        const t = await m.trunk(input);
        return { tiled: t, prediction: await m.head(t, fx.length) };
      });
      for (const [name, t] of Object.entries(whole)) {
        const other: TensorData = tiled[name]!;
        assert.deepEqual(other.dims, t.dims, name);
        const d = maxAbsDiff(other.data as Float32Array, t.data as Float32Array);
        assert.ok(d <= 1e-5, `${layout} ${name}: tiled differs from untiled by ${d}`);
      }
      assertClose(prediction.heads.human!.data, readRef(fx.outputs, 'human_f64'), { atol: 3e-5 }, `${layout} tiled human`);
    }
  });
}

/**
 * Attention of transformer block 0 alone, fed the reference's transformer_in:
 * attention_out_block_0 (and, for Flashzoi, the fused qkv projection attention_qkv_block_0).
 */
export function attentionBlockTest(fixtureName: string): void {
  test(`${fixtureName}: attention of block 0 matches the reference intermediates`, { skip: skipUnless(fixtureName) }, async () => {
    const fx = await openFixture(fixtureName);
    const arch = new Borzoi(parseBorzoiConfig(JSON.parse(await readFile(`${fx.dir}/config.json`, 'utf8')), 'config.json'));
    const { dim, heads, attnDimKey, attnDimValue, flashed } = arch.config;
    const weights = WeightSet.fromSafetensors(await SafetensorsFile.open(`${fx.dir}/weights.safetensors`));
    const expected = arch.expectedWeights();
    const { spec, offsets } = weights.pack(expected.map((t) => t.name));
    const g = new Graph('attention_block_0');
    const c = new LayerContext(g, (n) => offsets.get(n), new Map(expected.map((t) => [t.name, t.shape])), '2d');
    const x = layerNorm(c, g.input('x', 'float32', ['batch', 'n', dim]), 'transformer.0.0.fn.0', 1e-3);
    const prefix = 'transformer.0.0.fn.1';
    if (flashed) {
      const cos = g.input('rotary_cos', 'float32', ['n', 64]);
      const sin = g.input('rotary_sin', 'float32', ['n', 64]);
      const shape = { heads, kvHeads: heads / 2, headDim: dim / heads, rotaryDim: 128 };
      g.output(rotaryAttention(c, x, cos, sin, `${prefix}.mha`, shape), 'out', 'float32', ['batch', 'n', dim]);
      g.output(linear(c, x, `${prefix}.mha.Wqkv`), 'qkv', 'float32', ['batch', 'n', 'qkv']);
    } else {
      const positions = g.input('positions', 'float32', ['distances', 32]);
      g.output(relativeAttention(c, x, positions, prefix, { heads, keySize: attnDimKey, valueSize: attnDimValue }), 'out', 'float32', ['batch', 'n', dim]);
    }
    const engine = Engine.start();
    try {
      await engine.loadBlob('weights', spec);
      await engine.createSession('attention', g.toModel(), ['weights']);
      const xin = fx.outputs.readFloat32('transformer_in');
      const feeds = { x: { dtype: 'float32' as const, dims: fx.outputs.tensors.get('transformer_in')!.shape, data: xin }, ...arch.positionFeeds(fx.length) };
      const out = await engine.run('attention', feeds, flashed ? ['out', 'qkv'] : ['out']);
      assertClose(out.out!.data as Float32Array, readRef(fx.outputs, 'attention_out_block_0'), INTERMEDIATE_TOL, 'attention_out_block_0');
      if (flashed) assertClose(out.qkv!.data as Float32Array, readRef(fx.outputs, 'attention_qkv_block_0'), INTERMEDIATE_TOL, 'attention_qkv_block_0');
    } finally {
      await engine.close();
    }
  });
}

/**
 * The head decodes only the kept bins and their reach (borzoi.ts `decoderWindow`); `fullDecoder`
 * decodes the whole window and crops, as the reference. Both run on the same trunk features for:
 * the fixture's config (centre bins_to_return bins), bins_to_return one less (the reference's
 * rounding then crops from an odd bin, e.g. [65, 191) of 256: the spans must round outwards onto the
 * ×2 grids) and full output (16 bins off each end); at the fixture's length (its input, batch 2),
 * 12,288 bp (the crop well inside the window) and 2,048 bp (no more bins than bins_to_return: the
 * crop, and so the spans, reach both sequence ends). Input gradients (checkpointed head backward)
 * are compared the same way.
 *
 * Kept bins see the same inputs through the same ops, but not to the bit: ONNX Runtime's
 * convolution kernels pick their blocking, and so the order of their float32 sums, by the tensor
 * sizes, and the decoded span is shorter. Observed: ≤ 9e-7 of max(1, max|x|) (2e-6 absolute), most
 * elements a few ulp off, in both conv layouts. The bound, 5e-6 of max(1, max|x|), is several times
 * that and far below a margin error: with the separable convs' reach set to 0 the edge bins differ
 * by 1.6.
 */
export function croppedDecoderTests(fixtureName: string): void {
  test(`${fixtureName}: the cropped decoder equals the full decoder (3 crops x 3 lengths, input gradients)`, { skip: skipUnless(fixtureName) }, async () => {
    const fx = await openFixture(fixtureName);
    const json = JSON.parse(await readFile(`${fx.dir}/config.json`, 'utf8'));
    const file = await SafetensorsFile.open(`${fx.dir}/weights.safetensors`);
    const create = async (overrides: Record<string, unknown>, fullDecoder: boolean) => {
      const arch = architectureFromConfig({ ...json, ...overrides }, 'config.json') as Borzoi;
      arch.fullDecoder = fullDecoder;
      return Model.create(arch, WeightSet.fromSafetensors(file), `${fixtureName}${fullDecoder ? ' full decoder' : ''}`, { tileLength: 0, threads: 2 });
    };
    const inputs: OneHotBatch[] = [{ data: fx.x, batch: fx.batch, length: fx.length }, randomBatch(12_288, 7), randomBatch(2048, 8)];
    const crops: [string, Record<string, unknown>][] = [
      ['centre', {}],
      ['odd crop', { bins_to_return: json.bins_to_return - 1 }],
      ['full output', { return_center_bins_only: false }],
    ];
    const scaled = (got: ArrayLike<number>, want: ArrayLike<number>) => maxAbsDiff(got, want) / Math.max(1, maxAbs(want));
    let worst = 0;
    for (const [label, overrides] of crops) {
      const cropped = await create(overrides, false);
      const full = await create(overrides, true);
      try {
        for (const input of inputs) {
          const what = `${label}, ${input.length} bp`;
          const trunk = await cropped.trunk(input);
          const a = await cropped.head(trunk, input.length, { embeddings: true });
          const b = await full.head(trunk, input.length, { embeddings: true });
          const { start, end } = cropped.arch.cropRange(input.length);
          for (const [name, t] of [...Object.entries(b.heads), ['embeddings', b.embeddings!] as const]) {
            const got = name === 'embeddings' ? a.embeddings! : a.heads[name]!;
            assert.deepEqual(got.shape, t.shape, `${what} ${name} shape`);
            assert.equal(t.shape[1], end - start, `${what} ${name} bins`);
            const d = scaled(got.data, t.data);
            worst = Math.max(worst, d);
            assert.ok(d <= 5e-6, `${what} ${name}: cropped decoder differs by ${d} of max(1, max|x|)`);
          }
        }
        if (label === 'centre') {
          const x = inputs[0]!;
          const bins = cropped.outputBins(x.length);
          const objective = { head: 'human', tracks: [0, 3], bins: [0, Math.floor(bins / 3), bins - 1], aggregate: 'sum' as const };
          const [ga, gb] = [await cropped.inputGradients(x, objective), await full.inputGradients(x, objective)];
          const d = scaled(ga.grad, gb.grad);
          worst = Math.max(worst, d);
          assert.ok(d <= 5e-6, `input gradients: cropped decoder differs by ${d} of max(1, max|grad|)`);
          assert.ok(scaled(ga.objective, gb.objective) <= 5e-6, 'objective');
        }
      } finally {
        await cropped.close();
        await full.close();
      }
    }
    console.log(`${fixtureName}: cropped vs full decoder, largest difference ${worst} of max(1, max|x|)`);
  });
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** One random one-hot sequence of `length` bp (a fixed-seed linear congruential generator). */
function randomBatch(length: number, seed: number): OneHotBatch {
  let state = seed;
  const base = () => ((state = (state * 1_103_515_245 + 12_345) >>> 0) >>> 16) & 3;
  return Model.encode([Array.from({ length }, () => 'ACGT'[base()]).join('')]);
}
