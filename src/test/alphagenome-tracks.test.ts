/**
 * AlphaGenome through the model runner (`AlphaGenomeTracks`, tracks-architecture.ts): one organism's
 * per-position outputs at 128 or 1 bp as one head, the encoder tiled by the trunk tiler, so every job
 * of the run core runs it.
 *
 * Parity is against the `alphagenome-small` fixture with its own tolerance rule (alphagenome.test.ts:
 * |ours − ref| ≤ 2 · max(atol, scaled · max(|ref|, 1)) against the float32 reference, the per-tensor
 * numbers read from reference.json). Tiled and untiled runs must agree to float32 round-off (1e-5
 * relative): a tile's core is exact by construction (halo ≥ the 513-bp receptive field), but ONNX
 * Runtime may sum a convolution in another order on a shorter input.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModel } from '../models/load.js';
import { Model } from '../models/model-core.js';
import { AlphaGenomeTracks } from '../models/alphagenome/tracks-architecture.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';
import { alphaGenomeConfigOf } from '../models/alphagenome/load.js';
import { substitutionEffects } from '../tasks/attribution/ism.js';
import { runObjective } from '../tasks/attribution/objective.js';
import { assertCliError, assertCliOk, runCli, withTempDir } from './fixtures.js';
import { alphaGenomeDir, alphaGenomeSkip, type Tolerance } from './alphagenome-fixture.js';

const skip = alphaGenomeSkip;
const dir = alphaGenomeDir;

let outputs: SafetensorsFile;
let x: { data: Float32Array; batch: number; length: number };
let tolerances: Record<string, Tolerance>;

before(async () => {
  if (skip) return;
  outputs = await SafetensorsFile.open(join(dir, 'outputs.safetensors'));
  const inputs = await SafetensorsFile.open(join(dir, 'inputs.safetensors'));
  const shape = inputs.tensors.get('x')!.shape;
  x = { data: inputs.readFloat32('x'), batch: shape[0]!, length: shape[1]! };
  tolerances = JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8')).suggested_tolerances;
});

/** The head's tracks of each output group against the fixture's `prefix + output`; returns the worst ratio to the bound. */
function compareGroups(model: Model, organism: string, head: Float32Array, prefix: string): number {
  const arch = model.arch as AlphaGenomeTracks;
  const T = arch.tracks(organism);
  const n = head.length / (x.batch * T);
  let worst = 0;
  for (const g of arch.trackGroups) {
    const ref = outputs.readFloat32(prefix + g.output);
    const tol = tolerances[prefix + g.output] ?? tolerances[g.output];
    assert.ok(tol, `reference.json gives no tolerance for ${prefix + g.output}`);
    assert.equal(ref.length, x.batch * n * g.count, `${g.output}: fixture size`);
    for (let b = 0; b < x.batch; b++) {
      for (let i = 0; i < n; i++) {
        for (let t = 0; t < g.count; t++) {
          const want = ref[(b * n + i) * g.count + t]!;
          const got = head[(b * n + i) * T + g.start + t]!;
          const ratio = Math.abs(got - want) / (2 * Math.max(tol.atol, tol.scaled * Math.max(Math.abs(want), 1)));
          assert.ok(ratio <= 1, `${prefix}${g.output}[${b}, ${i}, ${t}]: ${got} vs ${want}`);
          worst = Math.max(worst, ratio);
        }
      }
    }
  }
  return worst;
}

function maxRelative(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), 1));
  return worst;
}

