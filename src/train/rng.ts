/**
 * A small seeded generator (mulberry32) for
 * everything random in training: data order, augmentation, initial weights. A stream is derived
 * from (seed, purpose, epoch), so a resumed run redraws exactly what the uninterrupted one drew.
 */

/** mulberry32: 32-bit state, period 2^32, good enough for shuffles and initial weights. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A generator for one purpose and epoch of a run, independent of how many numbers others drew. */
  static derive(seed: number, purpose: string, epoch = 0): Rng {
    let h = (seed ^ 0x9e3779b9) >>> 0;
    for (const ch of `${purpose}#${epoch}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    return new Rng(Math.imul(h, 0xc2b2ae35) >>> 0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates shuffle of 0..n-1. */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
}
