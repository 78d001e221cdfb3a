/**
 * Seqlet calling, as TF-MoDISco-lite's `extract_seqlets`:
 *  1. the per-position contribution (sum over bases) of every sequence is summed over sliding windows
 *     of `windowSize` bp;
 *  2. a Laplace null is fitted to those window sums: its centre μ is the mode of a two-level
 *     histogram, its rate on each side the largest of −log(1 − q)/(percentile_q − μ) over q = 5…95 %
 *     (the most aggressive), and 10,000 values are drawn from it (NumPy's RandomState(1234));
 *  3. on each side, an isotonic regression of "observed vs. null" (the null weighted to the observed
 *     count) gives each window sum a precision; the threshold is the smallest |sum| whose precision
 *     reaches 1 − `targetFdr` (the implied fraction of null among the observed windows kept in
 *     [0.95, 1]);
 *  4. the thresholds are then moved so that between `minPassingWindowsFrac` and
 *     `maxPassingWindowsFrac` of the windows pass;
 *  5. seqlets are taken greedily per sequence, strongest |window sum| first, each `windowSize` +
 *     2 × `flank` bp long, suppressing ±(⌊windowSize/2⌋ + flank) around each pick;
 *  6. a last threshold, the (weaker of the two sides' quantile, at most
 *     `weakThresholdForCountingSign`) quantile of |window sums|, splits seqlets into positive and
 *     negative by the sum of their central window.
 * Window sums are cumulative sums in float32 differenced in float64, as NumPy computes them from
 * float32 scores, so the numbers (and the null's draws) are TF-MoDISco-lite's.
 */
import { MersenneTwister } from './rng.js';
import { binMode, isotonicFit, percentileSorted, sortedCopy } from './stats.js';
import { Seqlet, type TrackSet } from './track-set.js';

export interface SeqletOptions {
  /** Core window of a seqlet, bp (`sliding_window_size`, `modisco motifs -z`; default 20). */
  windowSize: number;
  /** Flank added on each side (`flank_size`, `-f`; default 5). */
  flank: number;
  /** Target false discovery rate of the windows passing (`target_seqlet_fdr`; 0.05 as `modisco motifs`). */
  targetFdr: number;
  minPassingWindowsFrac: number;
  maxPassingWindowsFrac: number;
  weakThresholdForCountingSign: number;
}

export const DEFAULT_SEQLET_OPTIONS: SeqletOptions = {
  windowSize: 20,
  flank: 5,
  targetFdr: 0.05,
  minPassingWindowsFrac: 0.03,
  maxPassingWindowsFrac: 0.2,
  weakThresholdForCountingSign: 0.8,
};

/** Window sums kept for the threshold fit at most (a seeded subsample above it, as TF-MoDISco-lite). */
const SUBSAMPLE_CAP = 1_000_000;
/** Draws from the Laplace null. */
const NULL_SAMPLES = 10_000;

export interface SeqletCalls {
  /** Seqlets whose central window sum is above `threshold`, in sequence order, strongest first within a sequence. */
  positive: Seqlet[];
  /** … below −`threshold`. */
  negative: Seqlet[];
  /** Window-sum thresholds of the two sides (after the passing-fraction bounds). */
  posThreshold: number;
  negThreshold: number;
  /** Threshold on |central window sum| that assigns a seqlet's sign. */
  threshold: number;
  /** The Laplace null: centre and rates. */
  laplace: { mu: number; posLambda: number; negLambda: number };
  /** Windows scored in all. */
  windows: number;
}

/** Sliding-window sums of every sequence, [N, L - W + 1]. */
export function windowSums(tracks: TrackSet, windowSize: number): Float64Array {
  const { n, length: L } = tracks;
  const d = L - windowSize + 1;
  if (d < 1) throw new RangeError(`seqlets: the window (${windowSize} bp) is longer than the sequences (${L} bp)`);
  const out = new Float64Array(n * d);
  const cum = new Float64Array(L + 1);
  for (let i = 0; i < n; i += 1) {
    const scores = tracks.positionScores(i);
    let c = 0;
    for (let p = 0; p < L; p += 1) {
      c = Math.fround(c + scores[p]!);
      cum[p + 1] = c;
    }
    for (let s = 0; s < d; s += 1) out[i * d + s] = cum[s + windowSize]! - cum[s]!;
  }
  return out;
}

