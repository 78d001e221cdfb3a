import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoundedLocalFile, FileRangeError } from '../genome/bounded-file.js';

// Regression (CI fuzz run, target twobit): a damaged 2bit header made the reader ask for a read that
// Node's fs binding rejects with a native assertion, aborting the process instead of throwing.
test('bounded file: impossible or far-past-the-end reads throw one-line errors, small over-reads are clamped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bounded-'));
  try {
    const path = join(dir, 'x.bin');
    await writeFile(path, Uint8Array.from([1, 2, 3, 4, 5]));
    const f = new BoundedLocalFile(path);
    for (const [length, position] of [[-1, 0], [1.5, 0], [Number.NaN, 0], [4, -3], [4, 2 ** 60], [4, 0.5], [2 ** 40, 1], [4, 2 ** 30]] as const) {
      await assert.rejects(f.read(length, position), (e: unknown) => e instanceof FileRangeError && !(e as Error).message.includes('\n'));
    }
    assert.deepEqual([...(await f.read(65536, 1))], [2, 3, 4, 5]);
    assert.deepEqual([...(await f.read(10, 100))], []);
    assert.deepEqual([...(await f.read(2, 3))], [4, 5]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
