/**
 * PyTorch zip checkpoints (`torch.save`, the hub's `pytorch_model.bin`, `tf_gammas.pt`): `<prefix>/data.pkl`
 * read by the restricted unpickler with exactly the globals a tensor state dict needs, and
 * `<prefix>/data/<key>` raw little-endian storages. Stored (uncompressed) storages are not loaded:
 * each float32 tensor becomes a byte range of the archive.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { PickleError, PyDict, PyTuple, unpickle, type PyCallable } from './pickle.js';
import { ZipArchive, ZipError, type ZipEntry } from './zip.js';
import { toFloat32, type SafetensorsDType } from './safetensors.js';
import { WeightSet, type WeightBytes } from './weight-set.js';
import { pickNaming, resolveTensorNames, type Naming } from './weight-names.js';

export class TorchCheckpointError extends Error {}

const STORAGES: Record<string, { dtype: SafetensorsDType; bytes: number }> = {
  FloatStorage: { dtype: 'F32', bytes: 4 },
  DoubleStorage: { dtype: 'F64', bytes: 8 },
  HalfStorage: { dtype: 'F16', bytes: 2 },
  BFloat16Storage: { dtype: 'BF16', bytes: 2 },
  LongStorage: { dtype: 'I64', bytes: 8 },
  IntStorage: { dtype: 'I32', bytes: 4 },
};

/** A storage class reference (the second element of a storage persistent id). */
class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: SafetensorsDType,
    readonly bytes: number,
  ) {}
}

interface Storage {
  key: string;
  type: StorageType;
  numel: number;
  entry: ZipEntry;
}

/** A tensor of the checkpoint: a contiguous view of a storage. */
export interface TorchTensor {
  dtype: SafetensorsDType;
  shape: number[];
  storage: Storage;
  /** Offset in elements into the storage. */
  offset: number;
  numel: number;
}

export interface TorchCheckpoint {
  path: string;
  archive: ZipArchive;
  /** The unpickled top-level object (a dict of tensors, or a single tensor). */
  root: unknown;
}

function fail(path: string, message: string): never {
  throw new TorchCheckpointError(`${path}: ${message}`);
}

const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** Opens and unpickles a checkpoint; tensor data stay in the archive. */
export function openTorchCheckpoint(path: string): TorchCheckpoint {
  let archive: ZipArchive;
  try {
    archive = ZipArchive.open(path);
  } catch (e) {
    if (e instanceof ZipError) throw new TorchCheckpointError(e.message);
    throw e;
  }
  const pkls = [...archive.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) fail(path, pkls.length === 0 ? 'no */data.pkl in the zip (not a PyTorch checkpoint)' : `several */data.pkl entries (${pkls.join(', ')})`);
  const prefix = pkls[0]!.slice(0, -'data.pkl'.length);
  const byteorder = archive.entries.get(`${prefix}byteorder`);
  if (byteorder && archive.read(byteorder.name).toString('ascii').trim() !== 'little') fail(path, 'big-endian checkpoints are not supported');

  const storages = new Map<string, Storage>();
  const allowed = (qualifiedName: string, call: (args: unknown[]) => unknown): PyCallable => ({ qualifiedName, call });
  const resolveGlobal = (module: string, name: string): PyCallable => {
    const q = `${module}.${name}`;
    if (q === 'collections.OrderedDict') {
      return allowed(q, (args) => {
        if (args.length !== 0) fail(path, 'collections.OrderedDict called with arguments (only an empty OrderedDict is accepted)');
        return new PyDict('OrderedDict');
      });
    }
    if (q === 'torch._utils._rebuild_tensor_v2') return allowed(q, (args) => rebuildTensor(path, args));
    if (q === 'torch._utils._rebuild_parameter') {
      return allowed(q, (args) => {
        if (!isTensor(args[0])) fail(path, 'torch._utils._rebuild_parameter without a tensor');
        return args[0];
      });
    }
    if (module === 'torch' && name in STORAGES) {
      const s = STORAGES[name]!;
      return Object.assign(new StorageType(name, s.dtype, s.bytes), {
        qualifiedName: q,
        call: () => fail(path, `refused call of ${q}`),
      });
    }
    throw new PickleError(
      `${path}: refused pickle global ${q} (only collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch.*Storage are allowed)`,
    );
  };
  const persistentLoad = (pid: unknown): Storage => {
    // ('storage', <storage class>, '<key>', '<location>', <numel>)
    if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') fail(path, 'unsupported persistent id (expected a storage reference)');
    const [, type, key, , numel] = (pid as PyTuple).items;
    if (!(type instanceof StorageType)) fail(path, 'storage reference without an allowed storage type');
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key) || !int(numel) || numel < 0) fail(path, 'malformed storage reference');
    const st = type as StorageType;
    const have = storages.get(key as string);
    if (have) {
      if (have.type.dtype !== st.dtype) fail(path, `storage ${key} referenced as ${have.type.name} and as ${st.name}`);
      return have;
    }
    const entry = archive.entries.get(`${prefix}data/${key}`);
    if (!entry) fail(path, `storage ${key} is referenced but ${prefix}data/${key} is not in the archive`);
    archive.dataOffset(entry!); // the entry's claimed size must fit the file
    if (entry!.size !== (numel as number) * st.bytes) {
      fail(path, `storage ${key} claims ${numel} × ${st.bytes}-byte elements (${(numel as number) * st.bytes} bytes) but ${entry!.name} holds ${entry!.size} bytes`);
    }
    const storage: Storage = { key: key as string, type: st, numel: numel as number, entry: entry! };
    storages.set(key as string, storage);
    return storage;
  };
  const pkl = archive.read(pkls[0]!);
  const root = unpickle(pkl, `${path}: ${pkls[0]}`, { resolveGlobal, persistentLoad });
  return { path, archive, root };
}

