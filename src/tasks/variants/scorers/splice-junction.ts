/**
 * SpliceJunction (alphagenome_research `variant_scoring/splice_junction.py`,
 * `SpliceJunctionVariantScorer`; the API's `SpliceJunctionScorer` takes no settings): per gene the
 * junctions whose predicted counts the variant changes most.
 *
 * Inputs: ref and alt junction counts [K, K, 2T] (rows donors, columns acceptors; channels the T
 * tissues of the + strand, then of the − strand), predicted on the SAME splice-site positions
 * [4, K] (donor+, acceptor+, donor−, acceptor−; ascending, −1 padded), which upstream takes from
 * the ref and alt probabilities together (`_predict_variant`; see alphagenome/variant-outputs.ts).
 *
 *  1. `score_variant`: the first 256 sites of each kind (MAX_SPLICE_SITES) and
 *     delta = ln(alt + 1e-7) − ln(ref + 1e-7), stored as float16 (upstream's `.astype(float16)`).
 *  2. `unstack_junction_predictions`: + strand, every (donor d, acceptor a) of the valid sites:
 *     junction [d + 1, a) from channels [0, T); − strand, every (donor d, acceptor a): [a + 1, d)
 *     from channels [T, 2T); genome coordinates (+ window start); kept where start < end and
 *     start > 0; scores |delta| (float32).
 *  3. Genes: those whose body overlaps the variant ([start, max(end, start + |ALT|)),
 *     `GeneQueryType.VARIANT_OVERLAPPING`, `GeneMaskType.BODY`); a junction belongs to a gene of its
 *     strand that strictly contains it (start > gene start, end < gene end).
 *  4. `_create`: per gene, for each track the junction with the largest score (the first on ties),
 *     and of those the distinct junctions, each with its scores in every track.
 *
 * Differences from upstream, forced by our GTF reader: a gene's body is [first exon start, last
 * exon end) of its exons (GENCODE's `gene` rows span the same), and genes are not filtered to
 * protein_coding (`filter_protein_coding=True` upstream reads gene_type, which the reader drops):
 * give a GTF of protein-coding genes for upstream's gene set. Junction order on ties: upstream
 * breaks them by pyranges' join order; here by (start, end), which pyranges also sorts by.
 */
import type { Gene, GeneIndex } from '../../../genome/gtf.js';
import type { ScoredVariant } from './types.js';
import { roundToHalf } from '../../../formats/half.js';

/** Splice sites of each kind that upstream scores (MAX_SPLICE_SITES). */
export const MAX_SPLICE_SITES = 256;


/** One junction of a window with its scores (|Δ ln count|) in each track. */
export interface Junction {
  strand: '+' | '-';
  /** Genome coordinates as upstream writes them: + [donor + 1, acceptor), − [acceptor + 1, donor). */
  start: number;
  end: number;
  values: Float32Array;
}

/** The valid (non-padding) sites of kind `row` among the first `max` of [4, K] positions. */
function sites(positions: ArrayLike<number>, K: number, row: number, max: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(K, max); i++) if (positions[row * K + i]! !== -1) out.push(positions[row * K + i]!);
  return out;
}

/**
 * Steps 1–2 of the file comment: every junction of the window with its `tracks` scores. `counts`
 * are [K, K, 2T] row-major; the first `tracks` tissues of each strand are scored.
 */
export function junctionScores(ref: ArrayLike<number>, alt: ArrayLike<number>, positions: ArrayLike<number>, K: number, T: number, tracks: number, windowStart: number): Junction[] {
  const out: Junction[] = [];
  const strand = (s: 0 | 1, rows: number[], cols: number[]) => {
    rows.forEach((d, i) =>
      cols.forEach((a, j) => {
        const [start, end] = s === 0 ? [d + 1 + windowStart, a + windowStart] : [a + 1 + windowStart, d + windowStart];
        if (!(start < end && start > 0)) return;
        const values = new Float32Array(tracks);
        for (let t = 0; t < tracks; t++) {
          const at = (i * K + j) * 2 * T + s * T + t;
          values[t] = Math.abs(roundToHalf(Math.log(alt[at]! + 1e-7) - Math.log(ref[at]! + 1e-7)));
        }
        out.push({ strand: s === 0 ? '+' : '-', start, end, values });
      }),
    );
  };
  // Row r of the counts is the r-th site of its kind, so only the valid leading sites pair up.
  strand(0, sites(positions, K, 0, MAX_SPLICE_SITES), sites(positions, K, 1, MAX_SPLICE_SITES));
  strand(1, sites(positions, K, 2, MAX_SPLICE_SITES), sites(positions, K, 3, MAX_SPLICE_SITES));
  return out;
}

/** A gene's body: [first exon start, last exon end). */
export function geneBody(gene: Gene): [number, number] {
  return [gene.exons[0]![0], gene.exons[gene.exons.length - 1]![1]];
}

/** Genes whose body overlaps the variant (step 3), in GTF order. */
export function variantGenes(index: GeneIndex, variant: ScoredVariant): Gene[] {
  const end = Math.max(variant.start + variant.ref.length, variant.start + variant.alt.length);
  return index.overlapping(variant.chrom, variant.start, end).filter((g) => {
    const [s, e] = geneBody(g);
    return e > variant.start && s < end;
  });
}

/** One output row: a gene, one of its junctions, the junction's scores per track. */
export interface JunctionRow {
  gene: Gene;
  start: number;
  end: number;
  values: Float32Array;
}

export class SpliceJunctionScorer {
  readonly rows = 'junction';
  /** Read from the whole model (predictVariantOutputs), not the per-position runner. */
  readonly input = 'whole-model';
  readonly name = 'SpliceJunction()';
  readonly column = 'SpliceJunction';

  /** Steps 3–4 of the file comment on a window's junctions (from `junctionScores`). */
  score(junctions: readonly Junction[], genes: readonly Gene[]): JunctionRow[] {
    const order = [...junctions].sort((x, y) => x.start - y.start || x.end - y.end);
    const rows: JunctionRow[] = [];
    for (const gene of genes) {
      const [gs, ge] = geneBody(gene);
      const inside = order.filter((j) => j.strand === gene.strand && j.start > gs && j.end < ge);
      if (inside.length === 0) continue;
      const chosen = new Set<Junction>();
      for (let t = 0; t < inside[0]!.values.length; t++) {
        let best = inside[0]!;
        for (const j of inside) if (j.values[t]! > best.values[t]!) best = j;
        chosen.add(best);
      }
      for (const j of chosen) rows.push({ gene, start: j.start, end: j.end, values: j.values });
    }
    return rows;
  }
}
