/**
 * An HDF5 score file written to `path + '.partial'` with h5wasm, renamed to `path` by `commit()`.
 * Statistics are appended as the run goes to chunked, resizable float32 datasets; string columns,
 * whose fixed width is known only at the end, wait in a side file (`path + '.partial.strings'`, see
 * json-lines-spill.ts) until the writer copies them into the file at close.
 */
import { rename, rm } from 'node:fs/promises';
import { errorMessage, ScoreWriterError } from './serial-writer.js';
import { JsonLinesSpill } from './json-lines-spill.js';
import { closeQuietly, hdf5 } from './hdf5.js';

type H5 = typeof import('h5wasm/node').default;
export type H5File = InstanceType<H5['File']>;
export type H5Dataset = InstanceType<H5['Dataset']>;

/** Byte width of the widest string (at least 1: HDF5 has no zero-length fixed strings). */
export function stringWidth(values: Iterable<string>): number {
  let w = 1;
  for (const v of values) w = Math.max(w, Buffer.byteLength(v, 'utf8'));
  return w;
}

/** A fixed-length string dataset as wide as its widest value, written whole. */
export function fixedStrings(f: H5File, name: string, values: string[]): H5Dataset {
  return f.create_dataset({ name, data: values, dtype: `S${stringWidth(values)}` });
}

/** target_ids and target_labels, one entry per track. */
export function trackTable(f: H5File, tracks: readonly { identifier: string; description: string }[]): void {
  fixedStrings(f, 'target_ids', tracks.map((t) => t.identifier));
  fixedStrings(f, 'target_labels', tracks.map((t) => t.description));
}

/** Rows per chunk of an appended [rows, tracks] dataset: at most one flush, at most 2^18 values. */
export function chunkRows(flushRows: number, tracks: number): number {
  return Math.max(1, Math.min(flushRows, Math.floor(2 ** 18 / tracks)));
}

/** Empty float32 [0, tracks] datasets, one per name, grown as rows are appended. */
export function statDatasets(f: H5File, names: readonly string[], tracks: number, chunk: number): Record<string, H5Dataset> {
  return Object.fromEntries(
    names.map((name) => [name, f.create_dataset({ name, data: new Float32Array(0), shape: [0, tracks], maxshape: [null, tracks], chunks: [chunk, tracks], dtype: '<f' })]),
  );
}

/** Appends rows [from, to) to a resizable dataset of `width` values per row (0: one-dimensional). */
export function appendRows(d: H5Dataset, from: number, to: number, width: number, values: Float32Array | Uint32Array | string[]): void {
  if (width === 0) {
    d.resize([to]);
    d.write_slice([[from, to]], values);
  } else {
    d.resize([to, width]);
    d.write_slice([[from, to], []], values);
  }
}

export class H5Output<S> {
  private constructor(
    readonly path: string,
    private readonly partial: string,
    readonly file: H5File,
    /** String columns (and whatever else waits for the end), one JSON row per `push`. */
    readonly spill: JsonLinesSpill<S>,
  ) {}

  /**
   * Creates the partial file and its side file; `setup` writes what is known up front (tracks, empty
   * statistics, attributes) and returns the datasets the writer appends to.
   */
  static async open<S, D>(path: string, setup: (f: H5File) => D): Promise<[H5Output<S>, D]> {
    const partial = `${path}.partial`;
    const h5wasm = await hdf5();
    let spill: JsonLinesSpill<S> | undefined;
    let f: H5File | undefined;
    try {
      spill = await JsonLinesSpill.create<S>(`${partial}.strings`);
      f = new h5wasm.File(partial, 'w');
      const made = setup(f);
      return [new H5Output(path, partial, f, spill), made];
    } catch (e) {
      if (f) closeQuietly(f);
      await spill?.remove();
      await rm(partial, { force: true }).catch(() => {});
      throw new ScoreWriterError(`${path}: cannot create HDF5 scores (${errorMessage(e)})`, { cause: e });
    }
  }

  /** Closes the file, deletes the side file and gives the file its final name. */
  async commit(): Promise<void> {
    this.file.close();
    await this.spill.remove();
    await rename(this.partial, this.path);
  }

  /** Closes the handles and removes the partial and side files. */
  async discard(): Promise<void> {
    closeQuietly(this.file);
    await this.spill.remove();
    await rm(this.partial, { force: true });
  }
}
