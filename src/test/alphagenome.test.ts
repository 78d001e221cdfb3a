/**
 * AlphaGenome parity with the `alphagenome-small` fixture (the PyTorch port genomicsxai/alphagenome-pytorch
 * @ 3c6b556, every width shrunk, seeded random weights; float32 and float64 runs of the same model).
 *
 * Tolerances: the fixture's `reference.json` lists, per tensor, `suggested_tolerances` (heads, the
 * stage outputs) and `suggested_tolerances_intermediates`: 10× the observed max |float32 − float64| of
 * the reference itself, as `atol` and as `scaled` (relative to max(|ref|, 1), which is what bounds the
 * large 128-bp track values, e.g. atac_128bp up to 9.2e3 where float32 rounding alone is ~1e-3). An
 * element passes when |ours − ref| ≤ max(atol, scaled · max(|ref|, 1)):
 *   vs `<name>_f64`  × 1: our float32 computation should sit within the reference's own float32 spread
 *                         of the float64 result (10× margin for a different summation order);
 *   vs `<name>`      × 2: two float32 computations each sit up to that spread from float64.
 * Integer and mask tensors (splice-site positions, junction and usage masks) must match exactly: the
 * top-K's smallest deciding gap (reference.json `splice.topk_margins_*`, 1.2e-5 here) is far above
 * the float32 error of the probabilities (≤ 2e-6).
 * The numbers are read from reference.json rather than copied here so that other fixture sets built
 * the same way carry their own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet, WeightsMismatchError } from '../weights/weight-set.js';
import { ConfigError } from '../models/config.js';
import { LengthError } from '../models/model-types.js';
import { Model } from '../models/model-core.js';
import { alphaGenomeConfigOf, loadAlphaGenome } from '../models/alphagenome/load.js';
import { AlphaGenomeModel } from '../models/alphagenome/model.js';
import { expectedAlphaGenomeWeights, parseAlphaGenomeConfig, type AlphaGenomeConfig } from '../models/alphagenome/config.js';
import { headOutputNames, intermediateNames } from '../models/alphagenome/network.js';
import type { TensorData } from '../engine/protocol.js';
import { assertCliError, assertCliOk, runCli, withTempDir } from './fixtures.js';
import { alphaGenomeDir, alphaGenomeSkip, type Tolerance } from './alphagenome-fixture.js';

const skip = alphaGenomeSkip;
const dir = alphaGenomeDir;

let outputs: SafetensorsFile;
let inputs: SafetensorsFile;
let reference: { suggested_tolerances: Record<string, Tolerance>; suggested_tolerances_intermediates: Record<string, Tolerance>; inputs: { sequences: string[] } };
let config: AlphaGenomeConfig;
let model: AlphaGenomeModel;
let human: Record<string, TensorData>;
let mouse: Record<string, TensorData>;

before(async () => {
  if (skip) return;
  outputs = await SafetensorsFile.open(join(dir, 'outputs.safetensors'));
  inputs = await SafetensorsFile.open(join(dir, 'inputs.safetensors'));
  reference = JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8'));
  config = await alphaGenomeConfigOf(dir);
  model = await loadAlphaGenome(dir, { intermediates: true, threads: 2 });
  const x = { data: inputs.readFloat32('x'), batch: inputs.tensors.get('x')!.shape[0]!, length: inputs.tensors.get('x')!.shape[1]! };
  human = await model.predict(x, 'human', { intermediates: true });
  mouse = await model.predict(x, 'mouse');
});

after(async () => {
  await model?.close();
});

function numbers(file: SafetensorsFile, name: string): number[] | Float64Array {
  const info = file.tensors.get(name)!;
  if (info.dtype === 'I64') return Array.from(new BigInt64Array(file.readBytes(name).buffer), Number);
  if (info.dtype === 'U8') return Array.from(file.readBytes(name));
  return file.readFloat64(name);
}

/** Checks `got` against the fixture tensor `ref` (shape, then the tolerance rule of the header); returns the max abs difference. */
function check(got: TensorData, ref: string, tol: Tolerance, factor: number): number {
  const info = outputs.tensors.get(ref);
  assert.ok(info, `fixture has no tensor ${ref}`);
  assert.deepEqual(got.dims, info.shape, `${ref}: shape`);
  const want = numbers(outputs, ref);
  const data = got.data;
  let maxAbs = 0;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const d = Math.abs(Number(data[i]!) - w);
    maxAbs = Math.max(maxAbs, d);
    const bound = factor * Math.max(tol.atol, tol.scaled * Math.max(Math.abs(w), 1));
    if (d / bound > worstRatio) {
      worstRatio = d / bound;
      worst = i;
    }
  }
  assert.ok(worstRatio <= 1, `${ref}: |ours - ref| = ${Math.abs(Number(data[worst]!) - want[worst]!).toExponential(2)} at index ${worst} exceeds ${factor}× (atol ${tol.atol}, scaled ${tol.scaled}); max abs ${maxAbs.toExponential(2)}`);
  return maxAbs;
}

