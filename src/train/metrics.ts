/**
 * Per-track Pearson correlation accumulated window by window (co-moments updated as in Welford's
 * algorithm, float64), over raw values and over log1p of them, as the Enformer paper reports.
 */

class Comoment {
  n = 0;
  mx = 0;
  my = 0;
  sxx = 0;
  syy = 0;
  sxy = 0;

  add(x: number, y: number): void {
    this.n++;
    const dx = x - this.mx;
    this.mx += dx / this.n;
    const dy = y - this.my;
    this.my += dy / this.n;
    this.sxx += dx * (x - this.mx);
    this.syy += dy * (y - this.my);
    this.sxy += dx * (y - this.my);
  }

  /** NaN when either side is constant. */
  get r(): number {
    return this.sxy / Math.sqrt(this.sxx * this.syy);
  }
}

export class PearsonAccumulator {
  private readonly raw: Comoment[];
  private readonly log: Comoment[];

  constructor(readonly tracks: number) {
    this.raw = Array.from({ length: tracks }, () => new Comoment());
    this.log = Array.from({ length: tracks }, () => new Comoment());
  }

  /** Adds [bins, tracks] predictions and targets (row-major). */
  add(pred: ArrayLike<number>, target: ArrayLike<number>): void {
    const K = this.tracks;
    if (pred.length !== target.length || pred.length % K !== 0) throw new Error(`pearson: ${pred.length} predictions vs ${target.length} targets for ${K} tracks`);
    for (let i = 0; i < pred.length; i++) {
      const k = i % K;
      this.raw[k]!.add(pred[i]!, target[i]!);
      this.log[k]!.add(Math.log1p(pred[i]!), Math.log1p(target[i]!));
    }
  }

  get bins(): number {
    return this.raw[0]?.n ?? 0;
  }

  pearson(): number[] {
    return this.raw.map((c) => c.r);
  }

  pearsonLog1p(): number[] {
    return this.log.map((c) => c.r);
  }
}

/** Mean and median of the finite values (NaN when there are none). */
export function summarise(values: number[]): { mean: number; median: number } {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return { mean: NaN, median: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const h = v.length >> 1;
  return { mean, median: v.length % 2 ? v[h]! : (v[h - 1]! + v[h]!) / 2 };
}
