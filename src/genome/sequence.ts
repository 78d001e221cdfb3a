/** String-level sequence edits for ensembling: reverse complement and zero-padded (N) shifts. */

const COMPLEMENT: Record<string, string> = { A: 'T', C: 'G', G: 'C', T: 'A', a: 't', c: 'g', g: 'c', t: 'a' };

/** Reverse complement; anything but ACGT (either case) becomes N. */
export function reverseComplement(seq: string): string {
  const out = new Array<string>(seq.length);
  for (let i = 0; i < seq.length; i++) out[seq.length - 1 - i] = COMPLEMENT[seq[i]!] ?? 'N';
  return out.join('');
}

/**
 * Shifts a sequence by `shift` bp keeping its length: positive moves it right (N fill on the left),
 * negative moves it left (N fill on the right), as upstream's `shift_sequence` with pad value 0.
 */
export function shiftSequence(seq: string, shift: number): string {
  const n = seq.length;
  if (shift === 0) return seq;
  if (Math.abs(shift) >= n) return 'N'.repeat(n);
  return shift > 0 ? 'N'.repeat(shift) + seq.slice(0, n - shift) : seq.slice(-shift) + 'N'.repeat(-shift);
}

/** Maps every letter other than ACGT (either case) to N, so IUPAC codes in a reference read as unknown. */
export function onlyAcgtn(seq: string): string {
  return /[^ACGTNacgtn]/.test(seq) ? seq.replace(/[^ACGTacgt]/g, 'N') : seq;
}

export class CropError extends Error {}

/** The centre `length` bases (floor of the excess dropped on the left) and how many were dropped there. */
export function centreCrop(seq: string, length: number, what: string): { sequence: string; trimmed: number } {
  if (seq.length < length) throw new CropError(`${what} has ${seq.length} bp, fewer than --crop-input ${length}`);
  const trimmed = Math.floor((seq.length - length) / 2);
  return { sequence: seq.slice(trimmed, trimmed + length), trimmed };
}
