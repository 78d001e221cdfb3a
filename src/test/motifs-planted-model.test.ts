/**
 * Issue 21's planted-motif test, end to end through the CLI: a model whose first layer detects two
 * known motifs and whose outputs count them (planted-motif-model.ts), random sequences with the
 * motifs planted, then
 *   attribute --genome --bed (gradients, tfmodisco-lite's .npz files)
 *   → motifs discover (TF-MoDISco-lite's algorithm, named against a MEME database)
 *   → motifs match (the discovered motifs against the planted PWMs and decoys).
 * Discovery must find both motifs, each best matched by its own planted PWM at p < 1e-4 on the
 * strand it was planted on, and the decoys (shuffled columns of the planted PWMs, random PWMs)
 * must not come first.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertCliOk, runCli, skipUnless, tempDir } from './fixtures.js';
import { PLANTED_CENTRE, PLANTED_CONSENSUS, writePlantedMotifExample } from './planted-motif-model.js';
import { readMeme } from '../motifs/meme-format.js';

const skip = skipUnless('borzoi-small');
let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
const env = () => ({ SEQ2TRACK_CACHE: path('cache') });

before(async () => {
  tmp = tempDir('seq2track-planted-');
  await writePlantedMotifExample(tmp.dir);
});

after(() => tmp?.cleanup());

test('planted motifs: attribute --bed → motifs discover → motifs match names both motifs on their planted strand (p < 1e-4), decoys behind', { skip }, async () => {
  // Objective: track 0 (channel A + channel B) summed over every output bin.
  const attribute = runCli(['attribute', '--model', path('model'), '--genome', path('genome.fa'), '--bed', path('sites.bed'), '--tracks', '0', '--bins', '0-223', '--aggregate', 'sum', '--batch-size', '4', '--threads', '2', '--out', path('attr/')], env());
  assertCliOk(await attribute);
  const discover = runCli(['motifs', 'discover', '--scores', path('attr'), '--window', String(PLANTED_CENTRE), '--out', path('motifs'), '--db', path('db.meme')], env());
  const discovered = assertCliOk(await discover);
  const found = readFileSync(path('motifs/motifs.meme'), 'utf8').includes('MOTIF') ? (await readMeme(path('motifs/motifs.meme'))).motifs : [];
  assert.ok(found.length >= 2, `discovered ${found.length} motifs: ${found.map((m) => m.id).join(', ')}\n${discovered.stderr}`);
  const report = readFileSync(path('motifs/report.html'), 'utf8');
  for (const name of ['planted_A', 'planted_B']) assert.ok(report.includes(name), `the report names ${name}`);

  const match = runCli(['motifs', 'match', '--query', path('motifs/motifs.meme'), '--db', path('db.meme'), '--thresh', '1', '--out', path('matches.tsv')], env());
  assertCliOk(await match);
  const rows = readFileSync(path('matches.tsv'), 'utf8').trim().split('\n').filter((l) => !l.startsWith('#'));
  const header = rows[0]!.split('\t');
  const col = (name: string) => header.indexOf(name);
  const best = new Map<string, string[]>();
  for (const line of rows.slice(1)) {
    const f = line.split('\t');
    const prev = best.get(f[col('Query_ID')]!);
    if (!prev || Number(f[col('p-value')]) < Number(prev[col('p-value')])) best.set(f[col('Query_ID')]!, f);
  }
  for (const name of ['A', 'B'] as const) {
    const hits = [...best.values()].filter((f) => f[col('Target_ID')] === `planted_${name}`);
    assert.ok(hits.length > 0, `a discovered motif is best matched by planted_${name} (best matches: ${[...best.entries()].map(([q, f]) => `${q}→${f[col('Target_ID')]} p=${f[col('p-value')]}`).join('; ')})`);
    const top = hits.sort((a, b) => Number(a[col('p-value')]) - Number(b[col('p-value')]))[0]!;
    assert.ok(Number(top[col('p-value')]) < 1e-4, `planted_${name}: p = ${top[col('p-value')]}`);
    // Sites were planted on the forward strand only and the model reads that strand only: patterns
    // are turned to their seqlets' strand, so the match is to the planted PWM as given.
    assert.equal(top[col('Orientation')], '+', `planted_${name} matched on the planted strand`);
    const consensus = top[col('Query_consensus')]!;
    assert.ok(consensus.includes(PLANTED_CONSENSUS[name].slice(1, 8)), `planted_${name}: discovered consensus ${consensus} holds ${PLANTED_CONSENSUS[name]}'s core`);
  }
  for (const f of best.values()) assert.ok(!f[col('Target_ID')]!.startsWith('decoy') || Number(f[col('p-value')]) > 1e-4, `a decoy matched a discovered motif at p = ${f[col('p-value')]}`);
});
