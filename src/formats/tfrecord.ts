/**
 * TFRecord files of `tf.train.Example` records, as the Basenji2 / Enformer training data stores them:
 * a ZLIB-compressed stream (the whole file is one zlib stream, TF's `TFRecordOptions('ZLIB')`) of
 * frames `uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)`, little
 * endian. Records are streamed: the file is never held whole. Both checksums of every frame are
 * verified; a mismatch or a truncated frame names the file and the record.
 *
 * The Example protobuf (Example{features=1} → Features{map<string, Feature> feature=1} → Feature
 * {bytes_list=1 | float_list=2 | int64_list=3}) is decoded here by a small reader: only length-delimited
 * and varint/fixed fields occur, packed or not.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInflate } from 'node:zlib';
import { crc32c, maskCrc } from '../weights/crc32c.js';
import { halfToFloat } from './half.js';

export class TFRecordError extends Error {}

export type Compression = 'zlib' | 'none' | 'auto';

/** TFRecord's checksum: CRC-32C rotated right by 15 bits plus a constant (tensorflow/core/lib/hash/crc32c.h). */
export function maskedCrc32c(data: Uint8Array): number {
  return maskCrc(crc32c(data));
}

/** One raw record and its 0-based index in the file. */
export interface RawRecord {
  index: number;
  data: Uint8Array;
}

/** A growing byte queue over stream chunks, consumed from the front. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }

  /** Removes and returns the first n bytes (n <= length). */
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0]!;
      const k = Math.min(head.length, n - filled);
      head.copy(out, filled, 0, k);
      filled += k;
      if (k === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(k);
    }
    this.length -= n;
    return out;
  }
}

async function isZlib(path: string): Promise<boolean> {
  const stream = createReadStream(path, { start: 0, end: 1 });
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  const head = Buffer.concat(chunks);
  // A zlib header: CM = 8 (deflate) and (CMF·256 + FLG) divisible by 31. A raw TFRecord starts with a
  // little-endian length, whose second byte would rarely satisfy both.
  return head.length === 2 && (head[0]! & 0x0f) === 8 && ((head[0]! << 8) | head[1]!) % 31 === 0;
}

