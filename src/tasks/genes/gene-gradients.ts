/**
 * Gene-focused input gradients, as calico/borzoi's borzoi_satg_gene.py computes them (spec:
 * shared/specs/genes.md "Gene-focused gradients"):
 *
 * - window start = max(−offset, gene midpoint − L/2) (the output span never starts before the
 *   chromosome; upstream's −163,840 is the offset of the 6,144-bin crop), N past the ends;
 * - bins: the gene's exons by any overlap (default) relative to the first output bin;
 * - U(x), one setting for all tracks (defaults s = 0.02, τ = 0.75, no clip_soft): legacy
 *   U = unclip(x/s)^(1/τ); new U = ((unclip_new(x) + 1)^(1/τ) − 1)/s;
 * - f = ln(Σ_{gene bins} mean_{strand-matched tracks} U(ŷ[b, t]) + pseudo + 1e-6);
 * - score = d f / d one-hot minus its mean over the 4 bases at each position, per model run
 *   (replicate × shift × strand, each with its own f), undone (shift, reverse complement) and averaged.
 *
 * d f / d ŷ is computed here from a forward pass and backpropagated as a cotangent
 * (`Model.cotangentGradients`), so the untransform needs no graph of its own.
 */
import type { Reference } from '../../genome/reference.js';
import type { Gene, GeneIndex } from '../../genome/gtf.js';
import { onlyAcgtn } from '../../genome/sequence.js';
import type { Track } from '../../formats/targets.js';
import { addForward, type EnsembleOptions, type Setup } from '../job/ensemble.js';
import { openModels } from '../job/model-dirs.js';
import { runBatches, type Batch } from '../job/run-core.js';
import { exonBins, strandColumns, type ExonBinRule } from './gene-stats.js';

export interface GradientTransform {
  mode: 'legacy' | 'new';
  /** s (track_scale). */
  scale: number;
  /** τ (track_transform). */
  exponent: number;
  /** Soft clip threshold, or none. */
  clipSoft?: number;
}

export const DEFAULT_GRADIENT_TRANSFORM: GradientTransform = { mode: 'legacy', scale: 0.02, exponent: 0.75 };

/** U(x) and dU/dx for one prediction. */
export function gradientUntransform(x: number, t: GradientTransform): [number, number] {
  const cs = t.clipSoft ?? Infinity;
  const p = 1 / t.exponent;
  if (t.mode === 'legacy') {
    const v = x / t.scale;
    const [w, dw] = v > cs ? [cs + (v - cs) ** 2, 2 * (v - cs)] : [v, 1];
    return [w ** p, p * w ** (p - 1) * dw / t.scale];
  }
  const [w, dw] = x > cs ? [cs - 1 + (x - cs + 1) ** 2, 2 * (x - cs + 1)] : [x, 1];
  return [((w + 1) ** p - 1) / t.scale, (p * (w + 1) ** (p - 1) * dw) / t.scale];
}

export interface GeneGradientOptions extends Omit<EnsembleOptions, 'batchSize' | 'expandTracks'> {
  genome: Reference;
  genes: GeneIndex;
  select: string[];
  transform?: GradientTransform;
  pseudo?: number;
  exonBins?: ExonBinRule;
  onProgress?: (done: number, total: number) => void;
}

export interface GeneGradient {
  gene: Gene;
  chrom: string;
  /** Window [start, end) in genome coordinates (0-based; may leave the chromosome: N there). */
  start: number;
  end: number;
  sequence: string;
  /** Mean-centred d f / d one-hot, [L, 4], averaged over the ensemble. */
  grads: Float32Array;
  /** f per model run, in run order (replicate, shift, strand). */
  objectives: number[];
  bins: number[];
  tracks: Track[];
}

/** Window start for a gene: its span midpoint centred, the output span starting at ≥ 0. */
export function geneWindowStart(gene: Gene, length: number, offset: number): number {
  const mid = Math.floor((gene.exons[0]![0] + gene.exons[gene.exons.length - 1]![1]) / 2);
  return Math.max(-offset, mid - Math.floor(length / 2));
}

