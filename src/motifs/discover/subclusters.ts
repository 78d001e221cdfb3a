/**
 * Subclustering of a pattern (TF-MoDISco-lite's `SeqletSet.compute_subpatterns`): the seqlets (all
 * as long as the pattern) are compared whole, by the continuous Jaccard of their flattened L1-scaled
 * tracks; each keeps its ⌊3 × perplexity + 2⌋ most similar; t-SNE affinities of the given perplexity
 * over them are clustered with Leiden, and each subcluster becomes a subpattern (largest first).
 */
import { features, jaccardFlat } from './affinity.js';
import { tsneAffinities } from './density.js';
import { leidenCluster } from './leiden.js';
import { SeqletSet } from './seqlet-set.js';
import { topKDescending } from './stats.js';

/** All-pairs continuous Jaccard of flat vectors; per row its k most similar (descending, ties in index order). */
export function pairwiseJaccard(rows: Float64Array[], k: number): { sims: Float64Array[]; neighbors: Int32Array[] } {
  const n = rows.length;
  const full: Float64Array[] = Array.from({ length: n }, () => new Float64Array(n));
  for (let i = 0; i < n; i += 1) {
    for (let j = i; j < n; j += 1) {
      const v = jaccardFlat(rows[i]!, rows[j]!);
      full[i]![j] = v;
      full[j]![i] = v;
    }
  }
  const sims: Float64Array[] = [];
  const neighbors: Int32Array[] = [];
  for (let i = 0; i < n; i += 1) {
    const order = topKDescending(full[i]!, k);
    neighbors.push(order);
    sims.push(Float64Array.from(order, (j) => full[i]![j]!));
  }
  return { sims, neighbors };
}

export function computeSubpatterns(pattern: SeqletSet, perplexity: number, seeds: number): void {
  const rows = pattern.seqlets.map((s) => features(s).fwd.data);
  const n = rows.length;
  if (n < 3) {
    pattern.subpatterns = [{ label: 0, pattern: new SeqletSet(pattern.seqlets) }];
    return;
  }
  const k = Math.min(Math.trunc(perplexity * 3 + 2), n);
  const { sims, neighbors } = pairwiseJaccard(rows, k);
  const graph = tsneAffinities(sims, neighbors, perplexity);
  const labels = leidenCluster(graph, { seeds });
  const groups = new Map<number, typeof pattern.seqlets>();
  pattern.seqlets.forEach((s, i) => {
    const g = groups.get(labels[i]!) ?? [];
    g.push(s);
    groups.set(labels[i]!, g);
  });
  pattern.subpatterns = [...groups.entries()]
    .map(([label, seqlets]) => ({ label, pattern: new SeqletSet(seqlets) }))
    .sort((a, b) => b.pattern.size - a.pattern.size);
}
