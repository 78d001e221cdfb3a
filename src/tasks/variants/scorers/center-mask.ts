/**
 * CenterMask (alphagenome_research `variant_scoring/center_mask.py`, settings in the API's
 * `CenterMaskScorer`): an aggregation of ref and alt over the output bins around the variant.
 *
 * The mask, as `create_center_mask` places it on output bins of `binSize` bp: with d the variant's
 * first REF base relative to the first output bin, c = ⌊d / binSize⌋ its bin and n = ⌈width / binSize⌉
 * bins, the mask is bins [max(c − ⌊n/2⌋, 0), min(c − ⌊n/2⌋ + n, bins)); the whole window when
 * width is `undefined` (AlphaGenome's None); empty when the variant lies outside the output bins.
 * A width wider than the window therefore covers the whole window. Bins are compared by index: the
 * centre mask does not realign indels (AlphaGenome's does not either).
 */
import { aggregate, type Aggregation } from './aggregation.js';
import type { OutputWindow, ScoredVariant, TrackScorer } from './types.js';

/** The widths AlphaGenome's API accepts (`SUPPORTED_WIDTHS[CENTER_MASK]`); `undefined` is the whole window. */
export const CENTER_MASK_WIDTHS = [501, 2001, 10_001, 100_001, 200_001] as const;

/** [first, end) of the masked output bins. */
export function centerMaskBins(variantStart: number, window: Pick<OutputWindow, 'start' | 'bins' | 'binSize'>, width: number | undefined): [number, number] {
  const { bins, binSize } = window;
  const d = variantStart - window.start;
  if (d < 0 || d >= bins * binSize) return [0, 0];
  if (width === undefined) return [0, bins];
  const n = Math.ceil(width / binSize);
  const first = Math.floor(d / binSize) - Math.floor(n / 2);
  return [Math.max(first, 0), Math.min(first + n, bins)];
}

export class CenterMaskScorer implements TrackScorer {
  readonly rows = 'variant';
  readonly name: string;
  readonly column: string;

  constructor(
    /** bp, or undefined for the whole window. */
    readonly width: number | undefined,
    readonly aggregation: Aggregation,
  ) {
    this.name = `CenterMask(width=${width ?? 'None'}, aggregation=${aggregation})`;
    this.column = `CenterMask_${width ?? 'all'}_${aggregation}`;
  }

  score(ref: Float64Array, alt: Float64Array, variant: ScoredVariant, window: OutputWindow): Float32Array {
    const [lo, hi] = centerMaskBins(variant.start, window, this.width);
    return aggregate(ref, alt, window.tracks.length, lo, hi, this.aggregation);
  }
}
