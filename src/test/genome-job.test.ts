/**
 * The streaming, resumable genome job: its outputs equal the in-memory writers' byte for byte, a run
 * killed with SIGKILL at a random point and started again finishes with byte-identical files doing
 * only the remaining model runs, and outputs appear under their final names only when complete.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { utimesSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, fixture, skipUnless, tempDir, runCli, assertCliOk, assertCliError } from './fixtures.js';
import { randomGenome, rng, writeFastaFai } from './genome-files.js';
import { parseRegion } from '../genome/regions.js';
import { planRegion } from '../genome/regions.js';
import type { RegionJobResult } from '../tasks/predict/regions.js';
import type { RegionOutputKind } from '../tasks/predict/output-kind.js';
import { stagingPath } from '../tasks/job/job-dir.js';
import { emitRegionOutputs, writeRegionOutputs } from '../tasks/predict/region-writers.js';
import { ScratchWindows } from '../tasks/predict/region-scratch.js';
import type { WindowLayout } from '../tasks/predict/region-job.js';
import { sha256File } from '../tasks/job/fingerprint.js';
import { predictRegions } from '../tasks/predict/regions.js';
import { openGenome } from '../genome/reference.js';
import { attentionRequest } from '../cli/attention-options.js';
import { SafetensorsFile } from '../weights/safetensors.js';

const skip = skipUnless('enformer-small');
const ENFORMER = fixture('enformer-small') ?? '';
const genome = randomGenome({ chrA: 60_011, chrB: 9_000 }, 7);
let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
const env = () => ({ SEQ2TRACK_CACHE: path('cache') });

// A 4,096 bp window (16 bins of 128 bp) keeps the fixture model fast; --rc + 2 shifts + batch 3 split windows across batches.
const REGIONS = ['chrB:1-3000', 'chrA:1-30,000'];
const common = (out: string, models = [ENFORMER]) => [
  'predict', ...models.flatMap((m) => ['--model', m]), '--genome', path('g.fa'), ...REGIONS.flatMap((r) => ['--region', r]),
  '--window-length', '4096', '--rc', '--shifts', '0,1', '--batch-size', '3', '--threads', '1', '--out', out,
];

before(() => {
  tmp = tempDir('seq2track-genome-job-');
  writeFastaFai(path('g.fa'), genome);
});

after(() => tmp.cleanup());

function files(out: string): Buffer[] {
  if (out.endsWith('/')) return readdirSync(out).sort().map((f) => readFileSync(join(out, f)));
  return [readFileSync(out)];
}

/** A plan over synthetic windows, a scratch file of random values, and the same values as the in-memory job result. */
function synthetic(float64: boolean, labels: string[]) {
  const g = { length: 4096, offset: 1024, bins: 16, binSize: 128 };
  const sizes = new Map([['chrA', 60_011], ['chrB', 9_000]]);
  const regions = labels.map(parseRegion);
  const plans = regions.map((r) => planRegion(r, sizes.get(r.chrom)!, g));
  const K = 3;
  const ensemble = float64 ? 4 : 2;
  const slots = plans.reduce((a, p) => a + p.windows.length, 0);
  const random = rng(5);
  const scratch = float64 ? new Float64Array(slots * g.bins * K) : new Float32Array(slots * g.bins * K);
  for (let i = 0; i < scratch.length; i++) scratch[i] = (random() - 0.4) * 100;
  let slot = 0;
  const results = plans.map((plan) => {
    const values = new Float32Array(plan.bins * K);
    for (let b = 0; b < plan.bins; b++) for (let k = 0; k < K; k++) values[b * K + k] = float64 ? scratch[(slot * g.bins + plan.firstBin + b) * K + k]! / ensemble : scratch[(slot * g.bins + plan.firstBin + b) * K + k]!;
    slot += plan.windows.length;
    return { plan, values };
  });
  const tracks = [0, 1, 2].map((i) => ({ index: i, identifier: `t/${i}`, description: `track "${i}"`, strandPair: i }));
  const result: RegionJobResult = { head: 'human', binSize: 128, windowLength: 4096, tracks, table: { tracks } as unknown as RegionJobResult['table'], results, chromSizes: sizes, ensemble, windows: slots };
  const layout: WindowLayout = { plans, range: [0, slots], windowBins: g.bins, tracks: K, models: float64 ? 2 : 1, ensemble };
  // The scratch as the last model pass leaves it: float64 sums, or float32 means of ensemble × value.
  const file = new ScratchWindows(path(`scratch-${float64}`), layout, path('staging'));
  const per = g.bins * K;
  for (let i = 0; i < slots; i++) file.save(i, layout.models - 1, Float64Array.from(scratch.subarray(i * per, (i + 1) * per), (v) => (float64 ? v : v * ensemble)));
  file.close();
  return { result, layout, scratch: path(`scratch-${float64}`) };
}