for (const [organism, resolution, prefix] of [
  ['human', 128, ''],
  ['human', 1, ''],
  ['mouse', 128, 'mouse_'],
] as const) {
  test(`alphagenome tracks: ${organism} at ${resolution} bp equals the fixture's outputs, tiled and untiled`, { skip }, async () => {
    const whole = await loadModel(dir, { organism, resolution, tileLength: 0, threads: 2 });
    const tiled = await loadModel(dir, { organism, resolution, tileLength: 2048, threads: 2 });
    try {
      assert.deepEqual(whole.headNames, [organism]);
      const a = await whole.predict(x, { embeddings: true });
      const tiles: number[] = [];
      const b = await tiled.predict(x, { embeddings: true, onTile: (done) => tiles.push(done) });
      assert.equal(tiles.length, 4, 'four tiles of 2,048 bp');
      const head = a.heads[organism]!;
      assert.deepEqual(head.shape, [x.batch, x.length / resolution, whole.arch.tracks(organism)]);
      const worst = compareGroups(whole, organism, head.data, prefix);
      compareGroups(tiled, organism, b.heads[organism]!.data, prefix);
      const tiledVsWhole = maxRelative(b.heads[organism]!.data, head.data);
      assert.ok(tiledVsWhole <= 1e-5, `tiled vs untiled ${tiledVsWhole}`);
      assert.deepEqual(a.embeddings!.shape, [x.batch, x.length / resolution, resolution === 1 ? 48 : 96]);
      console.log(`${organism} ${resolution} bp: worst |ours − ref| / bound ${worst.toExponential(2)}; tiled vs untiled ${tiledVsWhole.toExponential(2)}`);
    } finally {
      await whole.close();
      await tiled.close();
    }
  });
}

test('alphagenome tracks: the receptive field is exact (ISM through the trunk patch equals brute force at 1 and 128 bp)', { skip }, async () => {
  for (const resolution of [128, 1] as const) {
    const model = await loadModel(dir, { resolution, tileLength: 2048, threads: 2 });
    try {
      const ref = { data: x.data.subarray(0, x.length * 4), batch: 1, length: x.length };
      const table = (model.arch as AlphaGenomeTracks).defaultTrackTable('human');
      const bins: [number, number] = resolution === 1 ? [4000, 4100] : [31, 36];
      const objective = runObjective({ head: 'human', tracks: table.tracks.slice(0, 3), bins, outputBins: x.length / resolution, aggregate: 'sum', logPseudocount: 1 }, false);
      // Far apart, near the tile seams (2,048 and 4,096) and at both ends.
      const subs = [{ pos: 0, base: 1 }, { pos: 2047, base: 3 }, { pos: 4100, base: 0 }, { pos: 4600, base: 2 }, { pos: 8191, base: 0 }];
      const inc = await substitutionEffects(model, ref, subs, objective, { batchSize: 3 });
      const brute = await substitutionEffects(model, ref, subs, objective, { bruteForce: true, batchSize: 2 });
      for (let i = 0; i < subs.length; i++) assert.ok(Math.abs(inc.effects[i]! - brute.effects[i]!) <= 1e-5 * Math.max(1, Math.abs(brute.effects[i]!)), `${resolution} bp, substitution ${i}: ${inc.effects[i]} vs ${brute.effects[i]}`);
      assert.ok(inc.effects.some((e) => Math.abs(e) > 1e-4), 'the substitutions change the objective');
    } finally {
      await model.close();
    }
  }
});

test('alphagenome tracks: tracks are named by output; a view leaves out only the weights it does not use', { skip }, async () => {
  const model = await loadModel(dir, { resolution: 1, threads: 1 });
  try {
    const arch = model.arch as AlphaGenomeTracks;
    assert.deepEqual(
      arch.trackGroups.map((g) => [g.output, g.count]),
      [['atac_1bp', 3], ['dnase_1bp', 4], ['procap_1bp', 2], ['cage_1bp', 3], ['rna_seq_1bp', 3], ['splice_sites_probs', 5], ['splice_site_usage_predictions', 4]],
    );
    const table = arch.defaultTrackTable('human');
    assert.equal(table.tracks.length, 24);
    assert.equal(table.tracks[17]!.identifier, 'splice_sites_probs:2');
    // Splice-site probabilities are a softmax over 5 classes: they sum to 1 at every position.
    const p = await model.predict({ data: x.data.subarray(0, x.length * 4), batch: 1, length: x.length });
    const h = p.heads.human!.data;
    for (let i = 0; i < x.length; i += 97) {
      let sum = 0;
      for (let k = 0; k < 5; k++) sum += h[i * 24 + 15 + k]!;
      assert.ok(Math.abs(sum - 1) < 1e-5, `splice-site probabilities at ${i} sum to ${sum}`);
    }
  } finally {
    await model.close();
  }
  // Every weight is either read by a graph or named unused on purpose, at both resolutions (weightParts checks it).
  const config = await alphaGenomeConfigOf(dir);
  for (const resolution of [1, 128] as const) {
    const arch = new AlphaGenomeTracks(config, { resolution });
    const parts = Model.weightParts(arch, '1d');
    const used = new Set(parts.flatMap((q) => q.names));
    assert.ok(arch.expectedWeights().every((t) => used.has(t.name) !== arch.unusedWeight(t.name)), `${resolution} bp: a weight is both used and marked unused`);
  }
});

