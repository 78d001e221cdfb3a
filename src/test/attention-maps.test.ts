/**
 * Attention maps and pre-softplus outputs on the three fixture models.
 *
 * The attention weights are checked against an independent float64 re-computation
 * (attention-reference.ts) from each block's input as the reference recorded it (`after_conv_tower` /
 * `transformer_in`, then `after_transformer_block_{i-1}`); that re-computation is itself checked
 * against the reference's `attention_out_block_i`. Tolerances:
 *   reference vs attention_out_block_i  atol 1e-5: the float32 reference's own spread (README: ≤ 4e-6;
 *                                       observed 3.6e-7 .. 1.2e-6)
 *   one block's graph fed the reference's
 *   block input vs float64 weights      atol 1e-6 (observed ≤ 4.6e-7): float32 rounding of the logits
 *                                       (|logit| ≲ 10, 2^-24 relative, through the exp)
 *   model maps vs float64 weights       atol 1e-5 (observed ≤ 4.9e-6): the model's block input is its own float32
 *                                       computation, ~1e-5 from the reference's (README spread of
 *                                       after_conv_tower / transformer_in / after_transformer_block_0),
 *                                       and attention weights are at most 1, so this is that spread
 *                                       propagated through a softmax, not a loose bar
 *   row sums                            1 within 1e-5 (n ≤ 64 float32 terms)
 *   tiled/untiled, chunked/unchunked    2e-6 (observed ≤ 8.6e-7): only summation order may differ
 *   logits                              see the logits test
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { architectureFromConfig, findWeightsFile, readConfig } from '../models/load.js';
import { Model, type ModelOptions, type AttentionMap } from '../models/model.js';
import { AttentionMaps, ATTENTION_ROWS, attentionOutputName, AttentionSelectionError, parseIndexList, type AttentionMapSpec } from '../models/attention-maps.js';
import { Graph } from '../engine/graph.js';
import { Engine } from '../engine/engine.js';
import { LayerContext, layerNorm } from '../models/layers.js';
import { relativeAttention, rotaryAttention } from '../models/attention.js';
import { Borzoi } from '../models/borzoi.js';
import { Enformer } from '../models/enformer.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';
import { assertClose, channelsLast, openFixture, readRef, skipUnless, type Fixture } from './fixtures.js';
import { relativeReference, rotaryReference, type ReferenceAttention } from './attention-reference.js';

interface Case {
  name: string;
  /** Residual input of block j as the reference recorded it, [B, n, dim]. */
  blockInput(out: SafetensorsFile, j: number): Float64Array;
  /** `cfg` is the fixture's config.json. */
  reference(w: SafetensorsFile, out: SafetensorsFile, x: Float64Array, n: number, j: number, cfg: Record<string, number>): ReferenceAttention;
}

const CASES: Case[] = [
  {
    name: 'enformer-small',
    blockInput: (out, j) => (j === 0 ? channelsLast(readRef(out, 'after_conv_tower'), out.tensors.get('after_conv_tower')!.shape) : readRef(out, `after_transformer_block_${j - 1}`)),
    reference: (w, out, x, n, j, cfg) =>
      relativeReference(w, x, n, readRef(out, 'positional_features'), { prefix: `transformer.${j}.0.fn.1`, dim: cfg.dim!, heads: cfg.heads!, keySize: cfg.attn_dim_key!, valueSize: cfg.dim! / cfg.heads!, eps: 1e-5 }),
  },
  {
    name: 'borzoi-small',
    blockInput: (out, j) => readRef(out, j === 0 ? 'transformer_in' : `after_transformer_block_${j - 1}`),
    reference: (w, out, x, n, j, cfg) =>
      relativeReference(w, x, n, readRef(out, 'positional_features'), { prefix: `transformer.${j}.0.fn.1`, dim: cfg.dim!, heads: cfg.heads!, keySize: cfg.attn_dim_key!, valueSize: cfg.attn_dim_value!, eps: 1e-3 }),
  },
  {
    name: 'flashzoi-small',
    blockInput: (out, j) => readRef(out, j === 0 ? 'transformer_in' : `after_transformer_block_${j - 1}`),
    // The kv head count is not in the config: flash-attn's MHA in the reference uses heads / 2.
    reference: (w, _out, x, n, j, cfg) => rotaryReference(w, x, n, { prefix: `transformer.${j}.0.fn.1.mha`, dim: cfg.dim!, heads: cfg.heads!, kvHeads: cfg.heads! / 2, rotaryDim: 128, base: 20_000, eps: 1e-3 }),
  },
];

