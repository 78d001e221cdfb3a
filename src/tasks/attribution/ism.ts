/**
 * In-silico mutagenesis: for every position i of a window and every base k,
 *   ism[i, k] = objective(sequence with position i set to base k) - objective(sequence),
 * 0 at the reference base. At an N position (all-zero row) there is no reference base: all four
 * entries are relative to the all-zero row and none is forced to 0. `ism_ref_base` is the reference
 * base index (A,C,G,T = 0..3), -1 at N.
 *
 * Exact and incremental: per sequence and ensemble run the reference trunk is computed once; a
 * batch of mutants gets `Model.trunkPatch` of it (only the trunk tile the changed positions reach is
 * recomputed), then the head. `bruteForce` runs full forward passes instead (for checks and
 * benchmarks); both give the same numbers up to float32 round-off.
 */
import { Model, type OneHotBatch } from '../../models/model.js';
import type { TensorData } from '../../engine/engine.js';
import { checkBatchSize, runPosition } from '../job/ensemble.js';
import { runRecords, type AttributionOptions, type PreparedJob } from './runs.js';
import { objectiveOf, runObjective, type Objective } from './objective.js';

export class IsmInputError extends Error {}

/** One substitution in a run's coordinates. */
export interface Substitution {
  pos: number;
  base: number;
}

export interface EffectOptions {
  /** Mutant sequences per model run (default 4). */
  batchSize?: number;
  bruteForce?: boolean;
}

/** `rows` copies of batch item 0 of every trunk tensor ([1, P, C] -> [rows, P, C]). */
function repeatRow(trunk: Record<string, TensorData>, rows: number): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const [name, t] of Object.entries(trunk)) {
    const [, P, C] = t.dims as [number, number, number];
    const src = (t.data as Float32Array).subarray(0, P * C);
    const data = new Float32Array(rows * P * C);
    for (let r = 0; r < rows; r++) data.set(src, r * P * C);
    out[name] = { dtype: 'float32', dims: [rows, P, C], data };
  }
  return out;
}

/**
 * A change of one sequence in a run's coordinates: `positions[i]` set to base `bases[i]` (0..3; -1:
 * N, the all-zero row). A substitution changes one position; a shuffle-ISM sample a window of them.
 */
export interface Edit {
  positions: number[];
  bases: number[];
}

/** A batch of edited copies of a single sequence `ref` ([1, L, 4]), one edit each. */
function edited(ref: OneHotBatch, edits: Edit[]): OneHotBatch {
  const row = ref.length * 4;
  const data = new Float32Array(edits.length * row);
  edits.forEach((e, j) => {
    data.set(ref.data.subarray(0, row), j * row);
    e.positions.forEach((pos, i) => {
      data.fill(0, j * row + pos * 4, j * row + pos * 4 + 4);
      if (e.bases[i]! >= 0) data[j * row + pos * 4 + e.bases[i]!] = 1;
    });
  });
  return { data, batch: edits.length, length: ref.length };
}

/**
 * objective(mutant) - objective(ref) for each substitution of the single sequence `ref`, and the
 * reference objective; exact, reusing the reference trunk unless `bruteForce`.
 */
export function substitutionEffects(
  model: Model,
  ref: OneHotBatch,
  subs: Substitution[],
  objective: Objective,
  opts: EffectOptions = {},
): Promise<{ reference: number; effects: Float64Array }> {
  return editEffects(model, ref, subs.map((s) => ({ positions: [s.pos], bases: [s.base] })), objective, opts);
}

/**
 * objective(edited) - objective(ref) for each edit of the single sequence `ref`, and the reference
 * objective; exact, reusing the reference trunk unless `bruteForce`: a batch of edits recomputes only
 * the trunk tile their positions reach (`Model.trunkPatch`), then the head.
 */
export async function editEffects(
  model: Model,
  ref: OneHotBatch,
  edits: Edit[],
  objective: Objective,
  opts: EffectOptions = {},
): Promise<{ reference: number; effects: Float64Array }> {
  if (ref.batch !== 1) throw new Error('editEffects takes one reference sequence');
  const { length } = ref;
  const batchSize = opts.batchSize ?? 4;
  const bins = model.outputBins(length);
  const T = model.arch.tracks(objective.head);
  const heads = [objective.head];
  const effects = new Float64Array(edits.length);
  const refTrunk = opts.bruteForce ? undefined : await model.trunk(ref);
  const refOut = refTrunk ? await model.head(refTrunk, length, { heads }) : await model.predict(ref, { heads });
  const reference = objectiveOf(refOut.heads[objective.head]!.data, 0, bins, T, objective);
  for (let i = 0; i < edits.length; i += batchSize) {
    const group = edits.slice(i, i + batchSize);
    const alt = edited(ref, group);
    let out;
    if (refTrunk) {
      const lo = Math.min(...group.flatMap((e) => e.positions));
      const hi = Math.max(...group.flatMap((e) => e.positions)) + 1;
      out = await model.head(await model.trunkPatch(repeatRow(refTrunk, group.length), alt, lo, hi), length, { heads });
    } else {
      out = await model.predict(alt, { heads });
    }
    const data = out.heads[objective.head]!.data;
    group.forEach((_, j) => (effects[i + j] = objectiveOf(data, j, bins, T, objective) - reference));
  }
  return { reference, effects };
}

