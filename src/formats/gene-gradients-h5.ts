/**
 * Gene-focused gradients as HDF5, the layout of borzoi_satg_gene.py's scores file (G genes, L bp):
 *   grads  (G, L, 4) float32 (upstream float16)   mean-centred d f / d one-hot, ACGT
 *   seqs   (G, L, 4) uint8 one-hot (N = all zero) (upstream bool)
 *   gene chr strand |S (G) · start end int64 (G): the window, 0-based half-open
 * Written to `path + '.partial'` and renamed when complete.
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

export async function writeGeneGradientsH5(path: string, records: GeneGradientRecord[]): Promise<void> {
  const h5wasm = await hdf5();
  const partial = `${path}.partial`;
  let f: InstanceType<typeof h5wasm.File> | undefined;
  try {
    f = new h5wasm.File(partial, 'w');
    const G = records.length;
    const L = records[0]?.sequence.length ?? 0;
    const grads = new Float32Array(G * L * 4);
    const onehot = new Float32Array(L * 4);
    const seqs = new Uint8Array(G * L * 4);
    records.forEach((r, i) => {
      grads.set(r.grads, i * L * 4);
      onehot.fill(0);
      oneHotInto(r.sequence, onehot, 0, r.gene);
      for (let k = 0; k < L * 4; k++) seqs[i * L * 4 + k] = onehot[k]!;
    });
    f.create_dataset({ name: 'grads', data: grads, shape: [G, L, 4], dtype: '<f' });
    f.create_dataset({ name: 'seqs', data: seqs, shape: [G, L, 4], dtype: '<B' });
    fixedStrings(f, 'gene', records.map((r) => r.gene));
    fixedStrings(f, 'chr', records.map((r) => r.chrom));
    fixedStrings(f, 'strand', records.map((r) => r.strand));
    f.create_dataset({ name: 'start', data: BigInt64Array.from(records.map((r) => BigInt(r.start))), dtype: '<q' });
    f.create_dataset({ name: 'end', data: BigInt64Array.from(records.map((r) => BigInt(r.end))), dtype: '<q' });
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
