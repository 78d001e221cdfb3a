/**
 * Properties of the model runner beyond fixture parity: ONNX Runtime keeps its own copy of the
 * weights (so the blob can be freed), attention over query chunks is the same function, the TF gamma
 * table replaces the computed gamma block only at its own length, 'max' pooling builds and runs, and
 * inference leaves the event loop free. Tolerances as in parity.test.ts (atol 8e-5 vs the float32 heads).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, readGammaTable } from '../models/load.js';
import { Model } from '../models/model.js';
import { Enformer, parseEnformerConfig } from '../models/enformer.js';
import { enformerPositionalFeatures } from '../models/positional.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';
import { assertCliError, assertCliOk, compare, fixture, fixtureInput, fixturePath, runCli, skipUnless, tempDir, withTempDir } from './fixtures.js';

const skip = skipUnless('enformer-small');

/** enformer-small's input batch and reference outputs. */
async function enformerFixture() {
  return { x: await fixtureInput('enformer-small'), outputs: await SafetensorsFile.open(fixturePath('enformer-small', 'outputs.safetensors')) };
}

function assertHeads(p: Awaited<ReturnType<Model['predict']>>, outputs: SafetensorsFile, what: string) {
  for (const h of ['human', 'mouse']) {
    const r = compare(p.heads[h]!.data, outputs.readFloat32(h), 8e-5);
    assert.ok(r.ok, `${what} ${h}: max abs ${r.maxAbs.toExponential(2)}`);
  }
}

test('engine: sessions hold their own weights (the blob is overwritten after creation)', { skip }, async () => {
  const { x, outputs } = await enformerFixture();
  const model = await loadModel(fixture('enformer-small')!, { poisonWeightBlob: true, threads: 1 });
  try {
    assertHeads(await model.predict(x), outputs, 'poisoned blob');
  } finally {
    await model.close();
  }
});

test('attention over 3 uneven query chunks equals the fixture', { skip }, async () => {
  const dir = fixture('enformer-small')!;
  const { x, outputs } = await enformerFixture();
  const json = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'config.json'), 'utf8'));
  const arch = new Enformer(parseEnformerConfig(json, 'config.json'));
  arch.queryChunks = 3; // 64 positions -> 21, 21, 22 rows
  const file = await SafetensorsFile.open(join(dir, 'weights.safetensors'));
  const model = await Model.create(arch, WeightSet.fromSafetensors(file, (n) => arch.canonicalName(n)), 'fixture', { threads: 1 });
  try {
    assertHeads(await model.predict(x), outputs, '3 chunks');
  } finally {
    await model.close();
  }
});

test('gamma: float64 formula at n = 1536 matches the TF-normalised table and the published TF table', { skip: skipUnless('tf-gamma') }, async () => {
  const file = await SafetensorsFile.open(fixturePath('tf-gamma', 'tf_gammas.safetensors'));
  const want = file.readFloat64('gamma_normalised_over_distances_f64');
  const tf = file.readFloat32('tf_gammas');
  const features = enformerPositionalFeatures(1536, 192);
  const gamma = new Float64Array(3071 * 32);
  for (let r = 0; r < 3071; r++) for (let k = 0; k < 32; k++) gamma[r * 32 + k] = features[r * 192 + 64 + k]!;
  // Same formula in float64: only lgamma/exp round-off (observed ~1e-12).
  assert.ok(compare(gamma, want, 1e-9).ok, `vs float64 formula: ${compare(gamma, want, 1e-9).maxAbs}`);
  // The TF table carries TF's float32 lgamma round-off: README reports max abs 0.00249.
  const r = compare(gamma, tf, 3e-3);
  assert.ok(r.ok, `vs TF table: ${r.maxAbs}`);
});

test('gamma: with use_tf_gamma the table replaces the gamma block at its length only', { skip: skipUnless('tf-gamma') }, async () => {
  const table = await readGammaTable(fixturePath('tf-gamma', 'tf_gammas.safetensors'));
  assert.equal(table.n, 1536);
  const arch = new Enformer(parseEnformerConfig({ use_tf_gamma: true }, 'full'));
  const atFull = arch.positionFeeds(196_608, table).positions!;
  assert.deepEqual(atFull.dims, [3071, 192]);
  const data = atFull.data as Float32Array;
  for (const r of [0, 1000, 1535, 3070]) {
    for (const k of [0, 17, 31]) {
      const sign = Math.sign(r - 1535);
      assert.equal(data[r * 192 + 64 + k], table.values[r * 32 + k]);
      assert.equal(data[r * 192 + 160 + k], Math.fround(sign * table.values[r * 32 + k]!));
    }
  }
  // Another length computes the formula.
  const other = arch.positionFeeds(131_072, table).positions!;
  assert.deepEqual(other.data, Float32Array.from(enformerPositionalFeatures(1024, 192)));
});

