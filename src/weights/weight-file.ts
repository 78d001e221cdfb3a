/** Reads a weight's values on Node (file ranges through node:fs). */
import { openSync, readSync, closeSync } from 'node:fs';
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
