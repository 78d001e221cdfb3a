/**
 * Motif scanning as FIMO does it (MEME suite: Grant, Bailey & Noble 2011).
 *
 * 1. Each motif's probabilities get a pseudocount spread by the background:
 *    p' = (p · n + c · bg) / (n + c), n = the motif's `nsites` (20 when unknown), c = 0.1 by default.
 * 2. Log-odds scores log2(p' / bg) are scaled to integers: over the whole matrix, offset = the
 *    smallest score, scale = RANGE / (largest − smallest) with RANGE = 1000 (FIMO's PSSM_RANGE), and
 *    each cell becomes round((score − offset) · scale) in [0, RANGE].
 * 3. The exact distribution of a window's integer score under the 0-order background is computed by
 *    dynamic programming over positions (the score of a window is a sum of one cell per position), and
 *    the p-value of score s is P(S ≥ s).
 * 4. Every window with only A, C, G, T is scored on each strand (the reverse strand with the
 *    reverse-complement matrix); the reported score is the integer sum mapped back to bits
 *    (sum / scale + width · offset), so it is the log-odds score to within the rounding of step 2.
 * 5. q-values: Benjamini–Hochberg over every scored window of the motif (both strands counted, as
 *    FIMO counts them), q = min over ranks ≥ r of p · N / rank, capped at 1. FIMO estimates the null
 *    fraction π₀ from a random sample of p-values when it has one; we use π₀ = 1 (BH's conservative
 *    choice), so our q-values are FIMO's `--no-pi0`-style values and never smaller than its.
 *
 * Coordinates in hits are 1-based inclusive on the sequence as given (plus `offset`, for genome
 * regions), the same on both strands; `-` strand hits show the reverse-complemented window.
 */
import { reverseComplement, type Motif } from './motif.js';

/** FIMO's integer range of one matrix column (pssm.h PSSM_RANGE). */
export const PSSM_RANGE = 1000;
/** FIMO's `--motif-pseudo` default. */
export const DEFAULT_PSEUDOCOUNT = 0.1;
/** MEME suite's site count for motifs whose file gives no `nsites=`. */
export const DEFAULT_SITE_COUNT = 20;
/** FIMO's `--thresh` default. */
export const DEFAULT_SCAN_THRESHOLD = 1e-4;

export class MotifScanError extends Error {}

/** Round half away from zero, as C's `nint` macro in the MEME suite. */
export function nint(x: number): number {
  return x >= 0 ? Math.floor(x + 0.5) : -Math.floor(-x + 0.5);
}

/** The motif's probabilities with a pseudocount spread by `background` (MEME suite's rule; see above). */
export function applyPseudocount(motif: Motif, background: ArrayLike<number>, pseudocount = DEFAULT_PSEUDOCOUNT): Float64Array {
  const out = Float64Array.from(motif.probabilities);
  if (pseudocount === 0) return out;
  if (!(pseudocount > 0)) throw new MotifScanError(`pseudocount must be >= 0 (got ${pseudocount})`);
  const sites = motif.sites !== undefined && motif.sites > 0 ? motif.sites : DEFAULT_SITE_COUNT;
  const total = sites + pseudocount;
  for (let i = 0; i < motif.length; i += 1) {
    for (let b = 0; b < 4; b += 1) out[i * 4 + b] = (out[i * 4 + b]! * sites + pseudocount * background[b]!) / total;
  }
  return out;
}

/** A, C, G, T frequencies made strand-symmetric (A and T averaged, C and G averaged), as FIMO does when scanning both strands. */
export function symmetricBackground(bg: ArrayLike<number>): Float64Array {
  const at = (bg[0]! + bg[3]!) / 2;
  const cg = (bg[1]! + bg[2]!) / 2;
  return normalizeBackground([at, cg, cg, at]);
}

/** Normalised A, C, G, T frequencies with no zero (each at least 5e-7 before normalising, as the MEME suite floors them). */
export function normalizeBackground(bg: ArrayLike<number>): Float64Array {
  if (bg.length !== 4) throw new MotifScanError(`background must have 4 frequencies (A, C, G, T), got ${bg.length}`);
  const out = new Float64Array(4);
  let sum = 0;
  for (let b = 0; b < 4; b += 1) {
    const v = bg[b]!;
    if (!Number.isFinite(v) || v < 0) throw new MotifScanError(`background frequency ${'ACGT'[b]} = ${v} is not a non-negative number`);
    out[b] = Math.max(v, 5e-7);
    sum += out[b]!;
  }
  for (let b = 0; b < 4; b += 1) out[b] = out[b]! / sum;
  return out;
}

