/**
 * `shapesByAlgebra`: every Shape/Size of a computed value, worked out from the inputs' shapes through
 * the ops' shape rules, equals what ONNX Runtime reads off the tensor — for each op with a rule, at
 * run-time sizes the graph does not know (symbolic dims), including Reshape's 0 and -1, Slice bounds
 * that are negative or past the end, broadcasting, and strided, padded, dilated convolutions — and
 * no Shape node of the rewritten graph reads a computed value. Exact (integers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine/engine.js';
import { Graph, type Value } from '../engine/graph.js';
import { shapesByAlgebra } from '../engine/shape-algebra.js';
import type { TensorData } from '../engine/protocol.js';

function probes(): { graph: Graph; outputs: string[] } {
  const g = new Graph('probes');
  const x = g.input('x', 'float32', ['batch', 'c', 'length']);
  const y = g.input('y', 'float32', ['length']);
  const bounds = g.input('bounds', 'int64', [2]);
  const outputs: string[] = [];
  const probe = (v: Value, attrs: Record<string, number> = {}, op: 'Shape' | 'Size' = 'Shape') => {
    const name = `probe_${outputs.length}`;
    g.output(g.op(op, [v], attrs), name, 'int64', op === 'Size' ? [] : ['?']);
    outputs.push(name);
  };
  const relu = g.op('Relu', [x]);
  const broadcast = g.op('Add', [relu, y]);
  probe(broadcast);
  const t = g.op('Transpose', [broadcast], { perm: [2, 0, 1] });
  probe(t);
  const r = g.op('Reshape', [t, g.ints([0, -1])]);
  probe(r);
  probe(g.op('Reshape', [t, g.ints([0, 0, -1, 1])]));
  // Slice with run-time bounds (start 1, end past the end) and with a negative start.
  const sliced = g.op('Slice', [x, g.op('Slice', [bounds, g.ints([0]), g.ints([1])]), g.op('Slice', [bounds, g.ints([1]), g.ints([2])]), g.ints([2])]);
  probe(sliced);
  probe(g.op('Slice', [x, g.ints([-3, 0]), g.ints([1000, 1]), g.ints([-1, 1])]));
  // Batch dims [batch, 1] against [batch]: broadcast to [batch, batch].
  const m = g.op('MatMul', [g.op('Unsqueeze', [x, g.ints([1])]), g.op('Transpose', [x], { perm: [0, 2, 1] })]);
  probe(m);
  probe(g.op('Squeeze', [g.op('Gemm', [g.floats('a', [1, 4], new Float32Array(4)), g.floats('b', [6, 4], new Float32Array(24))], { transB: 1 }), g.ints([0])]));
  probe(g.op('Concat', [x, relu, sliced], { axis: 2 }));
  probe(g.op('Pad', [x, g.ints([0, 0, 2, 0, 0, 3])]));
  probe(g.op('Expand', [y, g.op('Shape', [x])]));
  const [s0, s1] = g.opMulti('Split', [x, g.ints([1, 2])], 2, { axis: 1 });
  probe(s0!);
  probe(s1!);
  probe(g.op('ReduceSum', [x, g.ints([1])], { keepdims: 1 }));
  probe(g.op('ReduceMean', [x], { axes: [-1], keepdims: 0 }));
  const image = g.op('Unsqueeze', [x, g.ints([2])]);
  probe(g.op('Conv', [image, g.floats('k', [7, 3, 1, 3], new Float32Array(63))], { pads: [0, 2, 0, 1], strides: [1, 2], dilations: [1, 2] }));
  probe(g.op('MaxPool', [image], { kernel_shape: [1, 2], strides: [1, 2] }));
  probe(g.op('Where', [g.op('Greater', [y, g.scalar(0)]), relu, g.scalar(1)]));
  probe(broadcast, { start: 1, end: -1 });
  probe(broadcast, {}, 'Size');
  return { graph: g, outputs };
}

test('shapes by algebra: equal to the shapes read off the tensors, and read off none', async () => {
  const { graph, outputs } = probes();
  const lowered = shapesByAlgebra(graph);
  const produced = new Set(lowered.nodeList.flatMap((n) => n.outputs));
  const reads = lowered.nodeList.filter((n) => (n.opType === 'Shape' || n.opType === 'Size') && produced.has(n.inputs[0]!));
  assert.deepEqual(reads.map((n) => `${n.opType}(${n.inputs[0]})`), []);

  const engine = Engine.start({ threads: 1 });
  try {
    await engine.createSession('read', graph.toModel(), []);
    await engine.createSession('algebra', lowered.toModel(), []);
    for (const [batch, length] of [[2, 5], [1, 9]] as const) {
      const feeds: Record<string, TensorData> = {
        x: { dtype: 'float32', dims: [batch, 3, length], data: new Float32Array(batch * 3 * length).fill(0.5) },
        y: { dtype: 'float32', dims: [length], data: new Float32Array(length).fill(1) },
        bounds: { dtype: 'int64', dims: [2], data: BigInt64Array.from([1n, 1000n]) },
      };
      const expected = await engine.run('read', feeds, outputs);
      const actual = await engine.run('algebra', feeds, outputs);
      for (const o of outputs) assert.deepEqual([...(actual[o]!.data as BigInt64Array)], [...(expected[o]!.data as BigInt64Array)], `${o} at batch ${batch}, length ${length}`);
    }
  } finally {
    await engine.close();
  }
});
