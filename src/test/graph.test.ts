import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../engine/graph.js';
import { Engine } from '../engine/engine.js';
import { ProtoWriter } from '../engine/protobuf.js';

test('protobuf: varints, including negative int64 as 10-byte two\'s complement', () => {
  assert.deepEqual([...new ProtoWriter().int(1, 150).finish()], [0x08, 0x96, 0x01]);
  const neg = new ProtoWriter().int(1, -1).finish();
  assert.deepEqual([...neg], [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.deepEqual([...new ProtoWriter().string(2, 'hi').finish()], [0x12, 2, 0x68, 0x69]);
});

test('graph builder: a use-before-definition is refused', () => {
  const g = new Graph('bad');
  g.op('Relu', [{ name: 'nowhere' }]);
  assert.throws(() => g.toModel(), /reads 'nowhere' before it is produced/);
});

test('graph builder: a tiny graph with inline and external initializers runs in ONNX Runtime (worker)', async () => {
  // y = Relu(x + bias) · w, then the last column dropped with Slice(end = -1) (a negative int64).
  const g = new Graph('tiny');
  const x = g.input('x', 'float32', ['batch', 3]);
  const bias = g.floats('bias', [3], [1, -1, 0.5]);
  const w = g.initializer('w', { dtype: 'float32', dims: [3, 3], data: { kind: 'external', blob: 'weights', offset: 64, length: 36 } });
  const h = g.op('MatMul', [g.op('Relu', [g.op('Add', [x, bias])]), w]);
  g.output(g.op('Slice', [h, g.ints([0]), g.ints([-1]), g.ints([1])]), 'y', 'float32', ['batch', 2]);

  const weights = Float32Array.from([1, 0, 0, 0, 2, 0, 0, 0, 3]);
  const engine = Engine.start({ threads: 1 });
  try {
    const bytes = new Uint8Array(weights.buffer);
    await engine.loadBlob('weights', { size: 128, pieces: [{ to: 64, length: 36, kind: 'bytes', bytes }] });
    const io = await engine.createSession('tiny', g.toModel(), ['weights']);
    assert.deepEqual(io, { inputs: ['x'], outputs: ['y'] });
    const out = await engine.run('tiny', { x: { dtype: 'float32', dims: [2, 3], data: Float32Array.from([0, 0, 0, -5, 3, 1]) } }, ['y']);
    assert.deepEqual(out.y!.dims, [2, 2]);
    // Row 0: relu([1,-1,0.5]) = [1,0,0.5] -> [1, 0]; row 1: relu([-4,2,1.5]) = [0,2,1.5] -> [0, 4].
    assert.deepEqual([...(out.y!.data as Float32Array)], [1, 0, 0, 4]);
  } finally {
    await engine.close();
  }
});

test('graph: declared same shapes merge into classes; the backward then skips un-broadcasting between them', async () => {
  const { backward } = await import('../engine/autodiff.js');
  const build = (declare: boolean) => {
    const g = new Graph('same_shape');
    // Reshapes to a target fed at run time: shapes no static rule can tell.
    const a = g.input('a', 'float32', ['n', 'k']);
    const target = g.input('target', 'int64', [2]);
    const p = g.op('Reshape', [a, target]);
    const q = g.op('Relu', [g.op('Reshape', [a, target])]);
    const sum = g.op('Add', [p, q]);
    if (declare) {
      g.declareSameShape([p, sum]);
      g.declareSameShape([q, sum]);
    }
    backward(g, sum, [a]);
    return { g, p, q };
  };
  const reduceSums = (g: Graph) => g.nodeList.filter((n) => n.opType === 'ReduceSum').length;
  const declared = build(true);
  // p ~ sum and q ~ sum: one class.
  assert.ok(declared.g.sameShape(declared.p.name, declared.q.name));
  assert.ok(!build(false).g.sameShape(declared.p.name, declared.q.name));
  // The Add's two run-time un-broadcasts (a ReduceSum each) are gone.
  assert.equal(reduceSums(build(false).g) - reduceSums(declared.g), 2);
  assert.equal(reduceSums(declared.g), 0);
});
