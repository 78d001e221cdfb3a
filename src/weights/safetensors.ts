/**
 * safetensors reader and writer. The reader parses only the header; tensor bytes are read on demand
 * at their file offsets, so opening a 1 GB file costs a few kilobytes.
 * Format: u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}}, raw data.
 */
import { open } from 'node:fs/promises';
import { openForReading } from './weight-file.js';
import { openSync, readSync, closeSync, writeSync } from 'node:fs';
import { BYTES, MAX_HEADER, SafetensorsError, parseSafetensorsHeader, toFloat32, type SafetensorsDType, type TensorInfo } from './safetensors-format.js';
export { SafetensorsError, parseSafetensorsHeader, toFloat32, type SafetensorsDType, type TensorInfo } from './safetensors-format.js';

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await openForReading(path, SafetensorsError);
    try {
      const { size } = await handle.stat();
      const prefix = Buffer.alloc(8);
      const { bytesRead } = await handle.read(prefix, 0, 8, 0);
      if (bytesRead < 8) throw new SafetensorsError(`${path}: not a safetensors file (shorter than 8 bytes)`);
      const headerLength = Number(prefix.readBigUInt64LE(0));
      if (headerLength > MAX_HEADER || headerLength + 8 > size) {
        throw new SafetensorsError(`${path}: not a safetensors file (header length ${headerLength} does not fit the file of ${size} bytes)`);
      }
      const header = Buffer.alloc(headerLength);
      await handle.read(header, 0, headerLength, 8);
      const { tensors, metadata } = parseSafetensorsHeader(path, header, 8 + headerLength, size);
      return new SafetensorsFile(path, tensors, metadata);
    } finally {
      await handle.close();
    }
  }

  /** Reads one tensor's raw bytes into a fresh, aligned buffer. */
  readBytes(name: string): Uint8Array {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(`${this.path}: no tensor named '${name}'`);
    const out = new Uint8Array(new ArrayBuffer(info.length));
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, out, 0, info.length, info.offset);
    } finally {
      closeSync(fd);
    }
    return out;
  }

  /** Reads a floating-point tensor as float32 (F16/BF16/F64 are converted). */
  readFloat32(name: string): Float32Array {
    const info = this.tensors.get(name)!;
    return toFloat32(this.readBytes(name), info.dtype, `${this.path}: ${name}`);
  }

  /** Reads a floating-point tensor as float64. */
  readFloat64(name: string): Float64Array {
    const info = this.tensors.get(name);
    if (info?.dtype === 'F64') return new Float64Array(this.readBytes(name).buffer);
    return Float64Array.from(this.readFloat32(name));
  }
}

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F64' | 'I64' | 'U8';
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Uint8Array;
}

/**
 * The bytes before the data section: u64 header length, then the JSON header padded with spaces so
 * the data starts 8-byte aligned. Tensors are laid out back to back in the order given.
 */
export function encodeSafetensorsHeader(tensors: { name: string; dtype: SafetensorsDType; shape: number[]; length: number }[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const expected = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
    if (t.length !== expected) throw new Error(`tensor ${t.name}: ${t.length} bytes for ${t.dtype}[${t.shape}]`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.length] };
    offset += t.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  return Buffer.concat([prefix, headerBytes]);
}

/** Writes tensors in the order given, 8-byte aligned data section. */
export async function writeSafetensors(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  const header = encodeSafetensorsHeader(tensors.map((t) => ({ ...t, length: t.data.byteLength })), metadata);
  const handle = await open(path, 'w');
  try {
    await handle.write(header);
    for (const t of tensors) await handle.write(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } finally {
    await handle.close();
  }
}

/** A tensor whose data comes in pieces (written streaming: the whole tensor is never in memory). */
export interface TensorStream {
  name: string;
  dtype: 'F32' | 'F64' | 'I64';
  shape: number[];
  chunks: () => Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

/** Writes streamed tensors in the order given (the bytes `writeSafetensors` writes for the same data). */
export async function writeSafetensorsStream(path: string, tensors: TensorStream[], metadata?: Record<string, string>): Promise<void> {
  const bytes = (t: TensorStream) => t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'F32' ? 4 : 8);
  const fd = openSync(path, 'w');
  try {
    const put = (b: Uint8Array) => {
      for (let done = 0; done < b.length; ) done += writeSync(fd, b, done, b.length - done);
    };
    put(encodeSafetensorsHeader(tensors.map((t) => ({ ...t, length: bytes(t) })), metadata));
    for (const t of tensors) {
      let n = 0;
      for await (const c of t.chunks()) {
        put(c);
        n += c.length;
      }
      if (n !== bytes(t)) throw new Error(`${path}: tensor ${t.name} has ${n} bytes, ${t.dtype}[${t.shape}] needs ${bytes(t)}`);
    }
  } finally {
    closeSync(fd);
  }
}
