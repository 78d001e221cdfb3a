/**
 * TensorFlow's sorted string table (the LevelDB table format, tensorflow/core/lib/io/table*), the
 * layout of a checkpoint's `.index` file:
 *
 *   data block … data block | metaindex block | index block | footer (48 bytes)
 *
 * The footer holds the metaindex and index block handles (two varint64 pairs, padded to 40 bytes) and
 * the magic number 0xdb4775248b80fb57 (little endian). Each block is followed by a 5-byte trailer:
 * a compression byte and the masked CRC-32C of the block and that byte. A block is a run of entries
 * `varint32 shared | varint32 non_shared | varint32 value_length | key suffix | value`, whose key
 * shares `shared` bytes with the previous key, then uint32 restart offsets (entries with shared = 0)
 * and their uint32 count. The index block maps a separator key per data block to that block's handle.
 *
 * The whole (small) file is read; every handle, length and checksum is checked, and keys must be
 * strictly ascending, so a damaged file is one clear error rather than garbage entries.
 */
import { crc32c, unmaskCrc } from './crc32c.js';

export class SSTableError extends Error {}

export interface TableEntry {
  key: Uint8Array;
  value: Uint8Array;
}

const FOOTER_LENGTH = 48;
const TRAILER_LENGTH = 5;
const MAGIC_LO = 0x8b80fb57;
const MAGIC_HI = 0xdb477524;

const NO_COMPRESSION = 0;
const SNAPPY_COMPRESSION = 1;

interface BlockHandle {
  offset: number;
  size: number;
}

/** True when `bytes` ends with the table magic number (a cheap format check). */
export function hasTableMagic(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const v = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 8, 8);
  return v.getUint32(0, true) === MAGIC_LO && v.getUint32(4, true) === MAGIC_HI;
}

class Cursor {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
    readonly fail: (message: string) => never,
  ) {}

  varint(bits: 32 | 64, what: string): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) this.fail(`truncated ${what}`);
      if (i >= (bits === 32 ? 5 : 10)) this.fail(`${what}: varint too long`);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) break;
      scale *= 128;
    }
    if (!Number.isSafeInteger(result) || (bits === 32 && result > 0xffffffff)) this.fail(`${what} out of range`);
    return result;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Every entry of the table, in key order. `what` (the file name) starts each error message. */
