/**
 * A `SpillFile` on disk for Node: a temporary file unlinked as soon as it is open, so it disappears
 * with the process however that ends (a kill included) and never needs cleaning up. Writes and
 * reads go through libuv's thread pool, so they proceed while ONNX Runtime computes.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, read, rmSync, unlinkSync, write } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpillFile } from './tensor-store.js';

type Positional = (fd: number, bytes: Uint8Array, offset: number, length: number, position: number, done: (err: Error | null, n: number) => void) => void;
const writeAt: Positional = (fd, bytes, offset, length, position, done) => write(fd, bytes, offset, length, position, done);
const readAt: Positional = (fd, bytes, offset, length, position, done) => read(fd, bytes, offset, length, position, done);

/** Runs positional writes (or reads) until all of `bytes` is done; a short count continues where it stopped. */
function transfer(op: Positional, fd: number, bytes: Uint8Array, position: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number) => {
      if (done === bytes.byteLength) return resolve();
      op(fd, bytes, done, bytes.byteLength - done, position + done, (err, n) => {
        if (err) return reject(new Error(`spill file: ${what} failed: ${err.message}`));
        if (n === 0) return reject(new Error(`spill file: ${what} stopped at byte ${position + done}`));
        step(done + n);
      });
    };
    step(0);
  });
}

export function openSpillFile(dir = tmpdir()): SpillFile {
  const folder = mkdtempSync(join(dir, 'seq2track-spill-'));
  const path = join(folder, 'tensors');
  const fd = openSync(path, 'w+');
  unlinkSync(path);
  rmSync(folder, { recursive: true, force: true });
  let size = 0;
  return {
    append(bytes) {
      const offset = size;
      size += bytes.byteLength;
      return { offset, written: transfer(writeAt, fd, bytes, offset, `writing ${bytes.byteLength} bytes`) };
    },
    read(offset, into) {
      if (offset + into.byteLength > size) return Promise.reject(new Error(`spill file: ${into.byteLength} bytes at ${offset} are past its end (${size} bytes)`));
      return transfer(readAt, fd, into, offset, `reading ${into.byteLength} bytes`);
    },
    reset() {
      ftruncateSync(fd, 0);
      size = 0;
    },
    close() {
      closeSync(fd);
    },
  };
}