test('gamma: use_tf_gamma needs the table only at 196,608 bp; a table of the wrong size is refused', { skip }, async () => {
  const src = fixture('enformer-small')!;
  await withTempDir(async (dir) => {
    const config = JSON.parse((await import('node:fs')).readFileSync(join(src, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, use_tf_gamma: true }));
    copyFileSync(join(src, 'weights.safetensors'), join(dir, 'weights.safetensors'));
    const { x, outputs } = await enformerFixture();
    const long = Model.encode(['ACGTN'.repeat(196_608 / 5) + 'ACG']);
    const noTable = await loadModel(dir, { threads: 1 });
    try {
      // Other lengths compute the TF-normalised formula: the fixture is reproduced.
      assertHeads(await noTable.predict(x), outputs, 'use_tf_gamma at n=64');
      await assert.rejects(noTable.predict(long), /use_tf_gamma: 196608 bp needs the TF gamma table/);
    } finally {
      await noTable.close();
    }
    await assert.rejects(loadModel(dir, { gammaTablePath: join(dir, 'missing.safetensors') }), /use_tf_gamma.*could not be read/);
    if (!skipUnless('tf-gamma')) {
      copyFileSync(fixturePath('tf-gamma', 'tf_gammas.safetensors'), join(dir, 'tf_gammas.safetensors'));
      // The published table is for the full model's 32 gamma basis functions; the small one has 4.
      const withTable = await loadModel(dir, { threads: 1 });
      try {
        await assert.rejects(withTable.predict(long), /gamma table has 32 basis functions, this model needs 4/);
      } finally {
        await withTable.close();
      }
    }
  });
});

/** log Γ(x) by Stirling's series after shifting x past 15 (not the Lanczos form the library uses). */
function stirlingLgamma(x: number): number {
  let shift = 0;
  while (x < 15) {
    shift += Math.log(x);
    x += 1;
  }
  const x2 = x * x;
  const series = 1 / (12 * x) - 1 / (360 * x * x2) + 1 / (1260 * x * x2 * x2) - 1 / (1680 * x * x2 * x2 * x2);
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + series - shift;
}

/**
 * enformer-pytorch's get_positional_embed with use_tf_gamma=False, written again from the spec
 * (specs/models.md 2.5 and 8.3) in float64: [exp | central mask | gamma] for distances -(n-1)..n-1,
 * gamma pdf + 1e-8 divided by its maximum over the basis functions at each distance, then the same
 * times sign(d). With `tf`, the gamma column is divided by its maximum over the distances instead.
 */
function handPositional(n: number, features: number, tf = false): Float64Array {
  const f = features / 6;
  const rows = 2 * n - 1;
  const out = new Float64Array(rows * features);
  const lin = (a: number, b: number, k: number) => (f === 1 ? a : a + ((b - a) * k) / (f - 1));
  const gamma = (d: number, k: number) => {
    const mean = lin(n / f, n, k);
    const stddev = n / (2 * f);
    const alpha = (mean / stddev) ** 2;
    const beta = mean / stddev ** 2;
    const xlogy = d === 0 ? -Infinity : (alpha - 1) * Math.log(d);
    return Math.exp(xlogy - beta * d - (stirlingLgamma(alpha) - alpha * Math.log(beta))) + 1e-8;
  };
  const colMax = Array.from({ length: f }, (_, k) => Math.max(...Array.from({ length: n }, (_, d) => gamma(d, k))));
  for (let r = 0; r < rows; r++) {
    const d = Math.abs(r - (n - 1));
    const sign = Math.sign(r - (n - 1));
    const rowMax = Math.max(...Array.from({ length: f }, (_, k) => gamma(d, k)));
    for (let k = 0; k < f; k++) {
      const values = [Math.exp((-Math.LN2 / 2 ** lin(3, Math.log2(n), k)) * d), 2 ** (k + 1) - 1 > d ? 1 : 0, gamma(d, k) / (tf ? colMax[k]! : rowMax)];
      values.forEach((v, c) => {
        out[r * features + c * f + k] = v;
        out[r * features + (3 + c) * f + k] = sign * v;
      });
    }
  }
  return out;
}

