/**
 * NumPy files, written streaming: `.npy` (format 1.0: magic, header dict, C-order data) and `.npz`
 * (a zip of `.npy` entries, as `np.savez` writes them: `arr_0.npy`, …), for tools that read NumPy
 * arrays, e.g. tfmodisco-lite's `modisco motifs -s ONEHOT.npz -a ATTR.npz`.
 *
 * The zip entries are STORED (no compression: attribution scores barely compress, and the data is
 * streamed once); an entry's CRC-32 is computed while its data is written and patched into its local
 * header. Sizes and offsets past 4 GiB use ZIP64 records (a genome-wide attribution run easily makes
 * such a file; Python's zipfile reads them). Timestamps are fixed (1980-01-01), so the same arrays
 * make the same bytes.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import * as zlib from 'node:zlib';

export interface NpyArray {
  /** Entry name without `.npy` (np.savez: arr_0, arr_1, …). */
  name: string;
  /** float32, little-endian. */
  dtype: '<f4';
  shape: number[];
  /** The data in C order, in pieces; their bytes must add up to the shape. */
  chunks: () => Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

/** The `.npy` header (format 1.0), padded so the data starts 64-byte aligned. */
export function npyHeader(dtype: string, shape: number[]): Buffer {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${dims}, }`;
  const unpadded = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + dict.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(dict.length, 8);
  out.write(dict, 10, 'latin1');
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (zip's) continued from `crc`: zlib's where the runtime has it (Node ≥ 20.15), else a table. */
export function crc32(data: Uint8Array, crc = 0): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native) return native(data, crc) >>> 0;
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const MAX32 = 0xffffffff;
/** 1980-01-01 00:00 in DOS date/time. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/** Writes arrays as an `.npz` (`np.load(path)[name]`); `forceZip64` writes ZIP64 records even when small (tests). */
export async function writeNpz(path: string, arrays: NpyArray[], forceZip64 = false): Promise<void> {
  const fd = openSync(path, 'w');
  let at = 0;
  const put = (b: Uint8Array, position = at) => {
    for (let done = 0; done < b.length; ) done += writeSync(fd, b, done, b.length - done, position + done);
    if (position === at) at += b.length;
  };
  try {
    const central: Buffer[] = [];
    for (const a of arrays) {
      const name = Buffer.from(`${a.name}.npy`, 'utf8');
      const header = npyHeader(a.dtype, a.shape);
      const size = header.length + a.shape.reduce((x, y) => x * y, 1) * 4;
      const offset = at;
      const big = forceZip64 || size >= MAX32;
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(big ? 45 : 20, 4);
      local.writeUInt16LE(0, 6); // flags
      local.writeUInt16LE(0, 8); // STORED
      local.writeUInt16LE(0, 10);
      local.writeUInt16LE(DOS_DATE, 12);
      local.writeUInt32LE(0, 14); // CRC, patched below
      local.writeUInt32LE(big ? MAX32 : size, 18);
      local.writeUInt32LE(big ? MAX32 : size, 22);
      local.writeUInt16LE(name.length, 26);
      const extra = big ? zip64Extra([size, size]) : Buffer.alloc(0);
      local.writeUInt16LE(extra.length, 28);
      put(local);
      put(name);
      put(extra);
      let crc = crc32(header);
      put(header);
      let written = header.length;
      for await (const c of a.chunks()) {
        crc = crc32(c, crc);
        put(c);
        written += c.length;
      }
      if (written !== size) throw new Error(`${path}: array ${a.name} has ${written - header.length} data bytes, its shape [${a.shape}] needs ${size - header.length}`);
      const crcBytes = Buffer.alloc(4);
      crcBytes.writeUInt32LE(crc, 0);
      put(crcBytes, offset + 14);
      const offset64 = forceZip64 || offset >= MAX32;
      const cdExtra = zip64Extra([...(big ? [size, size] : []), ...(offset64 ? [offset] : [])]);
      const cd = Buffer.alloc(46);
      cd.writeUInt32LE(0x02014b50, 0);
      cd.writeUInt16LE(big || offset64 ? 45 : 20, 4);
      cd.writeUInt16LE(big || offset64 ? 45 : 20, 6);
      cd.writeUInt16LE(0, 8);
      cd.writeUInt16LE(0, 10);
      cd.writeUInt16LE(0, 12);
      cd.writeUInt16LE(DOS_DATE, 14);
      cd.writeUInt32LE(crc, 16);
      cd.writeUInt32LE(big ? MAX32 : size, 20);
      cd.writeUInt32LE(big ? MAX32 : size, 24);
      cd.writeUInt16LE(name.length, 28);
      cd.writeUInt16LE(big || offset64 ? cdExtra.length : 0, 30);
      cd.writeUInt32LE(offset64 ? MAX32 : offset, 42);
      central.push(cd, name, big || offset64 ? cdExtra : Buffer.alloc(0));
    }
    const cdStart = at;
    for (const b of central) put(b);
    const cdSize = at - cdStart;
    if (forceZip64 || cdStart >= MAX32 || cdSize >= MAX32 || arrays.length >= 0xffff) {
      const z64 = at;
      const rec = Buffer.alloc(56);
      rec.writeUInt32LE(0x06064b50, 0);
      rec.writeBigUInt64LE(44n, 4);
      rec.writeUInt16LE(45, 12);
      rec.writeUInt16LE(45, 14);
      rec.writeBigUInt64LE(BigInt(arrays.length), 24);
      rec.writeBigUInt64LE(BigInt(arrays.length), 32);
      rec.writeBigUInt64LE(BigInt(cdSize), 40);
      rec.writeBigUInt64LE(BigInt(cdStart), 48);
      put(rec);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeBigUInt64LE(BigInt(z64), 8);
      loc.writeUInt32LE(1, 16);
      put(loc);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(Math.min(arrays.length, 0xffff), 8);
    end.writeUInt16LE(Math.min(arrays.length, 0xffff), 10);
    end.writeUInt32LE(Math.min(cdSize, MAX32), 12);
    end.writeUInt32LE(forceZip64 ? MAX32 : Math.min(cdStart, MAX32), 16);
    put(end);
  } finally {
    closeSync(fd);
  }
}

/** The ZIP64 extended-information extra field holding `values` (8 bytes each). */
function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return b;
}

/**
 * tfmodisco-lite's two inputs from per-record [L, 4] arrays (A, C, G, T per position): `onehot`
 * and `hypothetical`, each float32 [N, 4, L] (`arr_0`), written one record at a time.
 * `modisco motifs -s ONEHOT.npz -a HYPOTHETICAL.npz` reads them.
 */
export async function writeModiscoInputs(
  paths: { onehot: string; hypothetical: string },
  records: number,
  length: number,
  arrays: { onehot: (record: number) => ArrayLike<number> | Promise<ArrayLike<number>>; hypothetical: (record: number) => ArrayLike<number> | Promise<ArrayLike<number>> },
): Promise<void> {
  for (const which of ['onehot', 'hypothetical'] as const) {
    const of = arrays[which];
    const chunks = async function* () {
      for (let r = 0; r < records; r++) {
        const a = basesFirst(await of(r), length);
        yield new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      }
    };
    await writeNpz(paths[which], [{ name: 'arr_0', dtype: '<f4', shape: [records, 4, length], chunks }]);
  }
}

/** [L, 4] → float32 [4, L]. */
export function basesFirst(a: ArrayLike<number>, length: number): Float32Array {
  const out = new Float32Array(4 * length);
  for (let p = 0; p < length; p++) for (let k = 0; k < 4; k++) out[k * length + p] = a[p * 4 + k]!;
  return out;
}

/** [L, 4]: each position's four values minus their mean (hypothetical contributions from a gradient). */
export function centredOverBases(a: ArrayLike<number>, length: number): Float32Array {
  const out = new Float32Array(4 * length);
  for (let p = 0; p < length; p++) {
    const m = (a[p * 4]! + a[p * 4 + 1]! + a[p * 4 + 2]! + a[p * 4 + 3]!) / 4;
    for (let k = 0; k < 4; k++) out[p * 4 + k] = a[p * 4 + k]! - m;
  }
  return out;
}