function exact(got: TensorData, ref: string): void {
  const info = outputs.tensors.get(ref)!;
  assert.deepEqual(got.dims, info.shape, `${ref}: shape`);
  assert.deepEqual(Array.from(got.data, Number), Array.from(numbers(outputs, ref)), `${ref}: values`);
}

const EXACT = new Set(['splice_junctions_splice_site_positions', 'splice_junctions_mask', 'splice_site_usage_track_mask']);

/** Compares every output of `got` the fixture stores under `prefix + name` (and its _f64 twin); returns name -> [max abs vs f32, vs f64]. */
function compareAll(got: Record<string, TensorData>, names: string[], prefix: string, tolerances: Record<string, Tolerance>): Record<string, number[]> {
  const seen: Record<string, number[]> = {};
  for (const name of names) {
    const ref = prefix + name;
    if (!outputs.tensors.has(ref)) continue;
    if (EXACT.has(name)) {
      exact(got[name]!, ref);
      seen[name] = [0];
      continue;
    }
    const tol = tolerances[ref];
    assert.ok(tol, `reference.json gives no tolerance for ${ref}`);
    seen[name] = [check(got[name]!, ref, tol, 2)];
    if (outputs.tensors.has(`${ref}_f64`)) seen[name]!.push(check(got[name]!, `${ref}_f64`, tol, 1));
  }
  return seen;
}

function report(what: string, seen: Record<string, number[]>): void {
  const lines = Object.entries(seen).map(([n, [f32, f64]]) => `${n}: ${f32!.toExponential(2)}${f64 !== undefined ? ` / f64 ${f64.toExponential(2)}` : ''}`);
  console.log(`${what} max |ours - ref|:\n  ${lines.join('\n  ')}`);
}

test('alphagenome config: the fixture config parses to its stated sizes; defaults are the published model', { skip }, async () => {
  assert.deepEqual(config.encoderChannels, [24, 28, 32, 36, 40, 44, 48]);
  const expected = expectedAlphaGenomeWeights(config);
  const file = await SafetensorsFile.open(join(dir, 'weights.safetensors'));
  assert.equal(expected.length, file.tensors.size);
  for (const t of expected) assert.deepEqual(file.tensors.get(t.name)?.shape, t.shape, t.name);
  // Full size: ≈ 450 M parameters (issue 24), 1,536-wide trunk, 9 blocks.
  const full = parseAlphaGenomeConfig({ model_type: 'alphagenome' }, 'full');
  assert.equal(full.trunkDim, 1536);
  assert.equal(full.transformerBlocks, 9);
  const count = expectedAlphaGenomeWeights(full).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  assert.ok(count > 4.4e8 && count < 4.6e8, `full-size parameters ${count}`);
});

test('alphagenome parity (human): every head vs the float32 and float64 references', { skip }, () => {
  const names = headOutputNames(config);
  const seen = compareAll(human, names, '', reference.suggested_tolerances);
  // Every head output the fixture stores was compared (the fixture stores them all for human).
  assert.deepEqual(Object.keys(seen).sort(), names.filter((n) => outputs.tensors.has(n)).sort());
  assert.equal(Object.keys(seen).length, names.length);
  report('human heads', seen);
});

test('alphagenome parity (human): intermediates layer by layer, encoder to output embeddings', { skip }, () => {
  const names = intermediateNames(config);
  const seen = compareAll(human, names, '', { ...reference.suggested_tolerances_intermediates, ...reference.suggested_tolerances });
  // The fixture stores all but none of ours (the 2-bp decoder block is left out of both lists).
  assert.deepEqual(Object.keys(seen), names);
  report('human intermediates', seen);
});

