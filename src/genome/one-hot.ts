/** One-hot DNA encoding in A, C, G, T order; N (and n) is an all-zero row, as in the official code. */

export class SequenceError extends Error {}

const CODE = new Int8Array(256).fill(-2);
for (const [i, ch] of ['A', 'C', 'G', 'T'].entries()) {
  CODE[ch.charCodeAt(0)] = i;
  CODE[ch.toLowerCase().charCodeAt(0)] = i;
}
CODE['N'.charCodeAt(0)] = -1;
CODE['n'.charCodeAt(0)] = -1;

/**
 * Encodes `sequence` into `out` at `offset` (L·4 floats). `what` names the sequence in errors.
 * Throws a SequenceError naming the 1-based position of the first letter that is not ACGTN.
 */
export function oneHotInto(sequence: string, out: Float32Array, offset = 0, what = 'sequence'): void {
  for (let i = 0; i < sequence.length; i++) {
    const c = sequence.charCodeAt(i);
    const code = c < 256 ? CODE[c]! : -2;
    if (code >= 0) out[offset + 4 * i + code] = 1;
    else if (code === -2) {
      throw new SequenceError(`${what}: invalid base '${sequence[i]}' at position ${i + 1} (expected A, C, G, T or N)`);
    }
  }
}

/** [L, 4] float32 one-hot of one sequence. */
export function oneHot(sequence: string, what = 'sequence'): Float32Array {
  const out = new Float32Array(sequence.length * 4);
  oneHotInto(sequence, out, 0, what);
  return out;
}