interface GeneWindow {
  gene: Gene;
  start: number;
  sequence: string;
  bins: number[];
  tracks: Track[];
  sum: Float64Array;
  objectives: number[];
}

export async function geneGradients(opts: GeneGradientOptions): Promise<{ setup: Setup; results: GeneGradient[] }> {
  const transform = opts.transform ?? DEFAULT_GRADIENT_TRANSFORM;
  const pseudo = opts.pseudo ?? 0;
  const rule = opts.exonBins ?? 'overlap';
  const genes = opts.select.map((k) => opts.genes.find(k));
  for (const g of genes) {
    if ((await opts.genome.getSequenceSize(g.chrom)) === undefined) throw new Error(`gene ${g.id}: chromosome '${g.chrom}' is not in the genome ${opts.genome.source}`);
  }
  const ensemble = await openModels(opts);
  const { setup } = ensemble;
  const { length, offset, bins, binSize } = setup.geometry;
  try {
    const columns = strandColumns(ensemble.table.tracks, ensemble.tracks);
    const work: GeneWindow[] = [];
    for (const gene of genes) {
      const start = geneWindowStart(gene, length, offset);
      const gb = exonBins(gene.exons, start + offset, bins, binSize, rule);
      if (gb.length === 0) throw new Error(`gene ${gene.id}: no exon bin inside the model's output span`);
      const sequence = onlyAcgtn(await opts.genome.getSequence(gene.chrom, start, start + length)).toUpperCase();
      work.push({ gene, start, sequence, bins: gb, tracks: gene.strand === '-' ? columns.minus : columns.columns, sum: new Float64Array(length * 4), objectives: [] });
    }
    const T = setup.headTracks;
    const total = ensemble.size * genes.length;
    let done = 0;
    // Per model, each gene through every run: a gene's objectives come in run order (replicate, shift, strand).
    function* plan(): Generator<Batch<GeneWindow>> {
      for (let model = 0; model < ensemble.schedule.count; model++) for (const w of work) for (const run of ensemble.runs) yield { model, items: [{ unit: w, run }] };
    }
    await runBatches({
      schedule: ensemble.schedule,
      batches: plan(),
      sequence: (w) => w.sequence,
      request: async (model, { input }, batch) => {
        const { unit: w, run } = batch.items[0]!;
        const y = (await model.predict(input, { heads: [setup.head] })).heads[setup.head]!.data;
        // f in the run's own frame: a reverse-complement run reads bin L−1−b and the strand partner.
        const at = (b: number, t: Track) => (run.rc ? (bins - 1 - b) * T + t.strandPair : b * T + t.index);
        let inner = 0;
        for (const b of w.bins) for (const t of w.tracks) inner += gradientUntransform(y[at(b, t)]!, transform)[0] / w.tracks.length;
        const z = inner + pseudo + 1e-6;
        const cotangent = new Float32Array(bins * T);
        for (const b of w.bins) for (const t of w.tracks) cotangent[at(b, t)] = gradientUntransform(y[at(b, t)]!, transform)[1] / (w.tracks.length * z);
        return { objective: Math.log(z), grad: (await model.cotangentGradients(input, setup.head, cotangent)).grad };
      },
      sink: ({ objective, grad }, batch) => {
        const { unit: w, run } = batch.items[0]!;
        w.objectives.push(objective);
        // Undone (reverse complement, then shift) and centred per run, as borzoi_satg_gene.py does.
        addForward(w.sum, 0, grad, 0, length, run, true);
        opts.onProgress?.(++done, total);
      },
    });
    const runs = ensemble.size;
    return {
      setup,
      results: work.map((w) => ({
        gene: w.gene,
        chrom: w.gene.chrom,
        start: w.start,
        end: w.start + w.sequence.length,
        sequence: w.sequence,
        grads: Float32Array.from(w.sum, (v) => v / runs),
        objectives: w.objectives,
        bins: w.bins,
        tracks: w.tracks,
      })),
    };
  } finally {
    await ensemble.schedule.close();
  }
}