test('alphagenome parity (mouse): the heads of organism 1', { skip }, () => {
  const seen = compareAll(mouse, headOutputNames(config), 'mouse_', reference.suggested_tolerances);
  for (const n of ['atac_128bp', 'contact_maps', 'splice_sites_probs', 'splice_site_usage_predictions', 'splice_junctions_pred_counts', 'splice_junctions_splice_site_positions', 'splice_site_usage_track_mask']) {
    assert.ok(n in seen, `mouse ${n} compared`);
  }
  report('mouse heads', seen);
});

test("alphagenome junction head in isolation: the fixture's 1-bp embeddings and splice-site positions", { skip }, async () => {
  const emb = outputs.tensors.get('embeddings_1bp')!;
  const positions = outputs.tensors.get('splice_junctions_splice_site_positions')!;
  // Some positions are -1 (below the threshold): their rows and columns must come out masked to 0.
  const given = new BigInt64Array(outputs.readBytes(positions.name).buffer);
  assert.ok(given.includes(-1n));
  const r = await model.junctionHead(
    { dtype: 'float32', dims: emb.shape, data: outputs.readFloat32('embeddings_1bp') },
    { dtype: 'int64', dims: positions.shape, data: given },
    'human',
  );
  const tol = reference.suggested_tolerances.splice_junctions_pred_counts!;
  const f32 = check(r.splice_junctions_pred_counts!, 'splice_junctions_pred_counts', tol, 2);
  const f64 = check(r.splice_junctions_pred_counts!, 'splice_junctions_pred_counts_f64', tol, 1);
  exact(r.splice_junctions_mask!, 'splice_junctions_mask');
  console.log(`junction head alone: max |ours - ref| ${f32.toExponential(2)} / f64 ${f64.toExponential(2)}`);
});

test('alphagenome: any multiple of 2,048 bp runs, and each batch item uses its own organism', { skip }, async () => {
  for (const length of [2048, 16384]) {
    const seq = Array.from({ length }, (_, i) => 'ACGT'[(i * 7 + (i >> 3)) % 4]).join('');
    const r = await model.predict(Model.encode([seq]), 'mouse');
    assert.deepEqual(r.atac_1bp!.dims, [1, length, config.tracks.atac]);
    assert.deepEqual(r.chip_tf_128bp!.dims, [1, length / 128, config.tracks.chip_tf]);
    const p = length / config.pairResolution;
    assert.deepEqual(r.contact_maps!.dims, [1, p, p, config.contactMapTracks]);
    assert.deepEqual(r.splice_junctions_pred_counts!.dims, [1, config.numSpliceSites, config.numSpliceSites, 2 * Math.max(...config.junctionTissues)]);
  }
  // Sequence 0 as human, sequence 1 as mouse in one batch: each row as in its single-organism run.
  const x = { data: inputs.readFloat32('x'), batch: 2, length: inputs.tensors.get('x')!.shape[1]! };
  const mixed = await model.predict(x, ['human', 'mouse']);
  for (const name of ['atac_128bp', 'contact_maps', 'splice_junctions_pred_counts']) {
    const t = mixed[name]!;
    const row = t.data.length / 2;
    const rows = [human[name]!.data.subarray(0, row), mouse[name]!.data.subarray(row)];
    rows.forEach((want, b) => {
      const got = t.data.subarray(b * row, (b + 1) * row);
      for (let i = 0; i < row; i++) assert.ok(Math.abs(Number(got[i]) - Number(want[i])) <= 1e-5 * Math.max(1, Math.abs(Number(want[i]))), `${name} batch ${b} index ${i}`);
    });
  }
  const width = Math.max(...config.spliceUsageTracks);
  const valid = [0, 1].flatMap((o) => Array.from({ length: width }, (_, t) => (t < config.spliceUsageTracks[o]! ? 1 : 0)));
  assert.deepEqual(Array.from(mixed.splice_site_usage_track_mask!.data as Float32Array), valid);
});

