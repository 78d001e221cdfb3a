/**
 * The scorers of one run and the variant job's hook that applies them: each chunk's ref and alt
 * predictions come from the run core (`VariantScorer.predictions`, the ensemble mean on the
 * forward strand, exactly what SAD is computed from); every scorer then reads them. Gene scorers
 * share one set of gene masks per record and one aligned alt per ALT.
 *
 * A run writes one row layout from one model side, so its scorers are all `variant` scorers, all
 * `gene` scorers, or one whole-model scorer (ContactMap: the variant layout on the contact-map
 * tracks; SpliceJunction: junction rows), which whole-model-set.ts applies.
 */
import type { GeneIndex } from '../../../genome/gtf.js';
import type { GeneScoreRow } from '../../../formats/gene-score-writers.js';
import type { PendingRecord } from '../score-vcf.js';
import type { VariantScorer } from '../scorer.js';
import { geneMasks } from './gene-mask.js';
import { alignAlternate } from './indel-alignment.js';
import { ContactMapScorer } from './contact-map.js';
import { SpliceJunctionScorer } from './splice-junction.js';
import { ScorerError, type GeneScorer, type OutputWindow, type Scorer, type ScoredVariant, type TrackScorer } from './types.js';

/** Scores of one variant from `variant` scorers: per column, one value per track. */
export type TrackScores = Record<string, Float32Array>;

/** Scores of one variant for one gene from `gene` scorers: per column, one value per track (the gene-score writers' row). */
export type GeneScores = GeneScoreRow;

export type ScorerRows =
  | { rows: 'variant'; scorers: TrackScorer[] }
  | { rows: 'gene'; scorers: GeneScorer[]; genes: GeneIndex }
  /** Written in the variant layout, one row per contact-map track. */
  | { rows: 'contact-map'; scorers: [ContactMapScorer] }
  | { rows: 'junction'; scorers: [SpliceJunctionScorer]; genes: GeneIndex };

const GENE_SCORERS = 'GeneMaskLFC, GeneMaskActive, GeneMaskSplicing, SpliceJunction';

/** Checks a run's scorers: one row layout and one model side, genes given exactly when gene or junction scorers need them. */
export function scorerRows(scorers: readonly Scorer[], genes: GeneIndex | undefined, gtfOption = '--gtf'): ScorerRows {
  if (scorers.length === 0) throw new ScorerError('no scorer given');
  const whole = scorers.filter((s) => s instanceof ContactMapScorer || s instanceof SpliceJunctionScorer);
  if (whole.length) {
    const other = scorers.find((s) => s.name !== whole[0]!.name);
    if (other) {
      const why = whole.includes(other as ContactMapScorer) ? 'gives rows of another layout' : 'reads the per-position tracks';
      throw new ScorerError(`--scorer: ${whole[0]!.name} reads the whole AlphaGenome model's outputs and ${other.name} ${why}; score them in two runs`);
    }
    const s = whole[0]!;
    if (s instanceof ContactMapScorer) {
      if (genes) throw new ScorerError(`${gtfOption} is read by the gene scorers (${GENE_SCORERS}) only`);
      return { rows: 'contact-map', scorers: [s] };
    }
    if (!genes) throw new ScorerError(`--scorer ${s.name} needs genes: give ${gtfOption} FILE`);
    return { rows: 'junction', scorers: [s as SpliceJunctionScorer], genes };
  }
  const gene = scorers.filter((s): s is GeneScorer => s.rows === 'gene');
  const track = scorers.filter((s): s is TrackScorer => s.rows === 'variant');
  if (gene.length && track.length) {
    throw new ScorerError(`--scorer: ${track[0]!.name} gives one row per variant and track, ${gene[0]!.name} one per variant, gene and track; score them in two runs`);
  }
  if (gene.length) {
    if (!genes) throw new ScorerError(`--scorer ${gene[0]!.name} needs genes: give ${gtfOption} FILE`);
    return { rows: 'gene', scorers: gene, genes };
  }
  if (genes) throw new ScorerError(`${gtfOption} is read by the gene scorers (${GENE_SCORERS}) only`);
  return { rows: 'variant', scorers: track };
}

/** The output window of a record: its output bins' genomic span and the tracks predicted. */
function outputWindow(scorer: VariantScorer, p: PendingRecord): OutputWindow {
  const { offset, bins, binSize } = scorer.setup.geometry;
  return { start: p.prepared.start! + offset, bins, binSize, tracks: scorer.tracks };
}

/** The variant job's `scoreChunk` for variant scorers: per record, per ALT, the scorers' columns. */
export async function scoreTrackChunk(scorers: readonly TrackScorer[], model: VariantScorer, chunk: PendingRecord[]): Promise<TrackScores[][]> {
  const { ref, alt } = await model.predictions(chunk.map((p) => p.prepared));
  return chunk.map((p, i) => {
    const window = outputWindow(model, p);
    return p.prepared.alts.map((a, j) => {
      const variant: ScoredVariant = { chrom: p.record.chrom, start: p.record.pos - 1, ref: p.record.ref, alt: a.alt };
      return Object.fromEntries(scorers.map((s) => [s.column, s.score(ref[i]!, alt[i]![j]!, variant, window)]));
    });
  });
}

/** The variant job's `scoreChunk` for gene scorers: per record, per ALT, one row per selected gene. */
export async function scoreGeneChunk(scorers: readonly GeneScorer[], genes: GeneIndex, model: VariantScorer, chunk: PendingRecord[]): Promise<GeneScores[][][]> {
  const { ref, alt } = await model.predictions(chunk.map((p) => p.prepared));
  return chunk.map((p, i) => {
    const window = outputWindow(model, p);
    const masks = geneMasks(genes, p.record.chrom, window);
    const K = window.tracks.length;
    return p.prepared.alts.map((a, j) => {
      if (masks.length === 0) return [];
      const aligned = alignAlternate(alt[i]![j]!, window.bins, window.binSize, K, p.record.pos - 1 - window.start, p.record.ref.length, a.alt.length);
      const values = scorers.map((s) => s.score(ref[i]!, aligned, masks, window));
      return masks.map((m, g) => ({ gene: { id: m.gene.id, name: m.gene.name }, stats: Object.fromEntries(scorers.map((s, k) => [s.column, values[k]![g]!])) }));
    });
  });
}
