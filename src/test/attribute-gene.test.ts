/**
 * `attribute-gene` as a resumable job (borzoi-small, 8,192 bp windows): a run killed with SIGKILL at a
 * random batch and started again writes the same .npz bytes and the same HDF5 datasets as an
 * uninterrupted run, doing only the remaining model runs; another command on the unfinished output
 * is refused; X.onehot.npz and X.hypothetical.npz load in NumPy as float32 [G, 4, L] and equal the
 * h5's seqs and (centred) grads; batches that mix genes and strands equal one run per batch; the
 * library's in-memory `geneGradients` equals the job.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, assertClose, assertCliError, assertCliOk, fixture, runCli, skipUnless, tempDir } from './fixtures.js';
import { randomGenome, rng, writeFastaFai } from './genome-files.js';
import { withH5File } from './h5-files.js';
import { stagingPath } from '../tasks/job/job-dir.js';
import { GeneIndex, readGtf } from '../genome/gtf.js';
import { openGenome } from '../genome/reference.js';
import { geneGradients } from '../tasks/genes/gene-gradients.js';

const skip = skipUnless('borzoi-small');
const BORZOI = fixture('borzoi-small') ?? '';
const L = 8192;
const TRACKS = 12;
const genome = randomGenome({ chrA: 30_000, chrB: 12_000 }, 17);
let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
const env = () => ({ SEQ2TRACK_CACHE: path('cache') });

// Three genes: a + gene, a − gene, and one near a chromosome start (its window clamped, N-padded).
const GTF = [
  'chrA\tx\texon\t12001\t12300\t.\t+\t.\tgene_id "G1.1"; gene_name "ONE";',
  'chrA\tx\texon\t12801\t13000\t.\t+\t.\tgene_id "G1.1"; gene_name "ONE";',
  'chrB\tx\texon\t6001\t6400\t.\t-\t.\tgene_id "G2.1"; gene_name "TWO";',
  'chrA\tx\texon\t301\t700\t.\t+\t.\tgene_id "G3.1"; gene_name "THREE";',
];
const GENES = ['ONE', 'TWO', 'THREE'];
// Tracks 0/1 a strand pair, the others unstranded.
const TABLE = Array.from({ length: TRACKS }, (_, i) => {
  const pair = i === 0 ? 1 : i === 1 ? 0 : i;
  const id = i === 0 ? 'T0+' : i === 1 ? 'T0-' : `T${i}`;
  return [i, id, 'f', 768, 384, 0.3, 'sum', pair, `track ${id}`].join('\t');
});

// --rc and two shifts: 4 runs per gene, 12 items per model pass in batches of 5 (3 batches: boundaries split genes).
const args = (out: string, extra: string[] = []) => [
  'attribute-gene', '--model', BORZOI, '--genome', path('g.fa'), '--targets', path('targets.txt'), '--gtf', path('genes.gtf'),
  '--genes', path('genes.txt'), '--tracks', '0,1,3', '--rc', '--shifts', '0,1', '--batch-size', '5', '--threads', '1', '--out', out, ...extra,
];
const npzOf = (h5: string) => [h5.replace(/\.h5$/, '.onehot.npz'), h5.replace(/\.h5$/, '.hypothetical.npz')];

before(() => {
  tmp = tempDir('seq2track-attribute-gene-');
  writeFastaFai(path('g.fa'), genome);
  writeFileSync(path('genes.gtf'), GTF.join('\n') + '\n');
  writeFileSync(path('genes.txt'), GENES.join('\n') + '\n');
  writeFileSync(path('targets.txt'), ['\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair\tdescription', ...TABLE].join('\n') + '\n');
});

after(() => tmp.cleanup());

function runAndKill(argv: string[], staging: string, perPass: number, at: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...argv], { env: { ...process.env, ...env() }, stdio: 'ignore' });
    const timer = setInterval(() => {
      try {
        const p = JSON.parse(readFileSync(join(staging, 'progress.json'), 'utf8')) as { model: number; batches: number };
        if (p.model * perPass + p.batches >= at) child.kill('SIGKILL');
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

/** Every dataset of an HDF5 file: dtype, shape and raw bytes (HDF5 stamps object headers with the time, so files are compared by content). */
function h5Content(file: string): Promise<Record<string, { dtype: unknown; shape: unknown; bytes: Buffer }>> {
  return withH5File(file, (dataset, f) => {
    const out: Record<string, { dtype: unknown; shape: unknown; bytes: Buffer }> = {};
    for (const name of f.keys()) {
      const d = dataset(name);
      const v = d.value as ArrayLike<unknown> & { buffer?: ArrayBuffer; byteOffset?: number; byteLength?: number };
      const bytes = ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(JSON.stringify(Array.from(v as ArrayLike<unknown>)));
      out[name] = { dtype: d.dtype, shape: d.shape, bytes };
    }
    return out;
  });
}

