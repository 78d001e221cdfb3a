/**
 * NumPy `.npy` arrays and `.npz` archives (a zip of `.npy` entries, stored or deflated), the files
 * tfmodisco-lite's `modisco motifs -s ONEHOT.npz -a ATTR.npz` reads. The reader takes little- and
 * big-endian floats and integers of 1 to 8 bytes and booleans, C or Fortran order, and returns the
 * values as float32 in C (row-major) order; object arrays (pickles) are refused. The writer writes
 * little-endian float32 C-order arrays (what the tests and the comparison with tfmodisco-lite need).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { ZipArchive, ZipError } from '../../weights/zip.js';

export class NpyError extends Error {}

export interface NpyArray {
  shape: number[];
  /** NumPy dtype string as the header gives it, e.g. '<f4'. */
  dtype: string;
  /** Values, row-major. */
  data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The header dictionary of a .npy file: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. */
function parseHeader(text: string, where: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new NpyError(`${where}: not a NumPy array header (${text.trim().slice(0, 80)})`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(n) || n < 0) throw new NpyError(`${where}: bad shape (${shapeText})`);
      return n;
    });
  return { descr, fortran: fortran === 'True', shape };
}

/** Parses the bytes of one .npy file. */
export function parseNpy(bytes: Uint8Array, where: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NpyError(`${where}: not a .npy array (no \\x93NUMPY magic)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let offset: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(`${where}: truncated .npy header`);
    headerLength = view.getUint32(8, true);
    offset = 12;
  } else throw new NpyError(`${where}: .npy format version ${major} is not supported`);
  if (offset + headerLength > bytes.length) throw new NpyError(`${where}: truncated .npy header`);
  const header = parseHeader(new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(offset, offset + headerLength)), where);
  const dataStart = offset + headerLength;
  const m = /^([<>|=]?)([fiub])(\d+)$/.exec(header.descr);
  if (!m) throw new NpyError(`${where}: dtype ${header.descr} is not supported (numbers and booleans only)`);
  const [, order, kind, sizeText] = m;
  const size = Number(sizeText);
  const little = order !== '>';
  const count = header.shape.reduce((a, b) => a * b, 1);
  if (dataStart + count * size > bytes.length) throw new NpyError(`${where}: ${count} values of ${size} bytes do not fit the ${bytes.length - dataStart} bytes of data (truncated file?)`);
  const read = reader(kind!, size, little, where);
  const raw = new Float32Array(count);
  for (let i = 0; i < count; i += 1) raw[i] = read(view, dataStart + i * size);
  const data = header.fortran && header.shape.length > 1 ? fortranToC(raw, header.shape) : raw;
  return { shape: header.shape, dtype: header.descr, data };
}

function reader(kind: string, size: number, little: boolean, where: string): (v: DataView, at: number) => number {
  if (kind === 'f' && size === 4) return (v, at) => v.getFloat32(at, little);
  if (kind === 'f' && size === 8) return (v, at) => v.getFloat64(at, little);
  if (kind === 'f' && size === 2) return (v, at) => half(v.getUint16(at, little));
  if (kind === 'b' && size === 1) return (v, at) => (v.getUint8(at) ? 1 : 0);
  if (kind === 'i' || kind === 'u') {
    const signed = kind === 'i';
    if (size === 1) return signed ? (v, at) => v.getInt8(at) : (v, at) => v.getUint8(at);
    if (size === 2) return signed ? (v, at) => v.getInt16(at, little) : (v, at) => v.getUint16(at, little);
    if (size === 4) return signed ? (v, at) => v.getInt32(at, little) : (v, at) => v.getUint32(at, little);
    if (size === 8) return signed ? (v, at) => Number(v.getBigInt64(at, little)) : (v, at) => Number(v.getBigUint64(at, little));
  }
  throw new NpyError(`${where}: dtype ${kind}${size} is not supported`);
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? Number.NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function fortranToC(raw: Float32Array, shape: number[]): Float32Array {
  const out = new Float32Array(raw.length);
  const nd = shape.length;
  const index = new Array<number>(nd).fill(0);
  for (let c = 0; c < raw.length; c += 1) {
    // index of element c in C order → its Fortran offset
    let f = 0;
    let stride = 1;
    for (let d = 0; d < nd; d += 1) {
      f += index[d]! * stride;
      stride *= shape[d]!;
    }
    out[c] = raw[f]!;
    for (let d = nd - 1; d >= 0; d -= 1) {
      index[d]! += 1;
      if (index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/** Reads a .npy file, or one array of a .npz archive (`name`, default: 'arr_0' as tfmodisco-lite, else the only array). */
export async function readNumpy(path: string, name?: string): Promise<NpyArray> {
  if (path.toLowerCase().endsWith('.npz')) return readNpz(path, name);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new NpyError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parseNpy(bytes, path);
}

export function readNpz(path: string, name?: string): NpyArray {
  let zip: ZipArchive;
  try {
    zip = ZipArchive.open(path);
  } catch (e) {
    throw new NpyError(e instanceof ZipError ? `${e.message} (an .npz is a zip of .npy arrays)` : String(e));
  }
  const names = [...zip.entries.keys()].filter((n) => n.endsWith('.npy'));
  let entry: string | undefined;
  if (name !== undefined) entry = names.find((n) => n === `${name}.npy`);
  else entry = names.find((n) => n === 'arr_0.npy') ?? (names.length === 1 ? names[0] : undefined);
  if (entry === undefined) {
    throw new NpyError(`${path}: ${name !== undefined ? `no array '${name}'` : "no array 'arr_0' and not exactly one array"} (it holds ${names.map((n) => n.slice(0, -4)).sort().join(', ') || 'no arrays'})`);
  }
  return parseNpy(zip.read(entry), `${path}: ${entry}`);
}

/** The bytes of a little-endian float32 C-order .npy file. */
export function encodeNpy(shape: number[], data: Float32Array): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`npy: shape ${shape.join('×')} does not hold ${data.length} values`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad so that the data starts on a 64-byte boundary, the header ending in a newline.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const values = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < data.length; i += 1) values.setFloat32(i * 4, data[i]!, true);
  return out;
}

export async function writeNpy(path: string, shape: number[], data: Float32Array): Promise<void> {
  await writeFile(path, encodeNpy(shape, data));
}
