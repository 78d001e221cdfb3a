/**
 * Test helper: TensorFlow checkpoints written from scratch, as TensorFlow's BundleWriter lays them
 * out (sorted string table index with prefix-compressed keys and restart points, BundleEntryProto
 * values, masked CRC-32C everywhere, data shards, an object graph), so the reader can be driven with
 * full-size names, several blocks and shards, and deliberate damage. Also the official Enformer's
 * object paths and TF layouts for enformer-pytorch names: an independent table, the inverse of what
 * `weights/enformer-tf.ts` reads.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProtoWriter } from '../engine/protobuf.js';
import { crc32c, crc32cExtend, maskCrc } from '../weights/crc32c.js';
import { checkpointKey } from '../weights/tf-object-graph.js';
import { permute } from '../weights/permute.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { OBJECT_GRAPH_KEY } from '../weights/tf-bundle.js';

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

const concat = (parts: Uint8Array[]) => Buffer.concat(parts);

/** One table block: entries with keys shared against the previous key, a restart every `interval`. */
class BlockBuilder {
  private parts: Uint8Array[] = [];
  private length = 0;
  private restarts = [0];
  private counter = 0;
  private last: Uint8Array = new Uint8Array(0);
  entries = 0;

  constructor(private readonly interval: number) {}

  add(key: Uint8Array, value: Uint8Array): void {
    let shared = 0;
    if (this.counter < this.interval) {
      while (shared < Math.min(this.last.length, key.length) && this.last[shared] === key[shared]) shared++;
    } else {
      this.restarts.push(this.length);
      this.counter = 0;
    }
    const part = concat([Uint8Array.from([...varint(shared), ...varint(key.length - shared), ...varint(value.length)]), key.subarray(shared), value]);
    this.parts.push(part);
    this.length += part.length;
    this.last = key;
    this.counter++;
    this.entries++;
  }

  get size(): number {
    return this.length + 4 * this.restarts.length + 4;
  }

  finish(): Uint8Array {
    return concat([...this.parts, ...this.restarts.map(u32), u32(this.restarts.length)]);
  }
}

export interface TableOptions {
  /** Start a new data block once the current one reaches this many bytes (TensorFlow: 256 KiB). */
  blockSize?: number;
  restartInterval?: number;
  /** Compression byte written in every block trailer (0 = none, 1 = snappy). */
  compression?: number;
}

/** A sorted string table of `entries` (already in key order). */
export function buildSSTable(entries: [Uint8Array, Uint8Array][], options: TableOptions = {}): Uint8Array {
  const blockSize = options.blockSize ?? 256 * 1024;
  const parts: Uint8Array[] = [];
  let size = 0;
  const writeBlock = (contents: Uint8Array): Uint8Array => {
    const withType = concat([contents, Uint8Array.of(options.compression ?? 0)]);
    const handle = Uint8Array.from([...varint(size), ...varint(contents.length)]);
    parts.push(withType, u32(maskCrc(crc32c(withType))));
    size += withType.length + 4;
    return handle;
  };
  const index = new BlockBuilder(1);
  let block = new BlockBuilder(options.restartInterval ?? 16);
  let lastKey: Uint8Array = new Uint8Array(0);
  const flush = () => {
    if (block.entries === 0) return;
    index.add(lastKey, writeBlock(block.finish()));
    block = new BlockBuilder(options.restartInterval ?? 16);
  };
  for (const [key, value] of entries) {
    block.add(key, value);
    lastKey = key;
    if (block.size >= blockSize) flush();
  }
  flush();
  const metaindex = writeBlock(new BlockBuilder(16).finish());
  const indexHandle = writeBlock(index.finish());
  const footer = new Uint8Array(48);
  footer.set([...metaindex, ...indexHandle]);
  footer.set(u32(0x8b80fb57), 40);
  footer.set(u32(0xdb477524), 44);
  parts.push(footer);
  return concat(parts);
}

export type TensorDType = 'float32' | 'float64' | 'int64' | 'string';
const DTYPE_ENUM: Record<TensorDType, number> = { float32: 1, float64: 2, int64: 9, string: 7 };

