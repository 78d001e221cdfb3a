/**
 * Discovered patterns as motifs: each pattern's position probability matrix trimmed, as
 * tfmodisco-lite's report trims before matching, to the span of positions whose total |contribution|
 * is at least 30 % of the largest (`trim_threshold` 0.3), rows renormalised; named
 * `pos_patterns.pattern_0` etc. (the names `modisco meme` gives). Also a minimal MEME writer
 * (version 4 text, letter-probability matrices), until the shared one (src/motifs/meme-format.ts)
 * replaces it.
 */
import type { Motif } from '../motif.js';
import type { DiscoveryResult } from './discover.js';
import type { StoredPattern } from './h5.js';

/** What the motifs, the report and the MEME file need of a pattern. */
export interface PatternSummary {
  /** `pos_patterns.pattern_0`, … */
  id: string;
  metacluster: 'pos_patterns' | 'neg_patterns';
  index: number;
  length: number;
  /** Position probability matrix [length, 4]. */
  sequence: Float64Array;
  /** Contribution weight matrix [length, 4]. */
  contrib: Float64Array;
  /** Hypothetical CWM [length, 4]. */
  hypothetical: Float64Array;
  nSeqlets: number;
  /** Seqlets per subpattern, largest first. */
  subpatterns: number[];
}

/** The patterns of a discovery run, positive metacluster first. */
export function summarizeResult(result: Pick<DiscoveryResult, 'pos' | 'neg'>): PatternSummary[] {
  const out: PatternSummary[] = [];
  for (const [metacluster, patterns] of [
    ['pos_patterns', result.pos],
    ['neg_patterns', result.neg],
  ] as const) {
    (patterns ?? []).forEach((p, index) =>
      out.push({
        id: `${metacluster}.pattern_${index}`,
        metacluster,
        index,
        length: p.length,
        sequence: p.sequence,
        contrib: p.contrib,
        hypothetical: p.hypothetical,
        nSeqlets: p.size,
        subpatterns: (p.subpatterns ?? []).map((s) => s.pattern.size),
      }),
    );
  }
  return out;
}

/** The patterns of a modisco results file (ours or tfmodisco-lite's). */
export function summarizeStored(stored: { pos?: StoredPattern[]; neg?: StoredPattern[] }): PatternSummary[] {
  const out: PatternSummary[] = [];
  for (const [metacluster, patterns] of [
    ['pos_patterns', stored.pos],
    ['neg_patterns', stored.neg],
  ] as const) {
    (patterns ?? []).forEach((p) => {
      const index = Number(p.name.split('_')[1]);
      out.push({
        id: `${metacluster}.${p.name}`,
        metacluster,
        index,
        length: p.length,
        sequence: p.sequence,
        contrib: p.contrib,
        hypothetical: p.hypothetical,
        nSeqlets: p.nSeqlets,
        subpatterns: p.subpatterns.map((s) => s.nSeqlets).sort((a, b) => b - a),
      });
    });
  }
  return out;
}

/** Rows [start, end) whose Σ|CWM| reaches `threshold` × the largest, widened by `pad` rows each side (clipped). */
export function contributionSpan(contrib: ArrayLike<number>, length: number, threshold = 0.3, pad = 0): [number, number] {
  const score = Array.from({ length }, (_, p) => Math.abs(contrib[p * 4]!) + Math.abs(contrib[p * 4 + 1]!) + Math.abs(contrib[p * 4 + 2]!) + Math.abs(contrib[p * 4 + 3]!));
  const cut = Math.max(...score) * threshold;
  let first = score.findIndex((s) => s >= cut);
  let last = length - 1 - [...score].reverse().findIndex((s) => s >= cut);
  if (first < 0) {
    first = 0;
    last = length - 1;
  }
  return [Math.max(0, first - pad), Math.min(length, last + 1 + pad)];
}

/** A pattern's trimmed probability matrix as a motif. */
export function patternMotif(p: PatternSummary, trimThreshold = 0.3): Motif {
  const [start, end] = contributionSpan(p.contrib, p.length, trimThreshold);
  const length = end - start;
  const probabilities = new Float64Array(length * 4);
  for (let r = 0; r < length; r += 1) {
    let sum = 0;
    for (let b = 0; b < 4; b += 1) sum += p.sequence[(start + r) * 4 + b]!;
    for (let b = 0; b < 4; b += 1) probabilities[r * 4 + b] = sum > 0 ? p.sequence[(start + r) * 4 + b]! / sum : 0.25;
  }
  return { id: p.id, probabilities, length, sites: p.nSeqlets };
}
