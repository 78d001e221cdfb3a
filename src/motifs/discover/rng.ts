/**
 * The Mersenne Twister MT19937 seeded and drawn the way NumPy's legacy `RandomState(seed)` draws:
 * TF-MoDISco-lite samples its Laplace null from `RandomState(1234).uniform()` and subsamples windows
 * and seqlets with `RandomState(1234).choice(…, replace=False)`; drawing the same numbers makes our
 * thresholds and subsamples the ones it computes on the same scores.
 */
export class MersenneTwister {
  private readonly mt = new Uint32Array(624);
  private index = 624;

  constructor(seed: number) {
    // init_genrand: the scalar seeding RandomState uses for an integer seed.
    this.mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i += 1) {
      const prev = this.mt[i - 1]! ^ (this.mt[i - 1]! >>> 30);
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  /** 32 random bits. */
  nextUint32(): number {
    const mt = this.mt;
    if (this.index >= 624) {
      for (let k = 0; k < 624; k += 1) {
        const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % 624]! & 0x7fffffff);
        mt[k] = mt[(k + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.index = 0;
    }
    let y = mt[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) with 53 random bits (`random_sample`, `uniform()`). */
  nextDouble(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** A uniform integer in [0, max] by masked rejection (NumPy's legacy `random_interval`). */
  interval(max: number): number {
    if (max === 0) return 0;
    if (max > 0xffffffff) throw new RangeError('interval: max above 2^32 - 1');
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let value: number;
    do value = (this.nextUint32() & mask) >>> 0;
    while (value > max);
    return value;
  }

  /** `permutation(n)`: 0..n-1 shuffled by the legacy Fisher–Yates pass. */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i += 1) out[i] = i;
    for (let i = n - 1; i > 0; i -= 1) {
      const j = this.interval(i);
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }

  /** `choice(n, size, replace=False)`: the first `size` entries of a permutation. */
  choiceWithoutReplacement(n: number, size: number): Int32Array {
    return this.permutation(n).subarray(0, size);
  }
}

/** The clustering's node orders and random merges use the project's small seeded generator. */
export { seededRandom } from '../../seeded-random.js';
