/**
 * ContactMap (alphagenome_research `variant_scoring/contact_map.py`, `ContactMapScorer`; the API's
 * `ContactMapScorer` takes no settings): Orca's 1-Mb structural impact score. With ref and alt the
 * contact maps [P, P, C] of the two windows (P positions of `resolution` bp, 2,048 in AlphaGenome)
 * and c the position holding the variant's first REF base (`create_center_mask` with width =
 * resolution: one bin), per track k
 *
 *   score[k] = (1/P) Σ_i |alt[i, c, k] − ref[i, c, k]|
 *
 * (upstream: the mean of |alt − ref| over axis 0, then row c). Positions are compared by index, as
 * upstream does (it is meant for SNVs; indels are not realigned). A variant outside the window's
 * positions is an error, as upstream raises one.
 */
import { centerMaskBins } from './center-mask.js';
import { ScorerError, type ScoredVariant } from './types.js';

/** Where a contact map lies: position i covers genome [start + i·resolution, start + (i+1)·resolution). */
export interface ContactMapWindow {
  start: number;
  positions: number;
  resolution: number;
  /** Contact-map tracks C. */
  tracks: number;
}

export class ContactMapScorer {
  /** The variant × track layout of CenterMask, its tracks the contact-map tracks. */
  readonly rows = 'variant';
  /** Read from the whole model (predictVariantOutputs), not the per-position runner. */
  readonly input = 'whole-model';
  readonly name = 'ContactMap()';
  readonly column = 'ContactMap';

  /** One value per contact-map track from ref and alt maps [P, P, C] row-major. */
  score(ref: ArrayLike<number>, alt: ArrayLike<number>, variant: ScoredVariant, window: ContactMapWindow): Float32Array {
    const { positions: P, resolution, tracks: C } = window;
    const [c, end] = centerMaskBins(variant.start, { start: window.start, bins: P, binSize: resolution }, resolution);
    if (end - c !== 1) throw new ScorerError(`ContactMap: ${variant.chrom}:${variant.start + 1} lies outside the contact map's ${P} positions of ${resolution} bp from ${window.start}`);
    const out = new Float32Array(C);
    for (let k = 0; k < C; k++) {
      let s = 0;
      for (let i = 0; i < P; i++) {
        const at = (i * P + c) * C + k;
        s += Math.abs(alt[at]! - ref[at]!);
      }
      out[k] = s / P;
    }
    return out;
  }
}
