/** The split unit's running sum beside a resumable job's progress (src/tasks/job/pending-sum.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobDir, stagingPath, type Fingerprint } from '../tasks/job/job-dir.js';
import { PendingSum, type SplitProgress } from '../tasks/job/pending-sum.js';

const fp: Fingerprint = { hash: 'h', args: {} };
const sum = (...v: number[]) => Float64Array.from(v);

test('pending sum: each progress names its own sum file; a kill before the progress is written resumes from the older pair', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seq2track-pending-'));
  try {
    const out = join(dir, 'x.tsv');
    const first = new PendingSum(JobDir.open<SplitProgress>(out, fp));
    assert.equal(first.start(), undefined, 'a fresh job starts from nothing');
    first.commit({ model: 0, batches: 3, pending: { slot: 7, sum: sum(1, 2) } });
    // The next batch's sum is written, then the process dies before its progress is: what the
    // commit writes first, by hand.
    writeFileSync(join(stagingPath(out), 'pending-0-4.f64'), new Uint8Array(sum(10, 20).buffer));
    const resumed = new PendingSum(JobDir.open<SplitProgress>(out, fp));
    assert.deepEqual(resumed.start(), { model: 0, batches: 3, pending: { slot: 7, sum: sum(1, 2) } });
    // Committing again replaces the file; the older one goes once the newer progress is written.
    resumed.commit({ model: 0, batches: 4, pending: { slot: 9, sum: sum(3, 4) } });
    const progress = JSON.parse(readFileSync(join(stagingPath(out), 'progress.json'), 'utf8')) as SplitProgress;
    assert.deepEqual(progress, { model: 0, batches: 4, pending: 9, pendingFile: 'pending-0-4.f64' });
    assert.ok(!existsSync(join(stagingPath(out), 'pending-0-3.f64')));
    resumed.commit({ model: 1, batches: 0 });
    assert.deepEqual(readdirSync(stagingPath(out)).filter((f) => f.startsWith('pending')), [], 'no sum once no unit is split');
    assert.deepEqual(new PendingSum(JobDir.open<SplitProgress>(out, fp)).start(), { model: 1, batches: 0, pending: undefined });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pending sum: a progress file of an earlier version (no pendingFile) reads pending.f64', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seq2track-pending-'));
  try {
    const out = join(dir, 'x.tsv');
    const job = JobDir.open<SplitProgress>(out, fp);
    writeFileSync(join(job.path, 'pending.f64'), new Uint8Array(sum(5, 6).buffer));
    job.commit({ model: 0, batches: 2, pending: 1 });
    const resumed = new PendingSum(JobDir.open<SplitProgress>(out, fp));
    assert.deepEqual(resumed.start(), { model: 0, batches: 2, pending: { slot: 1, sum: sum(5, 6) } });
    resumed.commit({ model: 0, batches: 3, pending: { slot: 1, sum: sum(7, 8) } });
    assert.ok(!existsSync(join(job.path, 'pending.f64')), 'the old name goes once the new progress is written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