test('attribute-gene: SIGKILL at a random batch, the same command again: the same files, only the remaining runs; another command is refused', { skip }, async () => {
  const seed = Date.now() % 100_000;
  const full = path('full.h5');
  const first = assertCliOk(await runCli(args(full), env()));
  assert.match(first.stderr, /gene gradients for 3 genes \(8192 bp windows, ensemble of 4\)/);
  const out = path('killed.h5');
  const staging = stagingPath(out);
  const at = 1 + Math.floor(rng(seed)() * 2); // 12 items in batches of 5: 3 batches
  await runAndKill(args(out), staging, 3, at);
  assert.ok(!existsSync(out) && !npzOf(out).some(existsSync), 'nothing under the final names after the kill');
  const p = JSON.parse(readFileSync(join(staging, 'progress.json'), 'utf8')) as { model: number; batches: number };
  const done = p.model * 12 + p.batches * 5;
  const why = `killed after batch ${p.batches} (seed ${seed})`;
  assert.ok(done > 0 && done < 12, why);
  const again = assertCliOk(await runCli(args(out), env()));
  assert.match(again.stderr, new RegExp(`resuming an interrupted run of this command: ${done} of 12 model runs already done`), why);
  assert.match(again.stderr, new RegExp(`resumed: ${12 - done} model runs this time`), why);
  for (const [a, b] of npzOf(full).map((f, i) => [f, npzOf(out)[i]!] as const)) assert.ok(readFileSync(b).equals(readFileSync(a)), `${why}: ${b} differs from the uninterrupted run's`);
  const want = await h5Content(full);
  const got = await h5Content(out);
  assert.deepEqual(Object.keys(got).sort(), ['chr', 'end', 'gene', 'grads', 'seqs', 'start', 'strand']);
  for (const k of Object.keys(want)) {
    assert.deepEqual([got[k]!.dtype, got[k]!.shape], [want[k]!.dtype, want[k]!.shape], k);
    assert.ok(got[k]!.bytes.equals(want[k]!.bytes), `${why}: h5 dataset ${k} differs`);
  }
  assert.ok(!existsSync(staging), 'staging directory removed');

  // Another command on the unfinished output is refused, naming what differs.
  const other = path('other.h5');
  await runAndKill(args(other), stagingPath(other), 3, 1);
  assertCliError(await runCli(args(other, ['--pseudo', '0.5']), env()), /an unfinished run with other arguments \(--pseudo differ\)/, 'changed --pseudo');
  assertCliError(await runCli(args(other).map((a) => (a === '5' ? '4' : a)), env()), /an unfinished run with other arguments \(--batch-size differ\)/, 'changed --batch-size');
});

test('attribute-gene: the .npz files load in NumPy as float32 [G, 4, L] and equal the h5 seqs and centred grads; mixed batches equal one run per batch; geneGradients equals the job', { skip }, async () => {
  const one = path('b1.h5');
  assertCliOk(await runCli(args(one).map((a) => (a === '5' ? '1' : a)), env()));
  const mixed = path('full.h5'); // batches of 5, from the first test (or made here)
  if (!existsSync(mixed)) assertCliOk(await runCli(args(mixed), env()));
  const [grads1, seqs1, start1] = await withH5File(one, (d) => [d('grads').value as Float32Array, d('seqs').value as Uint8Array, Array.from(d('start').value as BigInt64Array, Number)] as const);
  const gradsMixed = await withH5File(mixed, (d) => d('grads').value as Float32Array);
  const max = grads1.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(max > 0, 'the gene objectives depend on the sequence');
  assertClose(gradsMixed, grads1, { atol: 1e-4 * max }, 'batches of 5 (genes and strands mixed) vs batches of 1');
  assert.equal(start1[2], -64 * 32, 'the gene near the chromosome start: its window clamped to the output offset');

  // The library's in-memory form, batches of 1, on the same genes: the same values.
  const ref = await geneGradients({
    models: [BORZOI],
    genome: await openGenome(path('g.fa')),
    genes: new GeneIndex(await readGtf(path('genes.gtf'))),
    select: GENES,
    targets: path('targets.txt'),
    tracks: '0,1,3',
    rc: true,
    shifts: [0, 1],
    load: { threads: 1 },
    cacheDir: path('cache'),
  });
  ref.results.forEach((r, g) => {
    assert.equal(r.objectives.length, 4, 'one objective per run');
    assertClose(r.grads, grads1.subarray(g * L * 4, (g + 1) * L * 4), { atol: 1e-6 * max }, `geneGradients ${r.gene.id}`);
  });

  if (spawnSync('python3', ['-c', 'import numpy']).status !== 0) return;
  // The h5 datasets as raw files, for NumPy to compare against.
  writeFileSync(path('grads.f32'), Buffer.from(grads1.buffer, grads1.byteOffset, grads1.byteLength));
  writeFileSync(path('seqs.u8'), Buffer.from(seqs1.buffer, seqs1.byteOffset, seqs1.byteLength));
  const [oh, hyp] = npzOf(one);
  const script = [
    'import numpy as np',
    `oh = np.load('${oh}')['arr_0']`,
    `hyp = np.load('${hyp}')['arr_0']`,
    `g = np.fromfile('${path('grads.f32')}', dtype='<f4').reshape(3, ${L}, 4)`,
    `s = np.fromfile('${path('seqs.u8')}', dtype='u1').reshape(3, ${L}, 4)`,
    'print(oh.shape, oh.dtype, hyp.shape, hyp.dtype,',
    '  bool((hyp == g.transpose(0, 2, 1)).all()), bool((oh == s.transpose(0, 2, 1).astype(np.float32)).all()),',
    '  float(np.abs(hyp.sum(axis=1)).max()) < 1e-5 * float(np.abs(hyp).max()), set(np.unique(oh).tolist()) == {0.0, 1.0}, bool((oh[2].sum(axis=0) == 0).any()))',
  ].join('\n');
  assert.equal(execFileSync('python3', ['-c', script], { encoding: 'utf8' }).trim(), `(3, 4, ${L}) float32 (3, 4, ${L}) float32 True True True True True`);
});
