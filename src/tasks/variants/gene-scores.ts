/**
 * Variant → gene scores (borzoi_sed.py): for each variant (ALT) and each gene with an exon in the
 * window's output span, the statistics of `gene-stats.ts` over the gene's exon bins, per
 * strand-matched track column. The ensemble-mean raw predictions are untransformed first (`--rc`
 * averages raw outputs, as upstream does).
 */
import type { Gene, GeneIndex } from '../../genome/gtf.js';
import type { Track, TargetsTable } from '../../formats/targets.js';
import type { WindowGeometry } from '../../genome/regions.js';
import type { PendingRecord } from './score-vcf.js';
import type { VariantScorer } from './scorer.js';
import {
  exonBins,
  geneColumnStats,
  percentile25,
  strandColumns,
  untransform,
  untransformParams,
  type ExonBinRule,
  type GeneStat,
  type StrandColumns,
  type UntransformMode,
  type UntransformParams,
} from '../genes/gene-stats.js';

export interface GeneScoreOptions {
  genes: GeneIndex;
  untransform: UntransformMode;
  exonBins: ExonBinRule;
  stats: GeneStat[];
}

/** One (variant, gene) result: per statistic, one value per output column. */
export interface GeneRow {
  gene: Gene;
  stats: Record<GeneStat, Float32Array>;
}

/** Untransforms [bins, P] predictions in place (a full-size window is ~47 M values: no copies), per track's parameters. */
export function untransformInPlace(values: Float64Array, bins: number, params: UntransformParams[], mode: UntransformMode): Float64Array {
  const P = params.length;
  if (mode === 'none') return values;
  for (let b = 0; b < bins; b++) for (let k = 0; k < P; k++) values[b * P + k] = untransform(values[b * P + k]!, params[k]!, mode);
  return values;
}

/**
 * Gene rows of one variant from untransformed ref and alt [bins, P] (P = `columns.predicted`), the
 * output span starting at genomic `o` on `chrom`.
 */
export function geneRows(
  ref: Float64Array,
  alt: Float64Array,
  chrom: string,
  o: number,
  geometry: Pick<WindowGeometry, 'bins' | 'binSize'>,
  columns: StrandColumns,
  opts: GeneScoreOptions,
): GeneRow[] {
  const { bins, binSize } = geometry;
  const P = columns.predicted.length;
  const K = columns.columns.length;
  const pseudo = new Map<number, number>();
  const pseudoOf = (p: number) => {
    let c = pseudo.get(p);
    if (c === undefined) {
      const all = new Float64Array(bins);
      for (let b = 0; b < bins; b++) all[b] = ref[b * P + p]!;
      pseudo.set(p, (c = percentile25(all)));
    }
    return c;
  };
  const rows: GeneRow[] = [];
  for (const gene of opts.genes.overlapping(chrom, o, o + bins * binSize)) {
    const gb = exonBins(gene.exons, o, bins, binSize, opts.exonBins);
    if (gb.length === 0) continue;
    const at = gene.strand === '-' ? columns.minusAt : columns.plusAt;
    const stats = Object.fromEntries(opts.stats.map((s) => [s, new Float32Array(K)])) as Record<GeneStat, Float32Array>;
    const r = new Float64Array(gb.length);
    const a = new Float64Array(gb.length);
    for (let k = 0; k < K; k++) {
      const p = at[k]!;
      gb.forEach((b, i) => {
        r[i] = ref[b * P + p]!;
        a[i] = alt[b * P + p]!;
      });
      const s = geneColumnStats(r, a, pseudoOf(p), opts.stats);
      for (const name of opts.stats) stats[name][k] = s[name];
    }
    rows.push({ gene, stats });
  }
  return rows;
}

/**
 * The variant job's hooks for gene scoring: which tracks to predict (the strand-matched columns and
 * their partners) and how to score a chunk. `columns` is known once the scorer has opened.
 */
export class VariantGeneScoring {
  columns: StrandColumns | undefined;
  private params: UntransformParams[] | undefined;

  constructor(private readonly opts: GeneScoreOptions) {}

  readonly expandTracks = (table: TargetsTable, selected: Track[]): Track[] => {
    this.columns = strandColumns(table.tracks, selected);
    this.params = untransformParams(this.columns.predicted, this.opts.untransform, table.source);
    return this.columns.predicted;
  };

  readonly scoreChunk = async (scorer: VariantScorer, chunk: PendingRecord[]): Promise<GeneRow[][][]> => {
    const columns = this.columns!;
    const geometry = scorer.setup.geometry;
    const { ref, alt } = await scorer.predictions(chunk.map((p) => p.prepared));
    return chunk.map((p, i) => {
      const o = p.prepared.start! + geometry.offset;
      const uRef = untransformInPlace(ref[i]!, geometry.bins, this.params!, this.opts.untransform);
      return alt[i]!.map((a) => geneRows(uRef, untransformInPlace(a, geometry.bins, this.params!, this.opts.untransform), p.record.chrom, o, geometry, columns, this.opts));
    });
  };
}
