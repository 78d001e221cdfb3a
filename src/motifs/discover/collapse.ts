/**
 * Merging similar patterns and splitting spurious merges (TF-MoDISco-lite's
 * `SimilarPatternsCollapser` and `_detect_spurious_merging`).
 *
 * For each ordered pair (i, j): j's contributions are aligned to i's (sliding cosine of mean-centred
 * CWMs: the aligner similarity), j's seqlets (at most 1,000, a seeded subsample) are moved by that
 * offset and strand, and the continuous Jaccard of every (i-seqlet, j-seqlet) pair is compared with
 * that of every (i-seqlet, i-seqlet) pair: the ROC AUC of "within i" against "between", turned into a
 * cross-contamination 2 × (1 − max(AUC, 0.5)) (1: indistinguishable). Pairs are merged in order of
 * decreasing aligner similarity when cross-contamination and similarity pass one of the merge
 * thresholds and no pair in the would-be group hits a "dealbreaker" threshold; a merge adds the
 * smaller pattern's seqlets to the larger (aligned by the cosine) and polishes the result; repeated
 * until nothing merges.
 */
import { features, jaccardFlat } from './affinity.js';
import { alignTo, mergeSeqlets, polishPattern } from './aggregate.js';
import { MersenneTwister } from './rng.js';
import { SeqletSet } from './seqlet-set.js';
import { computeSubpatterns } from './subclusters.js';
import { rocAuc } from './stats.js';
import type { Seqlet, TrackSet } from './track-set.js';

export interface CollapseOptions {
  minOverlap: number;
  mergeThresholds: readonly (readonly [number, number])[];
  dealbreakerThresholds: readonly (readonly [number, number])[];
  minFrac: number;
  minNum: number;
  flank: number;
  windowSize: number;
  background: ArrayLike<number>;
  maxSeqletsSubsample: number;
}

/** A pattern of at most `max` seqlets: a seeded subsample (NumPy RandomState(1234).choice) of larger ones. */
function subsample(pattern: SeqletSet, max: number): SeqletSet {
  if (pattern.size <= max) return pattern;
  const idx = new MersenneTwister(1234).choiceWithoutReplacement(pattern.size, max);
  return new SeqletSet(Array.from(idx, (i) => pattern.seqlets[i]!));
}

interface PairScore {
  auroc: number;
  sim: number;
}

function scorePair(a: SeqletSet, b: SeqletSet, subA: SeqletSet, subB: SeqletSet, tracks: TrackSet, o: CollapseOptions): PairScore {
  const { offset, revcomp, score } = alignTo(a, b, 'pearson', o.minOverlap);
  let moved: Seqlet[] = subB.seqlets.map((s) => (revcomp ? s.revcomp() : s));
  moved = moved.map((s) => {
    const shift = (s.isRevcomp ? 1 : -1) * offset;
    return s.withCoordinates(s.start + shift, s.end + shift);
  });
  moved = moved.filter((s) => s.start >= 0 && s.end < tracks.length);
  if (moved.length === 0) return { auroc: 0.5, sim: 0 };
  const first = subA.seqlets.map((s) => features(s).fwd.data);
  const second = moved.map((s) => features(s).fwd.data);
  const between: number[] = [];
  const within: number[] = [];
  for (const y of second) for (const x of first) between.push(flatSimilarity(x, y));
  for (const y of first) for (const x of first) within.push(flatSimilarity(x, y));
  return { auroc: rocAuc(between, within), sim: score };
}

/** Continuous Jaccard of flattened tracks; when lengths differ, the best of the sliding positions (no padding). */
function flatSimilarity(x: Float64Array, y: Float64Array): number {
  if (x.length === y.length) return jaccardFlat(x, y);
  const [short, long] = x.length < y.length ? [x, y] : [y, x];
  let best = -Infinity;
  for (let o = 0; o + short.length <= long.length; o += 1) best = Math.max(best, jaccardFlat(short, long.subarray(o, o + short.length)));
  return best;
}