/** The Laplace null's parameters and its seeded draws (positive ones, negative ones). */
export function laplaceNull(values: Float64Array, samples = NULL_SAMPLES, seed = 1234): { mu: number; posLambda: number; negLambda: number; posNull: Float64Array; negNull: Float64Array } {
  const top = binMode(values).inside;
  const { left, right } = binMode(top);
  const mu = (left + right) / 2;
  const pos: number[] = [];
  const neg: number[] = [];
  for (const v of values) {
    if (v >= mu) pos.push(v);
    if (v <= mu) neg.push(v);
  }
  const posSorted = sortedCopy(pos);
  const negSorted = sortedCopy(neg);
  let posLambda = -Infinity;
  let negLambda = -Infinity;
  for (let k = 1; k <= 19; k += 1) {
    const q = 5 * k;
    const l = -Math.log(1 - q / 100);
    posLambda = Math.max(posLambda, l / (percentileSorted(posSorted, q) - mu));
    negLambda = Math.max(negLambda, l / Math.abs(percentileSorted(negSorted, 100 - q) - mu));
  }
  const rng = new MersenneTwister(seed);
  const probPos = pos.length / (pos.length + neg.length);
  const posNull: number[] = [];
  const negNull: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const positive = rng.nextDouble() < probPos;
    const u = rng.nextDouble();
    const v = positive ? -Math.log(1 - u) / posLambda + mu : mu + Math.log(1 - u) / negLambda;
    (v >= 0 ? posNull : negNull).push(v);
  }
  return { mu, posLambda, negLambda, posNull: Float64Array.from(posNull), negNull: Float64Array.from(negNull) };
}

/**
 * The smallest-magnitude observed value whose isotonic precision against the null reaches
 * 1 − targetFdr. `values` are ordered from weakest to strongest (ascending positives, descending
 * negatives).
 */
export function isotonicThreshold(values: Float64Array, nullValues: Float64Array, increasing: boolean, targetFdr: number, minFracNeg = 0.95): number {
  const n1 = values.length;
  const n2 = nullValues.length;
  if (n1 === 0) return increasing ? Infinity : -Infinity;
  const x = new Float64Array(n1 + n2);
  x.set(values, 0);
  x.set(nullValues, n1);
  const y = new Float64Array(n1 + n2);
  y.fill(1, 0, n1);
  const w = new Float64Array(n1 + n2).fill(1);
  if (n2 > 0) w.fill(n1 / n2, n1);
  const { fitted, atExtreme } = isotonicFit(x, y, w, increasing);
  let impliedFracNeg = -1 / (1 - 1 / Math.max(atExtreme, 1e-7));
  if (impliedFracNeg > 1 || impliedFracNeg < minFracNeg) impliedFracNeg = Math.max(Math.min(1, impliedFracNeg), minFracNeg);
  for (let i = 0; i < n1; i += 1) {
    let precision = Math.min(Math.max(1 + impliedFracNeg * (1 - 1 / Math.max(fitted[i]!, 1e-7)), 0), 1);
    if (i === n1 - 1) precision = 1;
    if (precision >= 1 - targetFdr) return values[i]!;
  }
  return values[n1 - 1]!;
}

