/**
 * The safetensors format without I/O: header parsing and dtype conversion, shared by the file reader
 * (safetensors.ts) and the browser, which reads the same bytes from fetch() or a picked File.
 * Format: u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}}, raw data.
 */
export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute byte offset in the file. */
  offset: number;
  length: number;
}

export class SafetensorsError extends Error {}

export const MAX_HEADER = 100 * 1024 * 1024;

/** Parses the JSON header (the bytes after the 8-byte length) of a file of `fileSize` bytes. */
export function parseSafetensorsHeader(path: string, header: Uint8Array, dataStart: number, fileSize: number): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(header));
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