export interface SequenceRecord {
  name: string;
  sequence: string;
}

export interface IsmOptions extends AttributionOptions, EffectOptions {
  /** Positions to mutate, 0-based inclusive. */
  window: [number, number];
  /** Called after each record of each ensemble run. */
  onProgress?: (done: number, total: number) => void;
}

export interface IsmResult {
  job: PreparedJob;
  /** [records, W, 4]: ensemble-mean effect of each substitution. */
  ism: Float32Array;
  /** [records, W]: reference base index, -1 at N. */
  refBase: Int32Array;
  /** [records]: ensemble-mean objective of each unmutated sequence. */
  objective: Float32Array;
  width: number;
}

const BASE_INDEX: Record<string, number> = { A: 0, C: 1, G: 2, T: 3 };

/** Reference base indices of positions [a, b] of a sequence (-1 at N). */
export function referenceBases(sequence: string, window: [number, number]): Int32Array {
  const out = new Int32Array(window[1] - window[0] + 1);
  for (let i = 0; i < out.length; i++) out[i] = BASE_INDEX[sequence[window[0] + i]!.toUpperCase()] ?? -1;
  return out;
}

/** Checks that records are there, of one length, and valid letters; returns the length. */
export function checkRecords(records: SequenceRecord[], source: string): number {
  if (records.length === 0) throw new IsmInputError(`${source}: no records`);
  const length = records[0]!.sequence.length;
  for (const r of records) {
    if (r.sequence.length !== length) {
      throw new IsmInputError(`${source}: record '${r.name}' has ${r.sequence.length} bp but record '${records[0]!.name}' has ${length}; all records must have one length`);
    }
  }
  // Encoding is the letter check; one record at a time keeps memory small.
  for (const r of records) Model.encode([r.sequence], [`${source}: record '${r.name}'`]);
  return length;
}

/** Throws unless positions [a, b] lie inside a sequence of `length` bp. */
export function checkWindow(window: [number, number], length: number, what = '--window'): void {
  if (window[1] >= length) throw new IsmInputError(`${what} ${window[0]}-${window[1]}: outside the sequence (${length} bp, positions 0-${length - 1})`);
}

/** ISM of every record over the same window, averaged over the ensemble. */
export async function ismRecords(records: SequenceRecord[], source: string, opts: IsmOptions): Promise<IsmResult> {
  const length = checkRecords(records, source);
  checkWindow(opts.window, length);
  checkBatchSize(opts.batchSize, 4);
  const [w0] = opts.window;
  const W = opts.window[1] - w0 + 1;
  const R = records.length;
  const refBase = new Int32Array(R * W);
  records.forEach((r, i) => refBase.set(referenceBases(r.sequence, opts.window), i * W));
  const sum = new Float64Array(R * W * 4);
  const objSum = new Float64Array(R);
  // One record per batch: its mutants make the model runs (substitutionEffects batches them).
  const job = await runRecords(
    opts,
    records,
    length,
    source,
    records.map((_, r) => [r]),
    async (model, { input }, batch, j) => {
      const { unit: r, run } = batch.items[0]!;
      const subs: Substitution[] = [];
      const slots: number[] = [];
      for (let i = 0; i < W; i++) {
        const q = runPosition(w0 + i, length, run);
        if (q < 0) continue; // shifted out of this run: no effect
        const rb = refBase[r * W + i]!;
        for (let k = 0; k < 4; k++) {
          if (k === rb) continue;
          subs.push({ pos: q, base: run.rc ? 3 - k : k });
          slots.push((r * W + i) * 4 + k);
        }
      }
      return { slots, ...(await substitutionEffects(model, input, subs, runObjective(j.objective, run.rc), opts)) };
    },
    ({ slots, reference, effects }, batch) => {
      objSum[batch.items[0]!.unit] += reference;
      slots.forEach((s, n) => (sum[s] += effects[n]!));
    },
  );
  const ism = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) ism[i] = sum[i]! / job.ensemble;
  const objective = new Float32Array(R);
  for (let r = 0; r < R; r++) objective[r] = objSum[r]! / job.ensemble;
  return { job, ism, refBase, objective, width: W };
}
