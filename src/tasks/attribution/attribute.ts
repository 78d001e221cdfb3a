/**
 * Contribution scores: the gradient of the objective with respect to the one-hot input, and two
 * per-position scores derived from it with the input x (one-hot, N = all-zero row):
 *   grad_x_input[p]          = Σ_k grad[p, k] · x[p, k]                      (Enformer usage notebook)
 *   grad_centered_x_input[p] = Σ_k (grad[p, k] − mean_j grad[p, j]) · x[p, k] (baskerville / Borzoi)
 * Both are 0 at N positions.
 *
 * Ensembling: each run's gradient is mapped back to forward-strand positions and bases (a shifted
 * run's position p + shift is forward position p; a reverse-complement run's position q, base k is
 * forward position L − 1 − q, base 3 − k) and the runs are averaged, which is the gradient of the
 * ensemble-mean objective.
 */
import { Model } from '../../models/model.js';
import { addForward, checkBatchSize, runSequence, type EnsembleRun } from '../job/ensemble.js';
import type { Batch, RunInput } from '../job/run-core.js';
import { batches } from '../predict/records.js';
import { runRecords, type AttributionOptions, type PreparedJob } from './runs.js';
import { runObjective, type ResolvedObjective } from './objective.js';
import { checkRecords, type SequenceRecord } from './ism.js';
import { baselineSequence, checkIgSettings, integratedGradients, type IgSettings } from './integrated-gradients.js';

export interface AttributeOptions extends AttributionOptions {
  /** Records per model run (default 1). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface AttributeResult {
  job: PreparedJob;
  length: number;
  /** [records]: ensemble-mean objective. */
  objective: Float32Array;
  /** [records, L, 4]. */
  grad: Float32Array;
  /** [records, L]. */
  gradXInput: Float32Array;
  /** [records, L]. */
  gradCenteredXInput: Float32Array;
}

/** grad × input and mean-centred grad × input per position of a one-hot [n, 4] (n positions). */
export function contributionScores(grad: ArrayLike<number>, onehot: ArrayLike<number>, n: number): { gradXInput: Float32Array; gradCenteredXInput: Float32Array } {
  const gradXInput = new Float32Array(n);
  const gradCenteredXInput = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    let gx = 0;
    let mean = 0;
    let hot = 0;
    for (let k = 0; k < 4; k++) {
      const g = grad[p * 4 + k]!;
      const x = onehot[p * 4 + k]!;
      gx += g * x;
      mean += g;
      hot += x;
    }
    mean /= 4;
    gradXInput[p] = gx;
    gradCenteredXInput[p] = gx - mean * hot;
  }
  return { gradXInput, gradCenteredXInput };
}

/**
 * The per-base attribution methods: `gradient` (d objective / d one-hot) and `integrated-gradients`
 * (integrated-gradients.ts). Both give [L, 4] per record and ensemble run, mapped back to forward
 * positions and bases the same way, so the in-memory records job below and the resumable BED job
 * (bed-job.ts) share one request.
 */
export type PerBaseMethod = { kind: 'gradient' } | { kind: 'integrated-gradients'; ig: Required<IgSettings> };

/** One item's result in its run's coordinates: [L, 4] values, f(x), and f(x₀) for IG (0 otherwise). */
export interface PerBaseItem {
  values: Float32Array;
  objective: number;
  baseline: number;
}

/** Records (or units) per model run: a gradient batch holds `batchSize` sequences; IG one sequence, whose steps make the batches. */
export const unitsPerBatch = (method: PerBaseMethod, batchSize: number): number => (method.kind === 'gradient' ? batchSize : 1);

/**
 * What a batch of items computes. `baselineOf` gives an item's forward-strand IG baseline; it is
 * shifted and reverse-complemented with the run like the sequence.
 */
export async function perBaseRequest<U>(method: PerBaseMethod, model: Model, input: RunInput, batch: Batch<U>, objective: ResolvedObjective, baselineOf: (unit: U) => string): Promise<PerBaseItem[]> {
  const L = input.input.length;
  const n = L * 4;
  if (method.kind === 'gradient') {
    // A batch may hold items of both strands (the BED job cuts windows × runs into batches): a
    // reverse-complement run's objective reads the mirrored bins of the strand twins, so each
    // strand's items are one call with their own objective.
    const out: PerBaseItem[] = new Array(batch.items.length);
    for (const rc of [false, true]) {
      const js = batch.items.flatMap((it, j) => (it.run.rc === rc ? [j] : []));
      if (js.length === 0) continue;
      let x = input.input;
      if (js.length < batch.items.length) {
        const data = new Float32Array(js.length * n);
        js.forEach((j, i) => data.set(input.input.data.subarray(j * n, (j + 1) * n), i * n));
        x = { data, batch: js.length, length: L };
      }
      const g = await model.inputGradients(x, runObjective(objective, rc));
      js.forEach((j, i) => (out[j] = { values: g.grad.subarray(i * n, (i + 1) * n), objective: g.objective[i]!, baseline: 0 }));
    }
    return out;
  }
  const out: PerBaseItem[] = [];
  for (const [j, it] of batch.items.entries()) {
    const x = { data: input.input.data.subarray(j * n, (j + 1) * n), batch: 1, length: L };
    const x0 = Model.encode([runSequence(baselineOf(it.unit), it.run)]);
    const r = await integratedGradients(model, x, x0, runObjective(objective, it.run.rc), method.ig.steps, method.ig.pointsPerRun);
    out.push({ values: r.ig, objective: r.objective, baseline: r.baseline });
  }
  return out;
}

