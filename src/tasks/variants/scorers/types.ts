/**
 * The variant scorers of `score-variants --scorer`, as AlphaGenome defines them (the API's
 * `alphagenome/models/variant_scorers.py`, the implementations in alphagenome_research's
 * `model/variant_scoring/`): small classes, one per kind, each turning the ref and alt predictions
 * of one variant into scores.
 *
 * Two row layouts, as AlphaGenome's scores come in two shapes:
 *  - `variant` scorers (CenterMask) give one value per track for the variant;
 *  - `gene` scorers (GeneMaskLFC, GeneMaskActive) give one value per track for each gene the
 *    variant's window selects. The genes, their masks and the indel alignment of the alt
 *    prediction are computed once per variant (ScorerSet) and shared by every gene scorer, as
 *    AlphaGenome's gene scorers share one mask extractor.
 *
 * GeneMaskSplicing is a `gene` scorer on AlphaGenome's 1-bp splice tracks (the generic runner's
 * `--resolution 1` view). ContactMap and SpliceJunction (`WholeModelScorer`) read outputs that are
 * not per-position tracks (contact maps, junction counts) from the whole AlphaGenome model, a model
 * side of their own (alphagenome-variants.ts): ContactMap writes the `variant` layout with the
 * contact-map tracks, SpliceJunction a third, `junction` layout (see contact-map.ts and
 * splice-junction.ts).
 */
import type { Gene } from '../../../genome/gtf.js';
import type { Track } from '../../../formats/targets.js';
import type { ContactMapScorer } from './contact-map.js';
import type { SpliceJunctionScorer } from './splice-junction.js';

/** The variant being scored (one ALT), in genome coordinates. */
export interface ScoredVariant {
  chrom: string;
  /** 0-based position of the first REF base (AlphaGenome's `Variant.start`). */
  start: number;
  ref: string;
  alt: string;
}

/** Where the predictions lie: output bin b covers genome [start + b·binSize, start + (b+1)·binSize). */
export interface OutputWindow {
  start: number;
  bins: number;
  binSize: number;
  /** The predicted tracks, in column order of the predictions. */
  tracks: readonly Track[];
}

/** A `variant` scorer: one value per track from ref and alt predictions, each [bins, tracks] row-major. */
export interface TrackScorer {
  readonly rows: 'variant';
  /** Canonical name, as AlphaGenome prints its scorer settings, e.g. `CenterMask(width=501, aggregation=DIFF_LOG2_SUM)`. */
  readonly name: string;
  /** Output column: the name as an identifier, e.g. `CenterMask_501_DIFF_LOG2_SUM`. */
  readonly column: string;
  score(ref: Float64Array, alt: Float64Array, variant: ScoredVariant, window: OutputWindow): Float32Array;
  /** Throws a ScorerError when the model's tracks are not the ones it reads (called once the model is open). */
  checkTracks?(tracks: readonly Track[]): void;
}

/** The bins of one gene's mask and how many of its masked bases each holds. */
export interface GeneMask {
  gene: Gene;
  bins: Int32Array;
  /** Masked bases in each of `bins` (a bin counts as often as AlphaGenome's 1-bp mask hits it). */
  weights: Float64Array;
}

/** A `gene` scorer: one value per track for each gene, from ref and the alt aligned to ref's coordinates. */
export interface GeneScorer {
  readonly rows: 'gene';
  readonly name: string;
  readonly column: string;
  /** Per mask (gene), one value per track; NaN where the track's strand is not the gene's (unstranded tracks count for both). */
  score(ref: Float64Array, alignedAlt: Float64Array, masks: readonly GeneMask[], window: OutputWindow): Float32Array[];
  /** Throws a ScorerError when the model's tracks are not the ones it reads (called once the model is open). */
  checkTracks?(tracks: readonly Track[]): void;
}

/** Scorers on the whole AlphaGenome model's outputs (not per-position tracks). */
export type WholeModelScorer = ContactMapScorer | SpliceJunctionScorer;

export type Scorer = TrackScorer | GeneScorer | WholeModelScorer;

export class ScorerError extends Error {}
