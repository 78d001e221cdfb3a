/** TensorStore (saved activations between runs): memory budget, spill file, prefetch, drop, backpressure. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TensorStore, type SpillFile } from '../engine/tensor-store.js';
import { openSpillFile } from '../engine/spill-file.js';
import type { TensorData } from '../engine/protocol.js';

const floats = (n: number, from: number): TensorData => ({ dtype: 'float32', dims: [n], data: Float32Array.from({ length: n }, (_, i) => from + i) });

/** A spill file in memory whose writes complete only when `flush()` is called. */
function heldSpill() {
  const bytes: number[] = [];
  const waiting: (() => void)[] = [];
  let resets = 0;
  const file: SpillFile = {
    append(b) {
      const offset = bytes.length;
      bytes.push(...b);
      return { offset, written: new Promise<void>((resolve) => waiting.push(resolve)) };
    },
    async read(offset, into) {
      into.set(bytes.slice(offset, offset + into.byteLength));
    },
    reset() {
      resets++;
      bytes.length = 0;
    },
    close() {},
  };
  return { file, flush: () => waiting.splice(0).forEach((r) => r()), pending: () => waiting.length, resets: () => resets };
}

test('tensor store: in memory up to the budget, the rest spilled; taken back equal; totals per group; the file is reset when empty', async () => {
  const spill = heldSpill();
  const store = new TensorStore({ memoryBudget: 40, openSpill: () => spill.file });
  store.put('g/a', { x: floats(8, 0) }); // 32 bytes: memory
  store.put('g/b', { y: floats(8, 100), s: { dtype: 'int64', dims: [2], data: BigInt64Array.of(3n, 4n) } }); // over the budget: spilled
  assert.equal(spill.pending(), 2);
  store.prefetch('g/b');
  const taking = store.take('g/b');
  spill.flush(); // reads wait for their writes
  const b = await taking;
  assert.deepEqual(Array.from(b.y!.data as Float32Array), Array.from(floats(8, 100).data as Float32Array));
  assert.deepEqual(Array.from(b.s!.data as BigInt64Array), [3n, 4n]);
  assert.deepEqual(Array.from((await store.take('g/a')).x!.data as Float32Array), Array.from(floats(8, 0).data as Float32Array));
  assert.equal(spill.resets(), 1, 'reset once the last entry was taken');
  assert.deepEqual(await store.drop('g'), { bytes: 32 + 32 + 16, spilledBytes: 48 });
  await assert.rejects(store.take('g/a'), /nothing stored under 'g\/a'/);
  assert.throws(() => {
    store.put('h/x', { x: floats(1, 0) });
    store.put('h/x', { x: floats(1, 0) });
  }, /'h\/x' is already stored/);
  assert.deepEqual(await store.drop('h'), { bytes: 4, spilledBytes: 0 });
});

test('tensor store: backpressure waits for pending spill writes above the limit', async () => {
  const spill = heldSpill();
  const store = new TensorStore({ memoryBudget: 0, openSpill: () => spill.file });
  store.put('g/a', { x: floats(16, 0) });
  let done = false;
  const waiting = store.backpressure(0).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(done, false, 'a 64-byte write is pending');
  spill.flush();
  await waiting;
  assert.equal(done, true);
  await store.backpressure(0); // nothing pending: returns at once
  await store.drop('g');
});

test('spill file on disk: positional writes and reads round-trip; a read past the end is an error', async () => {
  const file = openSpillFile();
  try {
    const a = file.append(new Uint8Array([1, 2, 3]));
    const b = file.append(new Uint8Array(100_000).fill(7));
    await Promise.all([a.written, b.written]);
    const back = new Uint8Array(100_000);
    await file.read(b.offset, back);
    assert.ok(back.every((v) => v === 7));
    const first = new Uint8Array(3);
    await file.read(a.offset, first);
    assert.deepEqual(Array.from(first), [1, 2, 3]);
    await assert.rejects(file.read(100_000, new Uint8Array(10)), /past its end/);
    file.reset();
    await assert.rejects(file.read(0, new Uint8Array(1)), /past its end/);
  } finally {
    file.close();
  }
});
