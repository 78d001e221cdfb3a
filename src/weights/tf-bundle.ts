/**
 * TensorFlow checkpoints ("tensor bundles", tensorflow/core/util/tensor_bundle), the `variables/`
 * folder of a TF2 SavedModel: `<prefix>.index` is a sorted string table (./sstable.ts) mapping each
 * tensor key to a `BundleEntryProto` (dtype, shape, shard, offset, size, masked CRC-32C), preceded by
 * the header entry (empty key) holding a `BundleHeaderProto` (shard count, endianness, version). The
 * bytes live in `<prefix>.data-SSSSS-of-NNNNN`, raw little-endian for numeric tensors; string tensors
 * are `varint64 lengths… | masked CRC of the lengths | bytes…` (how the object graph is stored).
 *
 * Every tensor read is checked against its stored checksum, computed as TensorFlow does (over the
 * file bytes; for strings over the lengths as uint32, the length checksum and the bytes), and a
 * mismatch names the data file and the tensor.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c, crc32cExtend, unmaskCrc } from './crc32c.js';
import { readSSTable, SSTableError, type TableEntry } from './sstable.js';
import { ProtoReader, TfCheckpointError } from './tf-proto.js';
import { toFloat32, type SafetensorsDType } from './safetensors-format.js';

export { TfCheckpointError } from './tf-proto.js';

/** Key of the serialised TrackableObjectGraph (a scalar string tensor) in object-based checkpoints. */
export const OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH';

/** TensorFlow DataType enum values (types.proto) a checkpoint may hold; `bytes` 0 = variable length. */
const DTYPES: Record<number, { name: string; bytes: number; float?: SafetensorsDType }> = {
  1: { name: 'float32', bytes: 4, float: 'F32' },
  2: { name: 'float64', bytes: 8, float: 'F64' },
  3: { name: 'int32', bytes: 4 },
  4: { name: 'uint8', bytes: 1 },
  5: { name: 'int16', bytes: 2 },
  6: { name: 'int8', bytes: 1 },
  7: { name: 'string', bytes: 0 },
  8: { name: 'complex64', bytes: 8 },
  9: { name: 'int64', bytes: 8 },
  10: { name: 'bool', bytes: 1 },
  14: { name: 'bfloat16', bytes: 2, float: 'BF16' },
  17: { name: 'uint16', bytes: 2 },
  18: { name: 'complex128', bytes: 16 },
  19: { name: 'float16', bytes: 2, float: 'F16' },
  22: { name: 'uint32', bytes: 4 },
  23: { name: 'uint64', bytes: 8 },
};

const DT_STRING = 7;
/** The bundle format version this reader understands (kTensorBundleVersion). */
const BUNDLE_VERSION = 1;

export interface BundleEntry {
  key: string;
  /** TensorFlow DataType enum value, and its name (or `dtype N` when unknown). */
  dtype: number;
  dtypeName: string;
  shape: number[];
  numel: number;
  shard: number;
  offset: number;
  size: number;
  /** Masked CRC-32C as stored. */
  crc32c: number;
  /** A partitioned variable (saved as slices under other keys). */
  sliced: boolean;
}

/** The checkpoint prefix of a SavedModel folder, its `variables/` folder, a `.index` file or a prefix. */
export function findTfBundle(input: string): string | undefined {
  const isFile = (p: string) => existsSync(p) && statSync(p).isFile();
  if (existsSync(input) && statSync(input).isDirectory()) {
    if (isFile(join(input, 'variables', 'variables.index'))) return join(input, 'variables', 'variables');
    if (isFile(join(input, 'variables.index'))) return join(input, 'variables');
    return undefined;
  }
  if (input.endsWith('.index') && isFile(input)) return input.slice(0, -'.index'.length);
  if (isFile(`${input}.index`)) return input;
  return undefined;
}

function parseShape(r: ProtoReader): number[] {
  const dims: number[] = [];
  for (const [f, w] of r.fields()) {
    if (f === 2 && w === 2) {
      const d = r.message(w, 'shape dimension');
      let size = 0;
      for (const [g, v] of d.fields()) {
        if (g === 1 && v === 0) size = d.int('dimension size');
        else d.skip(v);
      }
      if (size < 0) r.fail(`dimension of unknown size (${size})`);
      dims.push(size);
    } else if (f === 3 && w === 0) {
      if (r.bool()) r.fail('shape of unknown rank');
    } else r.skip(w);
  }
  return dims;
}

export class TfBundle {
  readonly indexPath: string;
  readonly entries = new Map<string, BundleEntry>();
  readonly numShards: number;

