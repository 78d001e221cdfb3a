/**
 * Planted-motif data for the motif discovery tests: seeded random sequences with two known motifs
 * planted (the second on the reverse strand in half of its sites), and synthetic hypothetical
 * contributions: at a planted site, s · (p − 0.25) for every base (p the motif's probability of that
 * base there, s a per-site strength), plus centred Gaussian noise everywhere.
 */
import { TrackSet } from '../motifs/discover/track-set.js';
import { seededRandom } from '../motifs/discover/rng.js';

export interface PlantedMotif {
  name: string;
  /** Consensus, A/C/G/T. */
  consensus: string;
  /** Probability of the consensus base (the rest share the remainder). */
  purity: number;
  /** Fraction of sequences holding one site. */
  frequency: number;
  /** Fraction of the sites on the reverse strand. */
  reverseFraction: number;
  /** −1: the motif lowers the objective (negative contributions). */
  sign?: 1 | -1;
}

export const PLANTED: PlantedMotif[] = [
  { name: 'GATTACAGG', consensus: 'GATTACAGG', purity: 0.85, frequency: 0.55, reverseFraction: 0 },
  { name: 'CCGTCGAA', consensus: 'CCGTCGAA', purity: 0.85, frequency: 0.5, reverseFraction: 0.5 },
];

const BASES = 'ACGT';

/** Probability matrix [length, 4] of a planted motif. */
export function plantedPwm(m: PlantedMotif): Float64Array {
  const L = m.consensus.length;
  const out = new Float64Array(L * 4);
  for (let p = 0; p < L; p += 1) {
    const c = BASES.indexOf(m.consensus[p]!);
    for (let b = 0; b < 4; b += 1) out[p * 4 + b] = b === c ? m.purity : (1 - m.purity) / 3;
  }
  return out;
}

export interface PlantedSite {
  example: number;
  motif: number;
  start: number;
  reverse: boolean;
}

export interface PlantedData {
  tracks: TrackSet;
  sites: PlantedSite[];
  oneHot: Float32Array;
  hypothetical: Float32Array;
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function plantedData(o: { n: number; length: number; seed: number; noise: number; motifs?: PlantedMotif[] }): PlantedData {
  const motifs = o.motifs ?? PLANTED;
  const random = seededRandom(o.seed);
  const { n, length: L } = o;
  const oneHot = new Float32Array(n * L * 4);
  const hyp = new Float32Array(n * L * 4);
  const bases = new Int32Array(n * L);
  for (let i = 0; i < n * L; i += 1) bases[i] = Math.floor(random() * 4);
  const sites: PlantedSite[] = [];
  const weights = new Float64Array(n * L * 4); // signal part
  for (let e = 0; e < n; e += 1) {
    const taken: [number, number][] = [];
    motifs.forEach((m, k) => {
      if (random() >= m.frequency) return;
      const pwm = plantedPwm(m);
      const w = m.consensus.length;
      let start = 0;
      for (let tries = 0; tries < 100; tries += 1) {
        start = 20 + Math.floor(random() * (L - 40 - w));
        if (taken.every(([a, b]) => start + w + 15 <= a || start >= b + 15)) break;
      }
      taken.push([start, start + w]);
      const reverse = random() < m.reverseFraction;
      const strength = (m.sign ?? 1) * (0.6 + 0.8 * random());
      for (let p = 0; p < w; p += 1) {
        // Motif row for genomic position start + p (reverse: read from the end, bases complemented).
        const row = reverse ? w - 1 - p : p;
        const probs = [0, 1, 2, 3].map((b) => pwm[row * 4 + (reverse ? 3 - b : b)]!);
        // Sample the base from the motif.
        let r = random();
        let base = 3;
        for (let b = 0; b < 4; b += 1) {
          r -= probs[b]!;
          if (r < 0) {
            base = b;
            break;
          }
        }
        bases[e * L + start + p] = base;
        for (let b = 0; b < 4; b += 1) weights[((e * L + start + p) * 4) + b] = strength * (probs[b]! - 0.25);
      }
      sites.push({ example: e, motif: k, start, reverse });
    });
  }
  for (let i = 0; i < n * L; i += 1) {
    oneHot[i * 4 + bases[i]!] = 1;
    const noise = [0, 1, 2, 3].map(() => gaussian(random) * o.noise);
    const mean = (noise[0]! + noise[1]! + noise[2]! + noise[3]!) / 4;
    for (let b = 0; b < 4; b += 1) hyp[i * 4 + b] = weights[i * 4 + b]! + noise[b]! - mean;
  }
  return { tracks: new TrackSet(n, L, oneHot, hyp), sites, oneHot, hypothetical: hyp };
}