test("gamma torch: enformer-pytorch's run-time formula (use_tf_gamma=False) against the fixture's float64 and float32 tables and an independent float64 computation", { skip: skipUnless('tf-gamma') }, async () => {
  const file = await SafetensorsFile.open(fixturePath('tf-gamma', 'tf_gammas.safetensors'));
  const torch = enformerPositionalFeatures(1536, 192, { gamma: 'torch' });
  const block = new Float64Array(3071 * 32);
  for (let r = 0; r < 3071; r++) for (let k = 0; k < 32; k++) block[r * 32 + k] = torch[r * 192 + 64 + k]!;
  // The port's formula evaluated in float64 by its own code: only lgamma/exp round-off (~1e-12).
  const f64 = compare(block, file.readFloat64('runtime_gamma_f64'), 1e-9);
  assert.ok(f64.ok, `vs runtime_gamma_f64: ${f64.maxAbs}`);
  // The port's float32 run: float32 lgamma of concentrations up to 4096 (README: 0.00266).
  const f32 = compare(block, file.readFloat32('runtime_gamma_f32'), 3e-3);
  assert.ok(f32.ok, `vs runtime_gamma_f32: ${f32.maxAbs}`);
  // It is not the TF table (the axis differs; ~1 at distance 0).
  assert.ok(compare(block, file.readFloat32('tf_gammas'), 0.5).maxAbs > 0.9);

  // Independent float64 computation (Stirling lgamma, formula from the spec); both float64, so only
  // lgamma's round-off on log-densities up to ~3e4 in size separates them (observed < 1e-11).
  for (const [n, features] of [[64, 24], [1000, 192], [1536, 192]] as const) {
    for (const mode of ['torch', 'tf'] as const) {
      const r = compare(enformerPositionalFeatures(n, features, { gamma: mode }), handPositional(n, features, mode === 'tf'), 1e-9);
      assert.ok(r.ok, `n=${n} F=${features} ${mode}: max abs ${r.maxAbs}`);
    }
  }
  // Check values of each normalisation: torch rows (distances) peak at 1, and at distance 0 every
  // gamma feature is 1 (all densities are the 1e-8 floor); TF columns (basis functions) peak at 1.
  const n = 64;
  const f = 4;
  const torchSmall = enformerPositionalFeatures(n, 24, { gamma: 'torch' });
  const tfSmall = enformerPositionalFeatures(n, 24);
  const g = (t: Float64Array, d: number, k: number) => t[(d + n - 1) * 24 + 2 * f + k]!;
  for (let k = 0; k < f; k++) assert.equal(g(torchSmall, 0, k), 1);
  for (let d = 0; d < n; d++) assert.equal(Math.max(...[0, 1, 2, 3].map((k) => g(torchSmall, d, k))), 1);
  for (let k = 0; k < f; k++) assert.equal(Math.max(...Array.from({ length: n }, (_, d) => g(tfSmall, d, k))), 1);
  assert.ok(g(tfSmall, 0, 0) < 1e-5);
});

test('gamma torch: the fixture model with --gamma torch differs from TF, is self-consistent (tiled = untiled, config = option) and needs no TF table', { skip }, async () => {
  const src = fixture('enformer-small')!;
  const { x, outputs } = await enformerFixture();
  const torch = await loadModel(src, { gamma: 'torch', threads: 1, tileLength: 0 });
  const tiled = await loadModel(src, { gamma: 'torch', threads: 1, tileLength: 1024 });
  const tmp = tempDir();
  try {
    const n = x.length / 128;
    assert.deepEqual(torch.arch.positionFeeds(x.length).positions!.data, Float32Array.from(enformerPositionalFeatures(n, 24, { gamma: 'torch' })));
    const a = await torch.predict(x);
    const b = await tiled.predict(x);
    for (const h of ['human', 'mouse']) {
      const tf = compare(a.heads[h]!.data, outputs.readFloat32(h), 8e-5);
      assert.ok(!tf.ok && tf.maxAbs > 1e-3, `${h}: torch-style gamma changes the output (max abs ${tf.maxAbs.toExponential(2)})`);
      // The trunk tiles do not touch the attention: as parity.test's tiled check.
      const t = compare(b.heads[h]!.data, a.heads[h]!.data, 1e-6);
      assert.ok(t.ok, `${h}: tiled vs untiled ${t.maxAbs}`);
    }
    // The same choice in config.json; use_tf_gamma with 'torch' wants no TF table, at any length.
    const config = JSON.parse((await import('node:fs')).readFileSync(join(src, 'config.json'), 'utf8'));
    writeFileSync(join(tmp.dir, 'config.json'), JSON.stringify({ ...config, positional_gamma: 'torch', use_tf_gamma: true }));
    copyFileSync(join(src, 'weights.safetensors'), join(tmp.dir, 'weights.safetensors'));
    const fromConfig = await loadModel(tmp.dir, { threads: 1 });
    const overridden = await loadModel(tmp.dir, { threads: 1, gamma: 'tf', gammaTablePath: undefined });
    try {
      const c = await fromConfig.predict(x);
      for (const h of ['human', 'mouse']) assert.deepEqual(c.heads[h]!.data, a.heads[h]!.data, `${h}: config positional_gamma = --gamma torch`);
      await fromConfig.predict(Model.encode(['ACGT'.repeat(196_608 / 4)]), { heads: ['human'] });
      // --gamma tf overrides the config back to the fixture's (TF) features.
      assertHeads(await overridden.predict(x), outputs, '--gamma tf over positional_gamma torch');
    } finally {
      await fromConfig.close();
      await overridden.close();
    }
    writeFileSync(join(tmp.dir, 'config.json'), JSON.stringify({ ...config, positional_gamma: 'pytorch' }));
    await assert.rejects(loadModel(tmp.dir), /positional_gamma must be "tf", "torch" or "torch-global-max", not "pytorch"/);
  } finally {
    await torch.close();
    await tiled.close();
    tmp.cleanup();
  }
});

