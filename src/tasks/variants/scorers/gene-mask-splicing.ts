/**
 * GeneMaskSplicing (alphagenome_research `variant_scoring/gene_mask.py`, `_score_gene_variant`,
 * case GENE_MASK_SPLICING; settings in the API's `GeneMaskSplicingScorer`): per gene and track, the
 * largest |alt − ref| over the gene's exon mask, alt aligned to ref for indels.
 *
 * Upstream computes `max over all positions of |alt − ref| · mask`, so an empty mask gives 0 (not
 * NaN as the mean-based gene scorers do), and the masked-out positions' zeros floor the maximum at 0.
 * The genes, masks and alignment are the other gene scorers' (`dna_model.py` gives all three gene
 * scorers one GeneVariantScorer: EXONS masks, INTERVAL_CONTAINED genes); strand-mismatched tracks
 * are NaN (`finalize_variant`).
 *
 * `width` (None, 101, 1,001 or 10,001 bp, the API's SUPPORTED_WIDTHS) is accepted and named as
 * upstream does, but alphagenome_research's GeneVariantScorer never reads it: the score spans the
 * whole gene mask for every width, here too.
 *
 * It reads AlphaGenome's splice outputs only (the API's SUPPORTED_OUTPUT_TYPES: SPLICE_SITES,
 * SPLICE_SITE_USAGE), which the generic runner gives at `--resolution 1` as the tracks
 * `splice_sites_probs:i` and `splice_site_usage_predictions:i`; every selected track must be one.
 */
import type { Track } from '../../../formats/targets.js';
import { trackStrand } from '../../genes/gene-stats.js';
import { ScorerError, type GeneMask, type GeneScorer, type OutputWindow } from './types.js';

/** The API's widths for GeneMaskSplicing; `undefined` is None. */
export const SPLICING_WIDTHS = [101, 1001, 10_001] as const;

/** AlphaGenome's splice outputs as the generic runner names their tracks (`<output>:<i>`), by API output type. */
export const SPLICE_OUTPUTS = { SPLICE_SITES: 'splice_sites_probs', SPLICE_SITE_USAGE: 'splice_site_usage_predictions' } as const;
export type SpliceOutput = keyof typeof SPLICE_OUTPUTS;

export class GeneMaskSplicingScorer implements GeneScorer {
  readonly rows = 'gene';
  readonly name: string;
  readonly column: string;

  constructor(
    readonly width: number | undefined,
    /** Restricts the tracks to one output; undefined: either splice output. */
    readonly output?: SpliceOutput,
  ) {
    this.name = `GeneMaskSplicing(${output ? `requested_output=${output}, ` : ''}width=${width ?? 'None'})`;
    this.column = `GeneMaskSplicing${output ? `_${output}` : ''}_${width ?? 'all'}`;
  }

  /** Refuses tracks that are not AlphaGenome's 1-bp splice outputs (e.g. Enformer, or AlphaGenome at 128 bp). */
  checkTracks(tracks: readonly Track[]): void {
    const allowed: string[] = this.output ? [SPLICE_OUTPUTS[this.output]] : Object.values(SPLICE_OUTPUTS);
    const bad = tracks.find((t) => !allowed.includes(t.identifier.split(':')[0]!));
    if (bad) {
      throw new ScorerError(
        `--scorer ${this.name} reads AlphaGenome's 1-bp splice outputs only (${allowed.join(', ')}: --resolution 1 --tracks ${allowed.join(',')}); track ${bad.identifier} is not one`,
      );
    }
  }

  score(ref: Float64Array, alignedAlt: Float64Array, masks: readonly GeneMask[], window: OutputWindow): Float32Array[] {
    const K = window.tracks.length;
    const strands = window.tracks.map(trackStrand);
    return masks.map((m) => {
      const out = new Float32Array(K);
      for (let k = 0; k < K; k++) {
        if (strands[k] !== '.' && strands[k] !== m.gene.strand) {
          out[k] = NaN;
          continue;
        }
        let max = 0;
        for (const b of m.bins) max = Math.max(max, Math.abs(alignedAlt[b * K + k]! - ref[b * K + k]!));
        out[k] = max;
      }
      return out;
    });
  }
}