export function readSSTable(bytes: Uint8Array, what: string): TableEntry[] {
  const fail = (message: string): never => {
    throw new SSTableError(`${what}: ${message}`);
  };
  if (bytes.length < FOOTER_LENGTH) fail(`${bytes.length} bytes, too short for a table footer (${FOOTER_LENGTH} bytes): truncated?`);
  if (!hasTableMagic(bytes)) fail('no table magic number at the end: truncated, or not a TensorFlow checkpoint index');
  const footerStart = bytes.length - FOOTER_LENGTH;
  const footer = new Cursor(bytes, footerStart, bytes.length - 8, fail);
  const handle = (c: Cursor, what: string): BlockHandle => ({ offset: c.varint(64, `${what} offset`), size: c.varint(64, `${what} size`) });
  handle(footer, 'metaindex handle');
  const indexHandle = handle(footer, 'index handle');

  const readBlock = (h: BlockHandle, name: string): Uint8Array => {
    // A block and its trailer lie before the footer.
    if (h.offset > footerStart || h.size > footerStart - h.offset || TRAILER_LENGTH > footerStart - h.offset - h.size) {
      fail(`${name} (offset ${h.offset}, ${h.size} bytes) runs past the end of the blocks: truncated?`);
    }
    const withType = bytes.subarray(h.offset, h.offset + h.size + 1);
    const t = h.offset + h.size + 1;
    const stored = (bytes[t]! | (bytes[t + 1]! << 8) | (bytes[t + 2]! << 16) | (bytes[t + 3]! << 24)) >>> 0;
    if (crc32c(withType) !== unmaskCrc(stored)) fail(`${name} at offset ${h.offset} fails its checksum: the file is damaged`);
    const type = bytes[h.offset + h.size]!;
    if (type === SNAPPY_COMPRESSION) {
      // TensorFlow's bundle writers always write uncompressed tables (tensor_bundle.cc); a snappy block
      // means some other writer, which is not supported.
      fail(`${name} is snappy-compressed: only uncompressed tables (as TensorFlow writes checkpoints) are supported`);
    }
    if (type !== NO_COMPRESSION) fail(`${name} has unknown compression type ${type}`);
    return bytes.subarray(h.offset, h.offset + h.size);
  };

  const blockEntries = (block: Uint8Array, name: string): TableEntry[] => {
    if (block.length < 4) fail(`${name}: ${block.length} bytes, too short for a block`);
    const view = new DataView(block.buffer, block.byteOffset, block.length);
    const numRestarts = view.getUint32(block.length - 4, true);
    if (numRestarts > (block.length - 4) / 4) fail(`${name}: ${numRestarts} restart points do not fit in ${block.length} bytes`);
    const limit = block.length - 4 - 4 * numRestarts;
    const restarts = new Set<number>();
    for (let i = 0; i < numRestarts; i++) {
      const r = view.getUint32(limit + 4 * i, true);
      if (r >= limit && !(r === 0 && limit === 0)) fail(`${name}: restart point ${r} outside the entries (${limit} bytes)`);
      restarts.add(r);
    }
    const entries: TableEntry[] = [];
    const c = new Cursor(block, 0, limit, (m) => fail(`${name}: ${m}`));
    let prev = new Uint8Array(0);
    const starts = new Set<number>();
    while (c.pos < limit) {
      const at = c.pos;
      starts.add(at);
      const shared = c.varint(32, 'shared key length');
      const nonShared = c.varint(32, 'key length');
      const valueLength = c.varint(32, 'value length');
      if (shared > prev.length) fail(`${name}: entry at ${at} shares ${shared} bytes with a ${prev.length}-byte key`);
      if (restarts.has(at) && shared !== 0) fail(`${name}: entry at restart point ${at} shares key bytes`);
      if (nonShared + valueLength > limit - c.pos) fail(`${name}: entry at ${at} runs past the end of the block`);
      const key = new Uint8Array(shared + nonShared);
      key.set(prev.subarray(0, shared));
      key.set(block.subarray(c.pos, c.pos + nonShared), shared);
      c.pos += nonShared;
      entries.push({ key, value: block.subarray(c.pos, c.pos + valueLength) });
      c.pos += valueLength;
      prev = key;
    }
    for (const r of restarts) if (limit > 0 && !starts.has(r)) fail(`${name}: restart point ${r} is not the start of an entry`);
    return entries;
  };

  const index = blockEntries(readBlock(indexHandle, 'index block'), 'index block');
  const out: TableEntry[] = [];
  let lastSeparator: Uint8Array | undefined;
  index.forEach((ix, i) => {
    const name = `data block ${i}`;
    const c = new Cursor(ix.value, 0, ix.value.length, (m) => fail(`index entry ${i}: ${m}`));
    const h = handle(c, 'block handle');
    if (lastSeparator && compareBytes(ix.key, lastSeparator) <= 0) fail(`index block: keys out of order at entry ${i}`);
    lastSeparator = ix.key;
    for (const e of blockEntries(readBlock(h, name), name)) {
      const last = out[out.length - 1];
      if (last && compareBytes(e.key, last.key) <= 0) fail(`${name}: keys out of order (or repeated) after ${JSON.stringify(new TextDecoder().decode(last.key))}`);
      // Every key of a block sorts at or before its separator in the index.
      if (compareBytes(e.key, ix.key) > 0) fail(`${name}: key beyond its index separator`);
      out.push(e);
    }
  });
  return out;
}
