/**
 * Integrated gradients (Sundararajan et al. 2017) of the attribution objective, as a right Riemann
 * sum over m steps along the straight path from a baseline x₀ to the input x:
 *
 *   IG = (x − x₀) ⊙ (1/m) Σ_{k=1..m} ∇f(x₀ + (k/m)(x − x₀))
 *
 * The m interpolation points go through the model's input-gradient path (`Model.inputGradients`,
 * tiled or not as the model is loaded) `pointsPerRun` at a time; the k = m point is x itself, so
 * f(x) comes with its gradient, and x₀ (k = 0) rides along as one more point whose gradient is not
 * summed: f(x₀) then needs no prediction sessions (a gradients-only model never makes them; one more
 * point costs 1/m of the job, those sessions ~1–2 GB of memory at full size). Completeness says
 * Σ IG = f(x) − f(x₀) as m → ∞; the gap |Σ IG − (f(x) − f(x₀))| is the Riemann error (O(1/m) for
 * a smooth path) plus float32 round-off, and is reported per record.
 *
 * Baselines: all-zero rows (`zero`, the N sequence; default) or a seeded dinucleotide shuffle of the
 * input (`shuffle`, shuffle.ts), the same shuffle for every ensemble run of a record. Ensembling maps
 * each run's IG back to forward positions and bases like a gradient (addForward): IG is linear in the
 * gradients, and x − x₀ maps the same way.
 */
import type { Model, OneHotBatch } from '../../models/model.js';
import type { Objective } from './objective.js';
import { dinucShuffle, seededRandom, seedOf } from './shuffle.js';

export type IgBaseline = 'zero' | 'shuffle';

export interface IgSettings {
  /** m, the Riemann steps (default DEFAULT_IG_STEPS). */
  steps?: number;
  baseline?: IgBaseline;
  /** Seeds the shuffled baseline (default 0). */
  seed?: number;
  /** Interpolation points per gradient run (default 4). */
  pointsPerRun?: number;
}

/** Steps by default: Captum's and tangermeme's default is 50; 32 keeps the gap small on our fixtures (see docs/attribution.md). */
export const DEFAULT_IG_STEPS = 32;

export class IgSettingsError extends Error {}

export function checkIgSettings(s: IgSettings): Required<IgSettings> {
  const steps = s.steps ?? DEFAULT_IG_STEPS;
  if (!Number.isInteger(steps) || steps < 1) throw new IgSettingsError(`--steps ${steps}: must be a positive integer`);
  const pointsPerRun = s.pointsPerRun ?? 4;
  if (!Number.isInteger(pointsPerRun) || pointsPerRun < 1) throw new IgSettingsError(`interpolation points per run must be a positive integer, not ${pointsPerRun}`);
  const seed = s.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new IgSettingsError(`--seed ${seed}: must be a non-negative integer`);
  return { steps, baseline: s.baseline ?? 'zero', seed, pointsPerRun };
}

/** The forward-strand baseline sequence of a record (`key` tells records apart in the shuffle's seed). */
export function baselineSequence(sequence: string, s: Required<IgSettings>, key: number): string {
  return s.baseline === 'zero' ? 'N'.repeat(sequence.length) : dinucShuffle(sequence, seededRandom(seedOf(s.seed, key)));
}

export interface IgRun {
  /** [L, 4] in the run's coordinates. */
  ig: Float32Array;
  /** f(x) and f(x₀). */
  objective: number;
  baseline: number;
}

/** IG of one sequence `x` ([1, L, 4]) from baseline `x0` under `objective`, in the run's coordinates. */
export async function integratedGradients(model: Model, x: OneHotBatch, x0: OneHotBatch, objective: Objective, steps: number, pointsPerRun: number): Promise<IgRun> {
  if (x.batch !== 1 || x0.batch !== 1 || x0.length !== x.length) throw new Error('integratedGradients takes one sequence and a baseline of its length');
  const n = x.length * 4;
  const sum = new Float64Array(n);
  let fx = NaN;
  let fx0 = NaN;
  // Points k = 0 … m in runs of `pointsPerRun`: k = 0 is x₀ (its objective only), k = m is x.
  for (let k0 = 0; k0 <= steps; k0 += pointsPerRun) {
    const count = Math.min(pointsPerRun, steps - k0 + 1);
    const data = new Float32Array(count * n);
    for (let j = 0; j < count; j++) {
      const a = (k0 + j) / steps;
      for (let i = 0; i < n; i++) data[j * n + i] = x0.data[i]! + a * (x.data[i]! - x0.data[i]!);
    }
    const g = await model.inputGradients({ data, batch: count, length: x.length }, objective);
    for (let j = k0 === 0 ? 1 : 0; j < count; j++) for (let i = 0; i < n; i++) sum[i] += g.grad[j * n + i]!;
    if (k0 === 0) fx0 = g.objective[0]!;
    if (k0 + count - 1 === steps) fx = g.objective[count - 1]!;
  }
  const ig = new Float32Array(n);
  for (let i = 0; i < n; i++) ig[i] = ((x.data[i]! - x0.data[i]!) * sum[i]!) / steps;
  return { ig, objective: fx, baseline: fx0 };
}

/** |Σ IG − (f(x) − f(x₀))| of one record. */
export function completenessGap(ig: ArrayLike<number>, objective: number, baseline: number): number {
  let total = 0;
  for (let i = 0; i < ig.length; i++) total += ig[i]!;
  return Math.abs(total - (objective - baseline));
}
