/**
 * TFRecord reading: the fixtures' Basenji2-style records decode to the fixture inputs and
 * `targets_human`; corrupt checksums and truncated files fail with the file and the record named;
 * float16 conversion round-trips every half value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { SafetensorsFile } from '../weights/safetensors.js';
import { ProtoWriter } from '../engine/protobuf.js';
import { maskedCrc32c, parseExample, readBasenjiExamples, readStatistics, readTFRecords, TFRecordError } from '../formats/tfrecord.js';
import { halfToFloat, roundToHalf } from '../formats/half.js';
import { fixturePath, skipUnless, withTempDir } from './fixtures.js';

const SETS = ['enformer-small', 'borzoi-small', 'flashzoi-small'];

for (const set of SETS) {
  test(`tfrecord: ${set} records hold the fixture inputs and targets_human`, { skip: skipUnless(`${set}/tfrecords`) }, async () => {
    const dir = fixturePath(set, 'tfrecords');
    const stats = await readStatistics(join(dir, 'statistics.json'));
    const inputs = await SafetensorsFile.open(fixturePath(set, 'inputs.safetensors'));
    const grads = await SafetensorsFile.open(fixturePath(set, 'grads.safetensors'));
    const x = inputs.readFloat32('x');
    const targets = grads.readFloat32('targets_human');
    const [B, T, K] = grads.tensors.get('targets_human')!.shape as [number, number, number];
    assert.equal(stats.targetLength, T);
    assert.equal(stats.numTargets, K);
    let n = 0;
    for await (const ex of readBasenjiExamples(join(dir, 'train-0.tfr'), stats)) {
      assert.equal(ex.index, n);
      assert.deepEqual(ex.sequence, x.subarray(n * stats.seqLength * 4, (n + 1) * stats.seqLength * 4));
      // Counts are small integers: exact in float16.
      assert.deepEqual(ex.target, targets.subarray(n * T * K, (n + 1) * T * K));
      n++;
    }
    assert.equal(n, B);
  });
}

/** A TFRecord frame around `data` (with optionally broken checksums). */
function frame(data: Uint8Array, breakLength = false, breakData = false): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length));
  head.writeUInt32LE((maskedCrc32c(head.subarray(0, 8)) + (breakLength ? 1 : 0)) >>> 0, 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE((maskedCrc32c(data) + (breakData ? 1 : 0)) >>> 0);
  return Buffer.concat([head, data, tail]);
}

async function drain(path: string): Promise<number> {
  let n = 0;
  for await (const _ of readTFRecords(path)) n++;
  return n;
}

test('tfrecord: corrupt checksums and truncation name the file and the record', { skip: skipUnless('enformer-small/tfrecords') }, () =>
  withTempDir(async (dir) => {
    const raw = inflateSync(readFileSync(fixturePath('enformer-small', 'tfrecords', 'train-0.tfr')));
    const first = 12 + Number(raw.readBigUInt64LE(0)) + 4;
    const write = (name: string, bytes: Buffer, zlib = true) => {
      const p = join(dir, name);
      writeFileSync(p, zlib ? deflateSync(bytes) : bytes);
      return p;
    };
    // Unchanged, compressed and not: both records.
    assert.equal(await drain(write('ok.tfr', raw)), 2);
    assert.equal(await drain(write('plain.tfr', raw, false)), 2);
    // A flipped byte in record 1's payload.
    const flipped = Buffer.from(raw);
    flipped[first + 12 + 100] ^= 1;
    const p1 = write('flip.tfr', flipped);
    await assert.rejects(drain(p1), (e: Error) => e.message === `${p1}: record 1: data checksum mismatch (corrupt TFRecord)`);
    // A broken length checksum in record 0.
    const p2 = write('len.tfr', Buffer.concat([frame(new Uint8Array([1, 2, 3]), true)]));
    await assert.rejects(drain(p2), (e: Error) => e.message === `${p2}: record 0: length checksum mismatch (corrupt TFRecord)`);
    // Cut inside record 1.
    const p3 = write('cut.tfr', raw.subarray(0, first + 50));
    await assert.rejects(drain(p3), /cut\.tfr: record 1: truncated record/);
    // A corrupt zlib stream.
    const z = deflateSync(raw);
    z[z.length >> 1] ^= 0xff;
    const p4 = join(dir, 'z.tfr');
    writeFileSync(p4, z);
    await assert.rejects(drain(p4), /z\.tfr: record \d+: /);
    await assert.rejects(drain(join(dir, 'missing.tfr')), /missing\.tfr: cannot read TFRecord file \(ENOENT\)/);
  }));