export interface TensorToSave {
  key: string;
  dtype: TensorDType;
  shape: number[];
  /** Raw little-endian bytes, or the elements of a string tensor. */
  data: Uint8Array | Uint8Array[];
  /** Mark the entry as a partitioned variable (an empty slice spec). */
  sliced?: boolean;
}

/** A string tensor's bytes as TensorFlow writes them, and the checksum of the whole. */
function stringTensorBytes(strings: Uint8Array[]): { bytes: Uint8Array; crc: number } {
  let crc = 0;
  const lengths: number[] = [];
  for (const s of strings) {
    lengths.push(...varint(s.length));
    crc = crc32cExtend(crc, u32(s.length));
  }
  const lengthCrc = u32(maskCrc(crc));
  crc = crc32cExtend(crc, lengthCrc);
  for (const s of strings) crc = crc32cExtend(crc, s);
  return { bytes: concat([Uint8Array.from(lengths), lengthCrc, ...strings]), crc };
}

export interface CheckpointOptions extends TableOptions {
  shards?: number;
  /** Claim big-endian tensor data in the header. */
  bigEndian?: boolean;
}

/** Writes `<prefix>.index` and `<prefix>.data-*-of-*` (tensors dealt round-robin over the shards). */
export function writeTfCheckpoint(prefix: string, tensors: TensorToSave[], options: CheckpointOptions = {}): void {
  const shards = options.shards ?? 1;
  const data: Uint8Array[][] = Array.from({ length: shards }, () => []);
  const sizes = new Array<number>(shards).fill(0);
  const entries: [Uint8Array, Uint8Array][] = [];
  tensors.forEach((t, i) => {
    const shard = i % shards;
    const { bytes, crc } = t.dtype === 'string' ? stringTensorBytes(t.data as Uint8Array[]) : { bytes: t.data as Uint8Array, crc: crc32c(t.data as Uint8Array) };
    const entry = new ProtoWriter()
      .int(1, DTYPE_ENUM[t.dtype])
      .message(2, (s) => {
        for (const d of t.shape) s.message(2, (dim) => dim.int(1, d));
      })
      .int(3, shard)
      .int(4, sizes[shard]!)
      .int(5, bytes.length)
      .fixed32(6, maskCrc(crc));
    if (t.sliced) entry.bytes(7, new Uint8Array(0));
    data[shard]!.push(bytes);
    sizes[shard]! += bytes.length;
    entries.push([Buffer.from(t.key, 'utf8'), entry.finish()]);
  });
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  const header = new ProtoWriter()
    .int(1, shards)
    .int(2, options.bigEndian ? 1 : 0)
    .message(3, (v) => v.int(1, 1))
    .finish();
  writeFileSync(`${prefix}.index`, buildSSTable([[new Uint8Array(0), header], ...entries], options));
  const pad = (n: number) => String(n).padStart(5, '0');
  data.forEach((parts, s) => writeFileSync(`${prefix}.data-${pad(s)}-of-${pad(shards)}`, concat(parts)));
}

export interface GraphVariableToSave {
  /** Attribute names from the root to the variable. */
  path: string[];
  fullName: string;
}

/** A TrackableObjectGraph whose objects form the tree of `variables`' paths (node 0 = root). */
export function objectGraphBytes(variables: GraphVariableToSave[]): Uint8Array {
  interface Node {
    children: Map<string, number>;
    attribute?: { fullName: string; key: string };
  }
  const nodes: Node[] = [{ children: new Map() }];
  for (const v of variables) {
    let id = 0;
    for (const step of v.path) {
      let next = nodes[id]!.children.get(step);
      if (next === undefined) {
        next = nodes.length;
        nodes.push({ children: new Map() });
        nodes[id]!.children.set(step, next);
      }
      id = next;
    }
    nodes[id]!.attribute = { fullName: v.fullName, key: checkpointKey(v.path, 'VARIABLE_VALUE') };
  }
  const w = new ProtoWriter();
  for (const n of nodes) {
    w.message(1, (node) => {
      for (const [name, id] of n.children) node.message(1, (c) => c.int(1, id).string(2, name));
      if (n.attribute) node.message(2, (a) => a.string(1, 'VARIABLE_VALUE').string(2, n.attribute!.fullName).string(3, n.attribute!.key));
    });
  }
  return w.finish();
}

