/**
 * Minimal ZIP reader for weight archives (PyTorch's torch.save format): the central directory is read
 * once; entries are either located in place (stored, uncompressed: read by byte range, nothing loaded)
 * or inflated on demand (deflate). Every size and offset a header claims is checked against the file,
 * so a truncated archive or a lying header is an error naming the entry, not a silent short read.
 * ZIP64 (archives or entries over 4 GB) is supported.
 */
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import * as zlib from 'node:zlib';

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_SIG = 0x06064b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

export function isZip(prefix: Uint8Array): boolean {
  return prefix.length >= 4 && prefix[0] === 0x50 && prefix[1] === 0x4b && prefix[2] === 0x03 && prefix[3] === 0x04;
}

export class ZipArchive {
  private constructor(
    readonly path: string,
    readonly size: number,
    readonly entries: Map<string, ZipEntry>,
  ) {}

  static open(path: string): ZipArchive {
    const fd = openFile(path);
    try {
      const size = fstatSync(fd).size;
      const read = (position: number, length: number): Buffer => {
        if (position < 0 || position + length > size) throw new ZipError(`${path}: truncated zip (needs bytes ${position}..${position + length}, file has ${size})`);
        const b = Buffer.alloc(length);
        const n = readSync(fd, b, 0, length, position);
        if (n !== length) throw new ZipError(`${path}: short read at byte ${position}`);
        return b;
      };
      const tailLength = Math.min(size, 22 + 65535);
      const tail = read(size - tailLength, tailLength);
      let eocd = -1;
      for (let i = tail.length - 22; i >= 0; i--) {
        if (tail.readUInt32LE(i) === EOCD_SIG) {
          eocd = i;
          break;
        }
      }
      if (eocd < 0) throw new ZipError(`${path}: not a complete zip archive (no end-of-central-directory record; truncated download?)`);
      let count = tail.readUInt16LE(eocd + 10);
      let cdSize = tail.readUInt32LE(eocd + 12);
      let cdOffset = tail.readUInt32LE(eocd + 16);
      const eocdAbs = size - tailLength + eocd;
      if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
        const loc = read(eocdAbs - 20, 20);
        if (loc.readUInt32LE(0) !== EOCD64_LOCATOR_SIG) throw new ZipError(`${path}: zip64 locator missing`);
        const rec = read(Number(loc.readBigUInt64LE(8)), 56);
        if (rec.readUInt32LE(0) !== EOCD64_SIG) throw new ZipError(`${path}: zip64 end record missing`);
        count = Number(rec.readBigUInt64LE(32));
        cdSize = Number(rec.readBigUInt64LE(40));
        cdOffset = Number(rec.readBigUInt64LE(48));
      }
      if (cdOffset + cdSize > size) throw new ZipError(`${path}: central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the ${size}-byte file`);
      const cd = read(cdOffset, cdSize);
      const entries = new Map<string, ZipEntry>();
      let p = 0;
      for (let i = 0; i < count; i++) {
        if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG) throw new ZipError(`${path}: corrupt central directory at entry ${i}`);
        const method = cd.readUInt16LE(p + 10);
        const crc32 = cd.readUInt32LE(p + 16);
        let compressedSize = cd.readUInt32LE(p + 20);
        let uncompressed = cd.readUInt32LE(p + 24);
        const nameLength = cd.readUInt16LE(p + 28);
        const extraLength = cd.readUInt16LE(p + 30);
        const commentLength = cd.readUInt16LE(p + 32);
        let localHeaderOffset = cd.readUInt32LE(p + 42);
        if (p + 46 + nameLength + extraLength + commentLength > cd.length) throw new ZipError(`${path}: corrupt central directory at entry ${i}`);
        const name = cd.toString('utf8', p + 46, p + 46 + nameLength);
        // ZIP64 extended information: 64-bit values for the fields that are saturated, in this order.
        let e = p + 46 + nameLength;
        const extraEnd = e + extraLength;
        while (e + 4 <= extraEnd) {
          const id = cd.readUInt16LE(e);
          const len = cd.readUInt16LE(e + 2);
          if (id === 0x0001) {
            let q = e + 4;
            const next = () => {
              if (q + 8 > e + 4 + len) throw new ZipError(`${path}: entry '${name}': short zip64 field`);
              const v = Number(cd.readBigUInt64LE(q));
              q += 8;
              return v;
            };
            if (uncompressed === 0xffffffff) uncompressed = next();
            if (compressedSize === 0xffffffff) compressedSize = next();
            if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
          }
          e += 4 + len;
        }
        if (method !== 0 && method !== 8) throw new ZipError(`${path}: entry '${name}' uses compression method ${method} (only stored and deflate are supported)`);
        if (method === 0 && compressedSize !== uncompressed) {
          throw new ZipError(`${path}: entry '${name}' is stored but claims ${compressedSize} bytes stored for ${uncompressed} bytes of data (corrupt header)`);
        }
        entries.set(name, { name, method, compressedSize, size: uncompressed, crc32, localHeaderOffset });
        p += 46 + nameLength + extraLength + commentLength;
      }
      return new ZipArchive(path, size, entries);
    } finally {
      closeSync(fd);
    }
  }

  /** Absolute byte offset of an entry's data, after checking its local header and that it fits the file. */
  dataOffset(entry: ZipEntry): number {
    const fd = openFile(this.path);
    try {
      const h = Buffer.alloc(30);
      if (entry.localHeaderOffset + 30 > this.size || readSync(fd, h, 0, 30, entry.localHeaderOffset) !== 30 || h.readUInt32LE(0) !== LOCAL_SIG) {
        throw new ZipError(`${this.path}: entry '${entry.name}': no local header at byte ${entry.localHeaderOffset} (corrupt or truncated zip)`);
      }
      const start = entry.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
      if (start + entry.compressedSize > this.size) {
        throw new ZipError(
          `${this.path}: entry '${entry.name}' claims ${entry.compressedSize} bytes at byte ${start}, but the file ends at ${this.size} (truncated or corrupt zip)`,
        );
      }
      return start;
    } finally {
      closeSync(fd);
    }
  }

  /** Reads (and inflates) a whole entry, checking its size and CRC-32. */
  read(name: string): Buffer {
    const entry = this.entries.get(name);
    if (!entry) throw new ZipError(`${this.path}: no entry '${name}'`);
    const start = this.dataOffset(entry);
    const raw = Buffer.alloc(entry.compressedSize);
    const fd = openFile(this.path);
    try {
      if (readSync(fd, raw, 0, raw.length, start) !== raw.length) throw new ZipError(`${this.path}: entry '${name}': short read`);
    } finally {
      closeSync(fd);
    }
    let data: Buffer;
    if (entry.method === 8) {
      try {
        data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) });
      } catch (e) {
        throw new ZipError(`${this.path}: entry '${name}': deflate data is corrupt or larger than the ${entry.size} bytes its header claims (${(e as Error).message})`);
      }
    } else data = raw;
    if (data.length !== entry.size) throw new ZipError(`${this.path}: entry '${name}' inflates to ${data.length} bytes, its header claims ${entry.size}`);
    checkCrc(this.path, entry, data);
    return data;
  }
}

/** CRC-32 of the data against the header's (where the runtime offers zlib.crc32: Node ≥ 20.15). */
export function checkCrc(path: string, entry: ZipEntry, data: Uint8Array): void {
  const crc = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (!crc) return;
  const got = crc(data) >>> 0;
  if (got !== entry.crc32 >>> 0) throw new ZipError(`${path}: entry '${entry.name}' fails its CRC-32 check (corrupt file)`);
}

function openFile(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new ZipError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
}
