/**
 * `attribute --bed`: a per-base attribution (gradient or integrated gradients) of one model window
 * centred on every region of a BED file, as a resumable job of the run core, streaming to disk.
 *
 * Each region is a unit with a slot in the staging directory's scratch file (job/slot-file.ts):
 * [L, 4] values, f(x) and f(x₀) per window; the units' ensemble runs are batched and resumed by
 * job/slot-passes.ts exactly as the genome job's windows are, so a run killed at any point and
 * started again with the same command makes the model calls of an uninterrupted run and writes the
 * same bytes. Memory holds one batch and the few windows it touches, whatever the number of regions.
 *
 * Outputs, written from the scratch at the end (outputs appear under their final names only then):
 *   attribute.safetensors  gradient: objective [N], grad [N, L, 4], grad_x_input [N, L],
 *                          grad_centered_x_input [N, L]; integrated gradients: objective,
 *                          baseline_objective, completeness_gap [N], integrated_gradients [N, L, 4],
 *                          integrated_gradients_sum [N, L]; the windows in the metadata
 *   onehot.npz             the windows' one-hot, float32 [N, 4, L] (`arr_0`, as np.savez)
 *   hypothetical.npz       float32 [N, 4, L]: gradient: the gradient mean-centred over the 4 bases at
 *                          each position (the Borzoi paper's hypothetical contributions); integrated
 *                          gradients: IG itself (tfmodisco multiplies by the one-hot, which keeps IG)
 *   windows.bed            chrom, start, end, name of each window (0-based, half-open), in record order
 * These are the two files tfmodisco-lite reads: `modisco motifs -s onehot.npz -a hypothetical.npz`.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { architectureOf } from '../../models/load.js';
import { Model } from '../../models/model.js';
import type { Reference } from '../../genome/reference.js';
import { regionChromSizes, RegionError, type Region } from '../../genome/regions.js';
import { onlyAcgtn } from '../../genome/sequence.js';
import { writeNpz } from '../../formats/npz.js';
import { writeSafetensorsStream, type TensorStream } from '../../weights/safetensors.js';
import { checkBatchSize, JobError } from '../job/ensemble.js';
import { JobDir, writeAtomic, type Fingerprint } from '../job/job-dir.js';
import { SlotFile } from '../job/slot-file.js';
import { runSlotPasses, type SlotUnit } from '../job/slot-passes.js';
import type { Item } from '../job/run-core.js';
import { addPerBase, contributionScores, perBaseRequest, perBaseSlot, sumOverBases, unitsPerBatch, type PerBaseMethod } from './attribute.js';
import { baselineSequence } from './integrated-gradients.js';
import { jobMetadata } from './outputs.js';
import { openAttribution, type AttributionOptions } from './runs.js';

export interface BedAttributionOptions extends AttributionOptions {
  genome: Reference;
  regions: Region[];
  method: PerBaseMethod;
  /** The output directory. */
  out: string;
  fingerprint: Fingerprint;
  onResume?: (done: number, total: number) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface BedAttributionResult {
  files: string[];
  records: number;
  length: number;
  ensemble: number;
  resumedAt: number;
  ran: number;
  /** IG: each window's completeness gap. */
  gaps?: Float64Array;
}

interface Progress {
  model: number;
  batches: number;
  pending?: number;
}

interface Window {
  chrom: string;
  start: number;
  name: string;
}

/** Window start of a region: centred on it, as the genome form of `attribute` places its one window. */
const windowStart = (r: Region, length: number) => Math.floor((r.start + r.end) / 2) - Math.floor(length / 2);

