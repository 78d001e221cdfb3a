/**
 * `seq2track attribute` end to end: the FASTA form against flashzoi-small's grads.safetensors (its
 * GRADS.md tolerances: objective 3e-6 vs f64, grad 1e-5 vs grad_x_f64, scores 1.4e-5 vs the float32
 * tensors), the genome form's bigWigs read back and checked against its own safetensors over the
 * region, its logo, and bad input (shared checks with `ism` are in cli-ism.test.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BigWig } from '@gmod/bbi';
import { SafetensorsFile } from '../weights/safetensors.js';
import { assertClose, assertCliError, assertCliOk, fixture, readRef, runCli, skipUnless, tempDir } from './fixtures.js';
import { randomGenome, writeFastaFai } from './genome-files.js';
import { fixtureRecords } from './attribution-fixtures.js';

const skip = skipUnless('enformer-small') || skipUnless('flashzoi-small');
const ENFORMER = fixture('enformer-small') ?? '';
const FLASHZOI = fixture('flashzoi-small') ?? '';
const genome = randomGenome({ chr1: 30_001 }, 11);
let tmp: { dir: string; cleanup: () => void };
let fa = '';

const path = (name: string) => join(tmp.dir, name);
const run = (args: string[]) => runCli([...args, '--threads', '1'], { SEQ2TRACK_CACHE: path('cache') });

before(() => {
  tmp = tempDir('seq2track-attribute-');
  if (skip) return;
  fa = path('genome.fa');
  writeFastaFai(fa, genome);
});

after(() => tmp?.cleanup());

test('cli attribute --fasta reproduces grads.safetensors (flashzoi-small)', { skip }, async () => {
  const fasta = path('in.fa');
  writeFileSync(fasta, fixtureRecords('flashzoi-small').map((r) => `>${r.name}\n${r.sequence}\n`).join(''));
  const out = path('attr.safetensors');
  const ref = await SafetensorsFile.open(join(FLASHZOI, 'grads.safetensors'));
  // Saved activations all sent through the spill file (--stash-memory 0), and recomputed ones.
  for (const variant of [['--stash-memory', '0'], ['--activations', 'recompute']]) {
    assertCliOk(await run(['attribute', '--model', FLASHZOI, '--fasta', fasta, '--head', 'human', '--tracks', '1', '--bins', '30-33', '--batch-size', '2', ...variant, '--out', out]));
    const got = await SafetensorsFile.open(out);
    assert.deepEqual([...got.tensors.keys()], ['objective', 'grad', 'grad_x_input', 'grad_centered_x_input']);
    assert.deepEqual(got.tensors.get('grad')!.shape, [2, 4096, 4]);
    assertClose(got.readFloat32('objective'), readRef(ref, 'objective_f64'), { atol: 3e-6 }, `${variant.join(' ')}: objective`);
    assertClose(got.readFloat32('grad'), readRef(ref, 'grad_x_f64'), { atol: 1e-5 }, `${variant.join(' ')}: grad`);
    assertClose(got.readFloat32('grad_x_input'), readRef(ref, 'grad_times_input'), { atol: 1.4e-5 }, `${variant.join(' ')}: grad_x_input`);
    assertClose(got.readFloat32('grad_centered_x_input'), readRef(ref, 'grad_centered_times_input'), { atol: 1.4e-5 }, `${variant.join(' ')}: grad_centered_x_input`);
  }
});

test('cli attribute --genome: per-base bigWigs over the region, safetensors of the window, logo', { skip }, async () => {
  const dir = path('genome-out');
  const plot = path('logo.png');
  // Region chr1:15001-15100 (0-based 15000..15099): centre 15050, window [15050 - 4096, +8192).
  assertCliOk(await run(['attribute', '--model', ENFORMER, '--window-length', '8192', '--genome', fa, '--region', 'chr1:15001-15100', '--tracks', '3', '--out', dir, '--plot', plot]));
  assert.deepEqual(readdirSync(dir).sort(), ['attribute.safetensors', 'grad_centered_x_input.bw', 'grad_x_input.bw']);
  const st = await SafetensorsFile.open(join(dir, 'attribute.safetensors'));
  const ws = 15050 - 4096;
  assert.equal(st.metadata.window_start, String(ws));
  assert.equal(st.metadata.bins, '[15,16]'); // the central two of 32 bins
  for (const [bw, tensor] of [['grad_x_input.bw', 'grad_x_input'], ['grad_centered_x_input.bw', 'grad_centered_x_input']] as const) {
    const feats = await new BigWig({ path: join(dir, bw) }).getFeatures('chr1', 14990, 15110);
    assert.deepEqual(feats.map((f) => f.start), Array.from({ length: 100 }, (_, i) => 15000 + i), bw);
    const want = st.readFloat32(tensor).subarray(15000 - ws, 15100 - ws);
    assertClose(feats.map((f) => f.score), want, { atol: 0 }, bw);
    assert.ok(want.some((v) => v !== 0));
  }
  // Scores are the reference base's gradient: check one position against grad and the genome.
  const grad = st.readFloat32('grad');
  const p = 15040 - ws;
  const base = 'ACGT'.indexOf(genome.get('chr1')![15040]!.toUpperCase());
  assert.equal(st.readFloat32('grad_x_input')[p], grad[p * 4 + base]);
  const png = readFileSync(plot);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  // Default logo window: the objective's bins (positions 4096..4351) ± 16 bp, cut to 200 around the centre.
  assert.ok(png.readUInt32BE(16) > 2 * 200 * 10, 'a 200-position logo');
});

test('cli attribute: bad input -> one error line, exit 1, nothing written', { skip }, async () => {
  const base = ['attribute', '--model', ENFORMER, '--window-length', '8192', '--genome', fa, '--region', 'chr1:15001-15100'];
  const cases: [string[], RegExp][] = [
    [[...base, '--bins', '40-41', '--out', path('d')], /--bins 40-41: outside the model output \(32 bins/],
    [[...base, '--bins', '15-16', '--target-region', 'chr1:15001-15010', '--out', path('d')], /give --bins or --target-region, not both/],
    [[...base, '--plot', path('p.svg'), '--plot-window', 'chr1:1-5000', '--out', path('d')], /--plot-window chr1:1-5000: outside the scored positions/],
    [[...base, '--plot', path('p.svg'), '--plot-window', 'chr1:11001-13500', '--out', path('d')], /too long to plot \(at most 2000\)/],
    [[...base, '--head', 'fly', '--out', path('d')], /unknown head 'fly'/],
    [['attribute', '--model', ENFORMER, '--fasta', fa, '--plot', path('p.svg'), '--out', path('x.safetensors')], /--plot needs --genome/],
  ];
  for (const [args, pattern] of cases) assertCliError(await run(args), pattern, args.join(' '));
  assert.ok(!existsSync(path('d')) && !existsSync(path('p.svg')) && !existsSync(path('x.safetensors')), 'nothing written');
});