const f32bytes = (data: Float32Array) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/**
 * Where the TF Enformer keeps an enformer-pytorch tensor (object path below the Enformer module) and
 * the tensor in TF layout; undefined for a name that is not Enformer's.
 */
export function enformerToTf(name: string, shape: number[], data: Float32Array): { path: string; shape: number[]; data: Float32Array } | undefined {
  type Kind = 'weights' | 'norm' | 'pool' | 'attention';
  const rules: [RegExp, string, Kind][] = [
    [/^stem\.0\./, '_trunk/_layers/0/_layers/0/', 'weights'],
    [/^stem\.1\.fn\.0\./, '_trunk/_layers/0/_layers/1/_module/_layers/0/', 'norm'],
    [/^stem\.1\.fn\.2\./, '_trunk/_layers/0/_layers/1/_module/_layers/2/', 'weights'],
    [/^stem\.2\./, '_trunk/_layers/0/_layers/2/', 'pool'],
    [/^conv_tower\.(\d+)\.0\.0\./, '_trunk/_layers/1/_layers/$1/_layers/0/_layers/0/', 'norm'],
    [/^conv_tower\.(\d+)\.0\.2\./, '_trunk/_layers/1/_layers/$1/_layers/0/_layers/2/', 'weights'],
    [/^conv_tower\.(\d+)\.1\.fn\.0\./, '_trunk/_layers/1/_layers/$1/_layers/1/_module/_layers/0/', 'norm'],
    [/^conv_tower\.(\d+)\.1\.fn\.2\./, '_trunk/_layers/1/_layers/$1/_layers/1/_module/_layers/2/', 'weights'],
    [/^conv_tower\.(\d+)\.2\./, '_trunk/_layers/1/_layers/$1/_layers/2/', 'pool'],
    [/^transformer\.(\d+)\.0\.fn\.0\./, '_trunk/_layers/2/_layers/$1/_layers/0/_module/_layers/0/', 'norm'],
    [/^transformer\.(\d+)\.0\.fn\.1\./, '_trunk/_layers/2/_layers/$1/_layers/0/_module/_layers/1/', 'attention'],
    [/^transformer\.(\d+)\.1\.fn\.0\./, '_trunk/_layers/2/_layers/$1/_layers/1/_module/_layers/0/', 'norm'],
    [/^transformer\.(\d+)\.1\.fn\.([14])\./, '_trunk/_layers/2/_layers/$1/_layers/1/_module/_layers/$2/', 'weights'],
    [/^final_pointwise\.1\.0\./, '_trunk/_layers/4/_layers/0/_layers/0/', 'norm'],
    [/^final_pointwise\.1\.2\./, '_trunk/_layers/4/_layers/0/_layers/2/', 'weights'],
    [/^_heads\.(\w+)\.0\./, '_heads/$1/_layers/0/', 'weights'],
  ];
  const rule = rules.find(([re]) => re.test(name));
  if (!rule) return undefined;
  const [re, template, kind] = rule;
  const m = re.exec(name)!;
  const prefix = template.replace(/\$(\d)/g, (_, i: string) => m[Number(i)]!);
  const leaf = name.slice(m[0].length);
  const t = { shape, data };
  // Conv [out, in, k] -> [k, in, out]; linear [out, in] -> [in, out].
  const kernel = (path: string) => ({ path: prefix + path, ...permute(t, shape.length === 3 ? [2, 1, 0] : [1, 0]) });
  const as = (path: string, to = shape) => ({ path: prefix + path, shape: to, data });
  if (kind === 'weights') return leaf === 'weight' ? kernel('w') : leaf === 'bias' ? as('b') : undefined;
  if (kind === 'pool') return leaf === 'to_attn_logits.weight' ? { path: `${prefix}_logit_linear/w`, ...permute({ shape: shape.slice(0, 2), data }, [1, 0]) } : undefined;
  if (kind === 'norm') {
    // Batch norm keeps its moving averages as [1, 1, C]; scale and offset (and layer norm's) are [C].
    const norm: Record<string, [string, number[]]> = { weight: ['scale', shape], bias: ['offset', shape], running_mean: ['moving_mean/average', [1, 1, shape[0]!]], running_var: ['moving_variance/average', [1, 1, shape[0]!]] };
    return leaf in norm ? as(norm[leaf]![0], norm[leaf]![1]) : undefined;
  }
  const attention: Record<string, string> = { 'to_q.weight': '_q_layer/w', 'to_k.weight': '_k_layer/w', 'to_v.weight': '_v_layer/w', 'to_rel_k.weight': '_r_k_layer/w', 'to_out.weight': '_embedding_layer/w' };
  if (leaf in attention) return kernel(attention[leaf]!);
  const other: Record<string, string> = { 'to_out.bias': '_embedding_layer/b', rel_content_bias: '_r_w_bias', rel_pos_bias: '_r_r_bias' };
  return leaf in other ? as(other[leaf]!) : undefined;
}

