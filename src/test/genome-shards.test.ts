/**
 * Sharded genome prediction: `predict --genome --shard i/N`, `seq2track merge` of the shard files,
 * and workflows/predict-genome.smk under Snakemake (--cores 2), each checked byte for byte against
 * one unsharded `predict` run (bigWig and bedGraph); a shard killed and resumed; the shard cut as a unit (every window in
 * exactly one shard, whole model batches, chromosome ends); merge's refusals, each naming the file.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { planRegion } from '../genome/regions.js';
import { shardWindows } from '../tasks/predict/region-job.js';
import { windowRows } from '../tasks/predict/region-scratch.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { CLI, fixture, REPO_ROOT, skipUnless, tempDir, runCli, assertCliError, assertCliOk } from './fixtures.js';
import { randomGenome, writeFastaFai } from './genome-files.js';

const skip = skipUnless('enformer-small');
const ENFORMER = fixture('enformer-small') ?? '';
/** Enformer fixture at 8192 bp: 32 bins of 128 bp from 2048 bp into the window; a window's output spans 4096 bp. */
const GEO = { length: 8192, offset: 2048, bins: 32, binSize: 128 };
const SIZES = { chr1: 30_001, chr2: 20_077, chrM: 1_234 };
const genome = randomGenome(SIZES, 11);
let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
const run = (args: string[]) => runCli(args, { SEQ2TRACK_CACHE: path('cache') });
const ok = async (args: string[]) => assertCliOk(await run(args));
async function expectError(args: string[], pattern: RegExp) {
  assertCliError(await run(args), pattern, args.join(' '));
}
const hasSnakemake = spawnSync('snakemake', ['--version']).status === 0;

/** The files of an output (a directory's, sorted by name, or one file); Snakemake's `.snakemake_timestamp` in a directory output is not ours. */
function bytesOf(out: string): Map<string, Buffer> {
  const dir = out.replace(/\/$/, '');
  if (out.endsWith('/')) return new Map(readdirSync(dir).filter((f) => f !== '.snakemake_timestamp').sort().map((f) => [f, readFileSync(join(dir, f))]));
  return new Map([['', readFileSync(out)]]);
}

function assertSameOutput(got: string, want: string, what: string) {
  const a = bytesOf(got);
  const b = bytesOf(want);
  assert.deepEqual([...a.keys()], [...b.keys()], `${what}: the same files`);
  assert.ok(a.size > 0);
  for (const [name, bytes] of b) assert.ok(a.get(name)!.equals(bytes), `${what}: ${name || got} differs from the unsharded run's`);
}

