/**
 * `seq2track ism` end to end: the FASTA form against the fixture's brute-force ISM (GRADS.md float32
 * tolerance, enformer 8e-06), the genome form against the FASTA form on the same window cut out by
 * hand (so window placement, bin choice and the bigWig coordinates are pinned independently), and
 * every bad input: one error line, exit 1, nothing written.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BigWig } from '@gmod/bbi';
import { SafetensorsFile } from '../weights/safetensors.js';
import { assertClose, assertCliError, assertCliOk, fixture, runCli, skipUnless, tempDir } from './fixtures.js';
import { randomGenome, writeFastaFai } from './genome-files.js';
import { ismSummaries } from '../tasks/attribution/outputs.js';
import { int64 } from './attribution-fixtures.js';

const skip = skipUnless('enformer-small');
const MODEL = fixture('enformer-small') ?? '';
const genome = randomGenome({ chr1: 30_001, chr2: 5_000 }, 7);
let tmp: { dir: string; cleanup: () => void };
let fa = '';
let fasta = '';

const path = (name: string) => join(tmp.dir, name);
const run = (args: string[]) => runCli([...args, '--threads', '1', ...(args.includes('--genome') ? ['--window-length', '8192'] : [])], { SEQ2TRACK_CACHE: path('cache') });


function writeFasta(name: string, records: [string, string][]): string {
  writeFileSync(path(name), records.map(([n, s]) => `>${n}\n${s}\n`).join(''));
  return path(name);
}

before(() => {
  tmp = tempDir('seq2track-ism-');
  if (skip) return;
  fa = path('genome.fa');
  writeFastaFai(fa, genome);
  const seqs = JSON.parse(readFileSync(join(MODEL, 'reference.json'), 'utf8')).inputs.sequences as string[];
  fasta = writeFasta('inputs.fa', seqs.map((s, i) => [`seq${i + 1}`, s]));
});

after(() => tmp?.cleanup());

test('cli ism --fasta reproduces grads.safetensors ism', { skip }, async () => {
  const out = path('fasta.safetensors');
  assertCliOk(await run(['ism', '--model', MODEL, '--fasta', fasta, '--head', 'human', '--tracks', '1', '--bins', '14-17', '--window', '4088-4103', '--out', out]));
  const got = await SafetensorsFile.open(out);
  const ref = await SafetensorsFile.open(join(MODEL, 'grads.safetensors'));
  assert.deepEqual([...got.tensors.keys()], ['ism', 'ism_ref_base']);
  assert.deepEqual(got.tensors.get('ism')!.shape, [2, 16, 4]);
  assert.deepEqual(int64(got, 'ism_ref_base'), int64(ref, 'ism_ref_base'));
  assertClose(got.readFloat32('ism'), ref.readFloat32('ism'), { atol: 8e-6 }, 'ism');
  assert.ok(!existsSync(`${out}.partial`));
});

test('cli ism --genome equals the FASTA form on the same window; bigWigs and heatmap', { skip }, async () => {
  // Region chr1:12001-12010 (0-based 12000..12009): centre 12005, window [12005 - 4096, +8192).
  const ws = 12005 - 4096;
  const window = genome.get('chr1')!.slice(ws, ws + 8192);
  const windowFa = writeFasta('window.fa', [['w', window]]);
  const dir = path('genome-out');
  const plot = path('ism.png');
  const common = ['--model', MODEL, '--head', 'human', '--tracks', '0,2', '--aggregate', 'sum', '--log-pseudocount', '1'];
  // Target chr1:12050-12100 (0-based 12049..12099) -> window positions 4140..4190 -> bins (p - 2048) / 128 = 16.
  assertCliOk(await run(['ism', ...common, '--genome', fa, '--region', 'chr1:12001-12010', '--target-region', 'chr1:12050-12100', '--out', dir, '--plot', plot]));
  assertCliOk(await run(['ism', ...common, '--fasta', windowFa, '--window', `${12000 - ws}-${12009 - ws}`, '--bins', '16-16', '--out', path('w.safetensors')]));
  assert.deepEqual(readdirSync(dir).sort(), ['ism.safetensors', 'ism_max_effect.bw', 'ism_mean.bw']);
  const g = await SafetensorsFile.open(join(dir, 'ism.safetensors'));
  const f = await SafetensorsFile.open(path('w.safetensors'));
  assert.equal(g.metadata?.bins, '[16,16]');
  const ism = g.readFloat32('ism');
  assertClose(ism, f.readFloat32('ism'), { atol: 0 }, 'genome vs fasta ism');
  assert.ok(ism.some((v) => v !== 0));
  const { mean, maxEffect } = ismSummaries(ism, int64(g, 'ism_ref_base'), 10);
  for (const [name, want] of [['ism_mean.bw', mean], ['ism_max_effect.bw', maxEffect]] as const) {
    const feats = await new BigWig({ path: join(dir, name) }).getFeatures('chr1', 11990, 12020);
    assert.deepEqual(feats.map((x) => x.start), Array.from({ length: 10 }, (_, i) => 12000 + i), name);
    assertClose(feats.map((x) => x.score), want, { atol: 1e-7 }, name);
  }
  const png = readFileSync(plot);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
});

test('cli ism: bad input -> one error line, exit 1, nothing written', { skip }, async () => {
  const out = path('bad.safetensors');
  const base = ['ism', '--model', MODEL, '--head', 'human', '--tracks', '1'];
  const cases: [string[], RegExp][] = [
    [[...base, '--fasta', fasta, '--window', '8190-8192', '--out', out], /--window 8190-8192: outside the sequence \(8192 bp/],
    [[...base, '--fasta', fasta, '--window', '5-2', '--out', out], /--window 5-2: the last index 2 is before the first 5/],
    [[...base, '--fasta', fasta, '--window', '1-2', '--bins', '30-32', '--out', out], /--bins 30-32: outside the model output \(32 bins/],
    [[...base, '--fasta', fasta, '--window', '1-2', '--bins', 'x', '--out', out], /--bins "x": expected a-b/],
    [['ism', '--model', MODEL, '--tracks', '99', '--fasta', fasta, '--window', '1-2', '--out', out], /--tracks 99: no such track index/],
    [[...base, '--fasta', writeFasta('empty.fa', []), '--window', '1-2', '--out', out], /empty\.fa/],
    [[...base, '--fasta', writeFasta('two.fa', [['a', 'ACGT'.repeat(2048)], ['b', 'ACGT'.repeat(1024)]]), '--window', '1-2', '--out', out], /record 'b' has 4096 bp but record 'a' has 8192/],
    [[...base, '--fasta', fasta, '--out', out], /--fasta needs --window/],
    [[...base, '--fasta', fasta, '--window', '1-2', '--out', path('bad.tsv')], /--out .*bad\.tsv: the FASTA form writes a \.safetensors file/],
    [[...base, '--fasta', fasta, '--window', '1-2', '--region', 'chr1:1-10', '--out', out], /--region needs --genome/],
    [[...base, '--fasta', fasta, '--window', '1-2', '--log-pseudocount', '-1', '--out', out], /--log-pseudocount.*must be a number >= 0/],
    [[...base, '--genome', fa, '--region', 'chr1:1-9000', '--out', path('d1')], /--region chr1:1-9000: 9000 bp is longer than the model window \(8192 bp\)/],
    [[...base, '--genome', fa, '--region', 'chr9:1-10', '--out', path('d1')], /unknown chromosome 'chr9'/],
    [[...base, '--genome', fa, '--region', 'chr1:12001-12010', '--target-region', 'chr1:100-200', '--out', path('d1')], /--target-region chr1:100-200: outside the model output/],
    [[...base, '--genome', fa, '--region', 'chr1:12001-12010', '--target-region', 'chr2:100-200', '--out', path('d1')], /--target-region chr2:100-200: not on chr1/],
    [[...base, '--genome', fa, '--region', 'chr1:12001-12010', '--plot', path('x.pdf'), '--out', path('d1')], /must end in \.svg or \.png/],
    [[...base, '--genome', fa, '--region', 'chr1:12001-12010', '--plot', path('p.png'), '--plot-window', 'chr1:11000-12005', '--out', path('d1')], /--plot-window chr1:11000-12005: outside the scored positions/],
    [[...base, '--genome', fa, '--region', 'chr1:12001-12010', '--window', '1-2', '--out', path('d1')], /--window is for --fasta/],
    [[...base, '--genome', fa, '--region', 'chr1:12001-12010', '--out', fasta], /exists and is not a directory/],
  ];
  for (const [args, pattern] of cases) assertCliError(await run(args), pattern, args.join(' '));
  assert.ok(!existsSync(out) && !existsSync(path('d1')) && !existsSync(path('p.png')), 'nothing written');
});