/** A fixture model with `queryChunks` attention chunks (loadModel keeps the family default). */
async function makeModel(fx: Fixture, queryChunks: number, options: ModelOptions): Promise<Model> {
  const arch = architectureFromConfig(await readConfig(join(fx.dir, 'config.json')), 'config.json');
  (arch as unknown as { queryChunks: number }).queryChunks = queryChunks;
  const path = await findWeightsFile(fx.dir);
  const weights = WeightSet.fromSafetensors(await SafetensorsFile.open(path), (n) => arch.canonicalName(n));
  return Model.create(arch, weights, path, { threads: 1, ...options });
}

async function config(fx: Fixture): Promise<Record<string, number>> {
  return (await readConfig(join(fx.dir, 'config.json'))) as Record<string, number>;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Element [b, l, h, r, p] of a map. */
function at(m: AttentionMap, b: number, l: number, h: number, r: number, p: number): number {
  const [, L, H, R, P] = m.shape;
  return m.data[(((b * L + l) * H + h) * R + r) * P + p]!;
}

for (const c of CASES) {
  const skip = skipUnless(c.name);

  test(`${c.name}: the float64 reference attention reproduces attention_out_block_i`, { skip }, async () => {
    const fx = await openFixture(c.name);
    const w = await SafetensorsFile.open(join(fx.dir, 'weights.safetensors'));
    const [B, n, dim] = fx.outputs.tensors.get('attention_out_block_0')!.shape as [number, number, number];
    for (let j = 0; fx.outputs.tensors.has(`attention_out_block_${j}`); j++) {
      const input = c.blockInput(fx.outputs, j);
      const want = readRef(fx.outputs, `attention_out_block_${j}`);
      for (let b = 0; b < B; b++) {
        const r = c.reference(w, fx.outputs, input.subarray(b * n * dim, (b + 1) * n * dim), n, j, await config(fx));
        assertClose(r.out, want.subarray(b * n * dim, (b + 1) * n * dim), { atol: 1e-5 }, `${c.name} reference attention_out_block_${j}[${b}]`);
      }
    }
  });

  test(`${c.name}: one block's attention graph, fed the reference's block input, gives the float64 weights to float32 rounding`, { skip }, async () => {
    const fx = await openFixture(c.name);
    const w = await SafetensorsFile.open(join(fx.dir, 'weights.safetensors'));
    const cfg = await config(fx);
    const arch = architectureFromConfig(cfg, 'config.json');
    const { heads } = arch.transformer;
    const [B, n, dim] = fx.outputs.tensors.get('attention_out_block_0')!.shape as [number, number, number];
    const weights = WeightSet.fromSafetensors(w, (name) => arch.canonicalName(name));
    const expected = arch.expectedWeights();
    const { spec, offsets } = weights.pack(expected.map((t) => t.name));
    const engine = Engine.start({ threads: 1 });
    try {
      await engine.loadBlob('weights', spec);
      for (let j = 0; fx.outputs.tensors.has(`attention_out_block_${j}`); j++) {
        const g = new Graph(`attention_${j}`);
        const ctx = new LayerContext(g, (name) => offsets.get(name), new Map(expected.map((t) => [t.name, t.shape])), '2d');
        const eps = arch instanceof Enformer ? 1e-5 : 1e-3;
        const x = layerNorm(ctx, g.input('x', 'float32', ['batch', 'n', dim]), `transformer.${j}.0.fn.0`, eps);
        const maps = new AttentionMaps(ctx, { layers: [j], heads: range(heads) });
        const prefix = `transformer.${j}.0.fn.1`;
        let out;
        if (arch instanceof Borzoi && arch.config.flashed) {
          const cos = g.input('rotary_cos', 'float32', ['n', 64]);
          const sin = g.input('rotary_sin', 'float32', ['n', 64]);
          out = rotaryAttention(ctx, x, cos, sin, `${prefix}.mha`, { heads, kvHeads: arch.kvHeads, headDim: dim / heads, rotaryDim: 128, queryChunks: 3 }, maps.tap(j));
        } else {
          const positions = g.input('positions', 'float32', ['distances', 'features']);
          const valueSize = arch instanceof Borzoi ? arch.config.attnDimValue : dim / heads;
          out = relativeAttention(ctx, x, positions, prefix, { heads, keySize: cfg.attn_dim_key!, valueSize, queryChunks: 3 }, maps.tap(j));
        }
        g.output(out, 'out', 'float32', ['batch', 'n', dim]);
        maps.emit();
        await engine.createSession(`block${j}`, g.toModel(), ['weights']);
        const input = c.blockInput(fx.outputs, j);
        // The reference's own position tables where it recorded them (Enformer/Borzoi), else ours.
        const positionFeeds = arch.positionFeeds(fx.length);
        if (positionFeeds.positions) positionFeeds.positions = { dtype: 'float32', dims: fx.outputs.tensors.get('positional_features')!.shape, data: fx.outputs.readFloat32('positional_features') };
        const got = await engine.run(
          `block${j}`,
          { x: { dtype: 'float32', dims: [B, n, dim], data: Float32Array.from(input) }, ...positionFeeds, [ATTENTION_ROWS]: { dtype: 'int64', dims: [n], data: BigInt64Array.from(range(n).map(BigInt)) } },
          [attentionOutputName(j)],
        );
        const map = got[attentionOutputName(j)]!.data as Float32Array;
        for (let b = 0; b < B; b++) {
          const ref = c.reference(w, fx.outputs, input.subarray(b * n * dim, (b + 1) * n * dim), n, j, cfg).weights;
          assertClose(map.subarray(b * heads * n * n, (b + 1) * heads * n * n), ref, { atol: 1e-6 }, `${c.name} block ${j} graph attention record ${b}`);
        }
      }
    } finally {
      await engine.close();
    }
  });

  test(`${c.name}: attention maps (every layer, head, row) match the float64 reference; rows sum to 1`, { skip }, async () => {
    const fx = await openFixture(c.name);
    const w = await SafetensorsFile.open(join(fx.dir, 'weights.safetensors'));
    const probe = await makeModel(fx, 2, { tileLength: 0 });
    const { layers, heads } = probe.arch.transformer;
    await probe.close();
    const model = await makeModel(fx, 2, { tileLength: 0, attention: { layers: range(layers), heads: range(heads) } });
    try {
      const n = model.transformerPositions(fx.length);
      const p = await model.predict({ data: fx.x, batch: fx.batch, length: fx.length }, { attentionRows: range(n) });
      const m = p.attention!;
      assert.deepEqual(m.shape, [fx.batch, layers, heads, n, n]);
      for (let i = 0; i < m.data.length; i += n) {
        let s = 0;
        for (let k = 0; k < n; k++) s += m.data[i + k]!;
        assert.ok(Math.abs(s - 1) <= 1e-5, `row ${i / n} sums to ${s}`);
      }
      const dim = fx.outputs.tensors.get('attention_out_block_0')!.shape[2]!;
      for (let l = 0; l < layers; l++) {
        const input = c.blockInput(fx.outputs, l);
        for (let b = 0; b < fx.batch; b++) {
          const ref = c.reference(w, fx.outputs, input.subarray(b * n * dim, (b + 1) * n * dim), n, l, await config(fx)).weights;
          const got = m.data.subarray(((b * layers + l) * heads) * n * n, ((b * layers + l + 1) * heads) * n * n);
          assertClose(got, ref, { atol: 1e-5 }, `${c.name} attention layer ${l} record ${b}`);
        }
      }
    } finally {
      await model.close();
    }
  });

  test(`${c.name}: maps equal across chunked/unchunked and tiled/untiled runs; head mean and row subsets agree`, { skip }, async () => {
    const fx = await openFixture(c.name);
    const input = { data: fx.x, batch: fx.batch, length: fx.length };
    const probe = await makeModel(fx, 1, { tileLength: 0 });
    const { layers, heads } = probe.arch.transformer;
    const n = probe.transformerPositions(fx.length);
    await probe.close();
    const all: AttentionMapSpec = { layers: range(layers), heads: range(heads) };
    const run = async (chunks: number, tileLength: number, spec: AttentionMapSpec, rows: number[]) => {
      const model = await makeModel(fx, chunks, { tileLength, attention: spec });
      try {
        return (await model.predict(input, { attentionRows: rows })).attention!;
      } finally {
        await model.close();
      }
    };
    const whole = await run(1, 0, all, range(n));
    const chunked = await run(3, 512, all, range(n));
    assertClose(chunked.data, whole.data, { atol: 2e-6 }, `${c.name} 3 query chunks + 512-bp tiles vs 1 chunk untiled`);

    // Rows spread over the chunks (first, chunk edges, last); the mean over heads of one layer.
    const rows = [0, Math.floor(n / 3) - 1, Math.floor(n / 3), n - 2, n - 1];
    const last = layers - 1;
    const mean = await run(3, 0, { layers: [last], heads: 'mean' }, rows);
    assert.deepEqual(mean.shape, [fx.batch, 1, 1, rows.length, n]);
    const some = await run(3, 0, { layers: [last], heads: [heads - 1] }, rows);
    for (let b = 0; b < fx.batch; b++) {
      rows.forEach((r, i) => {
        for (let p = 0; p < n; p++) {
          let s = 0;
          for (let h = 0; h < heads; h++) s += at(whole, b, last, h, r, p);
          assert.ok(Math.abs(at(mean, b, 0, 0, i, p) - s / heads) <= 1e-6, `mean of heads at record ${b} row ${r} position ${p}`);
          assert.ok(Math.abs(at(some, b, 0, 0, i, p) - at(whole, b, last, heads - 1, r, p)) <= 1e-6, `head ${heads - 1} at row ${r}`);
        }
      });
    }
  });

  test(`${c.name}: --output logits equals log(expm1(softplus output)) where not saturated, from the graph`, { skip }, async () => {
    const fx = await openFixture(c.name);
    const model = await makeModel(fx, 2, { tileLength: 0, logits: true });
    try {
      const input = { data: fx.x, batch: fx.batch, length: fx.length };
      const soft = await model.predict(input);
      const logits = await model.predict(input, { output: 'logits' });
      for (const head of model.headNames) {
        const y = soft.heads[head]!.data;
        const z = logits.heads[head]!.data;
        const ref = readRef(fx.outputs, `${head}_f64`);
        assert.deepEqual(logits.heads[head]!.shape, soft.heads[head]!.shape);
        let checked = 0;
        for (let i = 0; i < z.length; i++) {
          // Not saturated: softplus(z) neither ≈ z (z > 15) nor ≈ e^z underflowing (y < 1e-6).
          if (!(y[i]! > 1e-6 && y[i]! < 15)) continue;
          checked++;
          // d log(expm1(y))/dy = 1/(1 - e^-y): float32 rounding of y (2^-24 relative) becomes
          // 2^-24·y/(1 - e^-y) in the logit; 8 ulps of headroom for ORT's softplus approximation.
          const slope = 1 / -Math.expm1(-y[i]!);
          const inverse = Math.log(Math.expm1(y[i]!));
          assert.ok(Math.abs(z[i]! - inverse) <= 8 * 2 ** -24 * Math.max(1, Math.abs(y[i]!)) * slope + 1e-7, `${head}[${i}]: logit ${z[i]} vs log(expm1(${y[i]})) = ${inverse}`);
          // Against the float64 reference: its head tolerance (README: 4e-5) through the same slope.
          const refInverse = Math.log(Math.expm1(ref[i]!));
          assert.ok(Math.abs(z[i]! - refInverse) <= 8e-5 * slope, `${head}[${i}]: logit ${z[i]} vs float64 reference ${refInverse}`);
        }
        assert.ok(checked > z.length / 2, `${head}: only ${checked} of ${z.length} values unsaturated`);
      }
    } finally {
      await model.close();
    }
  });
}

test('attention selections: bad layers, heads and rows are one-line errors', { skip: skipUnless('enformer-small') }, async () => {
  const fx = await openFixture('enformer-small');
  await assert.rejects(makeModel(fx, 2, { attention: { layers: [2], heads: 'mean' } }), (e: Error) => e instanceof AttentionSelectionError && /--attention-layers: layer 2 does not exist \(the model has layers 0-1\)/.test(e.message));
  await assert.rejects(makeModel(fx, 2, { attention: { layers: [0], heads: [4] } }), /--attention-heads: head 4 does not exist \(the model has heads 0-3\)/);
  await assert.rejects(makeModel(fx, 2, { attention: { layers: [1, 0], heads: 'mean' } }), /ascending and distinct/);
  const model = await makeModel(fx, 2, { attention: { layers: [0], heads: 'mean' } });
  try {
    const input = { data: fx.x, batch: fx.batch, length: fx.length };
    await assert.rejects(model.predict(input, { attentionRows: [64] }), /--attention-rows: row 64 does not exist \(this window has 64 transformer positions, rows 0-63\)/);
    assert.deepEqual(model.centralRows(fx.length), [31, 32]);
    await assert.rejects(model.predict(input, { output: 'logits' }), /pre-softplus outputs need a model loaded with the `logits` option/);
    // Without rows the attention outputs are not fetched; predictions are unchanged.
    const p = await model.predict(input);
    assert.equal(p.attention, undefined);
    assertClose(p.heads.human!.data, readRef(fx.outputs, 'human_f64'), { atol: 4e-5 }, 'human with an attention graph');
  } finally {
    await model.close();
  }
  assert.deepEqual(parseIndexList('0-3,7, 2', '--attention-heads'), [0, 1, 2, 3, 7]);
  assert.throws(() => parseIndexList('3-1', '--attention-rows'), /--attention-rows 3-1: range 3-1 runs backwards/);
  assert.throws(() => parseIndexList('a', '--attention-layers'), /'a' is not an index/);
});
