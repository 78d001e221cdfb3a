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
import type { Model } from '../../models/model-core.js';
import { addForward, checkBatchSize, type EnsembleOptions, type EnsembleRun, type Setup } from '../job/ensemble.js';
import { openModels } from '../job/model-dirs.js';
import type { Batch, Ensemble, Item, RunInput } from '../job/run-core.js';
import { runSlotPasses, type SlotUnit } from '../job/slot-passes.js';
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

export interface GeneGradientOptions extends Omit<EnsembleOptions, 'expandTracks'> {
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

/** A gene's model window and what its objective reads. */
export interface GeneWindow {
  gene: Gene;
  /** Window start in genome coordinates (0-based; may leave the chromosome: N there). */
  start: number;
  /** The gene's exon bins in the output. */
  bins: number[];
  /** The strand-matched tracks averaged in the objective. */
  tracks: Track[];
}

/** The genes of `select`, each checked to be on a chromosome of the genome (before any model loads). */
export async function selectedGenes(genome: Reference, genes: GeneIndex, select: string[]): Promise<Gene[]> {
  const out = select.map((k) => genes.find(k));
  for (const g of out) {
    if ((await genome.getSequenceSize(g.chrom)) === undefined) throw new Error(`gene ${g.id}: chromosome '${g.chrom}' is not in the genome ${genome.source}`);
  }
  return out;
}

/** Each gene's window, exon bins and tracks under the ensemble's setup (an error before any model run if a gene has no bin in the output). */
export function geneWindows(genes: Gene[], ensemble: Ensemble, rule: ExonBinRule): GeneWindow[] {
  const { length, offset, bins, binSize } = ensemble.setup.geometry;
  const columns = strandColumns(ensemble.table.tracks, ensemble.tracks);
  return genes.map((gene) => {
    const start = geneWindowStart(gene, length, offset);
    const gb = exonBins(gene.exons, start + offset, bins, binSize, rule);
    if (gb.length === 0) throw new Error(`gene ${gene.id}: no exon bin inside the model's output span`);
    return { gene, start, bins: gb, tracks: gene.strand === '-' ? columns.minus : columns.columns };
  });
}

/** A gene window's sequence (upper-case ACGTN, N past the chromosome's ends). */
export async function geneSequence(genome: Reference, w: GeneWindow, length: number): Promise<string> {
  return onlyAcgtn(await genome.getSequence(w.gene.chrom, w.start, w.start + length)).toUpperCase();
}

/** A batch's results: f per item, and d f / d one-hot [items, L, 4] in each item's run coordinates. */
export interface GeneBatchResult {
  objectives: number[];
  grad: Float32Array;
}

/**
 * What a batch of gene runs computes (any mix of genes and runs): a forward pass, each item's f and
 * d f / d ŷ from it, and the cotangent's backward pass.
 */
export function geneRequest<U>(setup: Setup, windowOf: (unit: U) => GeneWindow, transform: GradientTransform, pseudo: number) {
  const { bins } = setup.geometry;
  const T = setup.headTracks;
  return async (model: Model, { input }: RunInput, batch: Batch<U>): Promise<GeneBatchResult> => {
    const y = (await model.predict(input, { heads: [setup.head] })).heads[setup.head]!.data;
    const cotangent = new Float32Array(batch.items.length * bins * T);
    const objectives = batch.items.map(({ unit, run }, j) => {
      const w = windowOf(unit);
      // f in the run's own frame: a reverse-complement run reads bin L−1−b and the strand partner.
      const at = (b: number, t: Track) => j * bins * T + (run.rc ? (bins - 1 - b) * T + t.strandPair : b * T + t.index);
      let inner = 0;
      for (const b of w.bins) for (const t of w.tracks) inner += gradientUntransform(y[at(b, t)]!, transform)[0] / w.tracks.length;
      const z = inner + pseudo + 1e-6;
      for (const b of w.bins) for (const t of w.tracks) cotangent[at(b, t)] = gradientUntransform(y[at(b, t)]!, transform)[1] / (w.tracks.length * z);
      return Math.log(z);
    });
    return { objectives, grad: (await model.cotangentGradients(input, setup.head, cotangent)).grad };
  };
}

/** Adds item `j`'s gradient into its gene's [L, 4] sum: undone (reverse complement, then shift) and centred per run, as borzoi_satg_gene.py does. */
export function addGeneGradient(sum: Float64Array, r: GeneBatchResult, j: number, length: number, run: EnsembleRun): void {
  addForward(sum, 0, r.grad, j, length, run, true);
}

/** Every gene's runs in one model pass, a gene's runs together (shifts, then strands). */
export function geneItems(genes: number, runs: EnsembleRun[]): Item<SlotUnit>[] {
  const items: Item<SlotUnit>[] = [];
  for (let slot = 0; slot < genes; slot++) runs.forEach((run, i) => items.push({ unit: { slot, last: i === runs.length - 1 }, run }));
  return items;
}

export async function geneGradients(opts: GeneGradientOptions): Promise<{ setup: Setup; results: GeneGradient[] }> {
  const transform = opts.transform ?? DEFAULT_GRADIENT_TRANSFORM;
  const pseudo = opts.pseudo ?? 0;
  const genes = await selectedGenes(opts.genome, opts.genes, opts.select);
  const ensemble = await openModels(opts);
  const { setup } = ensemble;
  const { length } = setup.geometry;
  try {
    const windows = geneWindows(genes, ensemble, opts.exonBins ?? 'overlap');
    const sequences: string[] = [];
    for (const w of windows) sequences.push(await geneSequence(opts.genome, w, length));
    const objectives = windows.map((): number[] => []);
    const sums = new Map<number, Float64Array>();
    await runSlotPasses<SlotUnit, GeneBatchResult>({
      schedule: ensemble.schedule,
      items: geneItems(windows.length, ensemble.runs),
      batchSize: checkBatchSize(opts.batchSize),
      slotValues: length * 4,
      store: { load: (slot) => sums.get(slot)!, save: (slot, _pass, sum) => sums.set(slot, sum) },
      onProgress: opts.onProgress,
      sequence: (u) => sequences[u.slot]!,
      request: geneRequest(setup, (u: SlotUnit) => windows[u.slot]!, transform, pseudo),
      add: (sum, r, j, it) => {
        // A gene's objectives in run order (replicate, shift, strand).
        objectives[it.unit.slot]!.push(r.objectives[j]!);
        addGeneGradient(sum, r, j, length, it.run);
      },
    });
    const runs = ensemble.size;
    return {
      setup,
      results: windows.map((w, slot) => ({
        gene: w.gene,
        chrom: w.gene.chrom,
        start: w.start,
        end: w.start + sequences[slot]!.length,
        sequence: sequences[slot]!,
        grads: Float32Array.from(sums.get(slot)!, (v) => v / runs),
        objectives: objectives[slot]!,
        bins: w.bins,
        tracks: w.tracks,
      })),
    };
  } finally {
    await ensemble.schedule.close();
  }
}
