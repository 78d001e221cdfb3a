/**
 * safetensors reader and writer. The reader parses only the header; tensor bytes are read on demand
 * at their file offsets, so opening a 1 GB file costs a few kilobytes.
 * Format: u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}}, raw data.
 */
import { open } from 'node:fs/promises';
import { openSync, readSync, closeSync } from 'node:fs';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute byte offset in the file. */
  offset: number;
  length: number;
}

export class SafetensorsError extends Error {}

const MAX_HEADER = 100 * 1024 * 1024;

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      throw new SafetensorsError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
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
      const { tensors, metadata } = parseHeader(path, header, 8 + headerLength, size);
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

function parseHeader(path: string, header: Buffer, dataStart: number, fileSize: number) {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(header.toString('utf8'));
  } catch {
    throw new SafetensorsError(`${path}: header is not valid JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SafetensorsError(`${path}: header is not a JSON object`);
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = entry?.dtype as SafetensorsDType;
    if (!(dtype in BYTES)) throw new SafetensorsError(`${path}: tensor '${name}' has unsupported dtype ${String(entry?.dtype)}`);
    const shape = entry.shape;
    const offsets = entry.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${path}: tensor '${name}' has an invalid shape`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isInteger(d) && d >= 0) || offsets[1] < offsets[0]) {
      throw new SafetensorsError(`${path}: tensor '${name}' has invalid data_offsets`);
    }
    const length = offsets[1] - offsets[0];
    const expected = shape.reduce((a: number, b: number) => a * b, 1) * BYTES[dtype];
    if (length !== expected) {
      throw new SafetensorsError(`${path}: tensor '${name}' spans ${length} bytes but ${dtype}[${shape}] needs ${expected}`);
    }
    const offset = dataStart + offsets[0];
    if (offset + length > fileSize) {
      throw new SafetensorsError(`${path}: tensor '${name}' runs past the end of the file (truncated download?)`);
    }
    tensors.set(name, { name, dtype, shape: shape as number[], offset, length });
  }
  return { tensors, metadata };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDType, what: string): Float32Array {
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4);
    case 'F64':
      return Float32Array.from(new Float64Array(aligned.buffer, aligned.byteOffset, aligned.length / 8));
    case 'F16':
      return Float32Array.from(new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2), halfToFloat);
    case 'BF16': {
      const src = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
      const out = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
      return new Float32Array(out.buffer);
    }
    default:
      throw new SafetensorsError(`${what}: expected a floating-point tensor, found ${dtype}`);
  }
}

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F64' | 'I64';
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array;
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
