/**
 * Gene-level predictions: for each requested gene, the summed untransformed coverage over its exon
 * bins, per strand-matched track column ("−" genes read each column's "−" partner).
 *
 * The gene's span [first exon start, last exon end) is predicted as a region by the region job
 * (windows centred on the span, as many as it needs, with --rc/--shifts/replicates averaged), so a
 * gene longer than one output span is covered whole; bin 0 of the mapping is the first written bin.
 */
import type { Reference } from '../../genome/reference.js';
import type { Gene, GeneIndex } from '../../genome/gtf.js';
import { predictRegions } from '../predict/regions.js';
import type { EnsembleOptions } from '../job/ensemble.js';
import { exonBins, strandColumns, untransform, untransformParams, type ExonBinRule, type StrandColumns, type UntransformMode } from './gene-stats.js';
import type { Track } from '../../formats/targets.js';

export interface PredictGenesOptions extends EnsembleOptions {
  genome: Reference;
  genes: GeneIndex;
  /** gene_id or gene_name of each gene to predict. */
  select: string[];
  untransform: UntransformMode;
  exonBins: ExonBinRule;
  onProgress?: (done: number, total: number) => void;
}

export interface GenePrediction {
  gene: Gene;
  /** Exon bins counted. */
  bins: number;
  /** Per output column: summed untransformed coverage. */
  values: Float64Array;
}

export interface PredictGenesResult {
  head: string;
  columns: Track[];
  ensemble: number;
  genes: GenePrediction[];
}

export async function predictGenes(opts: PredictGenesOptions): Promise<PredictGenesResult> {
  const genes = opts.select.map((key) => opts.genes.find(key));
  let columns: StrandColumns | undefined;
  let source = '';
  const r = await predictRegions({
    ...opts,
    regions: genes.map((g) => ({ chrom: g.chrom, start: g.exons[0]![0], end: g.exons[g.exons.length - 1]![1], label: `gene ${g.id} (${g.name})` })),
    expandTracks: (table, selected) => {
      columns = strandColumns(table.tracks, selected);
      source = table.source;
      untransformParams(columns.predicted, opts.untransform, table.source); // fail before any model run
      return columns.predicted;
    },
  });
  const c = columns!;
  const params = untransformParams(c.predicted, opts.untransform, source);
  const P = c.predicted.length;
  const out = r.results.map(({ plan, values }, i): GenePrediction => {
    const gene = genes[i]!;
    const o = plan.coverStart + plan.firstBin * r.binSize;
    const gb = exonBins(gene.exons, o, plan.bins, r.binSize, opts.exonBins);
    const at = gene.strand === '-' ? c.minusAt : c.plusAt;
    const sums = new Float64Array(c.columns.length);
    at.forEach((p, k) => {
      let s = 0;
      for (const b of gb) s += untransform(values[b * P + p]!, params[p]!, opts.untransform);
      sums[k] = s;
    });
    return { gene, bins: gb.length, values: sums };
  });
  return { head: r.head, columns: c.columns, ensemble: r.ensemble, genes: out };
}
