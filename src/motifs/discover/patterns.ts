/**
 * From the seqlets of one sign to patterns (TF-MoDISco-lite's `seqlets_to_patterns`):
 * two rounds of
 *   coarse similarity (gapped k-mers) → nearest neighbours → fine similarity (sliding continuous
 *   Jaccard) → (first round) seqlets whose fine and coarse similarities disagree (Spearman ≤ 0.15)
 *   dropped → density-adapted graph → Leiden → one pattern per cluster (seqlets merged strongest
 *   first, polished; kept when its CWM sums to the metacluster's sign),
 * the second round on the seqlets of the first round's patterns (as the patterns grew them); then
 * spurious merges split and similar patterns merged, patterns below `finalMinClusterSize` seqlets or
 * without `minIcInWindow` bits in some `minIcWindowSize`-bp window dropped, and each final pattern
 * subclustered.
 */
import { mergeSeqlets, polishPattern } from './aggregate.js';
import { detectSpuriousMerging } from './collapse.js';
import { densityAdaptation } from './density.js';
import { coarseNeighbors } from './gapped-kmers.js';
import { fineSimilarities } from './affinity.js';
import { leidenCluster } from './leiden.js';
import { expandToFill, perPositionIc, SeqletSet } from './seqlet-set.js';
import { computeSubpatterns } from './subclusters.js';
import { spearman } from './stats.js';
import type { Seqlet, TrackSet } from './track-set.js';

export interface PatternOptions {
  minOverlapWhileSliding: number;
  nearestNeighborsToCompute: number;
  affmatCorrelationThreshold: number;
  tsnePerplexity: number;
  nLeidenRuns: number;
  nLeidenIterations: number;
  fracSupportToTrimTo: number;
  minNumToTrimTo: number;
  trimToWindowSize: number;
  initialFlankToAdd: number;
  finalFlankToAdd: number;
  mergeThresholds: readonly (readonly [number, number])[];
  dealbreakerThresholds: readonly (readonly [number, number])[];
  subclusterPerplexity: number;
  /** Kept for tfmodisco-lite's signature; it passes it on, but its collapser subsamples 1,000 seqlets (as we do). */
  mergingMaxSeqletsSubsample: number;
  finalMinClusterSize: number;
  minIcInWindow: number;
  minIcWindowSize: number;
  ppmPseudocount: number;
  /**
   * Turn each final pattern so that most of its seqlets lie on the forward strand of their
   * sequences (ours; TF-MoDISco-lite leaves a pattern in the orientation its first seqlets happened
   * to take, which for a motif found on one strand may be the reverse). Default true.
   */
  orientByStrand: boolean;
}

/** `modisco motifs` defaults (trim size 30, initial flank 10, 2 Leiden runs), the rest TFMoDISco()'s. */
export const DEFAULT_PATTERN_OPTIONS: PatternOptions = {
  minOverlapWhileSliding: 0.7,
  nearestNeighborsToCompute: 500,
  affmatCorrelationThreshold: 0.15,
  tsnePerplexity: 10,
  nLeidenRuns: 2,
  nLeidenIterations: -1,
  fracSupportToTrimTo: 0.2,
  minNumToTrimTo: 30,
  trimToWindowSize: 30,
  initialFlankToAdd: 10,
  finalFlankToAdd: 0,
  mergeThresholds: [
    [0.8, 0.8],
    [0.5, 0.85],
    [0.2, 0.9],
  ],
  dealbreakerThresholds: [
    [0.4, 0.75],
    [0.2, 0.8],
    [0.1, 0.85],
    [0.0, 0.9],
  ],
  subclusterPerplexity: 50,
  mergingMaxSeqletsSubsample: 300,
  finalMinClusterSize: 20,
  minIcInWindow: 0.6,
  minIcWindowSize: 6,
  ppmPseudocount: 0.001,
  orientByStrand: true,
};

/** The pattern on the other strand when more of its seqlets are reverse than forward. */
export function orientByStrand(pattern: SeqletSet): SeqletSet {
  const reverse = pattern.seqlets.filter((s) => s.isRevcomp).length;
  if (2 * reverse <= pattern.size) return pattern;
  return new SeqletSet(pattern.seqlets.map((s) => s.revcomp()));
}

export interface PatternProgress {
  (stage: string): void;
}

/** Mean base frequencies of the seqlets (the background of the information content). */
function backgroundOf(seqlets: Seqlet[]): Float64Array {
  const bg = new Float64Array(4);
  let rows = 0;
  for (const s of seqlets) {
    const seq = s.sequence;
    for (let p = 0; p < s.length; p += 1) for (let b = 0; b < 4; b += 1) bg[b]! += seq[p * 4 + b]!;
    rows += s.length;
  }
  for (let b = 0; b < 4; b += 1) bg[b]! /= rows;
  return bg;
}

/** Rows whose fine and coarse similarities rank alike (Spearman > threshold), neighbours re-indexed. */
function filterByCorrelation(seqlets: Seqlet[], neighbors: Int32Array[], coarse: Float64Array[], fine: Float64Array[], threshold: number) {
  const keep = seqlets.map((_, i) => {
    const f: number[] = [];
    const c: number[] = [];
    fine[i]!.forEach((v, t) => {
      if (Math.abs(v) > 0) {
        f.push(v);
        c.push(coarse[i]![t]!);
      }
    });
    return spearman(f, c) > threshold;
  });
  const newIndex = new Int32Array(seqlets.length).fill(-1);
  let k = 0;
  keep.forEach((ok, i) => {
    if (ok) newIndex[i] = k++;
  });
  const outSeqlets: Seqlet[] = [];
  const outNeighbors: Int32Array[] = [];
  const outFine: Float64Array[] = [];
  seqlets.forEach((s, i) => {
    if (!keep[i]) return;
    outSeqlets.push(s);
    const nb: number[] = [];
    const sim: number[] = [];
    neighbors[i]!.forEach((j, t) => {
      if (keep[j]) {
        nb.push(newIndex[j]!);
        sim.push(fine[i]![t]!);
      }
    });
    outNeighbors.push(Int32Array.from(nb));
    outFine.push(Float64Array.from(sim));
  });
  return { seqlets: outSeqlets, neighbors: outNeighbors, fine: outFine };
}