/** Per-base methods run the input-gradient path only (IG's baseline too): their models never make the prediction sessions. */
export function gradientsOnlyLoad<O extends AttributionOptions>(opts: O): O {
  return { ...opts, load: { ...opts.load, gradientsOnly: true } };
}

/** Adds item `j`'s result into a record's sum: [L, 4] values (forward coordinates), then f(x), f(x₀). */
export function addPerBase(sum: Float64Array, at: number, r: PerBaseItem[], j: number, length: number, run: EnsembleRun): void {
  addForward(sum, at, r[j]!.values, 0, length, run);
  sum[at + length * 4] += r[j]!.objective;
  sum[at + length * 4 + 1] += r[j]!.baseline;
}

/** Values per record of a per-base sum: [L, 4], then the objective and the baseline objective. */
export const perBaseSlot = (length: number): number => length * 4 + 2;

export interface PerBaseResult {
  job: PreparedJob;
  length: number;
  /** [records, L, 4]: ensemble mean. */
  values: Float32Array;
  /** [records]: ensemble-mean f(x), f(x₀). */
  objective: Float32Array;
  baseline: Float32Array;
  /** [records]: |Σ values − (f(x) − f(x₀))| from the float64 sums (IG's completeness gap). */
  gap: Float64Array;
}

/** A per-base method on every record, averaged over the ensemble (in memory). */
export async function perBaseRecords(records: SequenceRecord[], source: string, method: PerBaseMethod, opts: AttributeOptions): Promise<PerBaseResult> {
  const length = checkRecords(records, source);
  const batchSize = checkBatchSize(opts.batchSize);
  const R = records.length;
  const S = perBaseSlot(length);
  const sum = new Float64Array(R * S);
  const groups = batches(records, unitsPerBatch(method, batchSize)).map(([start, end]) => Array.from({ length: end - start }, (_, j) => start + j));
  const baselines = method.kind === 'integrated-gradients' ? records.map((r, i) => baselineSequence(r.sequence, method.ig, i)) : [];
  const job = await runRecords(
    gradientsOnlyLoad(opts),
    records,
    length,
    source,
    groups,
    (model, input, batch, j) => perBaseRequest(method, model, input, batch, j.objective, (r) => baselines[r]!),
    (g, batch) => batch.items.forEach(({ unit: r, run }, j) => addPerBase(sum, r * S, g, j, length, run)),
  );
  const n = job.ensemble;
  const values = new Float32Array(R * length * 4);
  const objective = new Float32Array(R);
  const baseline = new Float32Array(R);
  const gap = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let total = 0;
    for (let i = 0; i < length * 4; i++) {
      values[r * length * 4 + i] = sum[r * S + i]! / n;
      total += sum[r * S + i]! / n;
    }
    objective[r] = sum[r * S + length * 4]! / n;
    baseline[r] = sum[r * S + length * 4 + 1]! / n;
    gap[r] = Math.abs(total - (sum[r * S + length * 4]! - sum[r * S + length * 4 + 1]!) / n);
  }
  return { job, length, values, objective, baseline, gap };
}

/** Gradients and contribution scores of every record, averaged over the ensemble. */
export async function attributeRecords(records: SequenceRecord[], source: string, opts: AttributeOptions): Promise<AttributeResult> {
  const r = await perBaseRecords(records, source, { kind: 'gradient' }, opts);
  const { length } = r;
  const R = records.length;
  const gradXInput = new Float32Array(R * length);
  const gradCenteredXInput = new Float32Array(R * length);
  records.forEach((rec, i) => {
    const s = contributionScores(r.values.subarray(i * length * 4, (i + 1) * length * 4), Model.encode([rec.sequence]).data, length);
    gradXInput.set(s.gradXInput, i * length);
    gradCenteredXInput.set(s.gradCenteredXInput, i * length);
  });
  return { job: r.job, length, objective: r.objective, grad: r.values, gradXInput, gradCenteredXInput };
}

export interface IgResult extends PerBaseResult {
  settings: Required<IgSettings>;
  /** [records, L]: IG summed over the bases. */
  perPosition: Float32Array;
}

/** Integrated gradients of every record, averaged over the ensemble; `batchSize` counts interpolation points per gradient run. */
export async function integratedGradientsRecords(records: SequenceRecord[], source: string, opts: AttributeOptions & IgSettings): Promise<IgResult> {
  const settings = checkIgSettings({ ...opts, pointsPerRun: opts.pointsPerRun ?? opts.batchSize });
  const r = await perBaseRecords(records, source, { kind: 'integrated-gradients', ig: settings }, { ...opts, batchSize: 1 });
  return { ...r, settings, perPosition: sumOverBases(r.values, r.length * records.length) };
}

/** [n, 4] summed over the 4 bases. */
export function sumOverBases(values: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let p = 0; p < n; p++) out[p] = values[p * 4]! + values[p * 4 + 1]! + values[p * 4 + 2]! + values[p * 4 + 3]!;
  return out;
}
