/**
 * The running sum of the one unit a batch boundary splits (a window of a genome job, a record of a
 * slot job), kept beside a resumable job's progress (job-dir.ts). Each sum goes to a file named after
 * the progress it belongs to, written before that progress is committed, and the previous progress's
 * file is removed after: a kill between the writes leaves the older progress with its own file. (One
 * file rewritten in place paired the older progress with the newer sum, so a resumed job counted the
 * runs of the interrupted batch twice in that unit.)
 */
import { readFileSync, rmSync } from 'node:fs';
import { JobError } from './ensemble.js';
import { writeAtomic, type JobDir } from './job-dir.js';
import type { SlotProgress } from './slot-passes.js';

/** Progress through the model passes of a job of slots in batches. */
export interface SplitProgress {
  /** Model pass in progress (= models when every model run is done). */
  model: number;
  /** Batches of that pass done. */
  batches: number;
  /** The slot of a unit split by the batch boundary: its running sum is in `pendingFile`. */
  pending?: number;
  /** The file with that sum. */
  pendingFile?: string;
}

export class PendingSum {
  /** The file the last committed progress names. */
  private name: string | undefined;

  constructor(private readonly dir: JobDir<SplitProgress>) {
    const earlier = dir.resumed;
    this.name = earlier?.pending === undefined ? undefined : earlier.pendingFile;
    if (earlier?.pending !== undefined && this.name === undefined) throw new JobError(`${dir.file('progress.json')}: a split unit without its sum's file; delete ${dir.path} to start over`);
  }

  /** Where an earlier run of the job stopped, or undefined for a fresh job. */
  start(): SlotProgress | undefined {
    const earlier = this.dir.resumed;
    if (!earlier) return undefined;
    const pending = earlier.pending === undefined ? undefined : { slot: earlier.pending, sum: readFloat64(this.dir.file(this.name!)) };
    return { model: earlier.model, batches: earlier.batches, pending };
  }

  /** Records `point` as the job's progress (call only after the data it describes is written). */
  commit(point: SlotProgress): void {
    const name = point.pending ? `pending-${point.model}-${point.batches}.f64` : undefined;
    if (point.pending) writeAtomic(this.dir.file(name!), new Uint8Array(point.pending.sum.buffer, point.pending.sum.byteOffset, point.pending.sum.byteLength));
    this.dir.commit({ model: point.model, batches: point.batches, pending: point.pending?.slot, pendingFile: name });
    if (this.name !== undefined && this.name !== name) rmSync(this.dir.file(this.name), { force: true });
    this.name = name;
  }
}

function readFloat64(path: string): Float64Array {
  const bytes = readFileSync(path);
  if (bytes.byteLength % 8 !== 0) throw new JobError(`${path}: not a float64 file`);
  return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8).slice();
}
