/**
 * Gene-focused gradients as HDF5, the layout of borzoi_satg_gene.py's scores file (G genes, L bp):
 *   grads  (G, L, 4) float32 (upstream float16)   mean-centred d f / d one-hot, ACGT
 *   seqs   (G, L, 4) uint8 one-hot (N = all zero) (upstream bool)
 *   gene chr strand |S (G) · start end int64 (G): the window, 0-based half-open
 * Written to `path + '.partial'` and renamed when complete; grads and seqs are chunked by gene and
 * written one gene at a time (`writeGeneGradientsH5Stream`).
 */
import { rename, rm } from 'node:fs/promises';
import { oneHotInto } from '../genome/one-hot.js';
import { closeQuietly, hdf5, Hdf5Error, hdf5Message, isHdf5Failure } from './hdf5.js';
import { fixedStrings } from './h5-output.js';

export interface GeneGradientRecord {
  gene: string;
  chrom: string;
  strand: string;
  start: number;
  end: number;
  sequence: string;
  grads: Float32Array;
}

/** A gene's window, known before its gradients. */
export type GeneGradientWindow = Omit<GeneGradientRecord, 'sequence' | 'grads'>;

export async function writeGeneGradientsH5(path: string, records: GeneGradientRecord[]): Promise<void> {
  await writeGeneGradientsH5Stream(path, records, records[0]?.sequence.length ?? 0, (i) => records[i]!);
}

/**
 * The same file written one gene at a time (`row(i)` gives gene i's window sequence and [L, 4]
 * gradients, in order): grads and seqs are chunked by gene, so memory holds one gene's rows.
 */
export async function writeGeneGradientsH5Stream(
  path: string,
  windows: GeneGradientWindow[],
  length: number,
  row: (i: number) => Pick<GeneGradientRecord, 'sequence' | 'grads'> | Promise<Pick<GeneGradientRecord, 'sequence' | 'grads'>>,
): Promise<void> {
  const h5wasm = await hdf5();
  const partial = `${path}.partial`;
  let f: InstanceType<typeof h5wasm.File> | undefined;
  try {
    f = new h5wasm.File(partial, 'w');
    const G = windows.length;
    const L = length;
    const chunks = [1, Math.max(1, Math.min(L, 2 ** 16)), 4];
    const grads = f.create_dataset({ name: 'grads', data: new Float32Array(0), shape: [0, L, 4], maxshape: [null, L, 4], chunks, dtype: '<f' });
    const seqs = f.create_dataset({ name: 'seqs', data: new Uint8Array(0), shape: [0, L, 4], maxshape: [null, L, 4], chunks, dtype: '<B' });
    grads.resize([G, L, 4]);
    seqs.resize([G, L, 4]);
    const onehot = new Float32Array(L * 4);
    const seq = new Uint8Array(L * 4);
    for (let i = 0; i < G; i++) {
      const r = await row(i);
      if (r.sequence.length !== L || r.grads.length !== L * 4) throw new Error(`gene ${windows[i]!.gene}: a ${r.sequence.length} bp window with ${r.grads.length} gradient values in a file of ${L} bp windows`);
      onehot.fill(0);
      oneHotInto(r.sequence, onehot, 0, windows[i]!.gene);
      for (let k = 0; k < L * 4; k++) seq[k] = onehot[k]!;
      grads.write_slice([[i, i + 1], [], []], r.grads);
      seqs.write_slice([[i, i + 1], [], []], seq);
    }
    fixedStrings(f, 'gene', windows.map((r) => r.gene));
    fixedStrings(f, 'chr', windows.map((r) => r.chrom));
    fixedStrings(f, 'strand', windows.map((r) => r.strand));
    f.create_dataset({ name: 'start', data: BigInt64Array.from(windows.map((r) => BigInt(r.start))), dtype: '<q' });
    f.create_dataset({ name: 'end', data: BigInt64Array.from(windows.map((r) => BigInt(r.end))), dtype: '<q' });
    f.create_attribute('writer', 'seq2track');
    f.create_attribute('note', 'Layout of borzoi_satg_gene.py scores; grads float32 (upstream float16), seqs uint8 (upstream bool).');
    f.close();
  } catch (e) {
    if (f) closeQuietly(f);
    await rm(partial, { force: true }).catch(() => {});
    if (!isHdf5Failure(e)) throw e;
    throw new Hdf5Error(`${path}: cannot write HDF5 (${hdf5Message(e)})`, { cause: e });
  }
  await rename(partial, path);
}
