/**
 * Hostile and corrupt checkpoints: the restricted unpickler refuses every global, opcode and call a
 * state dict does not need, before anything could run; a truncated zip or a lying header is named.
 * Through the CLI: exit 1, one stderr line, no output directory left behind, and the payload never ran.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unpickle, PickleError } from '../weights/pickle.js';
import { openTorchCheckpoint, readTorchTensor, torchCheckpointWeights } from '../weights/torch-checkpoint.js';
import { fixturePath, skipUnless, withTempDir } from './fixtures.js';
import { makeZip, P, runCli, tensorPickle, torchSaveTensor } from './weights-helpers.js';

const noHooks = {
  resolveGlobal: (m: string, n: string): never => {
    throw new PickleError(`refused pickle global ${m}.${n}`);
  },
  persistentLoad: (): never => {
    throw new PickleError('no persistent ids');
  },
};

/** A checkpoint zip around a pickle (and optional storages). */
function checkpoint(pickle: Buffer, storages: { key: string; data: Uint8Array; claimSize?: number }[] = []): Buffer {
  return makeZip([
    { name: 'archive/data.pkl', data: pickle },
    ...storages.map((s) => ({ name: `archive/data/${s.key}`, data: s.data, claimSize: s.claimSize })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}

/** A one-entry state dict {'w': tensor} whose storage is `data`. */
function stateDict(shape: number[], storage = 'FloatStorage'): Buffer {
  return Buffer.concat([P.proto, P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, P.str('w'), tensorPickle('0', shape, storage), P.setitem, P.stop]);
}

test('pickle: a hand-made state dict and a single saved tensor read back', () =>
  withTempDir(async (dir) => {
    const values = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const dict = join(dir, 'sd.bin');
    writeFileSync(dict, checkpoint(stateDict([2, 3]), [{ key: '0', data: new Uint8Array(values.buffer) }]));
    const set = torchCheckpointWeights(dict, (n) => n);
    assert.deepEqual(set.shape('w'), [2, 3]);
    const pt = join(dir, 't.pt');
    writeFileSync(pt, torchSaveTensor(values, [3, 2]));
    const t = readTorchTensor(pt);
    assert.deepEqual(t.shape, [3, 2]);
    assert.deepEqual([...t.data], [...values]);
  }));

test('pickle: os.system via GLOBAL + REDUCE (a __reduce__ payload) is refused at the GLOBAL, nothing runs', () =>
  withTempDir(async (dir) => {
    const marker = join(dir, 'pwned');
    const payload = Buffer.concat([P.proto, P.global('posix', 'system'), P.str(`touch ${marker}`), Buffer.from([0x85]), P.reduce, P.stop]);
    const path = join(dir, 'evil.bin');
    writeFileSync(path, checkpoint(payload));
    assert.throws(() => openTorchCheckpoint(path), /evil\.bin.*refused pickle global posix\.system/);
    assert.throws(() => openTorchCheckpoint(path), (e: Error) => !e.message.includes('\n'));
    assert.ok(!existsSync(marker), 'the payload must not have run');
    // builtins.eval and an unknown torch name are refused the same way.
    for (const [m, n] of [['builtins', 'eval'], ['torch', 'load'], ['torch._utils', '_rebuild_device_tensor_from_numpy'], ['__builtin__', 'getattr']]) {
      writeFileSync(path, checkpoint(Buffer.concat([P.proto, P.global(m!, n!), P.stop])));
      assert.throws(() => openTorchCheckpoint(path), new RegExp(`refused pickle global ${m!.replace(/\./g, '\\.')}\\.${n}`));
    }
  }));

test('pickle: object-building opcodes and calls of non-callables are refused by name', () => {
  const cases: [Buffer, RegExp][] = [
    [Buffer.concat([P.proto, P.mark, Buffer.from('ios\nsystem\n'), P.stop]), /refused pickle opcode INST at byte 3/],
    [Buffer.concat([P.proto, P.mark, Buffer.from('o'), P.stop]), /refused pickle opcode OBJ/],
    [Buffer.concat([P.proto, P.emptyTuple, P.emptyTuple, Buffer.from([0x81]), P.stop]), /refused pickle opcode NEWOBJ/],
    [Buffer.concat([P.proto, Buffer.from([0x82, 0x01]), P.stop]), /refused pickle opcode EXT1/],
    [Buffer.concat([P.proto, P.str('os.system'), P.emptyTuple, P.reduce, P.stop]), /refused REDUCE at byte \d+: string is not an allowed callable/],
    [Buffer.concat([P.proto, P.str('x'), P.str('y'), Buffer.from('b'), P.stop]), /refused BUILD .* on a string/],
    [Buffer.concat([P.proto, Buffer.from('Vos.system\n'), P.stop]), /refused pickle opcode UNICODE/],
    [Buffer.concat([P.proto, P.str('abc')]), /truncated pickle \(no STOP opcode\)/],
    [Buffer.concat([P.proto, Buffer.from([0x58, 0xff, 0xff, 0, 0])]), /truncated pickle \(BINUNICODE/],
  ];
  for (const [bytes, pattern] of cases) assert.throws(() => unpickle(bytes, 'test.pkl', noHooks), pattern);
});

test('pickle: allowed names with bad arguments and lying storages are refused', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'bad.bin');
    const floats = new Uint8Array(24);
    // OrderedDict called with arguments (could smuggle data through a constructor).
    writeFileSync(path, checkpoint(Buffer.concat([P.proto, P.global('collections', 'OrderedDict'), P.mark, P.str('a'), P.tuple, P.reduce, P.stop])));
    assert.throws(() => openTorchCheckpoint(path), /OrderedDict called with arguments/);
    // A storage type called directly.
    writeFileSync(path, checkpoint(Buffer.concat([P.proto, P.global('torch', 'FloatStorage'), P.emptyTuple, P.reduce, P.stop])));
    assert.throws(() => openTorchCheckpoint(path), /refused call of torch\.FloatStorage/);
    // The pickle claims more elements than the storage entry holds.
    writeFileSync(path, checkpoint(stateDict([4, 3]), [{ key: '0', data: floats }]));
    assert.throws(() => openTorchCheckpoint(path), /storage 0 claims 12 × 4-byte elements \(48 bytes\) but archive\/data\/0 holds 24 bytes/);
    // A referenced storage that is not in the archive.
    writeFileSync(path, checkpoint(stateDict([2, 3])));
    assert.throws(() => openTorchCheckpoint(path), /storage 0 is referenced but archive\/data\/0 is not in the archive/);
    // An int64 tensor under a kept name.
    writeFileSync(path, checkpoint(stateDict([3], 'LongStorage'), [{ key: '0', data: floats }]));
    assert.throws(() => torchCheckpointWeights(path, (n) => n), /tensor 'w' is int64/);
  }));

test('zip: a truncated archive and a header that lies about sizes are named', { skip: skipUnless('formats') }, () =>
  withTempDir(async (dir) => {
    const bin = readFileSync(fixturePath('formats', 'borzoi-small', 'pytorch_model.bin'));
    const path = join(dir, 'cut.bin');
    writeFileSync(path, bin.subarray(0, bin.length >> 1));
    assert.throws(() => openTorchCheckpoint(path), /cut\.bin: not a complete zip archive \(no end-of-central-directory record; truncated download\?\)/);
    // Entry header claims 1 MB of data the file does not have.
    const lying = join(dir, 'lying.bin');
    writeFileSync(lying, checkpoint(stateDict([2, 3]), [{ key: '0', data: new Uint8Array(24), claimSize: 1 << 20 }]));
    assert.throws(() => openTorchCheckpoint(lying), /lying\.bin: entry 'archive\/data\/0' claims 1048576 bytes at byte \d+, but the file ends at \d+ \(truncated or corrupt zip\)/);
  }));

test('convert (CLI): hostile and corrupt checkpoints fail with one line and leave no output', { skip: skipUnless('formats') }, () =>
  withTempDir(async (dir) => {
    const config = fixturePath('formats', 'borzoi-small', 'config.json');
    const marker = join(dir, 'pwned');
    const evil = join(dir, 'evil.bin');
    writeFileSync(evil, checkpoint(Buffer.concat([P.proto, P.global('posix', 'system'), P.str(`touch ${marker}`), Buffer.from([0x85]), P.reduce, P.stop])));
    const cut = join(dir, 'cut.bin');
    const bin = readFileSync(fixturePath('formats', 'borzoi-small', 'pytorch_model.bin'));
    writeFileSync(cut, bin.subarray(0, bin.length - 100));
    for (const [file, pattern] of [
      [evil, /refused pickle global posix\.system/],
      [cut, /cut\.bin: not a complete zip archive/],
    ] as const) {
      const out = join(dir, 'out');
      const r = await runCli(['weights', 'convert', file, '--config', config, '--out', out]);
      assert.equal(r.code, 1);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^seq2track: error: /);
      assert.match(lines[0]!, pattern);
      assert.ok(!existsSync(out), 'no output directory is left behind');
    }
    assert.ok(!existsSync(marker));
  }));
