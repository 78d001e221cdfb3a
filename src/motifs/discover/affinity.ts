/**
 * Fine similarities and alignments (TF-MoDISco-lite's affinitymat.py):
 *  - the continuous Jaccard similarity of two equally shaped arrays,
 *      Σ min(|x|, |y|)·sign(x)·sign(y) / Σ max(|x|, |y|),
 *    on the tracks of a seqlet or pattern: its hypothetical and actual contributions, each scaled to
 *    unit L1 norm, side by side ([length, 8]);
 *  - sliding it: y is zero-padded by ⌊or ⌈length × (1 − minOverlap)⌉ rows on each side and x slid
 *    over it; the best offset wins (`jaccard`), and the larger of the forward and reverse-complement
 *    alignments;
 *  - the same sliding with cosine similarity of mean-centred contributions (`pearson_correlation`),
 *    used to align patterns when merging them.
 */
import type { Seqlet } from './track-set.js';

/** What a seqlet or a pattern offers for similarity: [length, 4] tracks. */
export interface Tracks4 {
  readonly length: number;
  readonly contrib: ArrayLike<number>;
  readonly hypothetical: ArrayLike<number>;
}

/** Rows reversed and bases complemented. */
export function revcomp4(x: ArrayLike<number>, length: number): Float64Array {
  const out = new Float64Array(length * 4);
  for (let p = 0; p < length; p += 1) for (let b = 0; b < 4; b += 1) out[p * 4 + b] = x[(length - 1 - p) * 4 + 3 - b]!;
  return out;
}

function l1(x: ArrayLike<number>): Float64Array {
  let s = 0;
  for (let i = 0; i < x.length; i += 1) s += Math.abs(x[i]!);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += 1) out[i] = x[i]!;
  if (s !== 0) for (let i = 0; i < out.length; i += 1) out[i]! /= s;
  return out;
}

function magnitude(x: ArrayLike<number>): Float64Array {
  let mean = 0;
  for (let i = 0; i < x.length; i += 1) mean += x[i]!;
  mean /= x.length;
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += 1) out[i] = x[i]! - mean;
  let norm = 0;
  for (const v of out) norm += v * v;
  norm = Math.sqrt(norm) + 1e-7;
  for (let i = 0; i < out.length; i += 1) out[i]! /= norm;
  return out;
}

/** Side-by-side [length, width] rows of several [length, 4] tracks. */
function interleave(parts: Float64Array[], length: number): Float64Array {
  const width = parts.length * 4;
  const out = new Float64Array(length * width);
  for (let p = 0; p < length; p += 1) parts.forEach((part, k) => out.set(part.subarray(p * 4, p * 4 + 4), p * width + k * 4));
  return out;
}

/** A [length, width] matrix of features for similarity. */
export interface Features {
  length: number;
  width: number;
  data: Float64Array;
  /** |data| and sign(data), made on first use by the Jaccard. */
  abs?: Float64Array;
  sign?: Float64Array;
  /**
   * When the last 4 columns hold at most one non-zero per row (actual contributions of a one-hot
   * sequence), that column per row (-1: none) and its |value| and sign: the Jaccard then handles
   * those columns in one step per row. Made on first use.
   */
  tail?: { col: Int8Array; abs: Float64Array; sign: Float64Array } | null;
}

function oneHotTail(f: Features): { col: Int8Array; abs: Float64Array; sign: Float64Array } | null {
  if (f.tail !== undefined) return f.tail;
  f.tail = null;
  if (f.width !== 8) return null;
  const col = new Int8Array(f.length).fill(-1);
  const abs = new Float64Array(f.length);
  const sign = new Float64Array(f.length);
  for (let p = 0; p < f.length; p += 1) {
    for (let c = 0; c < 4; c += 1) {
      const v = f.data[p * 8 + 4 + c]!;
      if (v === 0) continue;
      if (col[p] !== -1) return null;
      col[p] = c;
      abs[p] = Math.abs(v);
      sign[p] = v > 0 ? 1 : -1;
    }
  }
  f.tail = { col, abs, sign };
  return f.tail;
}

