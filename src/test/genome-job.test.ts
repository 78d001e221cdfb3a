/**
 * The streaming, resumable genome job: its outputs equal the in-memory writers' byte for byte, a run
 * killed with SIGKILL at a random point and started again finishes with byte-identical files doing
 * only the remaining model runs, and outputs appear under their final names only when complete.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, fixture, skipUnless, tempDir, runCli, assertCliOk, assertCliError } from './fixtures.js';
import { randomGenome, rng, writeFastaFai } from './genome-files.js';
import { openGenome } from '../genome/reference.js';
import { parseRegion } from '../genome/regions.js';
import { predictRegions } from '../tasks/predict-region.js';
import { writeRegionOutputs, type RegionOutputKind } from '../tasks/region-outputs.js';
import { stagingPath } from '../tasks/job-dir.js';

const skip = skipUnless('enformer-small');
const ENFORMER = fixture('enformer-small') ?? '';
const genome = randomGenome({ chrA: 60_011, chrB: 9_000 }, 7);
let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
const env = () => ({ SEQ2TRACK_CACHE: path('cache') });

// Both regions over several 4,096 bp window outputs; --rc + 3 shifts + batch 4 split windows across batches.
const REGIONS = ['chrB:1-9000', 'chrA:20,001-41,000'];
const common = (out: string) => ['predict', '--model', ENFORMER, '--genome', path('g.fa'), ...REGIONS.flatMap((r) => ['--region', r]), '--rc', '--shifts', '0,1,-2', '--batch-size', '4', '--threads', '1', '--out', out];

before(() => {
  tmp = tempDir('seq2track-genome-job-');
  writeFastaFai(path('g.fa'), genome);
});

after(() => tmp.cleanup());

function files(out: string): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  if (out.endsWith('/')) for (const f of readdirSync(out).sort()) m.set(f, readFileSync(join(out, f)));
  else m.set(out, readFileSync(out));
  return m;
}

test('genome job: every output kind equals the in-memory writer byte for byte (two models averaged)', { skip }, async () => {
  const regions = REGIONS.map(parseRegion);
  const ref = await predictRegions({ models: [ENFORMER, ENFORMER], genome: await openGenome(path('g.fa')), regions, rc: true, shifts: [0, 1, -2], batchSize: 4, load: { threads: 1 } });
  for (const [kind, out] of [['bigwig', path('mem-bw/')], ['bedgraph', path('mem.bedGraph')], ['tsv', path('mem.tsv')], ['safetensors', path('mem.safetensors')]] as [RegionOutputKind, string][]) {
    await writeRegionOutputs(out, kind, ref);
  }
  for (const [mem, name] of [['mem-bw/', 'job-bw/'], ['mem.bedGraph', 'job.bedGraph'], ['mem.tsv', 'job.tsv'], ['mem.safetensors', 'job.safetensors']]) {
    const args = common(path(name!));
    args.splice(2, 0, '--model', ENFORMER);
    assertCliOk(await runCli(args, env()));
    const want = [...files(path(mem!)).values()];
    const got = [...files(path(name!)).values()];
    assert.equal(got.length, want.length, name);
    got.forEach((g, i) => assert.ok(g.equals(want[i]!), `${name}: file ${i} differs from the in-memory writer's`));
    assert.ok(!existsSync(stagingPath(path(name!))), `${name}: staging directory removed`);
  }
  assert.ok(readFileSync(path('job.bins.bed')).equals(readFileSync(path('mem.bins.bed'))), 'bins BED');
});

/** Starts the CLI and SIGKILLs it once its progress records at least `batches` batches. */
function runAndKill(args: string[], staging: string, batches: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env() }, stdio: 'ignore' });
    const timer = setInterval(() => {
      try {
        const p = JSON.parse(readFileSync(join(staging, 'progress.json'), 'utf8')) as { model: number; batches: number };
        if (p.model > 0 || p.batches >= batches) child.kill('SIGKILL');
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
  const r = rng(Date.now() % 100000);
  // 3 windows of chrB + 6 of chrA, × 6 runs each = 54 model runs in 14 batches of 4.
  const total = 54;
  for (const name of ['full.tsv', 'full-bw/', 'full.safetensors']) assertCliOk(await runCli(common(path(name)), env()));
  for (const [name, full] of [['killed.tsv', 'full.tsv'], ['killed-bw/', 'full-bw/'], ['killed.safetensors', 'full.safetensors']] as const) {
    const out = path(name);
    const staging = stagingPath(out);
    const at = 1 + Math.floor(r() * 10);
    await runAndKill(common(out), staging, at);
    assert.ok(!existsSync(out.replace(/\/$/, '')), `${name}: nothing under the final name after the kill`);
    const p = JSON.parse(readFileSync(join(staging, 'progress.json'), 'utf8')) as { model: number; batches: number };
    const done = p.model > 0 ? total : p.batches * 4;
    const again = assertCliOk(await runCli(common(out), env()));
    assert.match(again.stderr, new RegExp(`resuming an interrupted run of this command: ${done} of ${total} model runs already done`), `${name} (killed after batch ${p.batches})`);
    assert.match(again.stderr, new RegExp(`resumed: ${total - done} model runs this time`));
    const want = [...files(path(full)).values()];
    const got = [...files(out).values()];
    assert.equal(got.length, want.length);
    got.forEach((g, i) => assert.ok(g.equals(want[i]!), `${name}: file ${i} differs from the uninterrupted run's (killed after batch ${p.batches})`));
    assert.ok(!existsSync(staging), 'staging directory removed');
  }
});

test('genome job: another command on an unfinished output is refused; an unwritable --out fails before any model run', { skip }, async () => {
  const out = path('other.tsv');
  await runAndKill(common(out), stagingPath(out), 1);
  const changed = common(out).map((a) => (a === '0,1,-2' ? '0,1' : a));
  assertCliError(await runCli(changed, env()), /other\.tsv: an unfinished run with other arguments \(--shifts differ\) is in .*other\.tsv\.partial; rerun its command/, 'changed shifts');
  rmSync(stagingPath(out), { recursive: true });

  // A parent that is a file: unwritable for every user (root included), found before the model loads.
  const blocker = path('a-file');
  writeFileSync(blocker, 'x');
  for (const out of [join(blocker, 'x.tsv'), join(blocker, 'bw/')]) {
    const r = await runCli(['predict', '--model', ENFORMER, '--genome', path('g.fa'), '--region', 'chrB:1-100', '--out', out], env());
    assertCliError(r, /--out .*a-file.*(ENOTDIR|EEXIST|not a directory)/, out);
  }
});