  private constructor(readonly prefix: string) {
    this.indexPath = `${prefix}.index`;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(this.indexPath);
    } catch (e) {
      throw new TfCheckpointError(`${this.indexPath}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    let table: TableEntry[];
    try {
      table = readSSTable(bytes, this.indexPath);
    } catch (e) {
      if (e instanceof SSTableError) throw new TfCheckpointError(e.message);
      throw e;
    }
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const first = table[0];
    // The header sorts first (empty key), as every bundle writer puts it.
    if (!first || first.key.length !== 0) throw new TfCheckpointError(`${this.indexPath}: no bundle header entry (not a TensorFlow checkpoint index?)`);
    this.numShards = this.parseHeader(first.value);
    for (const { key: keyBytes, value } of table.slice(1)) {
      let key: string;
      try {
        key = decoder.decode(keyBytes);
      } catch {
        throw new TfCheckpointError(`${this.indexPath}: a tensor key is not UTF-8`);
      }
      this.entries.set(key, this.parseEntry(key, value));
    }
  }

  static open(prefix: string): TfBundle {
    return new TfBundle(prefix);
  }

  private parseHeader(value: Uint8Array): number {
    const r = new ProtoReader(value, `${this.indexPath}: bundle header`);
    let numShards = 0;
    let endianness = 0;
    let minConsumer = 0;
    const badConsumers: number[] = [];
    for (const [f, w] of r.fields()) {
      if (f === 1 && w === 0) numShards = r.int('num_shards');
      else if (f === 2 && w === 0) endianness = r.int('endianness');
      else if (f === 3 && w === 2) {
        const v = r.message(w, 'version');
        for (const [g, u] of v.fields()) {
          if (g === 2 && u === 0) minConsumer = v.int('min_consumer');
          else if (g === 3 && u === 0) badConsumers.push(v.int('bad_consumers'));
          else v.skip(u);
        }
      } else r.skip(w);
    }
    if (endianness !== 0) r.fail('written big-endian; only little-endian checkpoints are supported');
    if (minConsumer > BUNDLE_VERSION || badConsumers.includes(BUNDLE_VERSION)) r.fail(`needs a reader of bundle version ${minConsumer} or later (this one reads version ${BUNDLE_VERSION})`);
    if (numShards < 0 || numShards > 99_999) r.fail(`num_shards ${numShards} out of range`);
    return numShards;
  }

  private parseEntry(key: string, value: Uint8Array): BundleEntry {
    const r = new ProtoReader(value, `${this.indexPath}: entry ${JSON.stringify(key)}`);
    const e: BundleEntry = { key, dtype: 0, dtypeName: '', shape: [], numel: 1, shard: 0, offset: 0, size: 0, crc32c: 0, sliced: false };
    for (const [f, w] of r.fields()) {
      if (f === 1 && w === 0) e.dtype = r.int('dtype');
      else if (f === 2 && w === 2) e.shape = parseShape(r.message(w, 'shape'));
      else if (f === 3 && w === 0) e.shard = r.int('shard_id');
      else if (f === 4 && w === 0) e.offset = r.int('offset');
      else if (f === 5 && w === 0) e.size = r.int('size');
      else if (f === 6 && w === 5) e.crc32c = r.fixed32();
      else if (f === 7 && w === 2) {
        r.bytes();
        e.sliced = true;
      } else r.skip(w);
    }
    const type = DTYPES[e.dtype];
    e.dtypeName = type?.name ?? `dtype ${e.dtype}`;
    for (const d of e.shape) {
      e.numel *= d;
      if (!Number.isSafeInteger(e.numel)) r.fail(`shape [${e.shape}] has too many elements`);
    }
    if (e.sliced) return e;
    if (e.offset < 0 || e.size < 0) r.fail(`negative offset or size`);
    if (e.shard < 0 || e.shard >= this.numShards) r.fail(`shard ${e.shard}, but the header names ${this.numShards} data files`);
    if (type && type.bytes > 0 && e.size !== e.numel * type.bytes) {
      r.fail(`stored size ${e.size} bytes, but ${e.dtypeName} [${e.shape}] needs ${e.numel * type.bytes}`);
    }
    return e;
  }

  /** `<prefix>.data-SSSSS-of-NNNNN`, as TensorFlow names shard files. */
  dataPath(shard: number): string {
    const pad = (n: number) => String(n).padStart(5, '0');
    return `${this.prefix}.data-${pad(shard)}-of-${pad(this.numShards)}`;
  }

  entry(key: string): BundleEntry {
    const e = this.entries.get(key);
    if (!e) throw new TfCheckpointError(`${this.indexPath}: no tensor ${JSON.stringify(key)}`);
    if (e.sliced) throw new TfCheckpointError(`${this.indexPath}: tensor ${JSON.stringify(key)} is partitioned (saved in slices), which is not supported`);
    return e;
  }

  /** The raw bytes of a tensor from its data file (not yet checksummed). */
  private rawBytes(e: BundleEntry): { bytes: Uint8Array; path: string } {
    const path = this.dataPath(e.shard);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new TfCheckpointError(`${path}: cannot open data file for tensor ${JSON.stringify(e.key)} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
    try {
      const fileSize = fstatSync(fd).size;
      if (e.offset > fileSize || e.size > fileSize - e.offset) {
        throw new TfCheckpointError(`${path}: tensor ${JSON.stringify(e.key)} (bytes ${e.offset}..${e.offset + e.size}) runs past the end of the file (${fileSize} bytes): truncated?`);
      }
      const bytes = new Uint8Array(e.size);
      for (let done = 0; done < e.size; ) {
        const n = readSync(fd, bytes, done, e.size - done, e.offset + done);
        if (n <= 0) throw new TfCheckpointError(`${path}: short read of tensor ${JSON.stringify(e.key)}`);
        done += n;
      }
      return { bytes, path };
    } finally {
      closeSync(fd);
    }
  }

  private checksumFailed(path: string, e: BundleEntry, actual: number): never {
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    throw new TfCheckpointError(`${path}: tensor ${JSON.stringify(e.key)} fails its checksum (crc32c ${hex(actual)}, the index says ${hex(unmaskCrc(e.crc32c))}): the file is damaged`);
  }

  /** A numeric tensor's bytes, checked against the stored CRC-32C. */
  readBytes(key: string): Uint8Array {
    const e = this.entry(key);
    if (e.dtype === DT_STRING) throw new TfCheckpointError(`${this.indexPath}: tensor ${JSON.stringify(key)} is a string tensor`);
    const { bytes, path } = this.rawBytes(e);
    const actual = crc32c(bytes);
    if (actual !== unmaskCrc(e.crc32c)) this.checksumFailed(path, e, actual);
    return bytes;
  }

  /** A floating-point tensor as float32 (float64, float16 and bfloat16 are converted). */
  readFloat32(key: string): { shape: number[]; data: Float32Array } {
    const e = this.entry(key);
    const float = DTYPES[e.dtype]?.float;
    if (!float) throw new TfCheckpointError(`${this.indexPath}: tensor ${JSON.stringify(key)} is ${e.dtypeName}, not floating point`);
    const bytes = this.readBytes(key);
    return { shape: e.shape, data: toFloat32(bytes, float, `${this.indexPath}: ${JSON.stringify(key)}`) };
  }

  /** The elements of a string tensor, with both of TensorFlow's checksums verified. */
  readStrings(key: string): Uint8Array[] {
    const e = this.entry(key);
    if (e.dtype !== DT_STRING) throw new TfCheckpointError(`${this.indexPath}: tensor ${JSON.stringify(key)} is ${e.dtypeName}, not a string tensor`);
    const { bytes, path } = this.rawBytes(e);
    const r = new ProtoReader(bytes, `${path}: string tensor ${JSON.stringify(key)}`);
    if (e.numel > bytes.length) r.fail(`${e.numel} elements cannot fit in ${bytes.length} bytes`);
    const lengths: number[] = [];
    let crc = 0;
    const word = new Uint8Array(8);
    const view = new DataView(word.buffer);
    for (let i = 0; i < e.numel; i++) {
      const n = r.uint('string length');
      lengths.push(n);
      // Lengths are checksummed as 4-byte little-endian integers (8 bytes beyond 4 GiB).
      if (n <= 0xffffffff) {
        view.setUint32(0, n, true);
        crc = crc32cExtend(crc, word.subarray(0, 4));
      } else {
        view.setBigUint64(0, BigInt(n), true);
        crc = crc32cExtend(crc, word);
      }
    }
    const lengthCrc = r.fixed32();
    if (unmaskCrc(lengthCrc) !== crc) r.fail('the checksum of the string lengths does not match: the file is damaged');
    crc = crc32cExtend(crc, bytes.subarray(r.pos - 4, r.pos));
    const out: Uint8Array[] = [];
    for (const n of lengths) {
      if (n > bytes.length - r.pos) r.fail('string runs past the end of the tensor');
      const s = bytes.subarray(r.pos, r.pos + n);
      r.pos += n;
      crc = crc32cExtend(crc, s);
      out.push(s);
    }
    if (r.pos !== bytes.length) r.fail(`${bytes.length - r.pos} bytes left over after the strings`);
    if (crc !== unmaskCrc(e.crc32c)) this.checksumFailed(path, e, crc);
    return out;
  }
}
