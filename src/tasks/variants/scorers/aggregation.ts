/**
 * AlphaGenome's aggregation types (alphagenome_research `variant_scoring/center_mask.py`,
 * `_apply_aggregation`): per track, over the masked bins b of ref and alt,
 *
 *   DIFF_MEAN      mean(alt) − mean(ref)
 *   DIFF_SUM       Σ alt − Σ ref
 *   DIFF_SUM_LOG2  Σ log2(alt + 1) − Σ log2(ref + 1)
 *   DIFF_LOG2_SUM  log2(1 + Σ alt) − log2(1 + Σ ref)
 *   L2_DIFF        sqrt(Σ (alt − ref)²)
 *   L2_DIFF_LOG1P  sqrt(Σ (ln(1 + alt) − ln(1 + ref))²)
 *   ACTIVE_MEAN    max(mean(alt), mean(ref))
 *   ACTIVE_SUM     max(Σ alt, Σ ref)
 *
 * An empty mask gives what numpy's masked reductions give: sums 0, means NaN.
 */
export const AGGREGATIONS = ['DIFF_MEAN', 'DIFF_SUM', 'DIFF_SUM_LOG2', 'DIFF_LOG2_SUM', 'L2_DIFF', 'L2_DIFF_LOG1P', 'ACTIVE_MEAN', 'ACTIVE_SUM'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** Aggregates bins [lo, hi) of ref and alt ([bins, K] row-major) per track. */
export function aggregate(ref: ArrayLike<number>, alt: ArrayLike<number>, K: number, lo: number, hi: number, type: Aggregation): Float32Array {
  const out = new Float32Array(K);
  const n = Math.max(0, hi - lo);
  for (let k = 0; k < K; k++) {
    // Each aggregation needs at most two running sums (ref side, alt side) or one (the difference).
    let r = 0;
    let a = 0;
    for (let b = lo; b < hi; b++) {
      const x = ref[b * K + k]!;
      const y = alt[b * K + k]!;
      switch (type) {
        case 'DIFF_SUM_LOG2':
          r += Math.log2(x + 1);
          a += Math.log2(y + 1);
          break;
        case 'L2_DIFF':
          r += (y - x) ** 2;
          break;
        case 'L2_DIFF_LOG1P':
          r += (Math.log1p(y) - Math.log1p(x)) ** 2;
          break;
        default:
          r += x;
          a += y;
      }
    }
    switch (type) {
      case 'DIFF_MEAN':
        out[k] = a / n - r / n;
        break;
      case 'ACTIVE_MEAN':
        out[k] = Math.max(a / n, r / n);
        break;
      case 'DIFF_SUM':
      case 'DIFF_SUM_LOG2':
        out[k] = a - r;
        break;
      case 'ACTIVE_SUM':
        out[k] = Math.max(a, r);
        break;
      case 'DIFF_LOG2_SUM':
        out[k] = Math.log2(1 + a) - Math.log2(1 + r);
        break;
      case 'L2_DIFF':
      case 'L2_DIFF_LOG1P':
        out[k] = Math.sqrt(r);
        break;
    }
  }
  return out;
}