function isTensor(v: unknown): v is TorchTensor {
  return typeof v === 'object' && v !== null && 'storage' in v && 'shape' in v && 'numel' in v;
}

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
function rebuildTensor(path: string, args: unknown[]): TorchTensor {
  if (args.length < 4) fail(path, '_rebuild_tensor_v2 with too few arguments');
  const [storage, offset, size, stride] = args;
  if (typeof storage !== 'object' || storage === null || !('entry' in storage)) fail(path, '_rebuild_tensor_v2 without a storage');
  const s = storage as Storage;
  if (!int(offset) || offset < 0) fail(path, `_rebuild_tensor_v2: bad storage offset`);
  if (!(size instanceof PyTuple) || !(stride instanceof PyTuple)) fail(path, '_rebuild_tensor_v2: size and stride must be tuples');
  const shape = (size as PyTuple).items;
  const strides = (stride as PyTuple).items;
  if (!shape.every((d) => int(d) && d >= 0) || !strides.every((d) => int(d)) || shape.length !== strides.length) fail(path, '_rebuild_tensor_v2: malformed size/stride');
  const dims = shape as number[];
  const numel = dims.reduce((a, b) => a * b, 1);
  // Only contiguous (row-major) tensors; strides of size-1 dimensions do not matter.
  let expect = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    if (dims[i]! !== 1 && (strides[i] as number) !== expect) {
      fail(path, `tensor on storage ${s.key} has size [${dims}] and stride [${strides.join(', ')}]: only contiguous tensors are supported`);
    }
    expect *= dims[i]!;
  }
  if ((offset as number) + numel > s.numel) fail(path, `tensor on storage ${s.key} (offset ${offset}, ${numel} elements) runs past the storage's ${s.numel} elements`);
  return { dtype: s.type.dtype, shape: dims, storage: s, offset: offset as number, numel };
}

