/**
 * The resumable plan of a job whose units (genome windows, attribution records) each sum their
 * ensemble runs into a slot of fixed size: the items (unit, run), in unit order with a unit's runs
 * together, are cut into batches of `batchSize` the same way in every model pass, and run through
 * the core's `runBatches`. After a unit's last run of a pass its sum goes to the store (a scratch
 * file, or memory); after every batch the progress (model pass, batches done, and the running sum
 * of the one unit a batch boundary may split) is handed to `commit`.
 *
 * A job started again from that progress runs exactly the remaining batches, with the same
 * composition as an uninterrupted run (batch composition can change ONNX Runtime's summation order),
 * so its outputs are byte-identical.
 */
import type { Model } from '../../models/model-core.js';
import { runBatches, type Batch, type Item, type ModelSchedule, type RunInput } from './run-core.js';

/** A unit of the plan: its slot, and whether this item is its last run in a model pass. */
export interface SlotUnit {
  slot: number;
  last: boolean;
}

/** Model pass in progress, batches of it done, and the running sum of a unit the batch boundary split. */
export interface SlotProgress {
  model: number;
  batches: number;
  pending?: { slot: number; sum: Float64Array };
}

export interface SlotStore {
  /** The running sum the model passes before `pass` left in a slot. */
  load(slot: number, pass: number): Float64Array;
  /** A slot's sum after model pass `pass` (written where a re-run of the pass does not read: slot-file.ts). */
  save(slot: number, pass: number, sum: Float64Array): void;
}

export interface SlotPasses<U extends SlotUnit, R> {
  schedule: ModelSchedule;
  /** Every item of one model pass, a unit's runs together. */
  items: Item<U>[];
  batchSize: number;
  /** Values per slot. */
  slotValues: number;
  store: SlotStore;
  /** Where an earlier run stopped (default: the start). */
  start?: SlotProgress;
  /** Records progress after a batch whose data is stored. */
  commit?: (progress: SlotProgress) => void;
  /** Called once, before any model runs, when the job continues an earlier run. */
  onResume?: (done: number, total: number) => void;
  onProgress?: (done: number, total: number) => void;
  sequence: (unit: U) => string | Promise<string>;
  name?: (unit: U) => string;
  request: (model: Model, input: RunInput, batch: Batch<U>) => Promise<R>;
  /** Adds item `j` of a batch's result to its unit's sum. */
  add: (sum: Float64Array, result: R, j: number, item: Item<U>) => void;
  /** Anything else a batch's result feeds (e.g. attention maps), before progress is recorded. */
  also?: (result: R, batch: Batch<U>) => void;
}

/** Runs the remaining batches of every model pass; returns the model runs done before and by this call. */
export async function runSlotPasses<U extends SlotUnit, R>(p: SlotPasses<U, R>): Promise<{ resumedAt: number; ran: number; total: number }> {
  const { items, batchSize } = p;
  const M = p.schedule.count;
  const perPass = Math.ceil(items.length / batchSize);
  const total = items.length * M;
  const start = p.start ?? { model: 0, batches: 0 };
  const resumedAt = Math.min(total, start.model * items.length + Math.min(items.length, start.batches * batchSize));
  if (resumedAt > 0) p.onResume?.(resumedAt, total);
  let done = resumedAt;
  p.onProgress?.(done, total);

  function* batches(): Generator<Batch<U>> {
    for (let m = start.model; m < M; m++) {
      for (let b = m === start.model ? start.batches : 0; b < perPass; b++) yield { model: m, index: b, items: items.slice(b * batchSize, (b + 1) * batchSize) };
    }
  }
  const sums = new Map<number, Float64Array>();
  if (start.pending) sums.set(start.pending.slot, start.pending.sum);
  const sumOf = (slot: number, m: number) => {
    let s = sums.get(slot);
    if (!s) sums.set(slot, (s = m === 0 ? new Float64Array(p.slotValues) : p.store.load(slot, m)));
    return s;
  };
  await runBatches({
    schedule: p.schedule,
    batches: batches(),
    sequence: p.sequence,
    name: p.name,
    request: p.request,
    sink: (result, batch) => {
      const { model: m, index = 0 } = batch;
      batch.items.forEach((it, j) => p.add(sumOf(it.unit.slot, m), result, j, it));
      p.also?.(result, batch);
      for (const it of batch.items) {
        if (!it.unit.last) continue;
        p.store.save(it.unit.slot, m, sums.get(it.unit.slot)!);
        sums.delete(it.unit.slot);
      }
      // Items are in unit order: at most one unit is open at a batch boundary.
      const open = [...sums.entries()][0];
      p.commit?.(index + 1 === perPass ? { model: m + 1, batches: 0 } : { model: m, batches: index + 1, pending: open && { slot: open[0], sum: open[1] } });
      done += batch.items.length;
      p.onProgress?.(done, total);
    },
  });
  return { resumedAt, ran: done - resumedAt, total };
}
