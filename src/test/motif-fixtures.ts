/** Seeded random motifs for the motif tests. */
import type { Motif } from '../motifs/motif.js';

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random motif: each row Dirichlet-like (a sharp favourite letter), as a PWM. */
export function randomMotif(id: string, width: number, random: () => number, sharp = 0.7): Motif {
  const p = new Float64Array(width * 4);
  for (let i = 0; i < width; i += 1) {
    const fav = Math.floor(random() * 4);
    let sum = 0;
    for (let b = 0; b < 4; b += 1) {
      const v = (b === fav ? sharp * 10 : 0) + random();
      p[i * 4 + b] = v;
      sum += v;
    }
    for (let b = 0; b < 4; b += 1) p[i * 4 + b] = p[i * 4 + b]! / sum;
  }
  return { id, probabilities: p, length: width, sites: 20 };
}