test('tfrecord: Example features of every kind, packed or not', () => {
  const w = new ProtoWriter();
  w.message(1, (features) => {
    features.message(1, (e) => e.string(1, 'b').message(2, (f) => f.message(1, (l) => l.bytes(1, new Uint8Array([7, 8])).bytes(1, new Uint8Array([9])))));
    features.message(1, (e) => e.string(1, 'f').message(2, (f) => f.message(2, (l) => l.float(1, 1.5).float(1, -2))));
    features.message(1, (e) => e.string(1, 'i').message(2, (f) => f.message(3, (l) => l.int(1, 5).int(1, -1))));
    const floats = new Uint8Array(Float32Array.from([0.25, 4]).buffer);
    features.message(1, (e) => e.string(1, 'fp').message(2, (f) => f.message(2, (l) => l.bytes(1, floats))));
    features.message(1, (e) => e.string(1, 'ip').message(2, (f) => f.message(3, (l) => l.bytes(1, new Uint8Array([0x03, 0xac, 0x02])))));
  });
  const ex = parseExample(w.finish());
  assert.deepEqual(ex.get('b'), { kind: 'bytes', values: [new Uint8Array([7, 8]), new Uint8Array([9])] });
  assert.deepEqual(ex.get('f'), { kind: 'float', values: Float32Array.from([1.5, -2]) });
  assert.deepEqual(ex.get('i'), { kind: 'int64', values: [5n, -1n] });
  assert.deepEqual(ex.get('fp'), { kind: 'float', values: Float32Array.from([0.25, 4]) });
  assert.deepEqual(ex.get('ip'), { kind: 'int64', values: [3n, 300n] });
});

test('tfrecord: a damaged Example is one line naming the record (control characters in a name, a float past its list)', () => {
  // Found reviewing the tf-example fuzz target: a feature name with a line break made a two-line
  // message, and an unpacked float whose 4 bytes ran past its list read the bytes after it (or threw
  // a RangeError at the end of the buffer).
  const named = new ProtoWriter();
  named.message(1, (features) => features.message(1, (e) => e.string(1, 'a\nb').message(2, (f) => f.message(2, (l) => l.bytes(1, new Uint8Array(3))))));
  assert.throws(() => parseExample(named.finish(), 'x.tfr: record 0'), (e: unknown) => e instanceof TFRecordError && e.message === "x.tfr: record 0 feature 'a\\nb': packed float list of 3 bytes");
  for (const after of [[], [0x0d, 0, 0, 0x80, 0x3f]]) {
    const short = new ProtoWriter();
    short.message(1, (features) => features.message(1, (e) => e.string(1, 'k').message(2, (f) => f.bytes(2, new Uint8Array([0x0d, 1, 2])).bytes(9, new Uint8Array(after)))));
    assert.throws(() => parseExample(short.finish(), 'x.tfr: record 1'), (e: unknown) => e instanceof TFRecordError && e.message === "x.tfr: record 1 feature 'k': field runs past the end of the message");
  }
});

test('half: every float16 value round-trips; ties round to even; overflow to infinity', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = halfToFloat(h);
    if (Number.isNaN(v)) continue;
    assert.equal(roundToHalf(v), v, `half 0x${h.toString(16)}`);
  }
  assert.equal(roundToHalf(1 + 2 ** -11), 1); // tie between 1 and 1+2^-10: even (1)
  assert.equal(roundToHalf(1 + 3 * 2 ** -11), 1 + 2 * 2 ** -10);
  assert.equal(roundToHalf(0.1), halfToFloat(0x2e66));
  assert.equal(roundToHalf(65519), 65504);
  assert.equal(roundToHalf(65520), Infinity);
  assert.equal(roundToHalf(2 ** -25), 0); // tie with 0: even
  assert.equal(roundToHalf(3 * 2 ** -25), 2 * 2 ** -24);
});