/**
 * Patterns of one metacluster (`sign` 1: positive seqlets, −1: negative); undefined when a round
 * is left without seqlets (tfmodisco-lite's None: the metacluster gets no group in the results).
 */
export function seqletsToPatterns(input: Seqlet[], tracks: TrackSet, sign: number, options: Partial<PatternOptions> = {}, progress?: PatternProgress): SeqletSet[] | undefined {
  const o = { ...DEFAULT_PATTERN_OPTIONS, ...options };
  const background = backgroundOf(input);
  const polish = { minFrac: o.fracSupportToTrimTo, minNum: o.minNumToTrimTo, flank: o.initialFlankToAdd, windowSize: o.trimToWindowSize, background };
  // Strongest first (stable).
  let seqlets = input
    .map((s, i) => ({ s, i, w: s.totalAbsContribution() }))
    .sort((a, b) => b.w - a.w || a.i - b.i)
    .map((x) => x.s);
  let patterns: SeqletSet[] = [];
  for (let round = 0; round < 2; round += 1) {
    if (seqlets.length === 0) return undefined;
    progress?.(`round ${round + 1}: similarities of ${seqlets.length} seqlets`);
    const coarse = coarseNeighbors(seqlets, sign, o.nearestNeighborsToCompute);
    let neighbors = coarse.neighbors;
    let fine = fineSimilarities(seqlets, neighbors, o.minOverlapWhileSliding);
    if (round === 0) {
      const f = filterByCorrelation(seqlets, neighbors, coarse.sims, fine, o.affmatCorrelationThreshold);
      seqlets = f.seqlets;
      neighbors = f.neighbors;
      fine = f.fine;
      if (seqlets.length === 0) return undefined;
    }
    const graph = densityAdaptation(fine, neighbors, o.tsnePerplexity);
    progress?.(`round ${round + 1}: clustering ${seqlets.length} seqlets`);
    const clusters = leidenCluster(graph, { seeds: o.nLeidenRuns, iterations: o.nLeidenIterations });
    const count = Math.max(...clusters) + 1;
    const members: Seqlet[][] = Array.from({ length: count }, () => []);
    seqlets.forEach((s, i) => members[clusters[i]!]!.push(s));
    patterns = [];
    for (const group of members) {
      if (group.length === 0) continue;
      const sorted = group
        .map((s, i) => ({ s, i, w: s.totalAbsContribution() }))
        .sort((a, b) => b.w - a.w || a.i - b.i)
        .map((x) => x.s);
      let pattern = new SeqletSet([sorted[0]!]);
      if (sorted.length > 1) pattern = mergeSeqlets(pattern, sorted.slice(1), tracks, 'jaccard', o.minOverlapWhileSliding);
      const polished = polishPattern(pattern, tracks, polish);
      if (!polished) continue;
      let total = 0;
      for (const v of polished.contrib) total += v;
      if (Math.sign(total) === sign) patterns.push(polished);
    }
    // The seqlets of this round's patterns, once each (by coordinates; the last copy wins, in first-seen order).
    const unique = new Map<string, Seqlet>();
    for (const p of patterns) for (const s of p.seqlets) unique.set(s.key, s);
    seqlets = [...unique.values()];
  }

  progress?.(`merging ${patterns.length} patterns`);
  let merged = detectSpuriousMerging(patterns, tracks, {
    ...polish,
    minOverlap: o.minOverlapWhileSliding,
    mergeThresholds: o.mergeThresholds,
    dealbreakerThresholds: o.dealbreakerThresholds,
    maxSeqletsSubsample: 1000,
    perplexity: o.subclusterPerplexity,
    minInSubcluster: Math.max(o.finalMinClusterSize, o.subclusterPerplexity),
    seeds: o.nLeidenRuns,
  });
  merged = merged
    .map((p, i) => ({ p, i }))
    .sort((a, b) => b.p.size - a.p.size || a.i - b.i)
    .map((x) => x.p);

  const final: SeqletSet[] = [];
  for (const pattern of merged) {
    if (pattern.size < o.finalMinClusterSize) continue;
    const ic = perPositionIc(pattern.sequence, background, o.ppmPseudocount);
    let bestWindow = -Infinity;
    if (ic.length < o.minIcWindowSize) bestWindow = ic.reduce((a, b) => a + b, 0);
    else
      for (let s = 0; s + o.minIcWindowSize <= ic.length; s += 1) {
        let w = 0;
        for (let t = s; t < s + o.minIcWindowSize; t += 1) w += ic[t]!;
        bestWindow = Math.max(bestWindow, w);
      }
    if (bestWindow < o.minIcInWindow) continue;
    final.push(pattern);
  }
  progress?.(`subclustering ${final.length} patterns`);
  return final.map((pattern) => {
    let expanded = expandToFill(pattern, tracks, o.finalFlankToAdd, o.finalFlankToAdd) ?? pattern;
    if (o.orientByStrand) expanded = orientByStrand(expanded);
    computeSubpatterns(expanded, o.subclusterPerplexity, o.nLeidenRuns);
    return expanded;
  });
}
