/** Reading HDF5 outputs back with h5wasm in tests, the file closed whatever the checks do. */
import assert from 'node:assert/strict';
import type { Dataset, File } from 'h5wasm/node';

/** Opens `path` read-only for `body`; `dataset(name)` asserts that `name` is a dataset and returns it. */
export async function withH5File<T>(path: string, body: (dataset: (name: string) => Dataset, f: File) => T | Promise<T>): Promise<T> {
  const h5wasm = (await import('h5wasm/node')).default;
  await h5wasm.ready;
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