/** Index of the first element >= v in an ascending array (`np.searchsorted(a, v)`). */
function searchSorted(a: Float64Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function callSeqlets(tracks: TrackSet, options: Partial<SeqletOptions> = {}): SeqletCalls {
  const o = { ...DEFAULT_SEQLET_OPTIONS, ...options };
  const W = o.windowSize;
  const flank = o.flank;
  const { n, length: L } = tracks;
  const d = L - W + 1;
  const sums = windowSums(tracks, W);

  // Observed values for the threshold fit (a seeded subsample of a very large set).
  let observed: Float64Array = sums;
  if (sums.length > SUBSAMPLE_CAP) {
    const idx = new MersenneTwister(1234).choiceWithoutReplacement(sums.length, SUBSAMPLE_CAP);
    observed = Float64Array.from(idx, (i) => sums[i]!);
  }
  const posValues = sortedCopy(observed.filter((v) => v >= 0));
  const negValues = sortedCopy(observed.filter((v) => v < 0)).reverse();

  const nul = laplaceNull(sums);
  let posThreshold = isotonicThreshold(posValues, nul.posNull, true, o.targetFdr);
  let negThreshold = isotonicThreshold(negValues, nul.negNull, false, o.targetFdr);

  // Keep the fraction of passing windows within bounds.
  const all = new Float64Array(posValues.length + negValues.length);
  all.set(posValues, 0);
  all.set(negValues, posValues.length);
  let passing = 0;
  for (const v of all) if (v >= posThreshold || v <= negThreshold) passing += 1;
  const frac = passing / all.length;
  const absSorted = sortedCopy(all.map(Math.abs));
  if (frac < o.minPassingWindowsFrac) {
    posThreshold = percentileSorted(absSorted, 100 * (1 - o.minPassingWindowsFrac));
    negThreshold = -posThreshold;
  }
  if (frac > o.maxPassingWindowsFrac) {
    posThreshold = percentileSorted(absSorted, 100 * (1 - o.maxPassingWindowsFrac));
    negThreshold = -posThreshold;
  }

  const distribution = sortedCopy(sums.map(Math.abs));
  const transformedPos = Math.sign(posThreshold) * (searchSorted(distribution, Math.abs(posThreshold)) / distribution.length);
  const transformedNeg = Math.sign(negThreshold) * (searchSorted(distribution, Math.abs(negThreshold)) / distribution.length);

  // Scores for the greedy pick: |sum| where a window passes, -∞ elsewhere and in the flanks.
  const score = new Float64Array(sums.length);
  for (let i = 0; i < sums.length; i += 1) {
    const v = sums[i]!;
    score[i] = v >= posThreshold || v <= negThreshold ? Math.abs(v) : -Infinity;
  }
  for (let e = 0; e < n; e += 1) {
    for (let s = 0; s < Math.min(flank, d); s += 1) score[e * d + s] = -Infinity;
    for (let s = Math.max(0, d - flank); s < d; s += 1) score[e * d + s] = -Infinity;
  }

  const suppress = Math.trunc(0.5 * W) + flank;
  const coordinates: { example: number; start: number; end: number }[] = [];
  for (let e = 0; e < n; e += 1) {
    const row = score.subarray(e * d, (e + 1) * d);
    for (;;) {
      let best = 0;
      for (let s = 1; s < d; s += 1) if (row[s]! > row[best]!) best = s;
      if (row[best] === -Infinity) break;
      if (best >= flank && best < d - flank) coordinates.push({ example: e, start: best - flank, end: best + W + flank });
      const lo = Math.max(Math.floor(best + 0.5 - suppress), 0);
      const hi = Math.min(Math.ceil(best + 0.5 + suppress), d);
      row.fill(-Infinity, lo, hi);
    }
  }

  const weak = Math.min(Math.min(transformedPos, Math.abs(transformedNeg)) - 0.0001, o.weakThresholdForCountingSign);
  // Python indexing: a (rare) negative index counts from the end, as tfmodisco-lite's does.
  let at = Math.trunc(weak * distribution.length);
  if (at < 0) at += distribution.length;
  const threshold = distribution[Math.min(distribution.length - 1, Math.max(0, at))]!;

  const positive: Seqlet[] = [];
  const negative: Seqlet[] = [];
  for (const c of coordinates) {
    const seqlet = new Seqlet(tracks, c.example, c.start, c.end, false);
    // The central window's contribution (TF-MoDISco-lite takes [flank:-flank], empty when the flank
    // is 0; we take the whole window then).
    const f = Math.trunc(0.5 * (seqlet.length - W));
    const contrib = seqlet.contrib;
    let attr = 0;
    for (let p = f; p < seqlet.length - f; p += 1) for (let b = 0; b < 4; b += 1) attr += contrib[p * 4 + b]!;
    if (attr > threshold) positive.push(seqlet);
    else if (attr < -threshold) negative.push(seqlet);
  }
  return { positive, negative, posThreshold, negThreshold, threshold, laplace: { mu: nul.mu, posLambda: nul.posLambda, negLambda: nul.negLambda }, windows: sums.length };
}
