/**
 * Tomtom-style matching: a motif matches itself and its reverse complement at offset 0 with a tiny
 * p-value, a trimmed copy at the right offset, decoys do not; the p-value of the best alignment is
 * checked against a Monte-Carlo draw from the null the method assumes; `seq2track motifs match` end
 * to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, withTempDir } from './fixtures.js';
import { formatMeme } from '../motifs/meme-format.js';
import { reverseComplement, type Motif } from '../motifs/motif.js';
import { consensus, matchMotifs } from '../motifs/tomtom.js';
import { randomMotif, rng } from './motif-fixtures.js';

function trim(m: Motif, from: number, to: number, id: string): Motif {
  return { id, probabilities: m.probabilities.slice(from * 4, to * 4), length: to - from, sites: m.sites };
}

const random = rng(2024);
const planted = [randomMotif('PLANT_A', 12, random, 1.2), randomMotif('PLANT_B', 10, random, 1.2)];
const decoys = Array.from({ length: 40 }, (_, k) => randomMotif(`DECOY_${k}`, 8 + (k % 8), random, 0.8));
const db = [...decoys.slice(0, 20), ...planted, ...decoys.slice(20)];

for (const distance of ['ed', 'pearson', 'sandelin'] as const) {
  test(`${distance}: a motif matches itself and its reverse complement at offset 0; decoys do not`, () => {
    const [self, rc] = matchMotifs([planted[0]!, { ...reverseComplement(planted[0]!), id: 'RC_A' }], db, { distance });
    const best = self![0]!;
    assert.equal(best.targetId, 'PLANT_A');
    assert.equal(best.orientation, '+');
    assert.equal(best.offset, 0);
    assert.equal(best.overlap, 12);
    assert.ok(best.pValue < 1e-6, `p ${best.pValue}`);
    assert.ok(best.qValue < 1e-4, `q ${best.qValue}`);
    assert.ok(Math.abs(best.eValue - best.pValue * db.length) <= 1e-12 * db.length);
    assert.equal(best.queryConsensus, consensus(planted[0]!.probabilities, 12));
    // Decoys: none comes near.
    for (const m of self!.slice(1)) assert.ok(m.pValue > 1e-3, `${m.targetId} p ${m.pValue}`);
    assert.equal(self!.length, db.length, 'one row per target');
    const r = rc![0]!;
    assert.equal(r.targetId, 'PLANT_A');
    assert.equal(r.orientation, '-');
    assert.equal(r.offset, 0);
    assert.ok(Math.abs(r.pValue - best.pValue) <= 1e-6 * best.pValue + 1e-12);
  });
}

test('a trimmed copy matches at its offset in the target, in either orientation', () => {
  const piece = trim(planted[0]!, 3, 10, 'PIECE'); // columns 3…9 of PLANT_A
  const [m] = matchMotifs([piece], db);
  assert.equal(m![0]!.targetId, 'PLANT_A');
  assert.equal(m![0]!.orientation, '+');
  assert.equal(m![0]!.offset, 3);
  assert.equal(m![0]!.overlap, 7);
  assert.ok(m![0]!.pValue < 1e-4, `p ${m![0]!.pValue}`);
  // Reverse complement of the piece: in the target's reverse complement, columns 12-10 … 12-3-1.
  const [r] = matchMotifs([{ ...reverseComplement(piece), id: 'PIECE_RC' }], db);
  assert.equal(r![0]!.targetId, 'PLANT_A');
  assert.equal(r![0]!.orientation, '-');
  assert.equal(r![0]!.offset, 12 - 10);
  // A query overhanging the target: PLANT_B with two random columns in front.
  const extra = randomMotif('X', 2, random, 1.2);
  const over: Motif = { id: 'OVER', probabilities: Float64Array.from([...extra.probabilities, ...planted[1]!.probabilities]), length: 12, sites: 20 };
  const [o] = matchMotifs([over], db);
  assert.equal(o![0]!.targetId, 'PLANT_B');
  assert.equal(o![0]!.offset, -2);
  assert.equal(o![0]!.overlap, 10);
});

test('p-values are calibrated: random queries give roughly uniform p-values against the database', () => {
  // Under the null (a random query, unrelated targets) P(p ≤ α) should be about α (the method's
  // independence assumptions make it approximate; Tomtom's paper reports the same behaviour).
  const queries = Array.from({ length: 60 }, (_, k) => randomMotif(`Q${k}`, 8 + (k % 6), random, 0.8));
  const all = matchMotifs(queries, decoys).flat();
  const frac = (a: number) => all.filter((m) => m.pValue <= a).length / all.length;
  const f1 = frac(0.1);
  const f5 = frac(0.5);
  assert.ok(f1 > 0.02 && f1 < 0.25, `P(p <= 0.1) = ${f1}`);
  assert.ok(f5 > 0.3 && f5 < 0.7, `P(p <= 0.5) = ${f5}`);
});

test('seq2track motifs match: TSV end to end, --top, errors', async () => {
  await withTempDir('seq2track-match-', async (dir) => {
    writeFileSync(join(dir, 'db.meme'), formatMeme(db.map((m, k) => ({ ...m, altName: `TF${k}` }))));
    writeFileSync(join(dir, 'q.meme'), formatMeme([trim(planted[1]!, 1, 9, 'DISC_1'), { ...reverseComplement(planted[0]!), id: 'DISC_2' }]));
    const r = spawnSync(process.execPath, [CLI, 'motifs', 'match', '--query', join(dir, 'q.meme'), '--db', join(dir, 'db.meme'), '--top', '2', '--out', join(dir, 'm.tsv')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = readFileSync(join(dir, 'm.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(rows[0], ['Query_ID', 'Target_ID', 'Target_alt_ID', 'Optimal_offset', 'p-value', 'E-value', 'q-value', 'Overlap', 'Query_consensus', 'Target_consensus', 'Orientation']);
    const first = (q: string) => rows.find((f) => f[0] === q)!;
    assert.deepEqual([first('DISC_1')[1], first('DISC_1')[3], first('DISC_1')[7], first('DISC_1')[10]], ['PLANT_B', '1', '8', '+']);
    assert.deepEqual([first('DISC_2')[1], first('DISC_2')[3], first('DISC_2')[10]], ['PLANT_A', '0', '-']);
    assert.ok(rows.filter((f) => f[0] === 'DISC_1').length <= 2);
    const bad = spawnSync(process.execPath, [CLI, 'motifs', 'match', '--query', join(dir, 'q.meme'), '--db', join(dir, 'missing.meme'), '--out', join(dir, 'x.tsv')], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr.trim(), /^seq2track: error: .*missing\.meme: cannot read MEME motif file/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });
});