/** Streams the records of one TFRecord file, verifying both checksums of every frame. */
export async function* readTFRecords(path: string, compression: Compression = 'auto'): AsyncGenerator<RawRecord> {
  let zlib: boolean;
  try {
    zlib = compression === 'zlib' || (compression === 'auto' && (await isZlib(path)));
  } catch (e) {
    throw new TFRecordError(`${path}: cannot read TFRecord file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const source = zlib ? file.pipe(createInflate()) : file;
  file.on('error', (e) => source.destroy(e));
  const q = new ByteQueue();
  let index = 0;
  let need: { length: number } | undefined;
  const where = () => `${path}: record ${index}`;
  try {
    for await (const chunk of source) {
      q.push(chunk as Buffer);
      for (;;) {
        if (!need) {
          if (q.length < 12) break;
          const header = q.take(12);
          const lengthBytes = header.subarray(0, 8);
          if (header.readUInt32LE(8) !== maskedCrc32c(lengthBytes)) throw new TFRecordError(`${where()}: length checksum mismatch (corrupt TFRecord)`);
          const length = Number(header.readBigUInt64LE(0));
          if (!Number.isSafeInteger(length) || length > 2 ** 31) throw new TFRecordError(`${where()}: implausible record length ${length}`);
          need = { length };
        }
        if (q.length < need.length + 4) break;
        const data = q.take(need.length);
        const crc = q.take(4).readUInt32LE(0);
        if (crc !== maskedCrc32c(data)) throw new TFRecordError(`${where()}: data checksum mismatch (corrupt TFRecord)`);
        yield { index, data };
        index++;
        need = undefined;
      }
    }
  } catch (e) {
    if (e instanceof TFRecordError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new TFRecordError(`${where()}: cannot read TFRecord file (${err.code ?? err.message ?? e})`);
  } finally {
    file.destroy();
  }
  if (need || q.length > 0) throw new TFRecordError(`${where()}: truncated record (${q.length} bytes of ${need ? need.length + 4 : 12} left at the end of the file)`);
}

// ---- tf.train.Example ----

export type Feature = { kind: 'bytes'; values: Uint8Array[] } | { kind: 'float'; values: Float32Array } | { kind: 'int64'; values: bigint[] };

/** A minimal protobuf wire-format reader over one message. */
class Reader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new TFRecordError(`${this.what}: truncated varint`);
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new TFRecordError(`${this.what}: varint too long`);
    }
  }

  uint(): number {
    const v = this.varint();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TFRecordError(`${this.what}: length too large`);
    return Number(v);
  }

  bytes(): Uint8Array {
    const n = this.uint();
    if (this.pos + n > this.buf.length) throw new TFRecordError(`${this.what}: field runs past the end of the message`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new TFRecordError(`${this.what}: unsupported wire type ${wire}`);
    if (this.pos > this.buf.length) throw new TFRecordError(`${this.what}: field runs past the end of the message`);
  }

  /** Iterates (field number, wire type) pairs; the caller reads or skips each value. */
  *fields(): Generator<[number, number]> {
    while (!this.done) {
      const key = this.uint();
      yield [key >>> 3, key & 7];
    }
  }
}

function signed64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

function parseFeature(buf: Uint8Array, what: string): Feature {
  const r = new Reader(buf, what);
  let feature: Feature | undefined;
  for (const [field, wire] of r.fields()) {
    if (wire !== 2 || field < 1 || field > 3) {
      r.skip(wire);
      continue;
    }
    const list = new Reader(r.bytes(), what);
    if (field === 1) {
      const values: Uint8Array[] = [];
      for (const [f, w] of list.fields()) {
        if (f === 1 && w === 2) values.push(list.bytes());
        else list.skip(w);
      }
      feature = { kind: 'bytes', values };
    } else if (field === 2) {
      const values: number[] = [];
      for (const [f, w] of list.fields()) {
        if (f === 1 && w === 2) {
          const packed = list.bytes();
          if (packed.length % 4 !== 0) throw new TFRecordError(`${what}: packed float list of ${packed.length} bytes`);
          const view = new DataView(packed.buffer, packed.byteOffset, packed.length);
          for (let i = 0; i < packed.length; i += 4) values.push(view.getFloat32(i, true));
        } else if (f === 1 && w === 5) {
          // Bounded by this list, not by the buffer under it (the next message's bytes, or its end).
          if (list.pos + 4 > list.buf.length) throw new TFRecordError(`${what}: field runs past the end of the message`);
          const view = new DataView(list.buf.buffer, list.buf.byteOffset + list.pos, 4);
          values.push(view.getFloat32(0, true));
          list.pos += 4;
        } else list.skip(w);
      }
      feature = { kind: 'float', values: Float32Array.from(values) };
    } else {
      const values: bigint[] = [];
      for (const [f, w] of list.fields()) {
        if (f === 1 && w === 2) {
          const packed = new Reader(list.bytes(), what);
          while (!packed.done) values.push(signed64(packed.varint()));
        } else if (f === 1 && w === 0) values.push(signed64(list.varint()));
        else list.skip(w);
      }
      feature = { kind: 'int64', values };
    }
  }
  return feature ?? { kind: 'bytes', values: [] };
}

/** A feature name for a one-line message: the file's bytes may put line breaks or other control characters in it. */
function printable(key: string): string {
  return JSON.stringify(key).slice(1, -1);
}

/** Decodes a serialised `tf.train.Example` into its named features. */
export function parseExample(buf: Uint8Array, what = 'Example'): Map<string, Feature> {
  const out = new Map<string, Feature>();
  const example = new Reader(buf, what);
  for (const [field, wire] of example.fields()) {
    if (field !== 1 || wire !== 2) {
      example.skip(wire);
      continue;
    }
    const features = new Reader(example.bytes(), what);
    for (const [f, w] of features.fields()) {
      if (f !== 1 || w !== 2) {
        features.skip(w);
        continue;
      }
      const entry = new Reader(features.bytes(), what);
      let key = '';
      let value: Feature = { kind: 'bytes', values: [] };
      for (const [ef, ew] of entry.fields()) {
        if (ef === 1 && ew === 2) key = new TextDecoder().decode(entry.bytes());
        else if (ef === 2 && ew === 2) value = parseFeature(entry.bytes(), `${what} feature '${printable(key)}'`);
        else entry.skip(ew);
      }
      out.set(key, value);
    }
  }
  return out;
}

// ---- Basenji2 / Enformer records ----

/** The dataset's `statistics.json` (basenji_data.py writes it beside the tfrecords/ folder). */
export interface DatasetStatistics {
  seqLength: number;
  poolWidth: number;
  cropBp: number;
  targetLength: number;
  numTargets: number;
  raw: Record<string, unknown>;
}

export async function readStatistics(path: string): Promise<DatasetStatistics> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TFRecordError(`${path}: cannot read dataset statistics (${err.code ?? err.message})`);
  }
  const int = (key: string, min: number) => {
    const v = json[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new TFRecordError(`${path}: field "${key}" must be an integer >= ${min}, found ${JSON.stringify(v)}`);
    return v;
  };
  return {
    seqLength: int('seq_length', 1),
    poolWidth: int('pool_width', 1),
    cropBp: json.crop_bp === undefined ? 0 : int('crop_bp', 0),
    targetLength: int('target_length', 1),
    numTargets: int('num_targets', 1),
    raw: json,
  };
}

/** One training example: one-hot sequence [L, 4] and targets [bins, tracks], both float32. */
export interface BasenjiExample {
  sequence: Float32Array;
  target: Float32Array;
}

function singleBytes(features: Map<string, Feature>, name: string, what: string): Uint8Array {
  const f = features.get(name);
  if (!f) throw new TFRecordError(`${what}: no feature '${name}' (has ${[...features.keys()].map(printable).join(', ') || 'none'})`);
  if (f.kind !== 'bytes' || f.values.length !== 1) throw new TFRecordError(`${what}: feature '${name}' must hold one bytes value`);
  return f.values[0]!;
}

/**
 * Decodes one Basenji2 example: `sequence` is the one-hot as bool bytes [L, 4] (0/1 per byte; a row
 * of zeros is N), `target` float16 bytes [bins, tracks], both row-major, sized by `statistics.json`.
 */
export function decodeBasenjiExample(features: Map<string, Feature>, stats: DatasetStatistics, what: string): BasenjiExample {
  const seq = singleBytes(features, 'sequence', what);
  if (seq.length !== stats.seqLength * 4) throw new TFRecordError(`${what}: 'sequence' has ${seq.length} bytes, statistics.json implies ${stats.seqLength} × 4`);
  const sequence = new Float32Array(seq.length);
  for (let i = 0; i < seq.length; i++) {
    const b = seq[i]!;
    if (b > 1) throw new TFRecordError(`${what}: 'sequence' byte ${i} is ${b}, expected a bool (0 or 1)`);
    sequence[i] = b;
  }
  const tgt = singleBytes(features, 'target', what);
  const n = stats.targetLength * stats.numTargets;
  if (tgt.length !== n * 2) throw new TFRecordError(`${what}: 'target' has ${tgt.length} bytes, statistics.json implies ${stats.targetLength} × ${stats.numTargets} float16`);
  const view = new DataView(tgt.buffer, tgt.byteOffset, tgt.length);
  const target = new Float32Array(n);
  for (let i = 0; i < n; i++) target[i] = halfToFloat(view.getUint16(2 * i, true));
  return { sequence, target };
}

/** Streams the decoded examples of a TFRecord file. */
export async function* readBasenjiExamples(path: string, stats: DatasetStatistics): AsyncGenerator<BasenjiExample & { index: number }> {
  for await (const { index, data } of readTFRecords(path)) {
    const what = `${path}: record ${index}`;
    yield { index, ...decodeBasenjiExample(parseExample(data, what), stats, what) };
  }
}
