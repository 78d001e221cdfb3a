/** Weights files on Node: opening one for reading, and a weight's values from its file range. */
import { openSync, readSync, closeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { WeightEntry } from './weight-set.js';

/** A weight's values as float32 (read from its file range, or a view of its bytes). */
export function entryFloat32(entry: WeightEntry): Float32Array {
  if (entry.source.kind === 'bytes') {
    const b = entry.source.bytes;
    if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    return new Float32Array(b.slice().buffer);
  }
  const { path, offset, length } = entry.source;
  const out = new Float32Array(length / 4);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, new Uint8Array(out.buffer), 0, length, offset) !== length) throw new Error(`${path}: short read of ${length} bytes at ${offset}`);
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Opens a file for reading; failing, throws `error` with one line naming the file and the cause. */
export async function openForReading(path: string, error: new (message: string) => Error): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    throw new error(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
}
