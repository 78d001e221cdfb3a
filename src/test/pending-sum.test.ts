/** What a resumable job keeps on disk so that a kill at any point resumes to the same bytes: the split unit's running sum (src/tasks/job/pending-sum.ts), the slots' sums by pass (slot-file.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobDir, stagingPath, type Fingerprint } from '../tasks/job/job-dir.js';
import { PendingSum, type SplitProgress } from '../tasks/job/pending-sum.js';
import { SlotFile } from '../tasks/job/slot-file.js';
import { fingerprint } from '../tasks/job/fingerprint.js';

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

test('slot file: with several models a pass reads the sum of the pass before and writes its own, so a re-run batch reads the same', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seq2track-slots-'));
  try {
    const store = new SlotFile(join(dir, 'records.bin'), 2, 3, 4, dir);
    store.save(0, 0, sum(1, 2));
    store.save(1, 0, sum(10, 20));
    // Pass 1 adds to what pass 0 left, saves; the same batch again (a kill before its progress) reads pass 0's sums still.
    store.save(0, 1, sum(3, 4));
    assert.deepEqual(store.load(0, 1), sum(1, 2));
    assert.deepEqual(store.load(0, 2), sum(3, 4));
    store.save(0, 2, sum(6, 8));
    store.save(1, 1, sum(11, 21));
    store.save(1, 2, sum(12, 24));
    // The means are of the last pass's sums (÷ the 4 runs of the ensemble).
    assert.deepEqual(store.mean(0), Float32Array.of(1.5, 2));
    assert.deepEqual(store.mean(1, 1, 2), Float32Array.of(6));
    store.close();
    // One model: float32 means, one per slot.
    const single = new SlotFile(join(dir, 'single.bin'), 2, 1, 2, dir);
    single.save(0, 0, sum(1, 3));
    assert.deepEqual(single.mean(0), Float32Array.of(0.5, 1.5));
    single.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a staging directory from a version with another scratch layout is refused, naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seq2track-layout-'));
  try {
    const out = join(dir, 'x.tsv');
    // What an earlier version wrote: the same options, no scratch layout among them.
    const earlier = JobDir.open<SplitProgress>(out, { hash: 'earlier', args: { '--batch-size': 4 } });
    earlier.commit({ model: 0, batches: 1 });
    assert.throws(() => JobDir.open<SplitProgress>(out, fingerprint({ '--batch-size': 4 })), /scratch layout/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
