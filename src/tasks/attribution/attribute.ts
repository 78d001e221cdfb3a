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
import { addForward, checkBatchSize } from '../job/ensemble.js';
import { batches } from '../predict/records.js';
import { runRecords, type AttributionOptions, type PreparedJob } from './runs.js';
import { runObjective } from './objective.js';
import { checkRecords, type SequenceRecord } from './ism.js';

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

/** Gradients and contribution scores of every record, averaged over the ensemble. */
export async function attributeRecords(records: SequenceRecord[], source: string, opts: AttributeOptions): Promise<AttributeResult> {
  const length = checkRecords(records, source);
  const batchSize = checkBatchSize(opts.batchSize);
  const R = records.length;
  const sum = new Float64Array(R * length * 4);
  const objSum = new Float64Array(R);
  const groups = batches(records, batchSize).map(([start, end]) => Array.from({ length: end - start }, (_, j) => start + j));
  const job = await runRecords(
    opts,
    records,
    length,
    source,
    groups,
    (model, { input }, batch, j) => model.inputGradients(input, runObjective(j.objective, batch.items[0]!.run.rc)),
    (g, batch) =>
      batch.items.forEach(({ unit: r, run }, j) => {
        objSum[r] += g.objective[j]!;
        addForward(sum, r * length * 4, g.grad, j, length, run);
      }),
  );
  const n = job.ensemble;
  const grad = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) grad[i] = sum[i]! / n;
  const objective = Float32Array.from(objSum, (v) => v / n);
  const gradXInput = new Float32Array(R * length);
  const gradCenteredXInput = new Float32Array(R * length);
  records.forEach((r, i) => {
    const s = contributionScores(grad.subarray(i * length * 4, (i + 1) * length * 4), Model.encode([r.sequence]).data, length);
    gradXInput.set(s.gradXInput, i * length);
    gradCenteredXInput.set(s.gradCenteredXInput, i * length);
  });
  return { job, length, objective, grad, gradXInput, gradCenteredXInput };
}
