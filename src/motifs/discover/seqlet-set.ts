/**
 * A pattern: seqlets aligned at their first row, and the per-position averages of their tracks
 * (TF-MoDISco-lite's `SeqletSet`): `sequence` (the position probability matrix), `contrib` (the
 * contribution weight matrix, CWM) and `hypothetical` (the hypothetical CWM), each [length, 4] float64.
 * A seqlet joins once (by example, start and end); a position's average is over the seqlets that
 * reach it.
 */
import { Seqlet, type TrackSet } from './track-set.js';

export class SeqletSet {
  readonly seqlets: Seqlet[] = [];
  readonly keys = new Set<string>();
  readonly length: number;
  readonly counts: Float64Array;
  private readonly sums: { sequence: Float64Array; contrib: Float64Array; hypothetical: Float64Array };
  /** Subpatterns by subcluster label, largest first (set by `setSubpatterns`). */
  subpatterns?: { label: number; pattern: SeqletSet }[];

  constructor(seqlets: Seqlet[]) {
    if (seqlets.length === 0) throw new RangeError('a pattern needs at least one seqlet');
    this.length = Math.max(...seqlets.map((s) => s.length));
    this.counts = new Float64Array(this.length);
    this.sums = { sequence: new Float64Array(this.length * 4), contrib: new Float64Array(this.length * 4), hypothetical: new Float64Array(this.length * 4) };
    for (const s of seqlets) if (!this.keys.has(s.key)) this.add(s);
  }

  /** Adds a seqlet at alignment 0 (ignored when one with its coordinates is already in). */
  add(seqlet: Seqlet): void {
    if (this.keys.has(seqlet.key)) return;
    if (seqlet.length > this.length) throw new RangeError(`seqlet of ${seqlet.length} rows in a pattern of ${this.length}`);
    this.seqlets.push(seqlet);
    this.keys.add(seqlet.key);
    const n = seqlet.length;
    for (let p = 0; p < n; p += 1) this.counts[p]! += 1;
    const tracks = { sequence: seqlet.sequence, contrib: seqlet.contrib, hypothetical: seqlet.hypothetical };
    for (const k of ['sequence', 'contrib', 'hypothetical'] as const) {
      const sum = this.sums[k];
      const t = tracks[k];
      for (let i = 0; i < n * 4; i += 1) sum[i]! += t[i]!;
    }
  }

  private average(sum: Float64Array): Float64Array {
    const out = new Float64Array(sum.length);
    for (let p = 0; p < this.length; p += 1) {
      const c = this.counts[p]! === 0 ? 1e-7 : this.counts[p]!;
      for (let b = 0; b < 4; b += 1) out[p * 4 + b] = sum[p * 4 + b]! / c;
    }
    return out;
  }

  /** Position probability matrix [length, 4]. */
  get sequence(): Float64Array {
    return this.average(this.sums.sequence);
  }

  /** Contribution weight matrix [length, 4]. */
  get contrib(): Float64Array {
    return this.average(this.sums.contrib);
  }

  /** Hypothetical contribution weight matrix [length, 4]. */
  get hypothetical(): Float64Array {
    return this.average(this.sums.hypothetical);
  }

  get size(): number {
    return this.seqlets.length;
  }

  copy(): SeqletSet {
    return new SeqletSet(this.seqlets);
  }

  /** Rows [from, to) of every seqlet. */
  trimTo(from: number, to: number): SeqletSet {
    return new SeqletSet(this.seqlets.map((s) => s.trim(from, to)));
  }

  /** Trimmed to the rows reached by at least min(minNum, minFrac × the most reached) seqlets. */
  trimToSupport(minFrac: number, minNum: number): SeqletSet {
    const maxSupport = Math.max(...this.counts);
    const num = Math.min(minNum, maxSupport * minFrac);
    let left = 0;
    while (this.counts[left]! < num) left += 1;
    let right = this.length;
    while (this.counts[right - 1]! < num) right -= 1;
    return this.trimTo(left, right);
  }
}

/**
 * Every seqlet grown to the pattern's length plus `left` and `right` flanks (in its own
 * orientation); seqlets that would leave their sequence are dropped (`_expand_seqlets_to_fill_pattern`).
 */
export function expandToFill(pattern: SeqletSet, tracks: TrackSet, left: number, right: number): SeqletSet | undefined {
  const out: Seqlet[] = [];
  for (const s of pattern.seqlets) {
    const grown = s.expand(left, pattern.length - s.length + right);
    if (grown.start >= 0 && grown.end <= tracks.length) out.push(grown);
  }
  return out.length > 0 ? new SeqletSet(out) : undefined;
}

/** Information content per position of a probability matrix (bits; `compute_per_position_ic`). */
export function perPositionIc(ppm: Float64Array, background: ArrayLike<number>, pseudocount: number): Float64Array {
  const L = ppm.length / 4;
  const out = new Float64Array(L);
  let bgTerm = 0;
  for (let b = 0; b < 4; b += 1) bgTerm += (Math.log(background[b]!) * background[b]!) / Math.log(2);
  for (let p = 0; p < L; p += 1) {
    let rowSum = 0;
    for (let b = 0; b < 4; b += 1) rowSum += ppm[p * 4 + b]!;
    let ic = 0;
    for (let b = 0; b < 4; b += 1) {
      const q = Math.abs(rowSum - 1) > 1e-5 ? ppm[p * 4 + b]! / rowSum : ppm[p * 4 + b]!;
      ic += (Math.log((q + pseudocount) / (1 + pseudocount * 4)) / Math.log(2)) * q;
    }
    out[p] = ic - bgTerm;
  }
  return out;
}
