/**
 * Motif–motif comparison as Tomtom does it (MEME suite; Gupta, Stamatoyannopoulos, Bailey & Noble,
 * Genome Biology 2007), with Tomtom's defaults: Euclidean column distance (`-dist ed`), complete
 * scores, a 0.1 pseudocount, both orientations of every target, minimum overlap 1.
 *
 * For one query of width w against a database whose targets (each also reverse-complemented) hold n
 * columns in all:
 * 1. Column scores s(i, c) between query column i and every database column c: −√Σ(q − t)²
 *    (`ed`), Pearson's r (`pearson`) or 2 − Σ(q − t)² (`sandelin`).
 * 2. Complete scores: each query row is shifted by its median over the n database columns, so a query
 *    column left unaligned scores 0 — the median of a random match to it.
 * 3. The shifted scores are scaled to integers 0…100 over the whole matrix (offset = smallest,
 *    scale = 100 / (largest − smallest)).
 * 4. Null: column i's score is that of a database column drawn uniformly; for every span of query
 *    columns the exact distribution of the summed integer score is computed by dynamic programming.
 * 5. Each target and orientation is slid over the query at every offset with at least `minOverlap`
 *    overlapping columns; the best offset maximises the complete score (sum over aligned columns of
 *    the shifted score), ties going to the larger overlap.
 * 6. Its p-value is that of the best of all w + L − 1 alignments of a random target of the same
 *    width L in both orientations (taken independent): P(max ≥ observed).
 * 7. E-value = p-value × number of targets; q-values are Benjamini–Hochberg over the p-values of
 *    all targets in both orientations (as Tomtom; Tomtom estimates the null fraction π₀ when it has
 *    over 100 p-values, we keep π₀ = 1). Each target is reported once, in its better orientation.
 *
 * Offsets are Tomtom's: the position of the query's first column in the target (negative when the
 * query starts before the target).
 */
import { reverseComplement, type Motif } from './motif.js';
import { applyPseudocount, DEFAULT_PSEUDOCOUNT, formatG, symmetricBackground, UNIFORM_BACKGROUND } from './scan.js';

export type ColumnDistance = 'ed' | 'pearson' | 'sandelin';
export const COLUMN_DISTANCES: readonly ColumnDistance[] = ['ed', 'pearson', 'sandelin'];

/** Tomtom's number of integer score bins per column. */
export const TOMTOM_BINS = 100;

export class MotifMatchError extends Error {}

export interface MatchOptions {
  /** Column similarity (default `ed`, Tomtom's default). */
  distance?: ColumnDistance;
  /** Background of the pseudocounts (A, C, G, T; made strand-symmetric); uniform by default. */
  background?: ArrayLike<number>;
  pseudocount?: number;
  /** Fewest overlapping columns of an alignment (default 1; capped at both widths). */
  minOverlap?: number;
  /** Compare with the targets' reverse complements too (default true). */
  bothStrands?: boolean;
}

export interface MotifMatch {
  queryId: string;
  targetId: string;
  targetAlt: string;
  /** Index of the target in the database list. */
  targetIndex: number;
  /** Position of the query's first column in the (possibly reverse-complemented) target. */
  offset: number;
  overlap: number;
  /** `-`: the match is to the target's reverse complement. */
  orientation: '+' | '-';
  pValue: number;
  eValue: number;
  qValue: number;
  queryConsensus: string;
  targetConsensus: string;
}

/** Per-position most probable letter (the first of equals), as Tomtom's consensus. */
export function consensus(probabilities: ArrayLike<number>, length: number): string {
  let out = '';
  for (let i = 0; i < length; i += 1) {
    let best = 0;
    for (let b = 1; b < 4; b += 1) if (probabilities[i * 4 + b]! > probabilities[i * 4 + best]!) best = b;
    out += 'ACGT'[best];
  }
  return out;
}

