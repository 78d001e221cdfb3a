/**
 * A position weight matrix over A, C, G, T: the one motif type shared by the motif readers,
 * scanner, matcher and discovery. Rows are positions; each row holds four probabilities in
 * A, C, G, T order (the order of our one-hot encoding and of MEME files' ALPHABET= ACGT).
 */
export interface Motif {
  /** Identifier as the source names it (MEME `MOTIF id`, `pos_patterns.pattern_0`, …). */
  readonly id: string;
  /** Second name where the source gives one (MEME `MOTIF id alt`: e.g. the TF name). */
  readonly altName?: string;
  /** Position probability matrix, row-major [length, 4], each row summing to 1. */
  readonly probabilities: Float64Array;
  /** Number of positions. */
  readonly length: number;
  /** Sites the matrix was built from, when known (MEME `nsites=`; seqlets for discovered motifs). */
  readonly sites?: number;
}

/** Bases in the order every matrix uses. */
export const MOTIF_ALPHABET = ['A', 'C', 'G', 'T'] as const;

/** Reverse complement of a matrix: positions reversed and A↔T, C↔G swapped (row [a,c,g,t] → [t,g,c,a]). */
export function reverseComplement(motif: Motif): Motif {
  const { length } = motif;
  const out = new Float64Array(length * 4);
  for (let i = 0; i < length; i += 1) {
    const from = (length - 1 - i) * 4;
    for (let b = 0; b < 4; b += 1) out[i * 4 + b] = motif.probabilities[from + 3 - b];
  }
  return { ...motif, probabilities: out };
}