test('alphagenome tracks: attention maps are the tower softmax rows (each sums to 1) and do not depend on the query chunks', { skip }, async () => {
  const spec = { layers: [0, 2], heads: 'mean' as const };
  const config = await alphaGenomeConfigOf(dir);
  const weights = WeightSet.fromSafetensors(await SafetensorsFile.open(join(dir, 'weights.safetensors')));
  // 8 chunks over the window's 4 pair rows: half of them empty; 1 chunk: the whole logits at once.
  const chunked = await Model.create(new AlphaGenomeTracks(config, { queryChunks: 8 }), weights, 'chunked', { attention: spec, threads: 1 });
  const whole = await Model.create(new AlphaGenomeTracks(config, { queryChunks: 1 }), weights, 'whole', { attention: spec, threads: 1 });
  try {
    const rows = [0, 31, 32, 63];
    const p = await chunked.predict(x, { attentionRows: rows });
    const q = await whole.predict(x, { attentionRows: rows });
    const maps = p.attention!;
    assert.deepEqual(maps.shape, [2, 2, 1, 4, 64]);
    for (let r = 0; r < maps.data.length / 64; r++) {
      const sum = maps.data.subarray(r * 64, (r + 1) * 64).reduce((a, v) => a + v, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
    }
    assert.ok(maxRelative(maps.data, q.attention!.data) <= 1e-6, 'maps: chunked vs whole');
    assert.ok(maxRelative(p.heads.human!.data, q.heads.human!.data) <= 1e-6, 'tracks: chunked vs whole');
  } finally {
    await chunked.close();
    await whole.close();
  }
});

test('alphagenome tracks: predict runs it from the CLI; --head picks the organism, --resolution the outputs', { skip }, async () => {
  await withTempDir(async (tmp) => {
    const fasta = join(tmp, 'r.fa');
    const seq = Array.from({ length: 8192 }, (_, i) => 'ACGT'[(i * 7 + (i >> 5)) % 4]).join('');
    await writeFile(fasta, `>a\n${seq}\n`);
    const tsv = join(tmp, 'p.tsv');
    assertCliOk(await runCli(['predict', '--model', dir, '--fasta', fasta, '--resolution', '1', '--tracks', 'splice_sites_probs', '--out', tsv]));
    const lines = (await readFile(tsv, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 1 + 8192 * 5);
    // FASTA tables name a track head:column; the splice-site probabilities follow the 15 1-bp tracks.
    assert.deepEqual(lines.slice(1, 6).map((l) => l.split('\t')[4]), ['human:15', 'human:16', 'human:17', 'human:18', 'human:19']);
    const mouse = join(tmp, 'm.tsv');
    assertCliOk(await runCli(['predict', '--model', dir, '--fasta', fasta, '--head', 'mouse', '--tracks', 'chip_histone', '--out', mouse]));
    assert.equal((await readFile(mouse, 'utf8')).split('\n')[1]!.split('\t')[4], 'mouse:20', 'chip_histone follows 20 tracks at 128 bp');
    assertCliError(await runCli(['predict', '--model', dir, '--fasta', fasta, '--head', 'dog', '--tracks', '0', '--out', mouse]), /unknown organism 'dog'/, '--head dog');
    assertCliError(await runCli(['predict', '--model', dir, '--fasta', fasta, '--resolution', '32', '--out', mouse]), /resolution/, '--resolution 32');
  });
});