function columnScore(distance: ColumnDistance, q: Float64Array, qi: number, t: Float64Array, ti: number): number {
  if (distance === 'pearson') {
    let num = 0;
    let dq = 0;
    let dt = 0;
    for (let b = 0; b < 4; b += 1) {
      const x = q[qi + b]! - 0.25;
      const y = t[ti + b]! - 0.25;
      num += x * y;
      dq += x * x;
      dt += y * y;
    }
    const den = Math.sqrt(dq * dt);
    return den !== 0 ? num / den : 0;
  }
  let sq = 0;
  for (let b = 0; b < 4; b += 1) {
    const d = q[qi + b]! - t[ti + b]!;
    sq += d * d;
  }
  return distance === 'ed' ? -Math.sqrt(sq) : 2 - sq;
}

/** Round half to even, as C's `rint` in the default rounding mode. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Round half away from zero (the MEME suite's `nint`). */
function nint(x: number): number {
  return x >= 0 ? Math.floor(x + 0.5) : -Math.floor(-x + 0.5);
}

interface Prepared {
  motif: Motif;
  probabilities: Float64Array;
  orientation: '+' | '-';
  targetIndex: number;
  /** First column of this motif in the concatenated database columns. */
  column: number;
}

/**
 * Compares every query with every target; for each query, its matches to all targets (each target
 * once, in its better orientation), best first (p-value, then larger overlap, then database order).
 */