export async function attributeBed(o: BedAttributionOptions): Promise<BedAttributionResult> {
  if (o.regions.length === 0) throw new RegionError('no regions given');
  const arch = await architectureOf(o.models[0]!, o.load);
  const L = o.windowLength ?? arch.defaultSequenceLength;
  const problem = arch.lengthProblem(L);
  if (problem) throw new RegionError(`--window-length ${L}: ${problem}`);
  await regionChromSizes(o.genome, o.regions);
  for (const r of o.regions) {
    if (r.end - r.start > L) throw new RegionError(`${r.label}: ${r.end - r.start} bp is longer than the model window (${L} bp)`);
  }
  const windows: Window[] = o.regions.map((r) => ({ chrom: r.chrom, start: windowStart(r, L), name: r.label }));
  const batchSize = checkBatchSize(o.batchSize);

  const dir = JobDir.open<Progress>(o.out, o.fingerprint);
  let slots: SlotFile | undefined;
  try {
    const { ensemble, job } = await openAttribution(o, L, `${o.out}: windows`);
    const S = perBaseSlot(L);
    slots = new SlotFile(dir.file('records.bin'), S, ensemble.schedule.count, ensemble.size, dir.path);
    const store = slots;
    const pendingFile = dir.file('pending.f64');
    const earlier = dir.resumed;
    const items: Item<SlotUnit>[] = [];
    windows.forEach((_, slot) => ensemble.runs.forEach((run, i) => items.push({ unit: { slot, last: i === ensemble.runs.length - 1 }, run })));
    const sequences = new Map<number, string>();
    const sequenceOf = async (slot: number) => {
      let s = sequences.get(slot);
      if (s === undefined) {
        const w = windows[slot]!;
        s = onlyAcgtn(await o.genome.getSequence(w.chrom, w.start, w.start + L));
        sequences.set(slot, s);
        // A batch touches a few consecutive windows: keep only the latest.
        for (const k of sequences.keys()) if (sequences.size > 2 * batchSize + 2) sequences.delete(k);
      }
      return s;
    };
    let run;
    try {
      run = await runSlotPasses({
        schedule: ensemble.schedule,
        items,
        batchSize: unitsPerBatch(o.method, batchSize),
        slotValues: S,
        store,
        start: earlier && {
          model: earlier.model,
          batches: earlier.batches,
          pending: earlier.pending === undefined ? undefined : { slot: earlier.pending, sum: readFloat64(pendingFile) },
        },
        commit: (p) => {
          if (p.pending) writeAtomic(pendingFile, new Uint8Array(p.pending.sum.buffer, p.pending.sum.byteOffset, p.pending.sum.byteLength));
          else rmSync(pendingFile, { force: true });
          dir.commit({ model: p.model, batches: p.batches, pending: p.pending?.slot });
        },
        onResume: o.onResume,
        onProgress: o.onProgress,
        sequence: (u) => sequenceOf(u.slot),
        name: (u) => windows[u.slot]!.name,
        request: async (model, input, batch) => {
          const baselines = new Map<number, string>();
          if (o.method.kind === 'integrated-gradients') {
            for (const it of batch.items) baselines.set(it.unit.slot, baselineSequence(await sequenceOf(it.unit.slot), o.method.ig, it.unit.slot));
          }
          return perBaseRequest(o.method, model, input, batch, job.objective, (u) => baselines.get(u.slot)!);
        },
        add: (sum, r, j, it) => addPerBase(sum, 0, r, j, L, it.run),
      });
    } finally {
      await ensemble.schedule.close();
    }

    // The outputs, from the scratch, one window at a time.
    const N = windows.length;
    const ig = o.method.kind === 'integrated-gradients';
    const values = (slot: number) => store.mean(slot, 0, L * 4);
    const scalars = Array.from({ length: N }, (_, slot) => store.mean(slot, L * 4, S));
    const gaps = ig
      ? Float64Array.from({ length: N }, (_, slot) => {
          const v = values(slot);
          let total = 0;
          for (const x of v) total += x;
          return Math.abs(total - (scalars[slot]![0]! - scalars[slot]![1]!));
        })
      : undefined;
    // One window at a time: its sequence is read again from the genome for the one-hot.
    const perRecord = (f: (slot: number) => Float32Array | Promise<Float32Array>) =>
      async function* () {
        for (let slot = 0; slot < N; slot++) {
          const a = await f(slot);
          yield new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
        }
      };
    const oneHot = async (slot: number) => Model.encode([await sequenceOf(slot)]).data;
    const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
    const tensors: TensorStream[] = ig
      ? [
          { name: 'objective', dtype: 'F32', shape: [N], chunks: perRecord((s) => f32([scalars[s]![0]!])) },
          { name: 'baseline_objective', dtype: 'F32', shape: [N], chunks: perRecord((s) => f32([scalars[s]![1]!])) },
          { name: 'completeness_gap', dtype: 'F32', shape: [N], chunks: perRecord((s) => f32([gaps![s]!])) },
          { name: 'integrated_gradients', dtype: 'F32', shape: [N, L, 4], chunks: perRecord(values) },
          { name: 'integrated_gradients_sum', dtype: 'F32', shape: [N, L], chunks: perRecord((s) => sumOverBases(values(s), L)) },
        ]
      : [
          { name: 'objective', dtype: 'F32', shape: [N], chunks: perRecord((s) => f32([scalars[s]![0]!])) },
          { name: 'grad', dtype: 'F32', shape: [N, L, 4], chunks: perRecord(values) },
          { name: 'grad_x_input', dtype: 'F32', shape: [N, L], chunks: perRecord(async (s) => contributionScores(values(s), await oneHot(s), L).gradXInput) },
          { name: 'grad_centered_x_input', dtype: 'F32', shape: [N, L], chunks: perRecord(async (s) => contributionScores(values(s), await oneHot(s), L).gradCenteredXInput) },
        ];
    const meta: Record<string, string> = {
      ...jobMetadata(job, 'seq2track attribute --bed'),
      method: o.method.kind,
      window_length: String(L),
      windows: JSON.stringify(windows.map((w) => [w.chrom, w.start, w.name])),
    };
    if (o.method.kind === 'integrated-gradients') {
      const s = o.method.ig;
      Object.assign(meta, { steps: String(s.steps), baseline: s.baseline, ...(s.baseline === 'shuffle' ? { seed: String(s.seed) } : {}), completeness_gap: JSON.stringify(Array.from(gaps!)) });
    }
    const staged = (name: string) => dir.file(name);
    await writeSafetensorsStream(staged('attribute.safetensors'), tensors, meta);
    await writeNpz(staged('onehot.npz'), [{ name: 'arr_0', dtype: '<f4', shape: [N, 4, L], chunks: perRecord(async (s) => transpose(await oneHot(s), L)) }]);
    await writeNpz(staged('hypothetical.npz'), [{ name: 'arr_0', dtype: '<f4', shape: [N, 4, L], chunks: perRecord((s) => transpose(ig ? values(s) : centred(values(s), L), L)) }]);
    writeFileSync(staged('windows.bed'), windows.map((w) => `${w.chrom}\t${w.start}\t${w.start + L}\t${w.name.replace(/\s+/g, '_')}\n`).join(''));
    slots.close();
    slots = undefined;
    const out = o.out.replace(/[\\/]+$/, '') || o.out;
    mkdirSync(out, { recursive: true });
    const names = ['attribute.safetensors', 'onehot.npz', 'hypothetical.npz', 'windows.bed'];
    for (const n of names) renameSync(staged(n), join(out, n));
    dir.remove();
    return { files: names.map((n) => join(out, n)), records: N, length: L, ensemble: job.ensemble, resumedAt: run.resumedAt, ran: run.ran, gaps };
  } catch (e) {
    slots?.close();
    dir.abandon();
    throw e;
  }
}

function readFloat64(path: string): Float64Array {
  const bytes = readFileSync(path);
  if (bytes.byteLength % 8 !== 0) throw new JobError(`${path}: not a float64 file`);
  return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8).slice();
}

/** [L, 4] → [4, L]. */
function transpose(a: ArrayLike<number>, L: number): Float32Array {
  const out = new Float32Array(4 * L);
  for (let p = 0; p < L; p++) for (let k = 0; k < 4; k++) out[k * L + p] = a[p * 4 + k]!;
  return out;
}

/** Each position's four values minus their mean. */
function centred(a: Float32Array, L: number): Float32Array {
  const out = new Float32Array(4 * L);
  for (let p = 0; p < L; p++) {
    const m = (a[p * 4]! + a[p * 4 + 1]! + a[p * 4 + 2]! + a[p * 4 + 3]!) / 4;
    for (let k = 0; k < 4; k++) out[p * 4 + k] = a[p * 4 + k]! - m;
  }
  return out;
}
