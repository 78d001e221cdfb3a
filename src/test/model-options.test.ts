/**
 * Properties of the model runner beyond fixture parity: ONNX Runtime keeps its own copy of the
 * weights (so the blob can be freed), attention over query chunks is the same function, the TF gamma
 * table replaces the computed gamma block only at its own length, 'max' pooling builds and runs, and
 * inference leaves the event loop free. Tolerances as in parity.test.ts (atol 8e-5 vs the float32 heads).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, readGammaTable } from '../models/load.js';
import { Model } from '../models/model.js';
import { Enformer, parseEnformerConfig } from '../models/enformer.js';
import { enformerPositionalFeatures } from '../models/positional.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';
import { compare, fixture, fixturePath, skipUnless, tempDir } from './fixtures.js';

const skip = skipUnless('enformer-small');

async function fixtureInput() {
  const dir = fixture('enformer-small')!;
  const inputs = await SafetensorsFile.open(join(dir, 'inputs.safetensors'));
  const [batch, length] = inputs.tensors.get('x')!.shape as [number, number];
  return { x: { data: inputs.readFloat32('x'), batch, length }, outputs: await SafetensorsFile.open(join(dir, 'outputs.safetensors')) };
}

function assertHeads(p: Awaited<ReturnType<Model['predict']>>, outputs: SafetensorsFile, what: string) {
  for (const h of ['human', 'mouse']) {
    const r = compare(p.heads[h]!.data, outputs.readFloat32(h), 8e-5);
    assert.ok(r.ok, `${what} ${h}: max abs ${r.maxAbs.toExponential(2)}`);
  }
}

test('engine: sessions hold their own weights (the blob is overwritten after creation)', { skip }, async () => {
  const { x, outputs } = await fixtureInput();
  const model = await loadModel(fixture('enformer-small')!, { poisonWeightBlob: true, threads: 1 });
  try {
    assertHeads(await model.predict(x), outputs, 'poisoned blob');
  } finally {
    await model.close();
  }
});

test('attention over 3 uneven query chunks equals the fixture', { skip }, async () => {
  const dir = fixture('enformer-small')!;
  const { x, outputs } = await fixtureInput();
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
  const tmp = tempDir();
  try {
    const config = JSON.parse((await import('node:fs')).readFileSync(join(src, 'config.json'), 'utf8'));
    writeFileSync(join(tmp.dir, 'config.json'), JSON.stringify({ ...config, use_tf_gamma: true }));
    copyFileSync(join(src, 'weights.safetensors'), join(tmp.dir, 'weights.safetensors'));
    const { x, outputs } = await fixtureInput();
    const long = Model.encode(['ACGTN'.repeat(196_608 / 5) + 'ACG']);
    const noTable = await loadModel(tmp.dir, { threads: 1 });
    try {
      // Other lengths compute the TF-normalised formula: the fixture is reproduced.
      assertHeads(await noTable.predict(x), outputs, 'use_tf_gamma at n=64');
      await assert.rejects(noTable.predict(long), /use_tf_gamma: 196608 bp needs the TF gamma table/);
    } finally {
      await noTable.close();
    }
    await assert.rejects(loadModel(tmp.dir, { gammaTablePath: join(tmp.dir, 'missing.safetensors') }), /use_tf_gamma.*could not be read/);
    if (!skipUnless('tf-gamma')) {
      copyFileSync(fixturePath('tf-gamma', 'tf_gammas.safetensors'), join(tmp.dir, 'tf_gammas.safetensors'));
      // The published table is for the full model's 32 gamma basis functions; the small one has 4.
      const withTable = await loadModel(tmp.dir, { threads: 1 });
      try {
        await assert.rejects(withTable.predict(long), /gamma table has 32 basis functions, this model needs 4/);
      } finally {
        await withTable.close();
      }
    }
  } finally {
    tmp.cleanup();
  }
});

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
  const { x } = await fixtureInput();
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
    const inputs = await SafetensorsFile.open(join(dir, 'inputs.safetensors'));
    const [batch, length] = inputs.tensors.get('x')!.shape as [number, number];
    const ref = { data: inputs.readFloat32('x'), batch, length };
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
    const inputs = await SafetensorsFile.open(join(dir, 'inputs.safetensors'));
    const [batch, length] = inputs.tensors.get('x')!.shape as [number, number];
    const p = await model.predict({ data: inputs.readFloat32('x'), batch, length });
    const outputs = await SafetensorsFile.open(join(dir, 'outputs.safetensors'));
    for (const h of ['human', 'mouse']) {
      const r = compare(p.heads[h]!.data, outputs.readFloat32(h), 5e-5, 1e-4);
      assert.ok(r.ok, `${h}: max abs ${r.maxAbs.toExponential(2)}`);
    }
  } finally {
    await model.close();
  }
});