function snakemake(config: string[]): Promise<{ code: number | null; out: string }> {
  writeFileSync(path('smk.yaml'), config.join('\n') + '\n');
  return new Promise((resolve) => {
    const child = spawn('snakemake', ['-s', join(REPO_ROOT, 'workflows', 'predict-genome.smk'), '--cores', '2', '--configfile', path('smk.yaml'), '--directory', tmp.dir, '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

before(() => {
  tmp = tempDir('seq2track-genome-shards-');
  writeFastaFai(path('g.fa'), genome);
  // chr1 and chrM whole (their first and last windows run past both ends: N), chr2 from 1,000 to its end.
  writeFileSync(path('r.bed'), 'chr1\t0\t30001\nchr2\t1000\t20077\nchrM\t0\t1234\n');
  // A second model directory (same weights): a run averaged over two --model replicates.
  mkdirSync(path('rep'));
  if (ENFORMER) for (const f of readdirSync(ENFORMER)) symlinkSync(join(ENFORMER, f), path(join('rep', f)));
});

after(() => tmp.cleanup());

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

test('shard cut: every window in exactly one shard, in order, shard boundaries between whole model batches', () => {
  for (const total of [0, 1, 5, 14, 17]) {
    for (const runs of [1, 2, 3, 4]) {
      for (const batch of [1, 2, 3, 4, 6]) {
        for (const N of [1, 2, 3, 5, 20]) {
          const ranges = Array.from({ length: N }, (_, i) => shardWindows(total, runs, batch, { index: i + 1, count: N }));
          const what = `total ${total}, runs ${runs}, batch ${batch}, N ${N}`;
          assert.equal(ranges[0]![0], 0, what);
          assert.equal(ranges[N - 1]![1], total, what);
          ranges.forEach((r, i) => {
            assert.ok(r[0] <= r[1], what);
            if (i > 0) assert.equal(r[0], ranges[i - 1]![1], `${what}: shard ${i + 1} starts where ${i} ends`);
            // The unsharded run's batches are items [b·batch, (b+1)·batch), items = windows × runs:
            // a shard starts at a batch boundary, so no batch straddles two shards.
            assert.equal((r[0] * runs) % batch === 0 || r[0] === total, true, `${what}: shard ${i + 1} starts at a batch boundary`);
          });
          // Balanced: no shard has more than one unit of windows above another (when every shard gets some).
          const sizes = ranges.map((r) => r[1] - r[0]);
          const unit = batch / gcd(batch, runs);
          if (total >= N * unit) assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 2 * unit, `${what}: sizes ${sizes}`);
        }
      }
    }
  }
});

test('shard cut: on whole chromosomes the shards hold every written bin once, chromosome ends included', () => {
  const plans = Object.entries(SIZES).map(([chrom, size]) => planRegion({ chrom, start: 0, end: size, label: chrom }, size, GEO));
  const total = plans.reduce((a, p) => a + p.windows.length, 0);
  assert.equal(total, 8 + 5 + 1);
  // The first window of each chromosome starts before 0 and the last ends past the chromosome: read as N.
  for (const [i, p] of plans.entries()) {
    const size = Object.values(SIZES)[i]!;
    assert.ok(p.windows[0]! < 0 && p.windows.at(-1)! + GEO.length > size);
    assert.equal(p.ends.at(-1), size, 'the last bin ends at the chromosome end');
  }
  for (const N of [1, 2, 3, 4, 7, 14, 30]) {
    const seen = plans.map((p) => new Array<number>(p.bins).fill(0));
    const windowsSeen = new Array<number>(total).fill(0);
    for (let i = 1; i <= N; i++) {
      const range = shardWindows(total, 1, 1, { index: i, count: N });
      for (let w = range[0]; w < range[1]; w++) windowsSeen[w]!++;
      for (const { region, lo, hi } of windowRows(plans, GEO.bins, range)) for (let b = lo; b < hi; b++) seen[region]![b - plans[region]!.firstBin]!++;
    }
    assert.ok(windowsSeen.every((c) => c === 1), `N ${N}: every window once`);
    seen.forEach((s, r) => assert.ok(s.every((c) => c === 1), `N ${N}: every written bin of ${plans[r]!.region.label} once`));
  }
  // Three shards of chr1 alone: the first and the last window (past the chromosome's ends) are in one shard each.
  const chr1 = [plans[0]!];
  const cut = [1, 2, 3].map((i) => shardWindows(8, 1, 1, { index: i, count: 3 }));
  assert.deepEqual(cut, [[0, 2], [2, 5], [5, 8]]);
  const rows = cut.map((r) => [...windowRows(chr1, GEO.bins, r)].reduce((a, w) => a + w.hi - w.lo, 0));
  assert.equal(rows.reduce((a, b) => a + b, 0), plans[0]!.bins);
});

const COMMON = () => ['--genome', path('g.fa'), '--bed', path('r.bed'), '--window-length', '8192'];

test('shards: predict --shard i/N then merge equals one predict run byte for byte (bigWig, bedGraph; rc, shifts, batches)', { skip }, async () => {
  // Plain: 14 windows in 4 shards, chromosome order (bigWig) and BED order (bedGraph).
  const plain = ['--model', ENFORMER, ...COMMON(), '--tracks', '0-2'];
  // 2 shifts × 2 strands = 4 runs per window in batches of 3: the cut's unit is 3 windows (two models: the workflow test).
  const ensemble = ['--model', ENFORMER, ...COMMON(), '--tracks', '1,4', '--rc', '--shifts', '0,1', '--batch-size', '3'];
  for (const [name, args, N, outs] of [
    ['plain', plain, 4, ['plain-one/', 'plain-one.bedGraph']],
    ['ensemble', ensemble, 3, ['ensemble-one/']],
  ] as const) {
    for (const out of outs) {
      await ok(['predict', ...args, '--out', path(out)]);
      const sharded = path(out.replace('-one', '-sharded'));
      const shards: string[] = [];
      for (let i = 1; i <= N; i++) {
        const r = await ok(['predict', ...args, '--out', sharded, '--shard', `${i}/${N}`]);
        const file = `${sharded.replace(/\/$/, '')}.shard${i}-of-${N}.safetensors`;
        assert.match(r.stderr, new RegExp(`predicted shard ${i}/${N}: `));
        assert.ok(existsSync(file), file);
        shards.push(file);
      }
      // The shard boundaries split chr1 (the first region in both orders): 8 of the 14 windows.
      const meta = (await SafetensorsFile.open(shards[0]!)).metadata;
      const [, end, total] = JSON.parse(meta.windows!) as number[];
      assert.equal(total, 14);
      assert.ok(end! > 0 && end! < 8, `shard 1 ends inside chr1 (window ${end})`);
      await ok(['merge', sharded, ...shards]);
      assertSameOutput(sharded, path(out), `${name} ${out}`);
    }
  }
});

test('shards: a shard killed with SIGKILL and run again writes the same shard file', { skip }, async () => {
  const args = (out: string) => ['predict', '--model', ENFORMER, ...COMMON(), '--tracks', '1,4', '--rc', '--shifts', '0,1', '--batch-size', '3', '--threads', '1', '--out', out, '--shard', '2/3'];
  await ok(args(path('k1/')));
  const staging = `${path('k2.shard2-of-3.safetensors')}.partial`;
  // Shard 2/3: windows 3-8 × 4 runs in batches of 3 = 8 batches; killed after 2 are recorded.
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args(path('k2/'))], { env: { ...process.env, SEQ2TRACK_CACHE: path('cache') }, stdio: 'ignore' });
    const timer = setInterval(() => {
      try {
        if ((JSON.parse(readFileSync(join(staging, 'progress.json'), 'utf8')) as { batches: number }).batches >= 2) child.kill('SIGKILL');
      } catch {
        // not yet written
      }
    }, 5);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the shard ended before it was killed (exit ${code})`));
    });
  });
  assert.ok(!existsSync(path('k2.shard2-of-3.safetensors')), 'no shard file after the kill');
  const r = await ok(args(path('k2/')));
  assert.match(r.stderr, /resuming an interrupted run of this command/);
  assert.ok(readFileSync(path('k2.shard2-of-3.safetensors')).equals(readFileSync(path('k1.shard2-of-3.safetensors'))), 'the resumed shard equals the uninterrupted one');
});

test('shards: the Snakemake workflow (--cores 2) writes the bigWigs and the bedGraph of one predict run', { skip: skip || (hasSnakemake ? false : 'snakemake is not on PATH (apt-get install snakemake)') }, async () => {
  const base = [`seq2track: "${process.execPath} ${CLI}"`, `genome: ${path('g.fa')}`, 'threads: 1'];
  // bigWig: every sequence of the genome's .fai (the workflow makes the BED), 5 shards, kept to look at.
  let r = await snakemake([...base, `model: ${ENFORMER}`, `out: ${path('smk/')}`, 'shards: 5', 'keep_shards: true', 'args: "--window-length 8192 --tracks 0,5,11"']);
  assert.equal(r.code, 0, r.out);
  await ok(['predict', '--model', ENFORMER, '--genome', path('g.fa'), '--bed', path('smk.regions.bed'), '--window-length', '8192', '--tracks', '0,5,11', '--out', path('smk-one/')]);
  assert.equal(readFileSync(path('smk.regions.bed'), 'utf8'), 'chr1\t0\t30001\nchr2\t0\t20077\nchrM\t0\t1234\n');
  assertSameOutput(path('smk/'), path('smk-one/'), 'workflow bigWig');
  assert.deepEqual(readdirSync(path('smk')).sort(), ['.snakemake_timestamp', 'human_0.bw', 'human_11.bw', 'human_5.bw']);
  const ends = [];
  for (let i = 1; i <= 5; i++) ends.push((JSON.parse((await SafetensorsFile.open(path(`smk.shard${i}-of-5.safetensors`))).metadata.windows!) as number[])[1]!);
  assert.ok(ends.some((e) => e > 0 && e < 8), `a shard boundary falls inside chr1 (shard ends ${ends})`);
  // bedGraph: the BED's regions, two models averaged, --rc, batches of 2; shards deleted once merged.
  r = await snakemake([...base, `model: [${ENFORMER}, ${path('rep')}]`, `bed: ${path('r.bed')}`, `out: ${path('smk.bedGraph')}`, 'shards: 3', 'args: "--window-length 8192 --tracks 2-3 --rc --batch-size 2"']);
  assert.equal(r.code, 0, r.out);
  await ok(['predict', '--model', ENFORMER, '--model', path('rep'), ...COMMON(), '--tracks', '2-3', '--rc', '--batch-size', '2', '--out', path('smk-one.bedGraph')]);
  assertSameOutput(path('smk.bedGraph'), path('smk-one.bedGraph'), 'workflow bedGraph');
  assert.ok(!existsSync(path('smk.bedGraph.shard1-of-3.safetensors')), 'temporary shards removed');
});

test('shards: merge refuses missing, repeated, misordered, unfinished and foreign shards, naming the file; an empty shard merges', { skip }, async () => {
  const args = (model = ENFORMER, tracks = '0-1') => ['predict', '--model', model, '--genome', path('g.fa'), '--region', 'chr2:1-8,192', '--window-length', '8192', '--tracks', tracks];
  const s = (base: string, i: number) => path(`${base}.shard${i}-of-2.safetensors`);
  for (const i of [1, 2]) await ok([...args(), '--out', path('e/'), '--shard', `${i}/2`]);
  // Another run: other tracks; another model (a copy of the fixture under another path).
  await ok([...args(ENFORMER, '0-2'), '--out', path('t/'), '--shard', '2/2']);
  mkdirSync(path('other-model'));
  for (const f of ['config.json', 'weights.safetensors']) copyFileSync(join(ENFORMER, f), path(join('other-model', f)));
  await ok([...args(path('other-model')), '--out', path('m/'), '--shard', '2/2']);

  await expectError(['merge', path('x/'), s('e', 1)], /merge: shard 2\/2 of the run of .*e\.shard1-of-2\.safetensors missing; give all 2 shards in order/);
  await expectError(['merge', path('x/'), s('e', 1), path('nope.safetensors')], /nope\.safetensors: cannot read shard \(ENOENT\)/);
  await expectError(['merge', path('x/'), s('e', 1), s('t', 2)], /t\.shard2-of-2\.safetensors: a shard of another run than .*e\.shard1-of-2\.safetensors \(--tracks differ\)/);
  await expectError(['merge', path('x/'), s('e', 1), s('m', 2)], /m\.shard2-of-2\.safetensors: a shard of another run than .*e\.shard1-of-2\.safetensors \(--model differ\)/);
  await expectError(['merge', path('x/'), s('e', 2), s('e', 1)], /e\.shard2-of-2\.safetensors: shard 2\/2 given in place 1; give the shards in order/);
  await expectError(['merge', path('x/'), s('e', 1), s('e', 1)], /e\.shard1-of-2\.safetensors: shard 1\/2 is given twice/);
  await expectError(['merge', path('x.bedGraph'), s('e', 1), s('e', 2)], /e\.shard1-of-2\.safetensors and its run were planned for --out bigWig \(a directory\); .*x\.bedGraph is X\.bedGraph/);
  mkdirSync(`${s('u', 1)}.partial`);
  await expectError(['merge', path('x/'), s('u', 1), s('e', 2)], /u\.shard1-of-2\.safetensors: unfinished \(.*\.partial exists\); rerun that shard's command/);
  await ok([...args(), '--out', path('plain.safetensors')]);
  await expectError(['merge', path('x/'), path('plain.safetensors')], /plain\.safetensors: not a predict --genome shard/);
  await expectError(['merge', path('e/'), s('e', 1), path('e/')], /output .*e\/ is also a shard/);
  assert.ok(!existsSync(path('x')), 'a refused merge writes nothing');
  // The shards of e merge into the run's bytes.
  await ok(['merge', path('e/'), s('e', 1), s('e', 2)]);
  await ok([...args(), '--out', path('e-one/')]);
  assertSameOutput(path('e/'), path('e-one/'), 'two shards of one region');
  // More shards than windows: shard 1/3 of the two windows is empty, and still merges.
  for (const i of [1, 2, 3]) await ok([...args(), '--out', path('z.bedGraph'), '--shard', `${i}/3`]);
  assert.deepEqual((await SafetensorsFile.open(path('z.bedGraph.shard1-of-3.safetensors'))).tensors.get('values')!.shape, [0, 2]);
  await ok(['merge', path('z.bedGraph'), ...[1, 2, 3].map((i) => path(`z.bedGraph.shard${i}-of-3.safetensors`))]);
  await ok([...args(), '--out', path('z-one.bedGraph')]);
  assertSameOutput(path('z.bedGraph'), path('z-one.bedGraph'), 'an empty shard');
  // predict's own checks of --shard.
  await expectError([...args(), '--out', path('y/'), '--shard', '3/2'], /--shard "3\/2": expected i\/N with 1 ≤ i ≤ N/);
  await expectError([...args(), '--out', path('y.tsv'), '--shard', '1/2', '--attention', path('a.safetensors')], /--attention and --plot cannot be combined with --shard/);
  await expectError(['predict', '--model', ENFORMER, '--fasta', path('g.fa'), '--out', path('y.tsv'), '--shard', '1/2'], /--shard needs --genome/);
});