test('gamma torch: --gamma on the CLI (predict --fasta) changes the Enformer output; on Borzoi it is one clear error', { skip: skip || skipUnless('borzoi-small') }, () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'r.fa'), `>r\n${'ACGTTGCA'.repeat(1024)}\n`);
    const run = (model: string, out: string, extra: string[]) => runCli(['predict', '--model', model, '--fasta', join(dir, 'r.fa'), '--threads', '1', '--out', join(dir, out), ...extra], { SEQ2TRACK_CACHE: join(dir, 'cache') });
    assertCliOk(await run(fixture('enformer-small')!, 'tf.tsv', []));
    assertCliOk(await run(fixture('enformer-small')!, 'tf2.tsv', ['--gamma', 'tf']));
    assertCliOk(await run(fixture('enformer-small')!, 'torch.tsv', ['--gamma', 'torch']));
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    assert.equal(read('tf2.tsv'), read('tf.tsv'), '--gamma tf is the default');
    assert.notEqual(read('torch.tsv'), read('tf.tsv'), '--gamma torch changes the predictions');
    assertCliError(await run(fixture('borzoi-small')!, 'b.tsv', ['--gamma', 'torch']), /--gamma is for Enformer models \(this is borzoi\)/, 'borzoi --gamma');
    assertCliError(await run(fixture('enformer-small')!, 'x.tsv', ['--gamma', 'pt']), /--gamma/, 'bad choice');
  }));

test("enformer: 'max' pooling builds, needs no attention-pool weights, and runs", async () => {
  const arch = new Enformer(parseEnformerConfig({ dim: 48, depth: 1, heads: 2, output_heads: { human: 3 }, target_length: 4, attn_dim_key: 8, num_downsamples: 3, dim_divisible_by: 4, pool_type: 'max' }, 'max'));
  assert.ok(!arch.expectedWeights().some((t) => t.name.includes('to_attn_logits')));
  const weights = WeightSet.allocatePacked(
    Model.weightParts(arch).map((p) => p.names.map((name) => ({ name, shape: arch.expectedWeights().find((t) => t.name === name)!.shape }))),
    (name, _shape, data) => data.fill(name.endsWith('running_var') ? 1 : 0.01),
  );
  const model = await Model.create(arch, weights, 'generated', { threads: 1 });
  try {
    const p = await model.predict(['ACGT'.repeat(16)]);
    assert.deepEqual(p.heads.human!.shape, [1, 4, 3]);
    assert.ok(p.heads.human!.data.every((v) => Number.isFinite(v) && v > 0));
  } finally {
    await model.close();
  }
});

test('engine: inference runs in a worker, the event loop keeps ticking', { skip }, async () => {
  const { x } = await enformerFixture();
  const model = await loadModel(fixture('enformer-small')!, { threads: 1 });
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const runs = [];
    for (let i = 0; i < 8; i++) runs.push(model.predict(x));
    await Promise.all(runs);
    clearInterval(timer);
    assert.ok(ticks > 5, `only ${ticks} timer ticks during 8 predictions`);
  } finally {
    await model.close();
  }
});

