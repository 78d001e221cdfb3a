/**
 * ISM against the fixtures' brute-force reference (`grads.safetensors` `ism`, float64 run stored as
 * float32), at each set's GRADS.md tolerance for a float32 implementation ("ism (float32 run vs
 * float64 run)" atol): enformer 8e-06, borzoi 5e-06, flashzoi 5e-06. Flashzoi's second sequence has
 * its window inside an N run, which checks the all-zero-row convention. The incremental path must
 * also equal our own brute force (full forward per mutant) to float32 round-off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { assertClose, fixturePath, skipUnless } from './fixtures.js';
import { ismRecords, substitutionEffects } from '../tasks/attribution/ism.js';
import { loadModel } from '../models/load.js';
import { Model } from '../models/model.js';
import { runObjective } from '../tasks/attribution/objective.js';
import { unnamedTracks } from '../formats/targets.js';
import { fixtureRecords, fixtureRunOptions, gradsOf } from './attribution-fixtures.js';

const ISM_ATOL: Record<string, number> = { 'enformer-small': 8e-6, 'borzoi-small': 5e-6, 'flashzoi-small': 5e-6 };

for (const name of Object.keys(ISM_ATOL)) {
  test(`ism: ${name} reproduces grads.safetensors ism (incremental, batched)`, { skip: skipUnless(name) }, async () => {
    const g = await gradsOf(name);
    const r = await ismRecords(fixtureRecords(name), `${name}/reference.json`, { ...fixtureRunOptions(name, g, 8), window: g.window });
    assert.deepEqual(Array.from(r.refBase), g.refBase);
    assertClose(r.ism, g.file.readFloat32('ism'), { atol: ISM_ATOL[name]! }, `${name} ism`);
    assertClose(r.objective, g.file.readFloat32('objective'), { atol: 4e-6 }, `${name} objective`);
  });
}

test('ism: incremental equals brute force (enformer-small, substitutions far apart in one batch)', { skip: skipUnless('enformer-small') }, async () => {
  const name = 'enformer-small';
  // A small tile makes the reference trunk itself tiled, so the patch crosses tile boundaries.
  const model = await loadModel(fixturePath(name), { threads: 1, tileLength: 2048 });
  try {
    const seq = fixtureRecords(name)[0]!.sequence;
    const ref = Model.encode([seq]);
    const objective = runObjective({ head: 'human', tracks: unnamedTracks('human', 12).tracks.slice(0, 3), bins: [10, 20], outputBins: 32, aggregate: 'sum', logPseudocount: 1 }, false);
    const subs = [{ pos: 0, base: 1 }, { pos: 4100, base: 3 }, { pos: 8191, base: 0 }, { pos: 3000, base: 2 }];
    const inc = await substitutionEffects(model, ref, subs, objective, { batchSize: 3 });
    const brute = await substitutionEffects(model, ref, subs, objective, { bruteForce: true, batchSize: 2 });
    assertClose([inc.reference], [brute.reference], { atol: 1e-6 }, 'reference objective');
    assertClose(inc.effects, brute.effects, { atol: 1e-6 }, 'effects');
    assert.ok(inc.effects.some((e) => Math.abs(e) > 1e-4), 'the substitutions change the objective');
  } finally {
    await model.close();
  }
});

test('ism: reverse complement and shifts map back to forward positions and bases', { skip: skipUnless('enformer-small') }, async () => {
  // An rc run of the reverse-complemented sequence sees the forward sequence: with --rc, ISM of the
  // rc record mirrored back must equal ISM of the forward record with --rc (the ensemble is symmetric).
  const name = 'enformer-small';
  const rec = fixtureRecords(name)[0]!;
  const rcSeq = rec.sequence.split('').reverse().map((c) => ({ A: 'T', C: 'G', G: 'C', T: 'A' })[c] ?? 'N').join('');
  const common = { models: [fixturePath(name)], head: 'human', tracks: '1', bins: [14, 17] as [number, number], rc: true, batchSize: 8, load: { threads: 1 } };
  const L = rec.sequence.length;
  const fwd = await ismRecords([rec], 'fwd', { ...common, window: [4090, 4093] });
  const rev = await ismRecords([{ name: 'rc', sequence: rcSeq }], 'rc', { ...common, bins: [14, 17], window: [L - 1 - 4093, L - 1 - 4090] });
  const mirrored = new Float32Array(fwd.ism.length);
  for (let i = 0; i < 4; i++) for (let k = 0; k < 4; k++) mirrored[i * 4 + k] = rev.ism[(3 - i) * 4 + (3 - k)]!;
  assertClose(mirrored, fwd.ism, { atol: 2e-6 }, 'rc-symmetric ISM');
  const shifted = await ismRecords([rec], 'shift', { ...common, rc: false, shifts: [0, 1], window: [4090, 4093] });
  assert.equal(shifted.job.ensemble, 2);
  assert.ok(shifted.ism.some((v) => v !== 0));
});

test('ism: bad input is rejected before any model run', { skip: skipUnless('enformer-small') }, async () => {
  const name = 'enformer-small';
  const recs = fixtureRecords(name);
  const base = { models: [join(fixturePath(name))], head: 'human', tracks: '1', load: { threads: 1 } };
  await assert.rejects(ismRecords(recs, 'x.fa', { ...base, window: [8190, 8192] }), /--window 8190-8192: outside the sequence \(8192 bp/);
  await assert.rejects(ismRecords(recs, 'x.fa', { ...base, window: [0, 1], bins: [30, 32] }), /--bins 30-32: outside the model output \(32 bins/);
  await assert.rejects(ismRecords(recs, 'x.fa', { ...base, window: [0, 1], tracks: '12' }), /--tracks 12: no such track index/);
  await assert.rejects(ismRecords([], 'x.fa', { ...base, window: [0, 1] }), /x\.fa: no records/);
  await assert.rejects(ismRecords([recs[0]!, { name: 'short', sequence: 'ACGT' }], 'x.fa', { ...base, window: [0, 1] }), /record 'short' has 4 bp but record 'seq1' has 8192/);
});
