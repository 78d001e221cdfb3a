/** `OutputScratch`: the buffers a session's kept outputs are written into, reused from run to run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutputScratch, sharesMemory } from '../engine/output-scratch.js';

const feeds = (length: number) => ({ dna: { dims: [1, length, 4] } });
const out = (dims: number[], type = 'float32') => ({ type, dims });

test('output scratch: nothing before a run of the shape; then one buffer per output name, shared by shapes and grown to the largest', () => {
  const s = new OutputScratch();
  s.open('fwd', true);
  s.open('other', true);
  assert.deepEqual(s.outputs('fwd', feeds(100), ['a', 'b']), {}, 'the first run of a shape allocates as before');
  s.learn('fwd', feeds(100), { a: out([1, 8, 100]), b: out([1, 8, 50]), y: out([1, 2]) }, ['a', 'b']);
  const first = s.outputs('fwd', feeds(100), ['a', 'b']);
  assert.deepEqual(first.a!.dims, [1, 8, 100]);
  assert.equal(first.a!.data.length, 800);
  assert.equal(first.b!.data.length, 400);
  assert.equal(s.outputs('fwd', feeds(100), ['a']).a!.data.buffer, first.a!.data.buffer, 'the same buffer run after run');
  assert.deepEqual(s.outputs('fwd', feeds(120), ['a']), {}, 'another input shape is learned first');
  assert.deepEqual(s.outputs('other', feeds(100), ['a']), {}, 'per session');
  s.learn('fwd', feeds(60), { a: out([1, 8, 60]) }, ['a']);
  const smaller = s.outputs('fwd', feeds(60), ['a']).a!;
  assert.equal(smaller.data.length, 480);
  assert.equal(smaller.data.buffer, first.a!.data.buffer, 'a smaller shape is a view of the same buffer');
  s.learn('fwd', feeds(200), { a: out([1, 8, 200]) }, ['a']);
  const larger = s.outputs('fwd', feeds(200), ['a']).a!;
  assert.equal(larger.data.length, 1600);
  assert.notEqual(larger.data.buffer, first.a!.data.buffer, 'grown for a larger shape');
  assert.equal(s.outputs('fwd', feeds(100), ['a']).a!.data.buffer, larger.data.buffer, 'the grown buffer serves the smaller shapes');
  assert.equal(s.bytes, (1600 + 400) * 4);
});

test('output scratch: only float32 outputs; a released session forgets its buffers and shapes', () => {
  const s = new OutputScratch();
  s.open('fwd', true);
  s.open('bwd', true);
  s.learn('fwd', feeds(10), { shape: out([3], 'int64'), a: out([1, 10]) }, ['shape', 'a']);
  s.learn('bwd', feeds(10), { a: out([1, 10]) }, ['a']);
  assert.deepEqual(Object.keys(s.outputs('fwd', feeds(10), ['shape', 'a'])), ['a']);
  s.outputs('bwd', feeds(10), ['a']);
  s.release('fwd');
  assert.deepEqual(s.outputs('fwd', feeds(10), ['a']), {});
  assert.equal(Object.keys(s.outputs('bwd', feeds(10), ['a'])).length, 1, 'other sessions keep theirs');
  assert.equal(s.bytes, 40);
});

test('output scratch: sharesMemory tells views of one memory from copies, and leaves both unchanged', () => {
  const a = Float32Array.of(1.5, -2, 3);
  const copy = new Float32Array(a);
  assert.equal(sharesMemory(a, copy), false);
  assert.equal(sharesMemory(a, a.subarray(0)), true);
  assert.equal(sharesMemory(a, new Float32Array(a.buffer, 0, 3)), true);
  assert.equal(sharesMemory(a, new Float32Array(0)), false);
  assert.deepEqual([...a], [1.5, -2, 3]);
  assert.deepEqual([...copy], [1.5, -2, 3]);
  // NaN payloads survive the flip.
  const n = new Float32Array(1);
  new Uint32Array(n.buffer)[0] = 0x7fc00001;
  assert.equal(sharesMemory(n, new Float32Array(1)), false);
  assert.equal(new Uint32Array(n.buffer)[0], 0x7fc00001);
});

test('output scratch: small int64 inputs count by their values (a crop decides the output shape)', () => {
  const s = new OutputScratch();
  s.open('tail', true);
  const crop = (a: number, b: number) => ({ dims: [2], type: 'int64', data: BigInt64Array.from([BigInt(a), BigInt(b)]) });
  s.learn('tail', { x: { dims: [1, 100] }, crop: crop(10, 90) }, { y: out([1, 80]) }, ['y']);
  assert.deepEqual(s.outputs('tail', { x: { dims: [1, 100] }, crop: crop(10, 90) }, ['y']).y!.dims, [1, 80]);
  assert.deepEqual(s.outputs('tail', { x: { dims: [1, 100] }, crop: crop(0, 100) }, ['y']), {}, 'another crop is learned first');
});

test('output scratch: a session opened without reuse gets no buffers', () => {
  const s = new OutputScratch();
  s.open('plain', false);
  s.learn('plain', feeds(10), { a: out([1, 10]) }, ['a']);
  assert.deepEqual(s.outputs('plain', feeds(10), ['a']), {});
  s.open('plain', true);
  assert.deepEqual(s.outputs('plain', feeds(10), ['a']), {}, 're-opened: nothing learned yet');
});
