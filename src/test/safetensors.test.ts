import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors } from '../weights/safetensors.js';
import { withTempDir } from './fixtures.js';

const a = Float32Array.from([1, -2.5, 3.25, 0, 1e-7, 6]);
const b = Float64Array.from([Math.PI, -Math.E]);
const c = BigInt64Array.from([-1n, 2n ** 40n]);

async function sample(dir: string): Promise<string> {
  const path = join(dir, 'x.safetensors');
  await writeSafetensors(
    path,
    [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: a },
      { name: 'b', dtype: 'F64', shape: [2], data: b },
      { name: 'c', dtype: 'I64', shape: [2], data: c },
    ],
    { note: 'hello' },
  );
  return path;
}

test('safetensors: write then read round trip (shapes, dtypes, values, metadata)', () =>
  withTempDir(async (dir) => {
    const f = await SafetensorsFile.open(await sample(dir));
    assert.deepEqual([...f.tensors.keys()], ['a', 'b', 'c']);
    assert.deepEqual(f.tensors.get('a')!.shape, [2, 3]);
    assert.equal(f.tensors.get('b')!.dtype, 'F64');
    assert.deepEqual(f.readFloat32('a'), a);
    assert.deepEqual(f.readFloat64('b'), b);
    assert.deepEqual(new BigInt64Array(f.readBytes('c').buffer), c);
    assert.equal(f.metadata.note, 'hello');
    // Data starts 8-byte aligned, as the format recommends.
    assert.equal(f.tensors.get('a')!.offset % 8, 0);
  }));

test('safetensors: a truncated file names the tensor that runs past the end', () =>
  withTempDir(async (dir) => {
    const path = await sample(dir);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 4));
    await assert.rejects(SafetensorsFile.open(path), /'c' runs past the end of the file/);
    writeFileSync(path, bytes.subarray(0, 5));
    await assert.rejects(SafetensorsFile.open(path), /shorter than 8 bytes/);
  }));

test('safetensors: a lying header is refused', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'bad.safetensors');
    const write = (header: string, extra = 0) => {
      const h = Buffer.from(header);
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(h.length));
      writeFileSync(path, Buffer.concat([prefix, h, Buffer.alloc(extra)]));
    };
    // Header length larger than the file.
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(1000n);
    writeFileSync(path, Buffer.concat([prefix, Buffer.from('{}')]));
    await assert.rejects(SafetensorsFile.open(path), /header length 1000 does not fit/);
    // Offsets that disagree with dtype × shape.
    write(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } }), 16);
    await assert.rejects(SafetensorsFile.open(path), /'w' spans 8 bytes but F32\[4\] needs 16/);
    write(JSON.stringify({ w: { dtype: 'Q7', shape: [1], data_offsets: [0, 1] } }), 1);
    await assert.rejects(SafetensorsFile.open(path), /unsupported dtype Q7/);
    write('{"w": ', 0);
    await assert.rejects(SafetensorsFile.open(path), /not valid JSON/);
    write(JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }), 8);
    await assert.rejects(SafetensorsFile.open(path), /invalid data_offsets/);
  }));