for (const name of ['enformer-small', 'borzoi-small']) {
  test(`trunkPatch: an SNV's alt trunk from the ref trunk plus one tile equals the full alt trunk (${name})`, { skip: skipUnless(name) }, async () => {
    const dir = fixture(name)!;
    const ref = await fixtureInput(name);
    const { batch, length } = ref;
    const model = await loadModel(dir, { threads: 1, tileLength: 0 });
    try {
      const refTrunk = await model.trunk(ref);
      for (const pos of [length / 2, 3, length - 2]) {
        const alt = { ...ref, data: ref.data.slice() };
        for (let b = 0; b < batch; b++) {
          const row = alt.data.subarray((b * length + pos) * 4, (b * length + pos + 1) * 4);
          const hot = row.indexOf(1);
          row.fill(0);
          row[(hot + 1) % 4] = 1; // another base (N becomes C)
        }
        const patched = await model.trunkPatch(refTrunk, alt, pos, pos + 1);
        const full = await model.trunk(alt);
        const first = Object.keys(full)[0]!;
        assert.ok(!compare(full[first]!.data as Float32Array, refTrunk[first]!.data as Float32Array, 1e-3).ok, 'the SNV changes the trunk');
        for (const k of Object.keys(full)) {
          // Same kernels on a shorter tile: summation order may differ at float32 rounding.
          const r = compare(patched[k]!.data as Float32Array, full[k]!.data as Float32Array, 1e-5);
          assert.ok(r.ok, `${k} at ${pos}: max abs ${r.maxAbs.toExponential(2)}`);
        }
        const a = await model.head(patched, length);
        const b = await model.head(full, length);
        for (const h of Object.keys(b.heads)) assert.ok(compare(a.heads[h]!.data, b.heads[h]!.data, 1e-5, 1e-5).ok, `${h} at ${pos}`);
      }
      assert.ok(model.trunkFlops(length) > 0 && model.trunkFlops(2 * length) === 2 * model.trunkFlops(length));
    } finally {
      await model.close();
    }
  });
}

test('flashzoi: kv heads come from the qkv weights; grouped heads equal repeated key/value heads', { skip: skipUnless('flashzoi-small') }, async () => {
  const dir = fixture('flashzoi-small')!;
  const config = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'config.json'), 'utf8'));
  const file = await SafetensorsFile.open(join(dir, 'weights.safetensors'));
  const { dim, heads } = config as { dim: number; heads: number };
  const d = dim / heads;
  const kv = 2; // the fixture: 4 query heads share 2 key/value heads
  // Repeat each kv head's rows so every query head gets its own copy: 4 kv heads, same function.
  const tensors: [string, { shape: number[]; data: Float32Array }][] = [];
  for (const info of file.tensors.values()) {
    if (info.name.endsWith('inv_freq') || info.name.endsWith('num_batches_tracked')) continue;
    let data = file.readFloat32(info.name);
    let shape = info.shape;
    if (info.name.endsWith('mha.Wqkv.weight') || info.name.endsWith('mha.Wqkv.bias')) {
      const cols = shape.length === 2 ? shape[1]! : 1;
      const rows = (h: number) => data.subarray(h * d * cols, (h + 1) * d * cols);
      const q = data.subarray(0, heads * d * cols);
      const part = (start: number) => Array.from({ length: heads }, (_, j) => rows(start + Math.floor(j / (heads / kv))));
      const out = new Float32Array(3 * heads * d * cols);
      out.set(q, 0);
      part(heads).forEach((r, j) => out.set(r, (heads + j) * d * cols));
      part(heads + kv).forEach((r, j) => out.set(r, (2 * heads + j) * d * cols));
      data = out;
      shape = shape.length === 2 ? [3 * heads * d, cols] : [3 * heads * d];
    }
    tensors.push([info.name, { shape, data }]);
  }
  const { Borzoi, parseBorzoiConfig } = await import('../models/borzoi.js');
  const arch = new Borzoi(parseBorzoiConfig(config, 'config.json'));
  const model = await Model.create(arch, WeightSet.fromArrays(tensors), 'repeated kv heads', { threads: 1 });
  try {
    assert.equal(arch.kvHeads, heads);
    const p = await model.predict(await fixtureInput('flashzoi-small'));
    const outputs = await SafetensorsFile.open(join(dir, 'outputs.safetensors'));
    for (const h of ['human', 'mouse']) {
      const r = compare(p.heads[h]!.data, outputs.readFloat32(h), 5e-5, 1e-4);
      assert.ok(r.ok, `${h}: max abs ${r.maxAbs.toExponential(2)}`);
    }
  } finally {
    await model.close();
  }
});
