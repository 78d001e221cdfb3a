/**
 * Building patterns from clusters (TF-MoDISco-lite's aggregator.py): seqlets are aligned one by one
 * to the growing pattern (best offset and strand of the sliding similarity), grown so they cover it
 * (the pattern grown when a seqlet sticks out), and added; the pattern is then polished: trimmed to
 * its supported rows, given flanks, cut to the window of highest information content and given its
 * flanks again.
 */
import { features, padFor, slidingCosine, slidingJaccard, type Tracks4 } from './affinity.js';
import { expandToFill, perPositionIc, SeqletSet } from './seqlet-set.js';
import type { Seqlet, TrackSet } from './track-set.js';
import { argmax } from './stats.js';

export type AlignMetric = 'jaccard' | 'pearson';

/**
 * Offset and strand of `child` against `parent`: 'jaccard' slides L1-scaled hypothetical and actual
 * contributions (pad ⌈len × (1 − minOverlap)⌉), 'pearson' slides mean-centred actual contributions.
 */
export function alignTo(parent: Tracks4, child: Tracks4, metric: AlignMetric, minOverlap: number): { offset: number; revcomp: boolean; score: number } {
  const jaccard = metric === 'jaccard';
  const p = features(parent, jaccard ? 'l1' : 'magnitude', jaccard);
  const c = features(child, jaccard ? 'l1' : 'magnitude', jaccard);
  const pad = padFor(child.length, minOverlap, 'ceil');
  const slide = jaccard ? slidingJaccard : slidingCosine;
  const fwd = slide(c.fwd, p.fwd, pad);
  const rev = slide(c.rev, p.fwd, pad);
  return rev.score > fwd.score ? { offset: rev.offset, revcomp: true, score: rev.score } : { offset: fwd.offset, revcomp: false, score: fwd.score };
}

/** `merge_in_seqlets_filledges`: the parent pattern with the seqlets aligned and added. */
export function mergeSeqlets(parentIn: SeqletSet, seqlets: Seqlet[], tracks: TrackSet, metric: AlignMetric, minOverlap: number): SeqletSet {
  let parent = parentIn.copy();
  for (let seqlet of seqlets) {
    const { offset, revcomp } = alignTo(parent, seqlet, metric, minOverlap);
    if (revcomp) seqlet = seqlet.revcomp();
    const len = seqlet.length;
    const grown = seqlet.expand(Math.max(offset, 0), Math.max(parent.length - (offset + len), 0));
    if (!grown.inBounds) continue;
    const parentLeft = Math.max(0, -offset);
    const parentRight = Math.max(0, offset + len - parent.length);
    if (parentLeft > 0 || parentRight > 0) {
      const candidate = expandToFill(parent, tracks, parentLeft, parentRight);
      if (!candidate) continue;
      parent = candidate;
    }
    parent.add(grown);
  }
  return parent;
}

/** `polish_pattern`: trim to support, add flanks, keep the `windowSize` rows of highest IC, add flanks. */
export function polishPattern(pattern: SeqletSet, tracks: TrackSet, o: { minFrac: number; minNum: number; flank: number; windowSize: number; background: ArrayLike<number> }): SeqletSet | undefined {
  let p: SeqletSet | undefined = pattern.trimToSupport(o.minFrac, o.minNum);
  p = expandToFill(p, tracks, o.flank, o.flank);
  if (!p) return undefined;
  const ic = perPositionIc(p.sequence, o.background, 0.001);
  const w = Math.min(o.windowSize, p.length);
  const sums = new Float64Array(p.length - w + 1);
  let s = 0;
  for (let i = 0; i < w; i += 1) s += ic[i]!;
  sums[0] = s;
  for (let i = w; i < p.length; i += 1) {
    s += ic[i]! - ic[i - w]!;
    sums[i - w + 1] = s;
  }
  const start = argmax(sums);
  p = p.trimTo(start, start + w);
  return expandToFill(p, tracks, o.flank, o.flank);
}
