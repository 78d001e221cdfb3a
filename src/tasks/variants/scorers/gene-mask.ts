/**
 * Gene masks and the gene-mask scorers (alphagenome_research `variant_scoring/gene_mask.py` with
 * `gene_mask_extractor.py`'s EXONS extractor and INTERVAL_CONTAINED query, as `dna_model.py` sets
 * up GENE_MASK_LFC and GENE_MASK_ACTIVE).
 *
 * Genes: those with a transcript whose TSS (AlphaGenome's `extract_tss`: start on "+", end on "−",
 * 0-based) lies in the scored interval, which for our models is the output bins' span
 * [start, start + bins·binSize) (AlphaGenome's outputs cover its whole input). A gene's mask is the
 * union of the exons of those transcripts only, clipped to the span. AlphaGenome's mask is at 1 bp
 * (it refuses other resolutions); on bins, each bin counts with the number of masked bases it holds,
 * so a gene's mean is the mean over its masked bases of the bin each base lies in (exact at 1 bp).
 *
 * With R and A the weighted means of ref and of the aligned alt over a gene's mask (natural log):
 *   GeneMaskLFC     ln(A + 0.001) − ln(R + 0.001)
 *   GeneMaskActive  max(A, R)
 * Tracks whose strand is not the gene's are NaN (AlphaGenome's `finalize_variant`); unstranded
 * tracks (strand ".") count for every gene. Genes come in order of first appearance in the GTF.
 */
import { unionIntervals, type GeneIndex } from '../../../genome/gtf.js';
import { trackStrand } from '../../genes/gene-stats.js';
import type { GeneMask, GeneScorer, OutputWindow } from './types.js';

/** The gene masks of an output span on `chrom` (see the file comment). */
export function geneMasks(index: GeneIndex, chrom: string, window: Pick<OutputWindow, 'start' | 'bins' | 'binSize'>): GeneMask[] {
  const { start, bins, binSize } = window;
  const end = start + bins * binSize;
  const masks: GeneMask[] = [];
  // A "−" TSS is an exon end, which may equal `start` without its exon reaching the span: widen by one.
  for (const gene of index.overlapping(chrom, start - 1, end)) {
    const selected = (gene.transcripts ?? []).filter((t) => t.tss >= start && t.tss < end);
    if (selected.length === 0) continue;
    const weights = new Map<number, number>();
    for (const [a, b] of unionIntervals(selected.flatMap((t) => t.exons))) {
      for (let p = Math.max(a, start); p < Math.min(b, end); ) {
        const bin = Math.floor((p - start) / binSize);
        const next = Math.min(b, end, start + (bin + 1) * binSize);
        weights.set(bin, (weights.get(bin) ?? 0) + next - p);
        p = next;
      }
    }
    const order = [...weights.keys()].sort((x, y) => x - y);
    masks.push({ gene, bins: Int32Array.from(order), weights: Float64Array.from(order, (b) => weights.get(b)!) });
  }
  return masks;
}

/** Per track, the mean of `values` ([bins, K]) over a mask, weighted by its bases (NaN for an empty mask, as 0/0). */
export function maskMean(values: Float64Array, K: number, mask: GeneMask): Float64Array {
  const out = new Float64Array(K);
  let total = 0;
  mask.bins.forEach((b, i) => {
    const w = mask.weights[i]!;
    total += w;
    for (let k = 0; k < K; k++) out[k]! += w * values[b * K + k]!;
  });
  for (let k = 0; k < K; k++) out[k]! /= total;
  return out;
}

/** A gene scorer from a per-track formula of the two masked means. */
abstract class GeneMaskScorer implements GeneScorer {
  readonly rows = 'gene';
  abstract readonly name: string;
  abstract readonly column: string;
  protected abstract combine(altMean: number, refMean: number): number;

  score(ref: Float64Array, alignedAlt: Float64Array, masks: readonly GeneMask[], window: OutputWindow): Float32Array[] {
    const K = window.tracks.length;
    const strands = window.tracks.map(trackStrand);
    return masks.map((m) => {
      const r = maskMean(ref, K, m);
      const a = maskMean(alignedAlt, K, m);
      return Float32Array.from({ length: K }, (_, k) => (strands[k] === '.' || strands[k] === m.gene.strand ? this.combine(a[k]!, r[k]!) : NaN));
    });
  }
}

export class GeneMaskLFCScorer extends GeneMaskScorer {
  readonly name = 'GeneMaskLFC()';
  readonly column = 'GeneMaskLFC';
  protected combine(a: number, r: number): number {
    return Math.log(a + 1e-3) - Math.log(r + 1e-3);
  }
}

export class GeneMaskActiveScorer extends GeneMaskScorer {
  readonly name = 'GeneMaskActive()';
  readonly column = 'GeneMaskActive';
  protected combine(a: number, r: number): number {
    return Math.max(a, r);
  }
}
