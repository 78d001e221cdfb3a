/**
 * `attribute --bed`: a window per BED region through the resumable job. A run killed with SIGKILL at
 * a random batch and started again writes byte-identical files (doing only the remaining model runs);
 * its values equal the FASTA form on the same windows; the .npz files load in NumPy as float32
 * [N, 4, L] with the one-hot and the centred gradient (tfmodisco-lite's inputs).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, assertClose, assertCliError, assertCliOk, fixture, runCli, skipUnless, tempDir } from './fixtures.js';
import { randomGenome, rng, writeFastaFai } from './genome-files.js';
import { stagingPath } from '../tasks/job/job-dir.js';
import { SafetensorsFile } from '../weights/safetensors.js';

const skip = skipUnless('enformer-small');
const ENFORMER = fixture('enformer-small') ?? '';
const genome = randomGenome({ chrA: 30_000, chrB: 9_000 }, 13);
let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
const env = () => ({ SEQ2TRACK_CACHE: path('cache') });
const BED = ['chrA\t5000\t5100', 'chrB\t100\t300', 'chrA\t20000\t20010', 'chrB\t8000\t8500'];

// 4,096 bp windows (16 bins) keep the fixture fast; --rc and two shifts make 16 items, batches of 3 split windows.
const args = (out: string, extra: string[] = []) => [
  'attribute', '--model', ENFORMER, '--genome', path('g.fa'), '--bed', path('r.bed'), '--window-length', '4096', '--head', 'human', '--tracks', '1',
  '--rc', '--shifts', '0,1', '--batch-size', '3', '--threads', '1', '--out', out, ...extra,
];

before(() => {
  tmp = tempDir('seq2track-attribute-bed-');
  writeFastaFai(path('g.fa'), genome);
  writeFileSync(path('r.bed'), BED.join('\n') + '\n');
});

after(() => tmp.cleanup());

const files = (dir: string) => readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))] as const);

function runAndKill(argv: string[], staging: string, at: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...argv], { env: { ...process.env, ...env() }, stdio: 'ignore' });
    const timer = setInterval(() => {
      try {
        const p = JSON.parse(readFileSync(join(staging, 'progress.json'), 'utf8')) as { model: number; batches: number };
        if (p.model * 6 + p.batches >= at) child.kill('SIGKILL');
      } catch {
        // not yet written
      }
    }, 5);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the run ended before it was killed (exit ${code})`));
    });
  });
}

test('attribute --bed: SIGKILL at a random batch, the same command again: byte-identical files, only the remaining runs', { skip }, async () => {
  const seed = Date.now() % 100_000;
  const full = path('full/');
  const first = assertCliOk(await runCli(args(full), env()));
  assert.match(first.stderr, /attributed 4 windows × 4096 bp \(ensemble of 4\)/);
  const out = path('killed/');
  const staging = stagingPath(out);
  const at = 1 + Math.floor(rng(seed)() * 4); // 16 items in batches of 3: 6 batches
  await runAndKill(args(out), staging, at);
  assert.ok(!existsSync(out), 'nothing under the final name after the kill');
  const p = JSON.parse(readFileSync(join(staging, 'progress.json'), 'utf8')) as { model: number; batches: number };
  const done = p.model * 16 + p.batches * 3;
  const why = `killed after batch ${p.batches} (seed ${seed})`;
  const again = assertCliOk(await runCli(args(out), env()));
  assert.match(again.stderr, new RegExp(`resuming an interrupted run of this command: ${done} of 16 model runs already done`), why);
  assert.match(again.stderr, new RegExp(`resumed: ${16 - done} model runs this time`), why);
  const want = files(full);
  const got = files(out);
  assert.deepEqual(got.map(([f]) => f), ['attribute.safetensors', 'hypothetical.npz', 'onehot.npz', 'windows.bed']);
  got.forEach(([f, b], i) => assert.ok(b.equals(want[i]![1]), `${why}: ${f} differs from the uninterrupted run's`));
  assert.ok(!existsSync(staging), 'staging directory removed');
  // Another command on the unfinished output is refused.
  await runAndKill(args(path('other/')), stagingPath(path('other/')), 1);
  assertCliError(await runCli(args(path('other/'), ['--bins', '7-8']), env()), /an unfinished run with other arguments \(--bins differ\)/, 'changed --bins');
});

test('attribute --bed equals the FASTA form on the same windows; the .npz files are what tfmodisco-lite reads', { skip }, async () => {
  const out = path('ig/');
  const r = assertCliOk(await runCli(['attribute', '--model', ENFORMER, '--genome', path('g.fa'), '--bed', path('r.bed'), '--window-length', '4096', '--head', 'human', '--tracks', '1', '--threads', '1', '--out', path('grad/')], env()));
  assert.match(r.stderr, /attributed 4 windows/);
  // The windows as FASTA records: the same gradients.
  const bed = readFileSync(path('grad/windows.bed'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
  // Windows past a chromosome end read N.
  const windowSeq = (c: string, s: number, e: number) => Array.from({ length: e - s }, (_, i) => genome.get(c)![s + i] ?? 'N').join('');
  const fa = bed.map(([c, s, e], i) => `>w${i}\n${windowSeq(c!, Number(s), Number(e))}\n`).join('');
  writeFileSync(path('w.fa'), fa);
  assertCliOk(await runCli(['attribute', '--model', ENFORMER, '--fasta', path('w.fa'), '--head', 'human', '--tracks', '1', '--threads', '1', '--out', path('w.safetensors')], env()));
  const a = await SafetensorsFile.open(path('grad/attribute.safetensors'));
  const b = await SafetensorsFile.open(path('w.safetensors'));
  for (const t of ['objective', 'grad', 'grad_x_input', 'grad_centered_x_input']) assertClose(a.readFloat32(t), b.readFloat32(t), { atol: 1e-6 }, t);
  // Integrated gradients over the BED: completeness gap per window in the metadata and on stderr.
  const ig = assertCliOk(await runCli([...args(out), '--method', 'integrated-gradients', '--steps', '2', '--baseline', 'shuffle', '--seed', '4'].filter((x, i, all) => !(x === '--rc' || (all[i - 1] === '--shifts') || x === '--shifts')), env()));
  assert.match(ig.stderr, /completeness gap .* at 2 steps: #1 /);
  const igFile = await SafetensorsFile.open(join(out, 'attribute.safetensors'));
  assert.deepEqual(igFile.tensors.get('integrated_gradients')?.shape, [4, 4096, 4]);
  assert.equal(JSON.parse(igFile.metadata.completeness_gap!).length, 4);
  if (spawnSync('python3', ['-c', 'import numpy']).status !== 0) return;
  const script = [
    'import numpy as np, json, struct',
    `oh = np.load('${path('grad/onehot.npz')}')['arr_0']`,
    `hyp = np.load('${path('grad/hypothetical.npz')}')['arr_0']`,
    `raw = open('${path('grad/attribute.safetensors')}', 'rb').read()`,
    'n = struct.unpack("<Q", raw[:8])[0]; h = json.loads(raw[8:8 + n]); o = h["grad"]["data_offsets"]',
    'g = np.frombuffer(raw[8 + n + o[0]:8 + n + o[1]], dtype="<f4").reshape(h["grad"]["shape"])',
    'want = (g - g.mean(axis=2, keepdims=True)).transpose(0, 2, 1)',
    'print(oh.shape, oh.dtype, hyp.shape, hyp.dtype, float(np.abs(hyp - want).max()) < 1e-7, set(np.unique(oh)) <= {0.0, 1.0}, float(np.abs(hyp.sum(axis=1)).max()) < 1e-6)',
  ].join('\n');
  assert.equal(execFileSync('python3', ['-c', script], { encoding: 'utf8' }).trim(), '(4, 4, 4096) float32 (4, 4, 4096) float32 True True True');
});

test('attribute --bed --rc: batches mixing strands give each run its own objective (off-centre bins), as the FASTA form', { skip }, async () => {
  // Bins 3-4 of 16 are not their own mirror: a reverse-complement run must read bins 11-12.
  const common = ['--head', 'human', '--tracks', '1', '--bins', '3-4', '--rc', '--threads', '1'];
  assertCliOk(await runCli(['attribute', '--model', ENFORMER, '--genome', path('g.fa'), '--bed', path('r.bed'), '--window-length', '4096', '--batch-size', '3', ...common, '--out', path('rc/')], env()));
  const bed = readFileSync(path('rc/windows.bed'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
  const windowSeq = (c: string, s: number, e: number) => Array.from({ length: e - s }, (_, i) => genome.get(c)![s + i] ?? 'N').join('');
  writeFileSync(path('rc.fa'), bed.map(([c, s, e], i) => `>w${i}\n${windowSeq(c!, Number(s), Number(e))}\n`).join(''));
  assertCliOk(await runCli(['attribute', '--model', ENFORMER, '--fasta', path('rc.fa'), ...common, '--out', path('rc.safetensors')], env()));
  const a = await SafetensorsFile.open(path('rc/attribute.safetensors'));
  const b = await SafetensorsFile.open(path('rc.safetensors'));
  for (const t of ['objective', 'grad']) assertClose(a.readFloat32(t), b.readFloat32(t), { atol: 1e-6 }, t);
});

test('attribute: method flags are checked before any model run', { skip }, async () => {
  const e = (extra: string[], pattern: RegExp) => runCli(['attribute', '--model', ENFORMER, '--fasta', path('w.fa'), '--out', path('x.safetensors'), ...extra], env()).then((r) => assertCliError(r, pattern, extra.join(' ')));
  await e(['--steps', '4'], /--steps is for --method integrated-gradients/);
  await e(['--method', 'shuffle-ism'], /--method shuffle-ism --fasta needs --window/);
  await e(['--samples', '3'], /--samples is for --method shuffle-ism/);
  await e(['--method', 'integrated-gradients', '--seed', '3'], /--seed is for/);
  await e(['--bed', path('r.bed')], /--bed needs --genome/);
});
