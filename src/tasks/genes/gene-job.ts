/**
 * `attribute-gene` as a resumable job: the gene-focused gradients of gene-gradients.ts for every
 * selected gene, through the shared slot job (job/slot-job.ts) as `attribute --bed` runs its windows.
 * Each gene is a unit with an [L, 4] slot in the scratch file of `<out>.partial/`; its ensemble runs
 * are batched (`batchSize` gene runs per model run) and resumed by job/slot-passes.ts, so a run killed
 * at any point and started again with the same command does only the remaining model runs and writes
 * the same values (the .npz files byte for byte; HDF5 stamps its object headers with the time, so the
 * .h5 holds the same datasets). Memory holds one batch and the few windows it touches.
 *
 * Outputs, written from the scratch at the end, one gene at a time, and given their final names only
 * when all are complete (for `--out X.h5`):
 *   X.h5                borzoi_satg_gene.py's layout (formats/gene-gradients-h5.ts): grads (G, L, 4)
 *                       mean-centred d f / d one-hot, seqs, gene, chr, strand, start, end
 *   X.onehot.npz        the windows' one-hot, float32 [G, 4, L] (`arr_0`, as np.savez)
 *   X.hypothetical.npz  float32 [G, 4, L]: grads, bases first (the centred gradients are the Borzoi
 *                       paper's hypothetical contributions)
 * The two .npz files are what tfmodisco-lite reads: `modisco motifs -s X.onehot.npz -a X.hypothetical.npz`.
 */
import { Model } from '../../models/model.js';
import { writeModiscoInputs } from '../../formats/npz.js';
import { writeGeneGradientsH5Stream } from '../../formats/gene-gradients-h5.js';
import { checkBatchSize } from '../job/ensemble.js';
import type { Fingerprint } from '../job/job-dir.js';
import { openModels } from '../job/model-dirs.js';
import { recentSequences, SlotJob } from '../job/slot-job.js';
import type { SlotUnit } from '../job/slot-passes.js';
import { addGeneGradient, DEFAULT_GRADIENT_TRANSFORM, geneItems, geneRequest, geneSequence, geneWindows, selectedGenes, type GeneBatchResult, type GeneGradientOptions, type GeneWindow } from './gene-gradients.js';

export interface GeneJobOptions extends GeneGradientOptions {
  /** The HDF5 output (X.h5); its staging directory is X.h5.partial/. */
  out: string;
  /** Where the two tfmodisco-lite inputs go (default X.onehot.npz and X.hypothetical.npz beside X.h5). */
  npz?: { onehot: string; hypothetical: string };
  fingerprint: Fingerprint;
  onResume?: (done: number, total: number) => void;
}

export interface GeneJobResult {
  files: string[];
  genes: number;
  length: number;
  ensemble: number;
  resumedAt: number;
  ran: number;
}

/** X.onehot.npz and X.hypothetical.npz for an output X.h5 (or X.hdf5). */
export function geneNpzPaths(out: string): { onehot: string; hypothetical: string } {
  const stem = out.replace(/\.(h5|hdf5)$/i, '');
  return { onehot: `${stem}.onehot.npz`, hypothetical: `${stem}.hypothetical.npz` };
}

export async function attributeGenes(o: GeneJobOptions): Promise<GeneJobResult> {
  const transform = o.transform ?? DEFAULT_GRADIENT_TRANSFORM;
  const genes = await selectedGenes(o.genome, o.genes, o.select);
  const batchSize = checkBatchSize(o.batchSize);
  const npz = o.npz ?? geneNpzPaths(o.out);
  return SlotJob.run(o.out, o.fingerprint, async (job) => {
    const ensemble = await openModels(o);
    let windows: GeneWindow[];
    try {
      windows = geneWindows(genes, ensemble, o.exonBins ?? 'overlap');
    } catch (e) {
      await ensemble.schedule.close();
      throw e;
    }
    const L = ensemble.setup.geometry.length;
    const sequenceOf = recentSequences((slot) => geneSequence(o.genome, windows[slot]!, L), 2 * batchSize + 2);
    const run = await job.passes<SlotUnit, GeneBatchResult>({
      schedule: ensemble.schedule,
      ensemble: ensemble.size,
      items: geneItems(windows.length, ensemble.runs),
      batchSize,
      slotValues: L * 4,
      onResume: o.onResume,
      onProgress: o.onProgress,
      sequence: (u) => sequenceOf(u.slot),
      name: (u) => `gene ${windows[u.slot]!.gene.id}`,
      request: geneRequest(ensemble.setup, (u: SlotUnit) => windows[u.slot]!, transform, o.pseudo ?? 0),
      add: (sum, r, j, it) => addGeneGradient(sum, r, j, L, it.run),
    });
    const { store } = run;
    const G = windows.length;
    await writeGeneGradientsH5Stream(
      job.staged('gradients.h5'),
      windows.map((w) => ({ gene: w.gene.id, chrom: w.gene.chrom, strand: w.gene.strand, start: w.start, end: w.start + L })),
      L,
      async (slot) => ({ sequence: await sequenceOf(slot), grads: store.mean(slot) }),
    );
    await writeModiscoInputs({ onehot: job.staged('onehot.npz'), hypothetical: job.staged('hypothetical.npz') }, G, L, {
      onehot: async (slot) => Model.encode([await sequenceOf(slot)]).data,
      hypothetical: (slot) => store.mean(slot),
    });
    const files = job.publish([
      ['gradients.h5', o.out],
      ['onehot.npz', npz.onehot],
      ['hypothetical.npz', npz.hypothetical],
    ]);
    return { files, genes: G, length: L, ensemble: ensemble.size, resumedAt: run.resumedAt, ran: run.ran };
  });
}