function absSign(f: Features): { abs: Float64Array; sign: Float64Array } {
  if (!f.abs || !f.sign) {
    const n = f.data.length;
    f.abs = new Float64Array(n);
    f.sign = new Float64Array(n);
    for (let i = 0; i < n; i += 1) {
      const v = f.data[i]!;
      f.abs[i] = v < 0 ? -v : v;
      f.sign[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
    }
  }
  return { abs: f.abs, sign: f.sign };
}

/**
 * Forward and reverse-complement features (`get_2d_data_from_patterns`): 'l1' with the hypothetical
 * contributions (width 8), or 'magnitude' of the actual contributions only (width 4).
 */
export function features(t: Tracks4, transformer: 'l1' | 'magnitude' = 'l1', includeHypothetical = true): { fwd: Features; rev: Features } {
  const f = transformer === 'l1' ? l1 : magnitude;
  const tracks = includeHypothetical ? [t.hypothetical, t.contrib] : [t.contrib];
  const L = t.length;
  const fwd = interleave(tracks.map((x) => f(x)), L);
  const rev = interleave(tracks.map((x) => f(revcomp4(x, L))), L);
  const width = tracks.length * 4;
  return { fwd: { length: L, width, data: fwd }, rev: { length: L, width, data: rev } };
}

/**
 * Continuous Jaccard of x (length dx) slid over y zero-padded by `pad` rows on each side: the best
 * score and its offset (x's first row against y's row `offset`; negative: before y starts).
 */
export function slidingJaccard(x: Features, y: Features, pad: number): { score: number; offset: number } {
  const w = x.width;
  const dx = x.length;
  const { abs: xa, sign: xs } = absSign(x);
  const { abs: ya, sign: ys } = absSign(y);
  const xt = oneHotTail(x);
  const yt = xt ? oneHotTail(y) : null;
  const ylen = y.length;
  const outputs = 1 + ylen + 2 * pad - dx;
  // |x| summed over rows, for rows that fall on the padding.
  const absRow = new Float64Array(dx + 1);
  for (let p = 0; p < dx; p += 1) {
    let s = 0;
    for (let c = 0; c < w; c += 1) s += xa[p * w + c]!;
    absRow[p + 1] = absRow[p]! + s;
  }
  let best = -Infinity;
  let bestOffset = 0;
  for (let idx = 0; idx < outputs; idx += 1) {
    const shift = idx - pad; // x row p meets y row p + shift
    const pFrom = shift < 0 ? -shift : 0;
    const pTo = dx < ylen - shift ? dx : ylen - shift;
    let minSum = 0;
    let maxSum = absRow[dx]! - (pTo > pFrom ? absRow[pTo]! - absRow[pFrom]! : 0);
    const yShift = shift * w;
    if (xt && yt) {
      // Four dense columns, then the one-hot tail in one step.
      for (let p = pFrom; p < pTo; p += 1) {
        const i0 = p * 8;
        for (let i = i0; i < i0 + 4; i += 1) {
          const a = xa[i]!;
          const b = ya[i + yShift]!;
          minSum += Math.min(a, b) * xs[i]! * ys[i + yShift]!;
          maxSum += Math.max(a, b);
        }
        const q = p + shift;
        const a = xt.abs[p]!;
        const b = yt.abs[q]!;
        if (xt.col[p] === yt.col[q]) {
          minSum += Math.min(a, b) * xt.sign[p]! * yt.sign[q]!;
          maxSum += Math.max(a, b);
        } else maxSum += a + b;
      }
    } else {
      const end = pTo * w;
      for (let i = pFrom * w; i < end; i += 1) {
        const a = xa[i]!;
        const b = ya[i + yShift]!;
        minSum += Math.min(a, b) * xs[i]! * ys[i + yShift]!;
        maxSum += Math.max(a, b);
      }
    }
    const score = minSum / maxSum;
    if (score > best) {
      best = score;
      bestOffset = shift;
    }
  }
  return { score: best, offset: bestOffset };
}

/** Continuous Jaccard of two equally long flat vectors. */
export function jaccardFlat(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let minSum = 0;
  let maxSum = 0;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i]!;
    const y = b[i]!;
    const ax = Math.abs(x);
    const ay = Math.abs(y);
    const sign = Math.sign(x) * Math.sign(y);
    if (ax > ay) {
      minSum += ay * sign;
      maxSum += ax;
    } else {
      minSum += ax * sign;
      maxSum += ay;
    }
  }
  return minSum / maxSum;
}

/** Rows of zero padding for a sequence of `length` and a minimum overlap (`int` or `ceil` of length × (1 − overlap)). */
export function padFor(length: number, minOverlap: number, round: 'floor' | 'ceil'): number {
  const v = length * (1 - minOverlap);
  return round === 'ceil' ? Math.ceil(v) : Math.trunc(v);
}

/**
 * The fine similarity of each seqlet to each of its coarse neighbours (`jaccard_from_seqlets`): the
 * larger of the sliding Jaccard of the neighbour's forward and reverse features over the seqlet's
 * forward features.
 */
export function fineSimilarities(seqlets: Seqlet[], neighbors: Int32Array[], minOverlap: number): Float64Array[] {
  const feats = seqlets.map((s) => features(s));
  return seqlets.map((_, l) => {
    const y = feats[l]!.fwd;
    const row = neighbors[l]!;
    const out = new Float64Array(row.length);
    for (let i = 0; i < row.length; i += 1) {
      const f = feats[row[i]!]!;
      const pad = padFor(f.fwd.length, minOverlap, 'floor');
      out[i] = Math.max(slidingJaccard(f.fwd, y, pad).score, slidingJaccard(f.rev, y, pad).score);
    }
    return out;
  });
}

/**
 * Sliding cosine similarity of x over y zero-padded by ⌈len(x) × (1 − minOverlap)⌉ rows
 * (`pearson_correlation` on 'magnitude' features): best score and offset.
 */
export function slidingCosine(x: Features, y: Features, pad: number): { score: number; offset: number } {
  const w = x.width;
  const dx = x.length;
  let xNorm = 0;
  for (const v of x.data) xNorm += v * v;
  xNorm = Math.sqrt(xNorm);
  const outputs = 1 + y.length + 2 * pad - dx;
  let best = -Infinity;
  let bestOffset = 0;
  for (let idx = 0; idx < outputs; idx += 1) {
    const shift = idx - pad;
    const pFrom = Math.max(0, -shift);
    const pTo = Math.min(dx, y.length - shift);
    let dot = 0;
    let yNorm = 0;
    for (let p = pFrom; p < pTo; p += 1) {
      for (let c = 0; c < w; c += 1) {
        const b = y.data[(p + shift) * w + c]!;
        dot += x.data[p * w + c]! * b;
        yNorm += b * b;
      }
    }
    let score = dot / (xNorm * Math.sqrt(yNorm));
    if (!Number.isFinite(score)) score = Number.isNaN(score) ? 0 : score > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE;
    if (score > best) {
      best = score;
      bestOffset = shift;
    }
  }
  return { score: best, offset: bestOffset };
}