export const UNIFORM_BACKGROUND: Float64Array = Float64Array.of(0.25, 0.25, 0.25, 0.25);

/** Letter counts of A, C, G, T (any case) in the sequences; other letters are not counted. */
export function countBases(sequence: string, into: Float64Array = new Float64Array(4)): Float64Array {
  for (let i = 0; i < sequence.length; i += 1) {
    const b = BASE_CODE[sequence.charCodeAt(i)]!;
    if (b >= 0) into[b] = into[b]! + 1;
  }
  return into;
}

/** Sequence → base codes (A0 C1 G2 T3, any case; anything else −1). */
const BASE_CODE = (() => {
  const t = new Int8Array(256).fill(-1);
  [...'ACGT'].forEach((c, i) => {
    t[c.charCodeAt(0)] = i;
    t[c.toLowerCase().charCodeAt(0)] = i;
  });
  return t;
})();

export function encodeBases(sequence: string): Int8Array {
  const out = new Int8Array(sequence.length);
  for (let i = 0; i < sequence.length; i += 1) {
    const c = sequence.charCodeAt(i);
    out[i] = c < 256 ? BASE_CODE[c]! : -1;
  }
  return out;
}

/** An integer-scaled log-odds matrix with the exact p-value of every score. */
export interface ScoreMatrix {
  readonly width: number;
  /** Integer scores, row-major [width, 4], each in [0, range]. */
  readonly scaled: Int32Array;
  /** Raw log-odds scores (bits) before scaling, row-major [width, 4]. */
  readonly logOdds: Float64Array;
  readonly scale: number;
  readonly offset: number;
  readonly range: number;
  /** pValues[s] = P(score ≥ s) for integer scores s in [0, width · range] under the background. */
  readonly pValues: Float64Array;
}

/**
 * The exact distribution of the sum of one integer cell per row, each row's letter drawn from
 * `background`: pmf[s] = P(sum = s). Cells must be integers ≥ 0.
 */
export function scoreDistribution(scaled: Int32Array, width: number, background: ArrayLike<number>): Float64Array {
  let maxTotal = 0;
  for (let i = 0; i < width; i += 1) {
    let rowMax = 0;
    for (let b = 0; b < 4; b += 1) rowMax = Math.max(rowMax, scaled[i * 4 + b]!);
    maxTotal += rowMax;
  }
  let pdf = new Float64Array(maxTotal + 1);
  let next = new Float64Array(maxTotal + 1);
  pdf[0] = 1;
  let reach = 0; // largest index with mass so far
  for (let i = 0; i < width; i += 1) {
    next.fill(0);
    let rowMax = 0;
    for (let b = 0; b < 4; b += 1) {
      const s = scaled[i * 4 + b]!;
      rowMax = Math.max(rowMax, s);
      const p = background[b]!;
      for (let k = 0; k <= reach; k += 1) {
        const old = pdf[k]!;
        if (old !== 0) next[k + s] = next[k + s]! + old * p;
      }
    }
    reach += rowMax;
    [pdf, next] = [next, pdf];
  }
  return pdf;
}

/** Upper tail P(S ≥ s) of a pmf, capped at 1 (summed from the top, as FIMO does). */
export function upperTail(pmf: Float64Array, length = pmf.length): Float64Array {
  const pv = new Float64Array(length);
  let acc = 0;
  for (let s = length - 1; s >= 0; s -= 1) {
    acc += s < pmf.length ? pmf[s]! : 0;
    pv[s] = Math.min(1, acc);
  }
  return pv;
}

/**
 * FIMO's scoring matrix for `probabilities` (row-major [width, 4], pseudocounts already applied)
 * under `background`, with the p-value table.
 */
export function buildScoreMatrix(probabilities: Float64Array, width: number, background: ArrayLike<number>, range = PSSM_RANGE): ScoreMatrix {
  const logOdds = new Float64Array(width * 4);
  let small = Infinity;
  let large = -Infinity;
  for (let i = 0; i < width; i += 1) {
    for (let b = 0; b < 4; b += 1) {
      const x = Math.log2(probabilities[i * 4 + b]! / background[b]!);
      logOdds[i * 4 + b] = x;
      if (x < small) small = x;
      if (x > large) large = x;
    }
  }
  if (!Number.isFinite(small) || !Number.isFinite(large)) throw new MotifScanError('a log-odds score is infinite (a zero probability with no pseudocount, or a zero background frequency)');
  if (large === small) small = large - large; // as the MEME suite: a flat matrix gets offset 0
  const scale = large === small ? 1 : range / (large - small);
  const offset = small;
  const scaled = new Int32Array(width * 4);
  for (let k = 0; k < width * 4; k += 1) scaled[k] = nint((logOdds[k]! - offset) * scale);
  const pmf = scoreDistribution(scaled, width, background);
  const pValues = upperTail(pmf, width * range + 1);
  return { width, scaled, logOdds, scale, offset, range, pValues };
}

