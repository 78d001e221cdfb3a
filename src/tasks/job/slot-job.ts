/**
 * A resumable job of slots on disk, as `attribute --bed` and `attribute-gene` run: the staging
 * directory `<out>.partial/` (job-dir.ts) holds the fingerprint, the progress, the scratch file of
 * slots (slot-file.ts, `records.bin`) and the running sum of the one unit a batch boundary splits
 * (pending-sum.ts); the model passes are job/slot-passes.ts's. The job writes its outputs into the
 * staging directory from the scratch and `publish` moves them to their final names, so a final name
 * appears only complete. A run killed at any point and started again with the same command continues
 * from the recorded progress and writes the same bytes; another command is refused (JobDir).
 */
import { mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { JobDir, type Fingerprint } from './job-dir.js';
import { PendingSum, type SplitProgress } from './pending-sum.js';
import type { ModelSchedule } from './run-core.js';
import { SlotFile } from './slot-file.js';
import { runSlotPasses, type SlotPasses, type SlotUnit } from './slot-passes.js';

export interface SlotJobPasses<U extends SlotUnit, R> extends Omit<SlotPasses<U, R>, 'store' | 'start' | 'commit' | 'schedule'> {
  schedule: ModelSchedule;
  /** Model runs averaged per slot (models × shifts × strands). */
  ensemble: number;
}

export class SlotJob {
  private slots: SlotFile | undefined;

  private constructor(private readonly dir: JobDir<SplitProgress>) {}

  /**
   * Opens (or resumes) the staging directory of `out` and runs `body` on it. On failure the scratch
   * is closed and a job that never recorded progress leaves nothing behind (one that did stays for a resume).
   */
  static async run<T>(out: string, fingerprint: Fingerprint, body: (job: SlotJob) => Promise<T>): Promise<T> {
    const job = new SlotJob(JobDir.open<SplitProgress>(out, fingerprint));
    try {
      return await body(job);
    } catch (e) {
      job.slots?.close();
      job.slots = undefined;
      job.dir.abandon();
      throw e;
    }
  }

  /**
   * Runs the remaining batches of every model pass into the scratch file (from where an earlier run
   * stopped), then closes the schedule; returns the scratch, to read the slots' means from.
   */
  async passes<U extends SlotUnit, R>(p: SlotJobPasses<U, R>): Promise<{ store: SlotFile; resumedAt: number; ran: number; total: number }> {
    const { dir } = this;
    try {
      const store = new SlotFile(dir.file('records.bin'), p.slotValues, p.schedule.count, p.ensemble, dir.path);
      this.slots = store;
      const pending = new PendingSum(dir);
      const run = await runSlotPasses({ ...p, store, start: pending.start(), commit: (q) => pending.commit(q) });
      return { store, ...run };
    } finally {
      await p.schedule.close();
    }
  }

  /** Where an output is made before `publish` gives it its final name. */
  staged(name: string): string {
    return this.dir.file(name);
  }

  /** Moves the staged outputs [staged name, final path] to their final paths and removes the staging directory. */
  publish(outputs: [string, string][]): string[] {
    this.slots?.close();
    this.slots = undefined;
    for (const [, to] of outputs) mkdirSync(dirname(to), { recursive: true });
    for (const [name, to] of outputs) renameSync(this.staged(name), to);
    this.dir.remove();
    return outputs.map(([, to]) => to);
  }
}

/**
 * A unit's window sequence read on demand and kept while the batches around it need it: a batch
 * touches a few consecutive units, so the latest `keep` are held, whatever the number of units.
 */
export function recentSequences(read: (slot: number) => Promise<string>, keep: number): (slot: number) => Promise<string> {
  const held = new Map<number, string>();
  return async (slot) => {
    let s = held.get(slot);
    if (s === undefined) {
      s = await read(slot);
      held.set(slot, s);
      for (const k of held.keys()) if (held.size > keep) held.delete(k);
    }
    return s;
  };
}