test('genome job: outputs made from the scratch equal the in-memory writer byte for byte (every kind; float32 and float64 scratch)', async () => {
  for (const float64 of [false, true]) {
    for (const [kind, name] of [['bigwig', 'bw/'], ['bedgraph', 'x.bedGraph'], ['tsv', 'x.tsv'], ['safetensors', 'x.safetensors']] as [RegionOutputKind, string][]) {
      // The job computes bigWig regions in chromosome order (the order of bigWig intervals), others as given.
      const labels = kind === 'bigwig' ? ['chrA:1-30,000', 'chrA:50,001-60,011', 'chrB:1-3000'] : ['chrB:1-3000', 'chrA:50,001-60,011', 'chrA:1-30,000'];
      const { result, layout, scratch } = synthetic(float64, labels);
      const want = path(`mem-${float64}-${name}`);
      await writeRegionOutputs(want, kind, result);
      const got = path(`job-${float64}-${name}`);
      const windows = new ScratchWindows(scratch, layout, stagingPath(got));
      const outFiles = await emitRegionOutputs({ staging: stagingPath(got), out: got, kind, rows: windows.rows(), head: result.head, tracks: result.tracks, chromSizes: result.chromSizes, binSize: 128, windowLength: 4096, ensemble: result.ensemble });
      windows.close();
      rmSync(stagingPath(got), { recursive: true, force: true });
      assert.ok(outFiles.length >= 1);
      const a = files(want);
      const b = files(got);
      assert.equal(b.length, a.length, name);
      b.forEach((x, i) => assert.ok(x.equals(a[i]!), `${kind} (float64 scratch: ${float64}): file ${i} differs from the in-memory writer's`));
      if (kind === 'safetensors') assert.ok(readFileSync(got.replace(/safetensors$/, 'bins.bed')).equals(readFileSync(want.replace(/safetensors$/, 'bins.bed'))));
      assert.ok(!existsSync(stagingPath(got)));
    }
  }
});