/** The bytes of a tensor as float32, located in place when the storage is stored float32. */
function tensorSource(ckpt: TorchCheckpoint, t: TorchTensor, name: string, cache: Map<string, Buffer>): WeightBytes {
  const { archive, path } = ckpt;
  const itemBytes = t.storage.type.bytes;
  if (t.storage.entry.method === 0 && t.dtype === 'F32') {
    return { kind: 'file', path, offset: archive.dataOffset(t.storage.entry) + t.offset * itemBytes, length: t.numel * itemBytes };
  }
  let data = cache.get(t.storage.key);
  if (!data) {
    if (t.storage.entry.method === 0) {
      const start = archive.dataOffset(t.storage.entry);
      data = readRange(path, start, t.storage.entry.size);
    } else data = archive.read(t.storage.entry.name);
    cache.set(t.storage.key, data);
  }
  const slice = data.subarray(t.offset * itemBytes, (t.offset + t.numel) * itemBytes);
  const f32 = toFloat32(new Uint8Array(slice), t.dtype, `${path}: ${name}`);
  return { kind: 'bytes', bytes: new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength) };
}

function readRange(path: string, start: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    if (readSync(fd, b, 0, length, start) !== length) fail(path, `short read of ${length} bytes at byte ${start}`);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** The state dict of a checkpoint: the top-level dict, or its `state_dict` / `model` entry. */
function stateDict(ckpt: TorchCheckpoint): Map<string, TorchTensor> {
  let root = ckpt.root;
  if (root instanceof PyDict && !hasTensors(root)) {
    for (const k of ['state_dict', 'model', 'module']) {
      const inner = root.map.get(k);
      if (inner instanceof PyDict) {
        root = inner;
        break;
      }
    }
  }
  if (!(root instanceof PyDict)) fail(ckpt.path, 'the checkpoint is not a state dict (top-level object is not a dict)');
  const out = new Map<string, TorchTensor>();
  for (const [k, v] of (root as PyDict).map) {
    if (typeof k !== 'string') fail(ckpt.path, `state dict key ${String(k)} is not a string`);
    if (!isTensor(v)) fail(ckpt.path, `state dict entry '${k}' is not a tensor`);
    out.set(k as string, v as TorchTensor);
  }
  return out;
}

function hasTensors(d: PyDict): boolean {
  for (const v of d.map.values()) if (isTensor(v)) return true;
  return false;
}

/**
 * The float tensors of a checkpoint under canonical names: `naming` maps each state-dict name to the
 * architecture's name or null to drop it (aliases, counters), possibly chosen after seeing every name
 * (a `NamingPicker`). Integer tensors that are kept are an error.
 */
export function torchCheckpointWeights(path: string, naming: Naming): WeightSet {
  const ckpt = openTorchCheckpoint(path);
  const set = new WeightSet();
  const cache = new Map<string, Buffer>();
  const tensors = stateDict(ckpt);
  // An alias beside its tensor (enformer-pytorch's `_trunk.*`) is dropped; a lone alias is renamed.
  const shapes = [...tensors].map(([name, t]) => ({ name, shape: t.shape }));
  const names = resolveTensorNames(shapes, pickNaming(naming, shapes), path);
  for (const [name, t] of tensors) {
    const canonical = names.get(name);
    if (canonical === undefined) continue;
    if (t.dtype === 'I64' || t.dtype === 'I32') fail(path, `tensor '${name}' is ${t.dtype === 'I64' ? 'int64' : 'int32'}; model weights must be floating point`);
    set.entries.set(canonical, { shape: t.shape, source: tensorSource(ckpt, t, name, cache), ...(canonical !== name ? { stored: name } : {}) });
  }
  return set;
}

/** A checkpoint that holds one tensor (e.g. enformer-pytorch's `tf_gammas.pt`), as float32. */
export function readTorchTensor(path: string): { shape: number[]; data: Float32Array } {
  const ckpt = openTorchCheckpoint(path);
  if (!isTensor(ckpt.root)) fail(path, 'expected a single saved tensor');
  const t = ckpt.root as TorchTensor;
  const src = tensorSource(ckpt, t, 'tensor', new Map());
  const bytes = src.kind === 'bytes' ? src.bytes : readRange(path, src.offset, src.length);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return { shape: t.shape, data: new Float32Array(copy.buffer) };
}