export function matchMotifs(queries: readonly Motif[], targets: readonly Motif[], options: MatchOptions = {}): MotifMatch[][] {
  const distance = options.distance ?? 'ed';
  if (!COLUMN_DISTANCES.includes(distance)) throw new MotifMatchError(`unknown column distance ${JSON.stringify(distance)} (one of ${COLUMN_DISTANCES.join(', ')})`);
  if (targets.length === 0) throw new MotifMatchError('no target motifs to compare with');
  const pseudocount = options.pseudocount ?? DEFAULT_PSEUDOCOUNT;
  const bothStrands = options.bothStrands !== false;
  const minOverlap = options.minOverlap ?? 1;
  if (!Number.isInteger(minOverlap) || minOverlap < 1) throw new MotifMatchError(`minimum overlap must be a positive integer (got ${minOverlap})`);
  const bg = symmetricBackground(options.background ?? UNIFORM_BACKGROUND);

  // The database: targets and, right after each, its reverse complement.
  const db: Prepared[] = [];
  let columns = 0;
  targets.forEach((t, targetIndex) => {
    db.push({ motif: t, probabilities: applyPseudocount(t, bg, pseudocount), orientation: '+', targetIndex, column: columns });
    columns += t.length;
    if (bothStrands) {
      const rc = reverseComplement(t);
      db.push({ motif: rc, probabilities: applyPseudocount(rc, bg, pseudocount), orientation: '-', targetIndex, column: columns });
      columns += t.length;
    }
  });
  const allColumns = new Float64Array(columns * 4);
  for (const p of db) allColumns.set(p.probabilities, p.column * 4);
  const lengths = [...new Set(db.map((p) => p.motif.length))];

  return queries.map((query) => {
    const q = applyPseudocount(query, bg, pseudocount);
    const w = query.length;
    // 1-2. Column scores, shifted by each row's median.
    const scores = new Float64Array(w * columns);
    const row = new Float64Array(columns);
    const lo = Math.max(0, Math.floor(0.5 * columns) - 1);
    const hi = Math.max(lo, Math.ceil(0.5 * columns) - 1);
    for (let i = 0; i < w; i += 1) {
      for (let c = 0; c < columns; c += 1) row[c] = columnScore(distance, q, i * 4, allColumns, c * 4);
      const sorted = Float64Array.from(row).sort();
      const median = (sorted[lo]! + sorted[hi]!) / 2;
      for (let c = 0; c < columns; c += 1) scores[i * columns + c] = row[c]! - median;
    }
    // 3. Integer scaling over the whole matrix.
    let small = Infinity;
    let large = -Infinity;
    for (const s of scores) {
      if (s < small) small = s;
      if (s > large) large = s;
    }
    if (large === small) small = large - large;
    const scale = large === small ? 1 : TOMTOM_BINS / (large - small);
    const offset = small;
    const scaled = new Int32Array(w * columns);
    for (let k = 0; k < scaled.length; k += 1) scaled[k] = nint((scores[k]! - offset) * scale);

    // 4. Per-column histograms (database columns drawn uniformly), then per-span distributions.
    const hist: Float64Array[] = [];
    for (let i = 0; i < w; i += 1) {
      const h = new Float64Array(TOMTOM_BINS + 1);
      for (let c = 0; c < columns; c += 1) h[scaled[i * columns + c]!] += 1 / columns;
      hist.push(h);
    }
    // span pmf of columns [s, e] over the sum of integer scores, 0 … (e − s + 1) · BINS.
    const spans = new Map<number, Float64Array>();
    const key = (s: number, e: number) => s * w + e;
    for (let s = 0; s < w; s += 1) {
      let pmf = Float64Array.of(1);
      for (let e = s; e < w; e += 1) {
        const h = hist[e]!;
        const next = new Float64Array(pmf.length + TOMTOM_BINS);
        for (let k = 0; k < pmf.length; k += 1) {
          const a = pmf[k]!;
          if (a === 0) continue;
          for (let v = 0; v <= TOMTOM_BINS; v += 1) {
            const p = h[v]!;
            if (p !== 0) next[k + v] = next[k + v]! + a * p;
          }
        }
        spans.set(key(s, e), next);
        pmf = next;
      }
    }

    // 5. Best offset of every target orientation, by complete score.
    const shiftScale = offset * scale; // ≤ 0: an aligned column's integer score minus its share of the offset
    const best = db.map((p) => {
      const L = p.motif.length;
      const mo = Math.min(minOverlap, w, L);
      let bestScore = -Infinity;
      let bestOverlap = -1;
      let bestOffset = 0;
      for (let configuration = mo; configuration <= w + L - mo; configuration += 1) {
        let qc: number;
        let tc: number;
        if (configuration <= w) {
          tc = 0;
          qc = w - configuration;
        } else {
          qc = 0;
          tc = configuration - w;
        }
        let sum = 0;
        let overlap = 0;
        for (; qc < w && tc < L; qc += 1, tc += 1, overlap += 1) sum += scaled[qc * columns + p.column + tc]!;
        const complete = rint(sum + overlap * shiftScale);
        if (complete > bestScore || (complete === bestScore && overlap > bestOverlap)) {
          bestScore = complete;
          bestOverlap = overlap;
          bestOffset = configuration - w;
        }
      }
      return { score: bestScore, overlap: bestOverlap, offset: bestOffset };
    });

    // 6. P(best of all alignments of a random target of width L ≥ observed), per width.
    const norient = bothStrands ? 2 : 1;
    const extLength = Math.ceil(w * TOMTOM_BINS + 1 - (w - 1) * shiftScale);
    const extended = new Map<number, Float64Array>();
    for (let s = 0; s < w; s += 1) {
      for (let e = s; e < w; e += 1) {
        const pmf = spans.get(key(s, e))!;
        const correction = rint(offset * (w - 1 - (e - s)) * scale);
        const ext = new Float64Array(extLength);
        for (let j = 0; j < pmf.length; j += 1) {
          const at = j - correction;
          if (at >= 0 && at < extLength) ext[at] = pmf[j]!;
        }
        extended.set(key(s, e), ext);
      }
    }
    const tails = new Map<number, Float64Array>();
    for (const L of lengths) {
      let maxPmf: Float64Array = new Float64Array(extLength);
      maxPmf[0] = 1;
      for (let i = 0; i < w + L - 1; i += 1) {
        let start: number;
        let end: number;
        if (i < w) {
          start = w - i - 1;
          end = Math.min(w, start + L) - 1;
        } else {
          start = 0;
          end = Math.min(w, L + w - i - 1) - 1;
        }
        const current = extended.get(key(start, end))!;
        for (let o = 0; o < norient; o += 1) maxPmf = maxOf(maxPmf, current);
      }
      tails.set(L, upperTailOf(maxPmf));
    }

    // 7. p-values, E-values, q-values; one row per target (its better orientation).
    const rows = db.map((p, k) => {
      const b = best[k]!;
      const index = rint(b.score - w * shiftScale);
      const tail = tails.get(p.motif.length)!;
      const pValue = Math.fround(index < 0 ? 1 : index >= tail.length ? 0 : tail[index]!);
      return { p, b, pValue, eValue: (pValue * db.length) / norient };
    });
    // Tomtom's order: p-value, larger overlap, then the strand-prefixed identifier (byte order).
    const stId = (p: Prepared) => `${p.orientation}${p.motif.id}`;
    rows.sort((x, y) => x.pValue - y.pValue || y.b.overlap - x.b.overlap || (stId(x.p) < stId(y.p) ? -1 : stId(x.p) > stId(y.p) ? 1 : x.p.targetIndex - y.p.targetIndex));
    // q-values over every row, pi0 = 1: rows are sorted by p-value already.
    const qValues = new Array<number>(rows.length);
    let running = 1;
    for (let r = rows.length - 1; r >= 0; r -= 1) {
      running = Math.min(running, Math.min(1, (rows[r]!.pValue * rows.length) / (r + 1)));
      qValues[r] = running;
    }
    const seen = new Set<number>();
    const out: MotifMatch[] = [];
    const queryConsensus = consensus(q, w);
    rows.forEach((r, k) => {
      if (seen.has(r.p.targetIndex)) return;
      seen.add(r.p.targetIndex);
      out.push({
        queryId: query.id,
        targetId: targets[r.p.targetIndex]!.id,
        targetAlt: targets[r.p.targetIndex]!.altName ?? '',
        targetIndex: r.p.targetIndex,
        offset: r.b.offset,
        overlap: r.b.overlap,
        orientation: r.p.orientation,
        pValue: r.pValue,
        eValue: r.eValue,
        qValue: qValues[k]!,
        queryConsensus,
        targetConsensus: consensus(r.p.probabilities, r.p.motif.length),
      });
    });
    return out;
  });
}