/** The score in bits of an integer window score (FIMO's scaled_to_raw), to 10 significant digits. */
export function rawScore(matrix: ScoreMatrix, scaledScore: number): number {
  return Number((scaledScore / matrix.scale + matrix.width * matrix.offset).toPrecision(10));
}

/** A motif prepared for scanning: forward and reverse-complement matrices. */
export interface PreparedMotif {
  readonly motif: Motif;
  readonly forward: ScoreMatrix;
  readonly reverse?: ScoreMatrix;
}

export function prepareMotif(motif: Motif, background: ArrayLike<number>, options: { pseudocount?: number; bothStrands?: boolean; range?: number } = {}): PreparedMotif {
  const pseudocount = options.pseudocount ?? DEFAULT_PSEUDOCOUNT;
  const range = options.range ?? PSSM_RANGE;
  const forward = buildScoreMatrix(applyPseudocount(motif, background, pseudocount), motif.length, background, range);
  if (options.bothStrands === false) return { motif, forward };
  const rc = reverseComplement(motif);
  const reverse = buildScoreMatrix(applyPseudocount(rc, background, pseudocount), motif.length, background, range);
  return { motif, forward, reverse };
}

export interface SequenceRecord {
  name: string;
  sequence: string;
  /** Added to coordinates (0-based start of the sequence on its chromosome, for genome regions). */
  offset?: number;
}

export interface MotifHit {
  motifId: string;
  motifAlt: string;
  /** Index of the motif in the scanned list. */
  motifIndex: number;
  sequenceName: string;
  /** 1-based inclusive. */
  start: number;
  stop: number;
  strand: '+' | '-';
  /** Log-odds score in bits (FIMO's reported score). */
  score: number;
  pValue: number;
  qValue: number;
  /** The window as read on the hit's strand. */
  matched: string;
}

export interface ScanOptions {
  /** Report windows with p-value ≤ this (FIMO's --thresh; default 1e-4). */
  threshold?: number;
  /** Background for the log-odds and p-values (A, C, G, T); made strand-symmetric when scanning both strands. */
  background: ArrayLike<number>;
  pseudocount?: number;
  /** Scan the reverse strand too (default true). */
  bothStrands?: boolean;
}

export interface ScanResult {
  /** Sorted by p-value, then motif, sequence order, start, strand. */
  hits: MotifHit[];
  /** Scored windows per motif (both strands counted): the N of the q-values. */
  scoredWindows: number[];
  /** The background used (after symmetrisation and flooring). */
  background: Float64Array;
  prepared: PreparedMotif[];
}

const COMPLEMENT: Record<string, string> = { A: 'T', C: 'G', G: 'C', T: 'A', a: 't', c: 'g', g: 'c', t: 'a' };

function reverseComplementText(s: string): string {
  let out = '';
  for (let i = s.length - 1; i >= 0; i -= 1) out += COMPLEMENT[s[i]!] ?? s[i]!;
  return out;
}

/**
 * Benjamini–Hochberg q-values of `pValues` out of `total` tests (the p-values not given are taken as
 * larger than all given ones): q_(r) = min_{r' ≥ r} min(1, p_(r') · total / r'). Returns q in the
 * input order.
 */
export function benjaminiHochberg(pValues: readonly number[], total = pValues.length): number[] {
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a]! - pValues[b]! || a - b);
  const q = new Array<number>(pValues.length);
  let running = 1;
  for (let r = order.length - 1; r >= 0; r -= 1) {
    const i = order[r]!;
    running = Math.min(running, Math.min(1, (pValues[i]! * total) / (r + 1)));
    q[i] = running;
  }
  return q;
}

