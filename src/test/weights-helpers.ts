/** Test helpers for the weight readers: tensor comparisons, fixture predictions, hand-made zips and pickles. */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { SafetensorsFile } from '../weights/safetensors.js';
import { loadModel } from '../models/load.js';
import type { LoadOptions } from '../models/load-options.js';
import type { Prediction } from '../models/model-types.js';
import { compare, fixtureInput, fixturePath, openFixture } from './fixtures.js';

/** The converted model holds exactly the fixture's canonical tensors (minus `except`), bit for bit. */
export async function expectSameTensors(modelDir: string, fixtureName: string, except: (name: string) => boolean = () => false): Promise<number> {
  const got = await SafetensorsFile.open(join(modelDir, 'model.safetensors'));
  const ref = await SafetensorsFile.open(fixturePath(fixtureName, 'weights.safetensors'));
  const wanted = [...ref.tensors.keys()].filter((n) => !n.startsWith('_trunk.') && !except(n)).sort();
  assert.deepEqual([...got.tensors.keys()].sort(), wanted, `${modelDir}: tensor names`);
  for (const name of wanted) {
    assert.equal(got.tensors.get(name)!.dtype, 'F32', name);
    assert.deepEqual(got.tensors.get(name)!.shape, ref.tensors.get(name)!.shape, name);
    assert.ok(Buffer.from(got.readBytes(name)).equals(Buffer.from(ref.readBytes(name))), `${name}: not bit-identical`);
  }
  return wanted.length;
}

/** The enformer-small fixture's input through the model directory `dir` (one thread). */
export async function predictEnformerFixture(dir: string, options: LoadOptions = {}): Promise<Prediction> {
  const model = await loadModel(dir, { threads: 1, ...options });
  try {
    return await model.predict(await fixtureInput('enformer-small'));
  } finally {
    await model.close();
  }
}

/** Every head's values are the same float32 bits. */
export function assertBitIdentical(got: Prediction, want: Prediction, what: string): void {
  assert.deepEqual(Object.keys(got.heads).sort(), Object.keys(want.heads).sort(), what);
  for (const [h, t] of Object.entries(want.heads)) {
    const a = got.heads[h]!.data;
    assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${what}: ${h} differs`);
  }
}

/** The model predicts the fixture's head outputs (atol 5e-5 + rtol 1e-4). */
export async function expectPredicts(modelDir: string, fixtureName: string, heads: string[]): Promise<void> {
  const fx = await openFixture(fixtureName);
  const model = await loadModel(modelDir, { threads: 1 });
  try {
    assert.deepEqual([...model.headNames].sort(), [...heads].sort());
    const p = await model.predict({ data: fx.x, batch: fx.batch, length: fx.length });
    for (const h of heads) {
      assert.deepEqual(p.heads[h]!.shape, fx.outputs.tensors.get(h)!.shape, h);
      const c = compare(p.heads[h]!.data, fx.outputs.readFloat32(h), 5e-5, 1e-4);
      assert.ok(c.ok, `${fixtureName} ${h}: max abs ${c.maxAbs.toExponential(2)}`);
    }
  } finally {
    await model.close();
  }
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Claim this size in the headers instead of the real one (a lying header). */
  claimSize?: number;
}

/** A little-endian header of `size` bytes: [offset, width in bytes, value] fields, zeros elsewhere. */
function header(size: number, fields: [offset: number, width: 2 | 4, value: number][]): Buffer {
  const b = Buffer.alloc(size);
  for (const [offset, width, value] of fields) {
    if (width === 2) b.writeUInt16LE(value, offset);
    else b.writeUInt32LE(value, offset);
  }
  return b;
}

/** A stored (uncompressed) zip, as torch.save writes. */
export function makeZip(entries: ZipInput[]): Buffer {
  const crc = (zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const size = e.claimSize ?? e.data.length;
    const sum = crc(e.data) >>> 0;
    // Local file header: signature, version 2.0, crc, sizes, name length.
    const local = header(30, [[0, 4, 0x04034b50], [4, 2, 20], [14, 4, sum], [18, 4, size], [22, 4, size], [26, 2, name.length]]);
    // Central directory entry: signature, versions made by / needed, crc, sizes, name length, local header offset.
    const central = header(46, [[0, 4, 0x02014b50], [4, 2, 20], [6, 2, 20], [16, 4, sum], [20, 4, size], [24, 4, size], [28, 2, name.length], [42, 4, offset]]);
    locals.push(local, name, Buffer.from(e.data));
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  // End of central directory: signature, entries on this disk and in all, directory size and offset.
  const end = header(22, [[0, 4, 0x06054b50], [8, 2, entries.length], [10, 2, entries.length], [12, 4, cd.length], [16, 4, offset]]);
  return Buffer.concat([...locals, cd, end]);
}

/** Pickle protocol-2 building blocks. */
export const P = {
  proto: Buffer.from([0x80, 0x02]),
  global: (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`, 'utf8'),
  str: (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x58;
    h.writeUInt32LE(b.length, 1);
    return Buffer.concat([h, b]);
  },
  int: (n: number) => {
    const b = Buffer.alloc(5);
    b[0] = 0x4a;
    b.writeInt32LE(n, 1);
    return b;
  },
  mark: Buffer.from('('),
  tuple: Buffer.from('t'),
  emptyTuple: Buffer.from(')'),
  reduce: Buffer.from('R'),
  persid: Buffer.from('Q'),
  newfalse: Buffer.from([0x89]),
  emptyDict: Buffer.from('}'),
  setitem: Buffer.from('s'),
  stop: Buffer.from('.'),
};

/** `_rebuild_tensor_v2(storage(key, numel), 0, shape, row-major stride, False, OrderedDict())` as pickle bytes. */
export function tensorPickle(key: string, shape: number[], storage = 'FloatStorage'): Buffer {
  const numel = shape.reduce((a, b) => a * b, 1);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return Buffer.concat([
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.mark,
    P.mark, P.str('storage'), P.global('torch', storage), P.str(key), P.str('cpu'), P.int(numel), P.tuple, P.persid,
    P.int(0),
    P.mark, ...shape.map(P.int), P.tuple,
    P.mark, ...strides.map(P.int), P.tuple,
    P.newfalse,
    P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce,
    P.tuple,
    P.reduce,
  ]);
}

/** A torch.save-style zip of one float32 tensor (e.g. the TF gamma table `tf_gammas.pt`). */
export function torchSaveTensor(data: Float32Array, shape: number[]): Buffer {
  return makeZip([
    { name: 'archive/data.pkl', data: Buffer.concat([P.proto, tensorPickle('0', shape), P.stop]) },
    { name: 'archive/data/0', data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) },
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}

/**
 * A copy of an official-layout Keras file whose trunk differs from the original in one tensor (the stem
 * conv's bias, shifted by `delta`): the shape of the real model0/model1 pair, each file saved at its own
 * head's best epoch.
 */
export async function kerasWithShiftedTrunk(src: string, dest: string, delta = 0.5): Promise<void> {
  copyFileSync(src, dest);
  const h5wasm = (await import('h5wasm/node')).default;
  await h5wasm.ready;
  const f = new h5wasm.File(dest, 'a');
  try {
    const d = f.get('model_weights/conv1d/conv1d/bias:0');
    assert.ok(d instanceof h5wasm.Dataset, 'stem bias dataset');
    const values = Float32Array.from(d.value as Float32Array, (v) => v + delta);
    d.write_slice([[0, values.length]], values);
  } finally {
    f.close();
  }
}

export { runCli } from './fixtures.js';