test('alphagenome bad input: lengths off the 2,048-bp grid, missing or mis-shaped weights, config fields', { skip }, async () => {
  const length = 8192 + 128;
  await assert.rejects(model.predict(Model.encode(['A'.repeat(length)]), 'human'), (e: Error) => e instanceof LengthError && /has length 8320 bp; AlphaGenome needs a multiple of 2048 bp/.test(e.message));
  await assert.rejects(model.predict(Model.encode(['A'.repeat(8192)]), 'rat' as never), /unknown organism "rat" \(this AlphaGenome has: human, mouse\)/);

  const file = await SafetensorsFile.open(join(dir, 'weights.safetensors'));
  const weights = WeightSet.fromSafetensors(file);
  weights.entries.delete('tower.blocks.0.mha.q_proj.weight');
  weights.entries.delete('heads.rna_seq.track_means');
  weights.entries.get('decoder.up_blocks.3.residual_scale')!.shape = [2];
  await assert.rejects(AlphaGenomeModel.create(config, weights, 'weights.safetensors'), (e: Error) => {
    assert.ok(e instanceof WeightsMismatchError, e.message);
    assert.match(e.message, /missing tower\.blocks\.0\.mha\.q_proj\.weight \[64,48\]/);
    assert.match(e.message, /missing heads\.rna_seq\.track_means \[2,3\]/);
    assert.match(e.message, /mis-shaped decoder\.up_blocks\.3\.residual_scale: \[2\] in the file, the config needs \[1\]/);
    return true;
  });

  const json = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  assert.throws(() => parseAlphaGenomeConfig({ ...json, encoder_channels: [24, 28] }, 'c.json'), (e: Error) => e instanceof ConfigError && /encoder_channels/.test(e.message));
  assert.throws(() => parseAlphaGenomeConfig({ ...json, tracks: { atac: 3, dnasee: 4 } }, 'c.json'), /unknown head 'dnasee'/);
  assert.throws(() => parseAlphaGenomeConfig({ ...json, mha_num_kv_heads: 2 }, 'c.json'), /multi-query/);
});

test('alphagenome predict --fasta: one tensor per output, named and shaped as the fixture; --head mouse', { skip }, async () => {
  await withTempDir(async (tmp) => {
    const fasta = join(tmp, 'in.fa');
    await writeFile(fasta, reference.inputs.sequences.map((s, i) => `>seq${i}\n${s}\n`).join(''));
    for (const organism of ['human', 'mouse']) {
      const out = join(tmp, `${organism}.safetensors`);
      assertCliOk(await runCli(['predict', '--model', dir, '--fasta', fasta, '--out', out, '--threads', '2', ...(organism === 'mouse' ? ['--head', 'mouse'] : [])]));
      const file = await SafetensorsFile.open(out);
      assert.deepEqual([...file.tensors.keys()], headOutputNames(config));
      const prefix = organism === 'mouse' ? 'mouse_' : '';
      for (const [name, t] of file.tensors) {
        const ref = outputs.tensors.get(prefix + name);
        if (!ref) continue;
        assert.deepEqual(t.shape, ref.shape, name);
        assert.equal(t.dtype, ref.dtype, name);
        const data = t.dtype === 'F32' ? file.readFloat32(name) : t.dtype === 'I64' ? new BigInt64Array(file.readBytes(name).buffer) : new Float32Array(file.readBytes(name));
        const got: TensorData = { dtype: t.dtype === 'I64' ? 'int64' : 'float32', dims: t.shape, data };
        // Batch size 1 here (2 in the library run above): summation order may differ, so the fixture's rule, not bitwise equality.
        if (EXACT.has(name)) exact(got, prefix + name);
        else check(got, prefix + name, reference.suggested_tolerances[prefix + name]!, 2);
      }
    }
    const short = join(tmp, 'short.fa');
    await writeFile(short, `>ok\n${'ACGT'.repeat(2048)}\n>odd\n${'ACGT'.repeat(2000)}\n`);
    assertCliError(await runCli(['predict', '--model', dir, '--fasta', short, '--out', join(tmp, 'x.safetensors')]), /record 'odd' has 8000 bp/, 'records of two lengths');
    const odd = join(tmp, 'odd.fa');
    await writeFile(odd, `>odd\n${'ACGT'.repeat(2000)}\n`);
    assertCliError(await runCli(['predict', '--model', dir, '--fasta', odd, '--out', join(tmp, 'x.safetensors')]), /record 'odd' has length 8000 bp; AlphaGenome needs a multiple of 2048 bp/, 'length off the grid');
    // A TSV holds per-position tracks: the 128-bp outputs through the model runner (alphagenome-tracks.test.ts).
    assertCliOk(await runCli(['predict', '--model', dir, '--fasta', fasta, '--out', join(tmp, 'x.tsv')]));
    assert.equal((await readFile(join(tmp, 'x.tsv'), 'utf8')).trim().split('\n').length, 1 + 2 * 64 * 24);
    assertCliError(await runCli(['predict', '--model', dir, '--fasta', fasta, '--out', join(tmp, 'x.safetensors'), '--head', 'rat']), /--head rat: an AlphaGenome organism is human or mouse/, 'organism');
  });
});
