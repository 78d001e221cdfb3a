/**
 * Model windows of a variant, as the official Enformer notebook builds them (kipoiseq
 * `Interval(chrom, pos0, pos0).resize(L)` and `VariantSeqExtractor.extract(..., anchor=centre)`).
 *
 * Rule (pos0 = 0-based position of the first REF base, L the window length, h = floor(L/2)):
 * - The window starts at ws = pos0 - h, so the variant's first base sits at index h (0-based).
 * - ref = genome[ws, ws + L).
 * - alt = genome[ws, pos0) + ALT + genome[pos0 + |REF|, …), cut to L. The left flank (h bases) is
 *   always the reference; ALT replaces REF at index h and the right flank follows it. An insertion
 *   (|ALT| > |REF|) pushes the right flank outward and the window is cut back to L at its right end;
 *   a deletion (|ALT| < |REF|) pulls in |REF| - |ALT| more reference bases on the right to refill L.
 *   (kipoiseq: the variant starts at the anchor, so it is an "upstream" variant: only the interval
 *   end is extended for a deletion and only the upstream part is cut; the part left of the anchor is
 *   the reference. The notebook's relative anchor, clamped to the interval start, gives the same
 *   sequence, since the left flank holds no variant either way.)
 * - Positions outside the chromosome read N.
 * SNVs and other equal-length substitutions leave everything but [h, h + |REF|) unchanged.
 */
import type { Reference } from '../../genome/reference-type.js';
import { onlyAcgtn } from '../../genome/sequence.js';

/** Start of the window of a variant whose first REF base is at 0-based `pos0`. */
export function windowStart(pos0: number, length: number): number {
  return pos0 - Math.floor(length / 2);
}

/**
 * The alt window from the reference around the variant: `left` = the h reference bases before the
 * variant, `right` = reference bases from the first base after REF (at least L - h - |ALT| of them).
 */
export function altWindow(left: string, alt: string, right: string, length: number): string {
  const h = Math.floor(length / 2);
  if (left.length !== h) throw new Error(`left flank has ${left.length} bases, expected ${h}`);
  const rightPart = (alt + right).slice(0, length - h);
  if (rightPart.length !== length - h) throw new Error(`right flank too short: ${right.length} bases`);
  return left + rightPart;
}

export interface VariantWindows {
  ref: string;
  /** Genomic (0-based) start of the ref window. */
  refStart: number;
  /** The genome's bases at REF's position (upper case, N past the ends), for the REF check. */
  genomeRef: string;
  alts: string[];
}

/**
 * Reads the reference once and builds the ref window and one alt window per ALT (bases only).
 * Letters other than ACGT in the genome read as N; soft-masked (lower-case) bases are upper-cased.
 */
export async function variantWindows(genome: Reference, chrom: string, pos0: number, ref: string, alts: string[], length: number): Promise<VariantWindows> {
  const h = Math.floor(length / 2);
  const ws = windowStart(pos0, length);
  const after = pos0 + ref.length;
  const rightNeeded = Math.max(0, ...alts.map((a) => length - h - a.length));
  const end = Math.max(ws + length, after + rightNeeded);
  const seq = onlyAcgtn(await genome.getSequence(chrom, ws, end)).toUpperCase();
  const left = seq.slice(0, h);
  const right = seq.slice(after - ws);
  return {
    ref: seq.slice(0, length),
    refStart: ws,
    genomeRef: seq.slice(h, h + ref.length),
    alts: alts.map((a) => altWindow(left, a, right, length)),
  };
}

/** [first, last + 1) of the positions where two equal-length sequences differ; undefined when equal. */
export function diffRange(a: string, b: string): [number, number] | undefined {
  let s = 0;
  while (s < a.length && a.charCodeAt(s) === b.charCodeAt(s)) s++;
  if (s === a.length) return undefined;
  let e = a.length;
  while (e > s && a.charCodeAt(e - 1) === b.charCodeAt(e - 1)) e--;
  return [s, e];
}

/** Where a variant sits in its window: ours (first REF base at index L/2) or baskerville's vcf.py. */
export type Anchor = 'center' | 'borzoi';

/** Cuts `text` to `length` from its centre, dropping floor(excess/2) on the left. */
function centreTrim(text: string, length: number): string {
  const left = Math.floor((text.length - length) / 2);
  return text.slice(left, left + length);
}

/**
 * Windows as baskerville's vcf.py builds them (`--anchor borzoi`): for 1-based POS p the input is
 * genome [p − L/2, p + L/2 + d), d = max(0, |REF| − |ALT|) (for ref: the longest ALT), the variant's
 * first base at index L/2 − 1; alt = seq[:L/2−1] + ALT + seq[L/2−1+|REF|:]; both centre-trimmed to
 * L, floor of the excess from the left. Upstream scores ALT[0] only; each ALT here gets its own d.
 */
export async function borzoiVariantWindows(genome: Reference, chrom: string, pos0: number, ref: string, alts: string[], length: number): Promise<VariantWindows> {
  const h = Math.floor(length / 2);
  const start = pos0 + 1 - h;
  const dOf = (alt: string) => Math.max(0, ref.length - alt.length);
  const dMax = Math.max(0, ...alts.map(dOf));
  const seq = onlyAcgtn(await genome.getSequence(chrom, start, start + length + dMax)).toUpperCase();
  const dRef = Math.max(0, ref.length - Math.max(0, ...alts.map((a) => a.length)));
  const at = h - 1;
  return {
    ref: centreTrim(seq.slice(0, length + dRef), length),
    refStart: start + Math.floor(dRef / 2),
    genomeRef: seq.slice(at, at + ref.length),
    alts: alts.map((a) => centreTrim(seq.slice(0, at) + a + seq.slice(at + ref.length, length + dOf(a)), length)),
  };
}