/** Scans every record with every motif; see the module comment for the method. */
export async function scanSequences(motifs: readonly Motif[], records: Iterable<SequenceRecord> | AsyncIterable<SequenceRecord>, options: ScanOptions): Promise<ScanResult> {
  const threshold = options.threshold ?? DEFAULT_SCAN_THRESHOLD;
  if (!(threshold > 0 && threshold <= 1)) throw new MotifScanError(`p-value threshold must be in (0, 1] (got ${threshold})`);
  const bothStrands = options.bothStrands !== false;
  const background = bothStrands ? symmetricBackground(options.background) : normalizeBackground(options.background);
  const prepared = motifs.map((m) => prepareMotif(m, background, { pseudocount: options.pseudocount, bothStrands }));
  const perMotif: MotifHit[][] = motifs.map(() => []);
  const scored = motifs.map(() => 0);
  const sequenceOrder = new Map<string, number>();
  for await (const record of records) {
    if (!sequenceOrder.has(record.name)) sequenceOrder.set(record.name, sequenceOrder.size);
    const codes = encodeBases(record.sequence);
    const offset = record.offset ?? 0;
    // Windows with a non-ACGT letter are skipped: bad[i] = 1 + index of the last bad letter at or before i.
    prepared.forEach((p, mi) => {
      const w = p.motif.length;
      const n = codes.length - w + 1;
      if (n <= 0) return;
      const fw = p.forward.scaled;
      const rv = p.reverse?.scaled;
      const fpv = p.forward.pValues;
      const rpv = p.reverse?.pValues;
      let lastBad = -1;
      for (let k = 0; k < w - 1; k += 1) if (codes[k]! < 0) lastBad = k;
      for (let i = 0; i < n; i += 1) {
        if (codes[i + w - 1]! < 0) lastBad = i + w - 1;
        if (lastBad >= i) continue;
        let f = 0;
        let r = 0;
        for (let j = 0; j < w; j += 1) {
          const c = codes[i + j]! + j * 4;
          f += fw[c]!;
          if (rv) r += rv[c]!;
        }
        scored[mi] = scored[mi]! + (rv ? 2 : 1);
        const fp = fpv[f]!;
        if (fp <= threshold) {
          perMotif[mi]!.push(hit(p, mi, record, offset, i, '+', rawScore(p.forward, f), fp));
        }
        if (rv) {
          const rp = rpv![r]!;
          if (rp <= threshold) perMotif[mi]!.push(hit(p, mi, record, offset, i, '-', rawScore(p.reverse!, r), rp));
        }
      }
    });
  }
  const hits: MotifHit[] = [];
  perMotif.forEach((list, mi) => {
    const q = benjaminiHochberg(list.map((h) => h.pValue), Math.max(scored[mi]!, list.length));
    list.forEach((h, k) => {
      h.qValue = q[k]!;
      hits.push(h);
    });
  });
  hits.sort(
    (a, b) =>
      a.pValue - b.pValue ||
      a.motifIndex - b.motifIndex ||
      sequenceOrder.get(a.sequenceName)! - sequenceOrder.get(b.sequenceName)! ||
      a.start - b.start ||
      (a.strand === b.strand ? 0 : a.strand === '+' ? -1 : 1),
  );
  return { hits, scoredWindows: scored, background, prepared };
}

function hit(p: PreparedMotif, motifIndex: number, record: SequenceRecord, offset: number, i: number, strand: '+' | '-', score: number, pValue: number): MotifHit {
  const w = p.motif.length;
  const window = record.sequence.slice(i, i + w);
  return {
    motifId: p.motif.id,
    motifAlt: p.motif.altName ?? '',
    motifIndex,
    sequenceName: record.name,
    start: offset + i + 1,
    stop: offset + i + w,
    strand,
    score,
    pValue,
    qValue: 1,
    matched: strand === '+' ? window : reverseComplementText(window),
  };
}

/** C's printf `%.{precision}g`. */
export function formatG(x: number, precision = 6): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const p = Math.max(1, precision);
  const [mantissa, exp] = x.toExponential(p - 1).split('e') as [string, string];
  const e = Number(exp);
  const strip = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (e < -4 || e >= p) {
    const ee = Math.abs(e) < 10 ? `0${Math.abs(e)}` : `${Math.abs(e)}`;
    return `${strip(mantissa)}e${e < 0 ? '-' : '+'}${ee}`;
  }
  return strip(x.toFixed(Math.max(0, p - 1 - e)));
}

export const HIT_COLUMNS = ['motif_id', 'motif_alt_id', 'sequence_name', 'start', 'stop', 'strand', 'score', 'p-value', 'q-value', 'matched_sequence'] as const;

/** Hits as FIMO's TSV (its columns and number formats: score %g, p-value and q-value %.3g). */
export function formatHitsTsv(hits: readonly MotifHit[]): string {
  const lines = [HIT_COLUMNS.join('\t')];
  for (const h of hits) {
    lines.push([h.motifId, h.motifAlt, h.sequenceName, h.start, h.stop, h.strand, formatG(h.score), formatG(h.pValue, 3), formatG(h.qValue, 3), h.matched].join('\t'));
  }
  return `${lines.join('\n')}\n`;
}