/** pmf of max(X, Y) for independent X, Y on the same integer support. */
function maxOf(x: Float64Array, y: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  let cx = 0;
  let cy = 0;
  for (let k = 0; k < x.length; k += 1) {
    // P(max = k) = P(X = k) P(Y < k) + P(Y = k) P(X < k) + P(X = k) P(Y = k)
    out[k] = x[k]! * cy + y[k]! * cx + x[k]! * y[k]!;
    cx += x[k]!;
    cy += y[k]!;
  }
  return out;
}

function upperTailOf(pmf: Float64Array): Float64Array {
  const out = new Float64Array(pmf.length);
  let acc = 0;
  for (let k = pmf.length - 1; k >= 0; k -= 1) {
    acc += pmf[k]!;
    out[k] = acc;
  }
  return out;
}

/** TSV in Tomtom's columns (its number formats: %g). */
export const MATCH_COLUMNS = ['Query_ID', 'Target_ID', 'Target_alt_ID', 'Optimal_offset', 'p-value', 'E-value', 'q-value', 'Overlap', 'Query_consensus', 'Target_consensus', 'Orientation'] as const;

/** Matches as TSV in Tomtom's columns (plus the target's alternative name), numbers as Tomtom prints them (%g). */
export function formatMatchesTsv(matches: readonly MotifMatch[]): string {
  const lines = [MATCH_COLUMNS.join('\t')];
  for (const m of matches) {
    lines.push([m.queryId, m.targetId, m.targetAlt, m.offset, formatG(m.pValue), formatG(m.eValue), formatG(m.qValue), m.overlap, m.queryConsensus, m.targetConsensus, m.orientation].join('\t'));
  }
  return `${lines.join('\n')}\n`;
}
