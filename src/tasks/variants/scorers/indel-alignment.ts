/**
 * The alt prediction of an indel moved onto the reference's coordinates, as AlphaGenome's
 * `IndelMask.from_variant` + `align_alternate` (alphagenome_research `variant_scoring/
 * variant_scoring.py`) do it at 1 bp, for the gene-mask scorers.
 *
 * At 1 bp, over the S positions p of the output, with v the position of the last base REF and ALT
 * share (the variant's start + min(|REF|, |ALT|) − 1; indels are assumed left-aligned):
 *  - insertion of n bases: aligned[p] = alt[p] for p < v; aligned[v] = max(alt[v..v+n]); aligned[p]
 *    = alt[p + n] for v < p < S − n; the last n positions are 0 (v's too, if it is among them);
 *  - deletion of n bases: aligned[p] = alt[p] for p ≤ v; 0 for v < p ≤ v + n; alt[p − n] after;
 *  - a substitution is left as it is.
 *
 * Our outputs are bins of `binSize` bp. The rule is applied to the bins as AlphaGenome would see
 * them at 1 bp (each base reads its bin's value), and each aligned bin is the mean of its bases.
 * At binSize 1 this is AlphaGenome's rule exactly; at 32 or 128 bp a bin after the variant blends
 * the two bins the shift straddles, and the bin of v takes the inserted bases' maximum for one base.
 * A variant outside the output bins leaves alt as it is (no base of it is predicted).
 */

/** Source of a stretch of aligned positions [from, to): alt shifted by `shift`, their maximum, or zeros. */
type Segment = { from: number; to: number } & ({ kind: 'shift'; shift: number } | { kind: 'max'; lo: number; hi: number } | { kind: 'zero' });

/** The aligned positions as stretches, at 1 bp over S positions (see the file comment). */
export function alignmentSegments(v: number, indel: number, S: number): Segment[] {
  const clip = (s: Segment[]) => s.map((x) => ({ ...x, from: Math.max(0, x.from), to: Math.min(S, x.to) })).filter((x) => x.to > x.from);
  if (indel > 0) {
    // The last n positions are always zeros (AlphaGenome's crop mask), even the variant's own when
    // the insertion runs past the end.
    const zeros = S - indel;
    return clip([
      { from: 0, to: Math.min(v, zeros), kind: 'shift', shift: 0 },
      { from: v, to: Math.min(v + 1, zeros), kind: 'max', lo: v, hi: Math.min(v + indel + 1, S) },
      { from: v + 1, to: zeros, kind: 'shift', shift: indel },
      { from: zeros, to: S, kind: 'zero' },
    ]);
  }
  const n = -indel;
  return clip([
    { from: 0, to: v + 1, kind: 'shift', shift: 0 },
    { from: v + 1, to: v + 1 + n, kind: 'zero' },
    { from: v + 1 + n, to: S, kind: 'shift', shift: -n },
  ]);
}

/**
 * `alt` ([bins, K] row-major, bins of `binSize` bp) aligned to the reference for a variant whose
 * first REF base is `d` bp after the first output bin, with REF and ALT of lengths `refLength`,
 * `altLength`. A new array; alt itself when nothing moves.
 */
export function alignAlternate(alt: Float64Array, bins: number, binSize: number, K: number, d: number, refLength: number, altLength: number): Float64Array {
  const indel = altLength - refLength;
  const S = bins * binSize;
  const v = d + Math.min(refLength, altLength) - 1;
  if (indel === 0 || v < 0 || v >= S) return alt;
  const out = new Float64Array(bins * K);
  const segments = alignmentSegments(v, indel, S);
  const maxOf = new Map<Segment, Float64Array>();
  for (const s of segments) {
    if (s.kind !== 'max') continue;
    // The inserted bases' maximum, per track, over the bins they fall in.
    const m = new Float64Array(K).fill(-Infinity);
    for (let q = Math.floor(s.lo / binSize); q <= Math.floor((s.hi - 1) / binSize); q++) for (let k = 0; k < K; k++) m[k] = Math.max(m[k]!, alt[q * K + k]!);
    maxOf.set(s, m);
  }
  for (let b = 0; b < bins; b++) {
    const [b0, b1] = [b * binSize, (b + 1) * binSize];
    const row = out.subarray(b * K, (b + 1) * K);
    for (const s of segments) {
      const [from, to] = [Math.max(b0, s.from), Math.min(b1, s.to)];
      if (to <= from) continue;
      if (s.kind === 'max') {
        const m = maxOf.get(s)!;
        for (let k = 0; k < K; k++) row[k]! += (to - from) * m[k]!;
      } else if (s.kind === 'shift') {
        // Bases [from + shift, to + shift) of alt: whole or partial source bins, weighted by bases.
        for (let p = from + s.shift; p < to + s.shift; ) {
          const q = Math.floor(p / binSize);
          const end = Math.min(to + s.shift, (q + 1) * binSize);
          const w = end - p;
          for (let k = 0; k < K; k++) row[k]! += w * alt[q * K + k]!;
          p = end;
        }
      }
    }
    for (let k = 0; k < K; k++) row[k]! /= binSize;
  }
  return out;
}
