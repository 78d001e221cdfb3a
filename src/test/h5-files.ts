/** Reading HDF5 outputs back with h5wasm in tests, the file closed whatever the checks do. */
import assert from 'node:assert/strict';
import type { Dataset, File } from 'h5wasm/node';
import { hdf5 } from '../formats/hdf5.js';

/** Opens `path` read-only for `body`; `dataset(name)` asserts that `name` is a dataset and returns it. */
export async function withH5File<T>(path: string, body: (dataset: (name: string) => Dataset, f: File) => T | Promise<T>): Promise<T> {
  const h5wasm = await hdf5();
  const f = new h5wasm.File(path, 'r');
  try {
    const dataset = (name: string) => {
      const d = f.get(name);
      assert.ok(d instanceof h5wasm.Dataset, name);
      return d;
    };
    return await body(dataset, f);
  } finally {
    f.close();
  }
}
