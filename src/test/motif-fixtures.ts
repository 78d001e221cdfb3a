/** Seeded random motifs for the motif tests. */
import type { Motif } from '../motifs/motif.js';

/** Deterministic PRNG. */
export { seededRandom as rng } from '../seeded-random.js';

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