export { f32bytes };

export interface SavedModelOptions extends CheckpointOptions {
  /** Object path of the Enformer module (TF-Hub SavedModel: `model`; DeepMind's training checkpoint: `module`). */
  root?: string;
  /** More float32 [2] variables at these paths below the module (unknown ones, for errors). */
  extraVariables?: string[][];
  /** Variable-free layers before the stem in the trunk (shifts `_trunk/_layers/K`). */
  trunkOffset?: number;
}

/**
 * An Enformer SavedModel `variables/` folder made from canonical weights (a fixture's
 * weights.safetensors): every tensor at its TF object path in TF layout, plus what the real one also
 * holds (the moving averages' counters and hidden values, an object outside the model, the graph).
 */
export async function writeEnformerSavedModel(dir: string, weightsPath: string, options: SavedModelOptions = {}): Promise<void> {
  const file = await SafetensorsFile.open(weightsPath);
  const root = options.root ?? 'model';
  const tensors: TensorToSave[] = [];
  const graph: GraphVariableToSave[] = [];
  const add = (path: string[], dtype: TensorDType, shape: number[], data: Uint8Array) => {
    tensors.push({ key: checkpointKey(path, 'VARIABLE_VALUE'), dtype, shape, data });
    graph.push({ path, fullName: `enformer/${path.slice(1).join('/')}` });
  };
  for (const name of file.tensors.keys()) {
    if (name.startsWith('_trunk.')) continue;
    const tf = enformerToTf(name, file.tensors.get(name)!.shape, file.readFloat32(name));
    if (!tf) throw new Error(`no TF place for ${name}`);
    const shifted = tf.path.replace(/^_trunk\/_layers\/(\d+)\//, (_, k: string) => `_trunk/_layers/${Number(k) + (options.trunkOffset ?? 0)}/`);
    const path = [root, ...shifted.split('/')];
    add(path, 'float32', tf.shape, f32bytes(tf.data));
    if (path[path.length - 1] === 'average') {
      const ema = path.slice(0, -1);
      add([...ema, '_counter'], 'int64', [], new Uint8Array(8).fill(3, 0, 1));
      add([...ema, '_hidden'], 'float32', tf.shape, f32bytes(tf.data.map((x) => x * 0.5)));
    }
  }
  for (const extra of options.extraVariables ?? []) add([root, ...extra], 'float32', [2], new Uint8Array(8));
  add(['optimizer', 'iter'], 'int64', [], new Uint8Array(8));
  tensors.push({ key: OBJECT_GRAPH_KEY, dtype: 'string', shape: [], data: [objectGraphBytes(graph)] });
  mkdirSync(join(dir, 'variables'), { recursive: true });
  writeTfCheckpoint(join(dir, 'variables', 'variables'), tensors, options);
}
