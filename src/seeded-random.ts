/**
 * A uniform generator in [0, 1) from a 32-bit seed (mulberry32: 32-bit state, period 2^32): the
 * small deterministic generator of everything seeded outside training (shuffles, the motif
 * clustering's node orders, test data), so a seed gives the same draws everywhere.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
