/**
 * A `SpillFile` on disk for Node: a temporary file unlinked as soon as it is open, so it disappears
 * with the process however that ends (a kill included) and never needs cleaning up.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpillFile } from './tensor-store.js';

export function openSpillFile(dir = tmpdir()): SpillFile {
  const folder = mkdtempSync(join(dir, 'seq2track-spill-'));
  const path = join(folder, 'tensors');
  const fd = openSync(path, 'w+');
  unlinkSync(path);
  rmSync(folder, { recursive: true, force: true });
  let size = 0;
  return {
    append(bytes) {
      const at = size;
      for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done, at + done);
      size += bytes.byteLength;
      return at;
    },
    read(offset, into) {
      for (let done = 0; done < into.byteLength; ) {
        const n = readSync(fd, into, done, into.byteLength - done, offset + done);
        if (n === 0) throw new Error(`spill file: ${into.byteLength} bytes at ${offset} are past its end (${size} bytes)`);
        done += n;
      }
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