/** Starts the CLI and SIGKILLs it once its progress satisfies `when`. */
function runAndKill(args: string[], staging: string, when: (p: { model: number; batches: number }) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env() }, stdio: 'ignore' });
    const timer = setInterval(() => {
      try {
        const p = JSON.parse(readFileSync(join(staging, 'progress.json'), 'utf8')) as { model: number; batches: number };
        if (when(p)) child.kill('SIGKILL');
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

test('genome job: SIGKILL at a random point, the same command again: byte-identical outputs, only the remaining runs', { skip }, async () => {
  const seed = Date.now() % 100_000;
  const r = rng(seed);
  // Every output kind: bigWig, bedGraph and safetensors from one model, TSV from an ensemble of two.
  for (const [name, models] of [['bw/', [ENFORMER]], ['x.bedGraph', [ENFORMER]], ['x.safetensors', [ENFORMER]], ['avg.tsv', [ENFORMER, ENFORMER]]] as const) {
    const full = path(`full-${name}`);
    const first = assertCliOk(await runCli(common(full, [...models]), env()));
    // windows × 4 runs (2 strands × 2 shifts) per model pass, in batches of 3.
    const perModel = 4 * Number(/\((\d+) windows/.exec(first.stderr)![1]);
    const batches = Math.ceil(perModel / 3);
    const total = perModel * models.length;
    const out = path(`killed-${name}`);
    const staging = stagingPath(out);
    const at = 1 + Math.floor(r() * (batches * models.length - 2));
    await runAndKill(common(out, [...models]), staging, (p) => p.model * batches + p.batches >= at);
    assert.ok(!existsSync(out.replace(/\/$/, '')), `${name}: nothing under the final name after the kill`);
    const p = JSON.parse(readFileSync(join(staging, 'progress.json'), 'utf8')) as { model: number; batches: number };
    const done = p.model * perModel + p.batches * 3;
    const why = `${name}: killed at model pass ${p.model}, batch ${p.batches} (seed ${seed})`;
    const again = assertCliOk(await runCli(common(out, [...models]), env()));
    assert.match(again.stderr, new RegExp(`resuming an interrupted run of this command: ${done} of ${total} model runs already done`), why);
    assert.match(again.stderr, new RegExp(`resumed: ${total - done} model runs this time`), why);
    const want = files(full);
    const got = files(out);
    assert.equal(got.length, want.length, why);
    got.forEach((g, i) => assert.ok(g.equals(want[i]!), `${why}: file ${i} differs from the uninterrupted run's`));
    assert.ok(!existsSync(staging), 'staging directory removed');
  }
});

test('genome job: --output logits and --attention stream too: killed and resumed, they equal the in-memory job; a changed --output is refused', { skip }, async () => {
  // Regions out of chromosome order: the bigWig job computes chrA first, the map's records stay in the order given.
  const regions = ['chrB:1-3000', 'chrA:1-9000'];
  const args = (out: string, att: string, output = 'logits') => [
    'predict', '--model', ENFORMER, '--genome', path('g.fa'), ...regions.flatMap((r) => ['--region', r]), '--window-length', '4096',
    '--rc', '--shifts', '0,1', '--batch-size', '3', '--threads', '1', '--out', out, '--output', output, '--attention', att, '--attention-rows', '10-13',
  ];
  const request = (await attentionRequest({ output: 'logits', attention: 'x.safetensors', rows: '10-13' }, ENFORMER))!;
  const mem = await predictRegions({
    models: [ENFORMER], genome: await openGenome(path('g.fa')), regions: regions.map(parseRegion), windowLength: 4096, rc: true, shifts: [0, 1], batchSize: 3,
    load: { threads: 1 }, cacheDir: path('cache'), output: 'logits', attention: request,
  });
  await writeRegionOutputs(path('mem-bw/'), 'bigwig', mem);

  const out = path('maps-bw/');
  const att = path('maps.safetensors');
  await runAndKill(args(out, att), stagingPath(out), (p) => p.batches >= 2);
  assert.ok(!existsSync(att) && !existsSync(out.replace(/\/$/, '')), 'nothing under the final names after the kill');
  assertCliError(await runCli(args(out, att, 'softplus'), env()), /an unfinished run with other arguments \(--output differ\)/, 'changed --output');
  const again = assertCliOk(await runCli(args(out, att), env()));
  assert.match(again.stderr, /resuming an interrupted run of this command/);
  const want = files(path('mem-bw/'));
  files(out).forEach((g, i) => assert.ok(g.equals(want[i]!), `bigWig ${i}: the resumed streaming job differs from the in-memory job`));
  const maps = await SafetensorsFile.open(att);
  assert.deepEqual(maps.tensors.get('attention')!.shape, mem.attention!.map.shape);
  assert.deepEqual(JSON.parse(maps.metadata.records!), mem.attention!.records);
  assert.deepEqual(JSON.parse(maps.metadata.records!).map((r: { chrom: string }) => r.chrom).slice(0, 1), ['chrB'], 'records in the order the regions were given');
  // Same model calls in the same batches: the maps are equal exactly, including the windows run before the kill.
  assert.deepEqual(maps.readFloat32('attention'), mem.attention!.map.data);
  assert.ok(!existsSync(stagingPath(out)), 'staging directory removed');
});

test('genome job: another command on an unfinished output is refused; an unwritable --out fails before any model run', { skip }, async () => {
  const out = path('other.tsv');
  await runAndKill(common(out), stagingPath(out), (p) => p.batches >= 1);
  const changed = common(out).map((a) => (a === '0,1' ? '0,-1' : a));
  assertCliError(await runCli(changed, env()), /other\.tsv: an unfinished run with other arguments \(--shifts differ\) is in .*other\.tsv\.partial; rerun its command/, 'changed shifts');
  rmSync(stagingPath(out), { recursive: true });

  // Weights re-converted under the same path: the content hash differs, so the resume is refused.
  const copy = path('model-copy');
  for (const f of ['config.json', 'weights.safetensors']) cpSync(join(ENFORMER, f), join(copy, f));
  const out2 = path('reweighted.tsv');
  await runAndKill(common(out2, [copy]), stagingPath(out2), (p) => p.batches >= 1);
  const weights = join(copy, 'weights.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 1] ^= 0x01;
  writeFileSync(weights, bytes);
  assertCliError(await runCli(common(out2, [copy]), env()), /an unfinished run with other arguments \(--model differ\)/, 'changed weights');
  rmSync(stagingPath(out2), { recursive: true });

  // A parent that is a file: unwritable for every user (root included), found before the model loads.
  const blocker = path('a-file');
  writeFileSync(blocker, 'x');
  for (const out of [join(blocker, 'x.tsv'), join(blocker, 'bw/')]) {
    const r = await runCli(['predict', '--model', ENFORMER, '--genome', path('g.fa'), '--region', 'chrB:1-100', '--out', out], env());
    assertCliError(r, /--out .*a-file.*(ENOTDIR|EEXIST|not a directory)/, out);
  }
  const maps = await runCli(['predict', '--model', ENFORMER, '--genome', path('g.fa'), '--region', 'chrB:1-100', '--out', path('m.tsv'), '--attention', join(blocker, 'm.safetensors')], env());
  assertCliError(maps, /--attention .*a-file.*(ENOTDIR|not a directory)/, 'unwritable --attention');
  assert.ok(!existsSync(path('m.tsv')) && !existsSync(stagingPath(path('m.tsv'))), 'nothing started for an unwritable --attention');
});

test('job fingerprint: sha256 of a file is cached by path, size and mtime', async () => {
  const dir = tempDir('seq2track-hash-');
  try {
    const file = join(dir.dir, 'w.bin');
    const cache = join(dir.dir, 'cache', 'hashes.json');
    writeFileSync(file, 'abc');
    const h = await sha256File(file, cache);
    assert.equal(h, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    // A cached entry is used while path, size and mtime are unchanged (proved by planting another value).
    const entries = JSON.parse(readFileSync(cache, 'utf8')) as Record<string, string>;
    const key = Object.keys(entries)[0]!;
    writeFileSync(cache, JSON.stringify({ [key]: 'planted' }));
    assert.equal(await sha256File(file, cache), 'planted');
    // A new mtime (same size) is hashed again.
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    assert.equal(await sha256File(file, cache), h);
  } finally {
    dir.cleanup();
  }
});

test('genome job with trunk reuse: killed inside a stretch and resumed, byte-identical bigWig and bedGraph; --no-trunk-reuse is another job and agrees to float32 rounding', { skip }, async () => {
  const seed = Date.now() % 100_000;
  const r = rng(seed);
  // 8,192-bp windows advancing 4,096 bp over 1,536-bp stretch tiles: the window a resumed job starts
  // at takes tiles an earlier batch began; the second region runs past the end of chrA.
  const args = (out: string, extra: string[] = []) => [
    'predict', '--model', ENFORMER, '--genome', path('g.fa'), '--region', 'chrA:1-30,000', '--region', 'chrA:50,001-60,011',
    '--window-length', '8192', '--tile-length', '1536', '--rc', '--shifts', '0,1', '--batch-size', '3', '--threads', '1', '--out', out, ...extra,
  ];
  for (const name of ['reuse-bw/', 'reuse.bedGraph']) {
    const full = path(`full-${name}`);
    const first = assertCliOk(await runCli(args(full), env()));
    const windows = Number(/\((\d+) windows/.exec(first.stderr)![1]);
    assert.ok(windows >= 10, `${windows} windows`);
    const batches = Math.ceil((windows * 4) / 3);
    const out = path(`killed-${name}`);
    const at = 2 + Math.floor(r() * (batches - 4));
    await runAndKill(args(out), stagingPath(out), (p) => p.batches >= at);
    const why = `${name}: killed after batch ${at} or later (seed ${seed})`;
    assertCliError(await runCli(args(out, ['--no-trunk-reuse']), env()), /an unfinished run with other arguments \(--no-trunk-reuse differ\)/, why);
    const again = assertCliOk(await runCli(args(out), env()));
    assert.match(again.stderr, /resuming an interrupted run of this command/, why);
    const want = files(full);
    const got = files(out);
    assert.equal(got.length, want.length, why);
    got.forEach((g, i) => assert.ok(g.equals(want[i]!), `${why}: file ${i} differs from the uninterrupted run's`));
  }
  // The per-window job on the same regions: the same bins, values within float32 rounding.
  const perWindow = path('per-window.bedGraph');
  assertCliOk(await runCli(args(perWindow, ['--no-trunk-reuse']), env()));
  const rows = (f: string) => readFileSync(f, 'utf8').trim().split('\n').filter((l) => !l.startsWith('track')).map((l) => l.split('\t'));
  const a = rows(path('full-reuse.bedGraph'));
  const b = rows(perWindow);
  assert.equal(a.length, b.length);
  a.forEach((x, i) => {
    assert.deepEqual(x.slice(0, 3), b[i]!.slice(0, 3));
    const [u, v] = [Number(x[3]), Number(b[i]![3])];
    assert.ok(Math.abs(u - v) <= 1e-5 * (1 + Math.abs(v)), `bedGraph row ${i}: ${u} vs ${v}`);
  });
});