export function collapseSimilarPatterns(input: SeqletSet[], tracks: TrackSet, o: CollapseOptions): SeqletSet[] {
  let patterns = input.map((p) => p.copy());
  const cache = new Map<SeqletSet, Map<SeqletSet, PairScore>>();
  const subsamples = new Map<SeqletSet, SeqletSet>();
  const sub = (p: SeqletSet) => {
    let s = subsamples.get(p);
    if (!s) subsamples.set(p, (s = subsample(p, o.maxSeqletsSubsample)));
    return s;
  };
  for (let round = 0; round < 1000; round += 1) {
    const n = patterns.length;
    const auroc = Array.from({ length: n }, () => new Float64Array(n));
    const sims = Array.from({ length: n }, () => new Float64Array(n));
    for (let i = 0; i < n; i += 1) {
      for (let j = 0; j < n; j += 1) {
        if (i === j) {
          auroc[i]![j] = 0.5;
          sims[i]![j] = 1;
          continue;
        }
        const a = patterns[i]!;
        const b = patterns[j]!;
        let row = cache.get(a);
        if (!row) cache.set(a, (row = new Map()));
        let s = row.get(b);
        if (!s) row.set(b, (s = scorePair(a, b, sub(a), sub(b), tracks, o)));
        auroc[i]![j] = s.auroc;
        sims[i]![j] = s.sim;
      }
    }
    const alignerSim = (i: number, j: number) => 0.5 * (sims[i]![j]! + sims[j]![i]!);
    const crossContam = (i: number, j: number) => 2 * (1 - Math.max(auroc[i]![j]!, 0.5));

    const pairs: [number, number, number][] = [];
    for (let i = 0; i < n; i += 1) for (let j = i + 1; j < n; j += 1) pairs.push([i, j, alignerSim(i, j)]);
    pairs.sort((x, y) => y[2] - x[2]);
    const partners = Array.from({ length: n }, (_, i) => new Set([i]));
    const toMerge: [number, number][] = [];
    for (const [i, j, sim] of pairs) {
      const contam = Math.min(crossContam(i, j), crossContam(j, i));
      if (!o.mergeThresholds.some(([c, s]) => contam >= c && sim >= s)) continue;
      const group = new Set([...partners[i]!, ...partners[j]!]);
      let ok = true;
      for (const m1 of group) {
        for (const m2 of group) {
          if (m1 >= m2) continue;
          const c = 0.5 * (crossContam(m1, m2) + crossContam(m2, m1));
          const s = alignerSim(m1, m2);
          if (o.dealbreakerThresholds.some(([ct, st]) => c <= ct && s <= st)) {
            ok = false;
            break;
          }
        }
        if (!ok) break;
      }
      if (ok) {
        toMerge.push([i, j]);
        for (const m of group) partners[m] = group;
      }
    }
    if (toMerge.length === 0) break;
    const before = patterns.slice();
    for (const [i, j] of toMerge) {
      const p1 = patterns[i]!;
      const p2 = patterns[j]!;
      if (p1 === p2) continue;
      const [parent, child] = p1.size < p2.size ? [p2, p1] : [p1, p2];
      const merged = polishPattern(mergeSeqlets(parent, child.seqlets, tracks, 'pearson', o.minOverlap), tracks, o);
      if (merged) for (let k = 0; k < patterns.length; k += 1) if (patterns[k] === parent || patterns[k] === child) patterns[k] = merged;
    }
    // Nothing actually changed (every merge failed to polish): stop rather than try again forever.
    if (patterns.every((p, k) => p === before[k])) break;
    const unique: SeqletSet[] = [];
    for (const p of patterns.slice().sort((a, b) => b.size - a.size)) if (!unique.includes(p)) unique.push(p);
    patterns = unique;
  }
  return patterns;
}

export interface SpuriousMergeOptions extends CollapseOptions {
  perplexity: number;
  minInSubcluster: number;
  seeds: number;
}

/**
 * `_detect_spurious_merging`: each pattern of more than `minInSubcluster` seqlets is split into its
 * subclusters, which are collapsed again among themselves; then all patterns are collapsed together.
 */
export function detectSpuriousMerging(patterns: SeqletSet[], tracks: TrackSet, o: SpuriousMergeOptions): SeqletSet[] {
  const out: SeqletSet[] = [];
  for (const pattern of patterns) {
    if (pattern.size > o.minInSubcluster) {
      computeSubpatterns(pattern, o.perplexity, o.seeds);
      out.push(...collapseSimilarPatterns(pattern.subpatterns!.map((s) => s.pattern), tracks, o));
    } else out.push(pattern);
  }
  return collapseSimilarPatterns(out, tracks, o);
}
