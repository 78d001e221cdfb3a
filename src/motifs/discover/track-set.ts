/**
 * The inputs of motif discovery and its unit, the seqlet. A track set holds, for N sequences of
 * length L, the one-hot sequence, the hypothetical contributions (a score for every base at every
 * position, e.g. the centred gradient) and the actual contributions (hypothetical ⊙ one-hot), all
 * float32 [N, L, 4] in A, C, G, T order. A seqlet is a window [start, end) of one sequence, on the
 * forward or the reverse strand; its tracks are read from the track set when first needed (reverse
 * strand: positions reversed and bases complemented, as TF-MoDISco-lite's `[::-1, ::-1]`).
 */

export class TrackSet {
  /** Actual contributions: hypothetical ⊙ one-hot. */
  readonly contrib: Float32Array;

  constructor(
    readonly n: number,
    readonly length: number,
    readonly oneHot: Float32Array,
    readonly hypothetical: Float32Array,
  ) {
    if (oneHot.length !== n * length * 4 || hypothetical.length !== n * length * 4) {
      throw new RangeError(`track set: one-hot (${oneHot.length}) and hypothetical contributions (${hypothetical.length}) must both hold ${n} × ${length} × 4 values`);
    }
    this.contrib = new Float32Array(oneHot.length);
    for (let i = 0; i < oneHot.length; i += 1) this.contrib[i] = oneHot[i]! * hypothetical[i]!;
  }

  /** Per-position contribution of sequence `i` (the sum over bases, in float32 as NumPy sums it). */
  positionScores(i: number): Float32Array {
    const L = this.length;
    const out = new Float32Array(L);
    const c = this.contrib;
    for (let p = 0; p < L; p += 1) {
      const o = (i * L + p) * 4;
      out[p] = Math.fround(Math.fround(Math.fround(c[o]! + c[o + 1]!) + c[o + 2]!) + c[o + 3]!);
    }
    return out;
  }

  /** Rows [start, end) of sequence `example` of one track, [end - start, 4], reverse-complemented on request. */
  snippet(track: Float32Array, example: number, start: number, end: number, revcomp: boolean): Float32Array {
    const len = end - start;
    const out = new Float32Array(len * 4);
    const base = (example * this.length + start) * 4;
    if (!revcomp) out.set(track.subarray(base, base + len * 4));
    else {
      for (let p = 0; p < len; p += 1) {
        const from = base + (len - 1 - p) * 4;
        for (let b = 0; b < 4; b += 1) out[p * 4 + b] = track[from + 3 - b]!;
      }
    }
    return out;
  }
}

/** Tracks of a seqlet, [length, 4] each. */
export interface SeqletTracks {
  sequence: Float32Array;
  contrib: Float32Array;
  hypothetical: Float32Array;
}

export class Seqlet {
  private cached?: SeqletTracks;

  constructor(
    readonly tracks: TrackSet,
    readonly exampleIdx: number,
    readonly start: number,
    readonly end: number,
    readonly isRevcomp: boolean,
  ) {}

  get length(): number {
    return this.end - this.start;
  }

  /** Identity within a pattern (TF-MoDISco-lite's `example_start_end`; the strand is not part of it). */
  get key(): string {
    return `${this.exampleIdx}_${this.start}_${this.end}`;
  }

  /** Whether the window lies inside its sequence. */
  get inBounds(): boolean {
    return this.start >= 0 && this.end <= this.tracks.length;
  }

  private load(): SeqletTracks {
    if (!this.cached) {
      const t = this.tracks;
      const args = [this.exampleIdx, this.start, this.end, this.isRevcomp] as const;
      this.cached = { sequence: t.snippet(t.oneHot, ...args), contrib: t.snippet(t.contrib, ...args), hypothetical: t.snippet(t.hypothetical, ...args) };
    }
    return this.cached;
  }

  get sequence(): Float32Array {
    return this.load().sequence;
  }

  get contrib(): Float32Array {
    return this.load().contrib;
  }

  get hypothetical(): Float32Array {
    return this.load().hypothetical;
  }

  /** The same window on the other strand. */
  revcomp(): Seqlet {
    return new Seqlet(this.tracks, this.exampleIdx, this.start, this.end, !this.isRevcomp);
  }

  /** Another window of the same sequence and strand. */
  withCoordinates(start: number, end: number): Seqlet {
    return new Seqlet(this.tracks, this.exampleIdx, start, end, this.isRevcomp);
  }

  /** Rows [from, to) of this seqlet's own (strand-oriented) coordinates, as a seqlet. */
  trim(from: number, to: number): Seqlet {
    return this.isRevcomp ? this.withCoordinates(this.end - to, this.end - from) : this.withCoordinates(this.start + from, this.start + to);
  }

  /**
   * Grown by `left` rows before and `right` rows after, in the seqlet's own orientation (on the
   * reverse strand, `left` extends the genomic end).
   */
  expand(left: number, right: number): Seqlet {
    return this.isRevcomp ? this.withCoordinates(this.start - right, this.end + left) : this.withCoordinates(this.start - left, this.end + right);
  }

  /** Sum of |contribution| (the order TF-MoDISco-lite sorts seqlets by). */
  totalAbsContribution(): number {
    let s = 0;
    for (const v of this.contrib) s += Math.abs(v);
    return s;
  }
}
