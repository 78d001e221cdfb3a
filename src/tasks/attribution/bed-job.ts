/**
 * `attribute --bed`: a per-base attribution (gradient or integrated gradients) of one model window
 * centred on every region of a BED file, as a resumable job of the run core, streaming to disk.
 *
 * Each region is a unit with a slot in the staging directory's scratch file (job/slot-job.ts):
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
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { architectureOf } from '../../models/load.js';
import { Model } from '../../models/model.js';
import type { Reference } from '../../genome/reference.js';
import { regionChromSizes, RegionError, type Region } from '../../genome/regions.js';
import { onlyAcgtn } from '../../genome/sequence.js';
import { centredOverBases, writeModiscoInputs } from '../../formats/npz.js';
import { writeSafetensorsStream, type TensorStream } from '../../weights/safetensors.js';
import { checkBatchSize } from '../job/ensemble.js';
import type { Fingerprint } from '../job/job-dir.js';
import { recentSequences, SlotJob } from '../job/slot-job.js';
import type { SlotUnit } from '../job/slot-passes.js';
import type { Item } from '../job/run-core.js';
import { addPerBase, contributionScores, gradientsOnlyLoad, perBaseRequest, perBaseSlot, sumOverBases, unitsPerBatch, type PerBaseMethod } from './attribute.js';
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

  return SlotJob.run(o.out, o.fingerprint, async (job) => {
    const { ensemble, job: prepared } = await openAttribution(gradientsOnlyLoad(o), L, `${o.out}: windows`);
    const S = perBaseSlot(L);
    const items: Item<SlotUnit>[] = [];
    windows.forEach((_, slot) => ensemble.runs.forEach((run, i) => items.push({ unit: { slot, last: i === ensemble.runs.length - 1 }, run })));
    const sequenceOf = recentSequences(async (slot) => {
      const w = windows[slot]!;
      return onlyAcgtn(await o.genome.getSequence(w.chrom, w.start, w.start + L));
    }, 2 * batchSize + 2);
    const run = await job.passes({
      schedule: ensemble.schedule,
      ensemble: ensemble.size,
      items,
      batchSize: unitsPerBatch(o.method, batchSize),
      slotValues: S,
      onResume: o.onResume,
      onProgress: o.onProgress,
      sequence: (u) => sequenceOf(u.slot),
      name: (u) => windows[u.slot]!.name,
      request: async (model, input, batch) => {
        const baselines = new Map<number, string>();
        if (o.method.kind === 'integrated-gradients') {
          for (const it of batch.items) baselines.set(it.unit.slot, baselineSequence(await sequenceOf(it.unit.slot), o.method.ig, it.unit.slot));
        }
        return perBaseRequest(o.method, model, input, batch, prepared.objective, (u) => baselines.get(u.slot)!);
      },
      add: (sum, r, j, it) => addPerBase(sum, 0, r, j, L, it.run),
    });
    const { store } = run;

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
      ...jobMetadata(prepared, 'seq2track attribute --bed'),
      method: o.method.kind,
      window_length: String(L),
      windows: JSON.stringify(windows.map((w) => [w.chrom, w.start, w.name])),
    };
    if (o.method.kind === 'integrated-gradients') {
      const s = o.method.ig;
      Object.assign(meta, { steps: String(s.steps), baseline: s.baseline, ...(s.baseline === 'shuffle' ? { seed: String(s.seed) } : {}), completeness_gap: JSON.stringify(Array.from(gaps!)) });
    }
    await writeSafetensorsStream(job.staged('attribute.safetensors'), tensors, meta);
    await writeModiscoInputs({ onehot: job.staged('onehot.npz'), hypothetical: job.staged('hypothetical.npz') }, N, L, {
      onehot: oneHot,
      hypothetical: (s) => (ig ? values(s) : centredOverBases(values(s), L)),
    });
    writeFileSync(job.staged('windows.bed'), windows.map((w) => `${w.chrom}\t${w.start}\t${w.start + L}\t${w.name.replace(/\s+/g, '_')}\n`).join(''));
    const out = o.out.replace(/[\\/]+$/, '') || o.out;
    const names = ['attribute.safetensors', 'onehot.npz', 'hypothetical.npz', 'windows.bed'];
    mkdirSync(out, { recursive: true });
    const files = job.publish(names.map((n) => [n, join(out, n)]));
    return { files, records: N, length: L, ensemble: prepared.ensemble, resumedAt: run.resumedAt, ran: run.ran, gaps };
  });
}
