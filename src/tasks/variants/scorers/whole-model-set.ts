/**
 * The variant job's `scoreChunk` for the whole-model scorers (ContactMap, SpliceJunction) on the
 * AlphaGenome model side (alphagenome-variants.ts): per record and ALT, the ref and alt outputs of
 * `predictVariantOutputs`, read by the scorer.
 *
 * Both compare ref and alt by window position, indels included: upstream's contact_map.py and
 * splice_junction.py do not realign (only the gene-mask scorers do). Junction coordinates are the
 * ref window's (upstream adds the scored interval's start).
 */
import type { GeneIndex } from '../../../genome/gtf.js';
import type { JunctionScoreRow } from '../../../formats/junction-score-writers.js';
import type { AlphaGenomeVariantModel } from '../alphagenome-variants.js';
import type { PendingRecord } from '../score-vcf.js';
import type { ContactMapScorer } from './contact-map.js';
import { junctionScores, variantGenes, type SpliceJunctionScorer } from './splice-junction.js';
import type { TrackScores } from './scorer-set.js';
import type { ScoredVariant } from './types.js';

function scoredVariant(p: PendingRecord, alt: string): ScoredVariant {
  return { chrom: p.record.chrom, start: p.record.pos - 1, ref: p.record.ref, alt };
}

/** ContactMap: per record, per ALT, one value per contact-map track (the variant layout's columns). */
export async function scoreContactMapChunk(scorer: ContactMapScorer, side: AlphaGenomeVariantModel, chunk: PendingRecord[]): Promise<TrackScores[][]> {
  const cfg = side.model.config;
  const out: TrackScores[][] = [];
  for (const p of chunk) {
    const rows: TrackScores[] = [];
    for (const a of p.prepared.alts) {
      const o = await side.outputs(p.prepared.ref, a.window);
      const window = { start: p.prepared.start!, positions: side.windowLength / cfg.pairResolution, resolution: cfg.pairResolution, tracks: cfg.contactMapTracks };
      rows.push({ [scorer.column]: scorer.score(o.ref.contactMaps, o.alt.contactMaps, scoredVariant(p, a.alt), window) });
    }
    out.push(rows);
  }
  return out;
}

/**
 * SpliceJunction: per record, per ALT, the rows of the genes whose body overlaps the variant. A
 * variant in no gene body has no rows whatever the model says, so its windows are not run.
 */
export async function scoreJunctionChunk(scorer: SpliceJunctionScorer, genes: GeneIndex, side: AlphaGenomeVariantModel, chunk: PendingRecord[]): Promise<JunctionScoreRow[][][]> {
  const cfg = side.model.config;
  const K = cfg.numSpliceSites;
  const T = Math.max(...cfg.junctionTissues);
  const out: JunctionScoreRow[][][] = [];
  for (const p of chunk) {
    const rows: JunctionScoreRow[][] = [];
    for (const a of p.prepared.alts) {
      const variant = scoredVariant(p, a.alt);
      const selected = variantGenes(genes, variant);
      if (selected.length === 0) {
        rows.push([]);
        continue;
      }
      const o = await side.outputs(p.prepared.ref, a.window);
      const junctions = junctionScores(o.ref.junctionCounts, o.alt.junctionCounts, o.spliceSites, K, T, side.trackCount, p.prepared.start!);
      rows.push(scorer.score(junctions, selected).map((r) => ({ gene: { id: r.gene.id, name: r.gene.name, strand: r.gene.strand }, start: r.start, end: r.end, values: r.values })));
    }
    out.push(rows);
  }
  return out;
}
