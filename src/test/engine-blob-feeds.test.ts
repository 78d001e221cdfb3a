/** `run(…, blobFeeds)`: float32 inputs read in place from a loaded blob (weights of a session that holds none). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine/engine.js';
import { Graph } from '../engine/graph.js';

test('engine: inputs fed from a blob at their offsets; an input outside the blob is a one-line error', async () => {
  const g = new Graph('blob_feeds');
  const x = g.input('x', 'float32', [2, 3]);
  const w = g.input('w', 'float32', [3, 2]);
  const b = g.input('b', 'float32', [2]);
  g.output(g.op('Add', [g.op('MatMul', [x, w]), b]), 'y', 'float32', [2, 2]);
  const engine = Engine.start({ threads: 1 });
  try {
    await engine.createSession('s', g.toModel(), []);
    // w (6 floats) at byte 64, b (2 floats) at byte 0, as a packed weight blob lays them out.
    const blob = new Float32Array(32);
    blob.set([1, 2, 3, 4, 5, 6], 16);
    blob.set([10, 20], 0);
    await engine.loadBlob('weights', { size: blob.byteLength, pieces: [{ to: 0, length: blob.byteLength, kind: 'bytes', bytes: new Uint8Array(blob.buffer) }] });
    const feeds = { x: { dtype: 'float32' as const, dims: [2, 3], data: Float32Array.of(1, 0, 0, 0, 1, 1) } };
    const tensors = { w: { offset: 64, dims: [3, 2] }, b: { offset: 0, dims: [2] } };
    const y = (await engine.run('s', feeds, ['y'], { blob: 'weights', tensors })).y!;
    assert.deepEqual(Array.from(y.data as Float32Array), [11, 22, 18, 30]);
    await assert.rejects(engine.run('s', feeds, ['y'], { blob: 'weights', tensors: { ...tensors, w: { offset: 112, dims: [3, 2] } } }), /blob weights: input w \[3,2\] at byte 112 is outside it/);
    await engine.dropBlob('weights');
    await assert.rejects(engine.run('s', feeds, ['y'], { blob: 'weights', tensors }), /unknown blob weights/);
  } finally {
    await engine.close();
  }
});
