/**
 * `splitForwardBackward`: a forward + backward graph split into a forward that saves the expensive
 * layers' outputs and a backward that reads them gives the unsplit graph's gradients; the engine's
 * stash keeps those values in the worker between the two runs (in memory, or spilled to a file).
 *
 * Tolerance: the split graphs compute the same ops on the same values, but ONNX Runtime fuses and
 * orders them differently per graph (e.g. a Conv + Add fusion the split forward cannot do when the
 * conv's output is a graph output), so float32 results may differ by a few roundings:
 * 1e-5 × the largest |gradient|.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine/engine.js';
import { Graph, type Value } from '../engine/graph.js';
import { backward } from '../engine/autodiff.js';
import { splitForwardBackward } from '../engine/split.js';
import { defaultStashMemory, wantsArena, type SessionOpts, type TensorData } from '../engine/protocol.js';
import { blockBackwardSessionOpts, blockForwardSessionOpts, trunkGradientSessionOpts } from '../models/gradients.js';
import { benchArchitecture } from '../bench/models.js';

/** Deterministic values in (-1, 1). */
function values(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 31 - 1;
  });
}

const C = 256;
const L = 24;

/**
 * A miniature of the models: a stem conv over 4 channels (cheap), batch norm and x·σ(1.702x), a k=5
 * conv (expensive: 256 × 5 taps), a residual add, stride-2 depthwise pair convs (cheap), a pooling
 * gate (256 × 1: cheap), then a matrix product with a 256 × 256 weight (cheap), layer norm, softmax over positions.
 */
function miniature(g: Graph): { x: Value; y: Value; convOut: Value; stemOut: Value; res: Value } {
  // Weights scaled by 1/√fan-in keep the activations O(1).
  const f = (name: string, dims: number[], seed: number) => {
    const fanIn = dims.length > 1 ? dims.slice(1).reduce((a, b) => a * b, 1) : 1;
    return g.floats(name, dims, values(dims.reduce((a, b) => a * b, 1), seed).map((v) => v / Math.sqrt(fanIn)));
  };
  const x = g.input('x', 'float32', ['batch', 4, 1, L]);
  const stemOut = g.op('Conv', [x, f('stem_w', [C, 4, 1, 3], 1), f('stem_b', [C], 2)], { pads: [0, 1, 0, 1] });
  const bn = g.op('BatchNormalization', [stemOut, f('bn_s', [C], 3), f('bn_b', [C], 4), f('bn_m', [C], 5), g.floats('bn_v', [C], new Float32Array(C).fill(1.5))]);
  const gelu = g.op('Mul', [bn, g.op('Sigmoid', [g.op('Mul', [bn, g.scalar(1.702)])])]);
  const convOut = g.op('Conv', [gelu, f('conv_w', [C, C, 1, 5], 6)], { pads: [0, 2, 0, 2] });
  const res = g.op('Add', [stemOut, convOut]);
  const pair = (seed: number) => g.op('Conv', [res, f(`pair_${seed}`, [C, 1, 1, 2], seed)], { strides: [1, 2], group: C });
  const x1 = pair(7);
  const d = pair(8);
  const pooled = g.op('Add', [x1, g.op('Mul', [d, g.op('Sigmoid', [g.op('Conv', [d, f('gate_w', [C, C, 1, 1], 9)])])])]);
  const rows = g.op('Transpose', [g.op('Squeeze', [pooled, g.ints([2])])], { perm: [0, 2, 1] });
  const proj = g.op('MatMul', [rows, f('proj_w', [C, C], 10)]);
  const normed = g.op('LayerNormalization', [proj, f('ln_s', [C], 11), f('ln_b', [C], 12)], { axis: -1 });
  const y = g.op('Softmax', [normed], { axis: 1 });
  return { x, y, convOut, stemOut, res };
}

function forwardAndBackward(declareConvOutput: boolean): { graph: Graph; convOut: string; stemOut: string; res: string } {
  const g = new Graph('miniature');
  const { x, y, convOut, stemOut, res } = miniature(g);
  g.output(y, 'y', 'float32', ['batch', L / 2, C]);
  // Declared as is (no Identity): the saved value then is a forward output too and travels under an alias.
  if (declareConvOutput) g.declareOutput(convOut.name, 'float32', ['batch', C, 1, L]);
  const seed = g.input('grad_y', 'float32', ['batch', L / 2, C]);
  const [grad] = backward(g, y, [x], { seed });
  g.output(grad!, 'grad_x', 'float32', ['batch', 4, 1, L]);
  return { graph: g, convOut: convOut.name, stemOut: stemOut.name, res: res.name };
}

const tensor = (dims: number[], seed: number): TensorData => ({ dtype: 'float32', dims, data: values(dims.reduce((a, b) => a * b, 1), seed) });

function assertClose(actual: Float32Array, expected: Float32Array): void {
  assert.equal(actual.length, expected.length);
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(scale > 0, 'the gradient is not all zeros');
  for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= 1e-5 * scale, `element ${i}: ${actual[i]} vs ${expected[i]}`);
}

for (const declareConvOutput of [false, true]) {
  test(`split: forward saves the expensive outputs, backward reads them, gradients as unsplit${declareConvOutput ? ' (a saved value that is also an output)' : ''}`, async () => {
    const { graph, convOut, stemOut, res } = forwardAndBackward(declareConvOutput);
    const parts = splitForwardBackward(graph, { seeds: ['grad_y'] });
    const savedNames = parts.saved.map((s) => s.name);
    // The residual add onto the k=5 conv is saved (the backward reads the sum, not the conv's output,
    // which it then needs neither saved nor recomputed); the 4-channel stem conv is recomputed.
    assert.ok(savedNames.includes(res), `saved: ${savedNames.join(', ')}`);
    assert.ok(!savedNames.includes(convOut) && !savedNames.includes(`saved:${convOut}`), `saved: ${savedNames.join(', ')}`);
    assert.ok(!savedNames.includes(stemOut));
    // The pooling gate's sigmoid, the only reader of its 1×1 conv (256 terms, below the reduction
    // threshold), is saved itself: the backward recomputes neither the conv nor the sigmoid.
    const gate = graph.nodeList.find((n) => n.opType === 'Conv' && n.inputs[1]!.startsWith('gate_w'))!;
    const gateSigmoid = graph.nodeList.find((n) => n.opType === 'Sigmoid' && n.inputs[0] === gate.outputs[0])!;
    assert.ok(savedNames.includes(gateSigmoid.outputs[0]!), `saved: ${savedNames.join(', ')}`);
    assert.ok(!savedNames.includes(gate.outputs[0]!), 'the gate conv itself is not saved');
    assert.ok(!parts.backward.nodeList.some((n) => n.opType === 'Conv' && n.inputs[1]!.startsWith('gate_w')), 'the gate conv is not recomputed');
    assert.ok(!parts.backward.nodeList.some((n) => n.opType === 'Sigmoid' && n.inputs[0] === gate.outputs[0]), 'nor its sigmoid');
    // The GELU's sigmoid reads a Mul, not a product: recomputed.
    assert.ok(parts.backward.nodeList.some((n) => n.opType === 'Sigmoid'), 'the GELU sigmoid is recomputed');
    assert.ok(parts.saved.every((s) => s.dtype === 'float32' || s.dtype === 'int64'));
    assert.deepEqual(parts.backwardInputs, ['x']);
    assert.ok(!parts.forward.inputList.some((i) => i.name === 'grad_y'), 'the forward does not read the seed');
    const expensiveInBackward = parts.backward.nodeList.filter((n) => n.outputs.includes(convOut) && n.opType !== 'Identity');
    assert.deepEqual(expensiveInBackward, [], 'the backward does not recompute the k=5 conv');

    const engine = Engine.start({ threads: 1, stashMemory: 0 });
    try {
      await engine.createSession('whole', graph.toModel(), []);
      await engine.createSession('fwd', parts.forward.toModel(), []);
      await engine.createSession('bwd', parts.backward.toModel(), []);
      const x = tensor([2, 4, 1, L], 21);
      const gy = tensor([2, L / 2, C], 22);
      const whole = await engine.run('whole', { x, grad_y: gy }, ['y', 'grad_x']);
      const fetches = ['y', ...(declareConvOutput ? [convOut] : [])];
      const fwd = await engine.run('fwd', { x }, [...fetches, ...savedNames], undefined, { keep: { key: 'call/0', names: savedNames } });
      assert.deepEqual(Object.keys(fwd).sort(), fetches.sort(), 'kept outputs are not returned');
      assertClose(fwd.y!.data as Float32Array, whole.y!.data as Float32Array);
      const bwd = await engine.run('bwd', { x, grad_y: gy }, ['grad_x'], undefined, { take: ['call/0'] });
      assertClose(bwd.grad_x!.data as Float32Array, whole.grad_x!.data as Float32Array);
      // stashMemory 0: every saved byte went through the spill file.
      const totals = await engine.dropStash('call');
      assert.ok(totals.bytes > 0 && totals.spilledBytes === totals.bytes, JSON.stringify(totals));
      await assert.rejects(engine.run('bwd', { x, grad_y: gy }, ['grad_x'], undefined, { take: ['call/0'] }), /nothing stored under 'call\/0'/);
    } finally {
      await engine.close();
    }
  });
}

test('split: a sigmoid is saved in place of the product it reads only when it is that product\'s one reader', () => {
  const build = (productReadTwice: boolean) => {
    const g = new Graph('gate');
    const x = g.input('x', 'float32', ['batch', C, 1, L]);
    const w = g.floats('gate_w', [C, C, 1, 1], values(C * C, 3));
    const logits = g.op('Conv', [x, w]);
    let y = g.op('Mul', [x, g.op('Sigmoid', [logits])]);
    if (productReadTwice) y = g.op('Add', [y, g.op('Tanh', [logits])]);
    g.output(y, 'y', 'float32', ['batch', C, 1, L]);
    const seed = g.input('grad_y', 'float32', ['batch', C, 1, L]);
    g.output(backward(g, y, [x], { seed })[0]!, 'grad_x', 'float32', ['batch', C, 1, L]);
    const parts = splitForwardBackward(g, { seeds: ['grad_y'] });
    const producer = new Map(g.nodeList.flatMap((n) => n.outputs.map((o) => [o, n.opType] as const)));
    return { saved: parts.saved.map((v) => producer.get(v.name)), backwardOps: parts.backward.nodeList.map((n) => n.opType) };
  };
  const once = build(false);
  assert.ok(once.saved.includes('Sigmoid'), `saved: ${once.saved.join(', ')}`);
  assert.ok(!once.backwardOps.includes('Sigmoid'));
  // The product has a second reader (its tanh): the sigmoid is not saved in its place, and the
  // 1×1 conv below the reduction threshold is recomputed as before.
  const twice = build(true);
  assert.ok(!twice.saved.includes('Sigmoid'), `saved: ${twice.saved.join(', ')}`);
  assert.ok(twice.backwardOps.includes('Sigmoid') && twice.backwardOps.includes('Conv'));
});

/** An engine with the miniature's split sessions 'fwd' (made with `forwardOpts`) and 'bwd', and the unsplit 'whole'. */
async function splitSessions(forwardOpts?: SessionOpts): Promise<{ engine: Engine; saved: string[] }> {
  const { graph } = forwardAndBackward(false);
  const parts = splitForwardBackward(graph, { seeds: ['grad_y'] });
  const engine = Engine.start({ threads: 1 });
  await engine.createSession('whole', graph.toModel(), []);
  await engine.createSession('fwd', parts.forward.toModel(), [], forwardOpts);
  await engine.createSession('bwd', parts.backward.toModel(), []);
  return { engine, saved: parts.saved.map((v) => v.name) };
}

test('stash: held in memory under the budget; dropStash forgets a group and reports what it stored', async () => {
  const { engine, saved } = await splitSessions();
  try {
    const x = tensor([1, 4, 1, L], 31);
    await engine.run('fwd', { x }, ['y', ...saved], undefined, { keep: { key: 'a/0', names: saved } });
    await engine.run('fwd', { x }, ['y', ...saved], undefined, { keep: { key: 'b/0', names: saved } });
    await assert.rejects(engine.run('fwd', { x }, ['y', ...saved], undefined, { keep: { key: 'a/0', names: saved } }), /'a\/0' is already stored/);
    const a = await engine.dropStash('a');
    assert.ok(a.bytes > 0 && a.spilledBytes === 0, JSON.stringify(a));
    // Group b is untouched by dropping a.
    const g = await engine.run('bwd', { x, grad_y: tensor([1, L / 2, C], 32) }, ['grad_x'], undefined, { take: ['b/0'] });
    assert.equal(g.grad_x!.data.length, 4 * L);
    assert.deepEqual(await engine.dropStash('b'), a);
  } finally {
    await engine.close();
  }
});

test('stash: a session with the arena writes kept outputs into reused buffers after the first run of a shape; each run keeps its own values', async () => {
  // The forward with the memory arena: such sessions reuse their kept outputs' buffers.
  const { engine, saved } = await splitSessions({ memoryArena: true });
  try {
    // Three runs of one shape (the second and third write into the first's learned buffers), one of
    // another batch size (its first run allocates as before), all kept before any is read back.
    const inputs = [1, 1, 1, 2].map((b, i) => ({ x: tensor([b, 4, 1, L], 40 + i), gy: tensor([b, L / 2, C], 50 + i) }));
    for (const [i, { x }] of inputs.entries()) await engine.run('fwd', { x }, ['y'], undefined, { keep: { key: `r/${i}`, names: saved } });
    for (const [i, { x, gy }] of inputs.entries()) {
      const whole = await engine.run('whole', { x, grad_y: gy }, ['grad_x']);
      const bwd = await engine.run('bwd', { x, grad_y: gy }, ['grad_x'], undefined, { take: [`r/${i}`] });
      assertClose(bwd.grad_x!.data as Float32Array, whole.grad_x!.data as Float32Array);
    }
  } finally {
    await engine.close();
  }
});

test('stash: the default memory budget is a quarter of the available memory, at least 512 MiB', () => {
  assert.equal(defaultStashMemory(24 * 2 ** 30), 6 * 2 ** 30);
  assert.equal(defaultStashMemory(2 ** 30), 512 * 2 ** 20);
  assert.equal(defaultStashMemory(0), 512 * 2 ** 20);
});

test('split: the shapes the backward reads come from the inputs\' shapes, not from activations', async () => {
  // Attention in two query chunks beside a shape-preserving branch: the backward reads the shape of
  // each chunk's product (Concat's backward) and of the softmax's chunks (Split's). Taken from those
  // tensors, the reads would keep them alive (or their saved shapes would, in the forward); worked
  // out from x's shape and the split sizes, no Shape node reads an activation, and nothing is saved
  // but the weight product and x's shape.
  const n = 6;
  const g = new Graph('chunks');
  const x = g.input('x', 'float32', ['batch', n, 8]);
  const a = g.op('MatMul', [x, g.floats('w', [8, 8], values(64, 41).map((v) => v / Math.sqrt(8)))]);
  const probs = g.op('Softmax', [g.op('MatMul', [a, g.op('Transpose', [x], { perm: [0, 2, 1] })])], { axis: -1 });
  const [c0, c1] = g.opMulti('Split', [probs, g.ints([2, 4])], 2, { axis: 1 });
  const chunk0 = g.op('MatMul', [c0!, x]);
  const chunk1 = g.op('MatMul', [c1!, x]);
  g.output(g.op('Concat', [g.op('Neg', [a]), chunk0, chunk1], { axis: 1 }), 'y', 'float32', ['batch', 2 * n, 8]);
  const seed = g.input('grad_y', 'float32', ['batch', 2 * n, 8]);
  const [grad] = backward(g, { name: 'y' }, [x], { seed });
  g.output(grad!, 'grad_x', 'float32', ['batch', n, 8]);

  // The weight product counts as expensive (saved); products of two computed values are recomputed.
  const parts = splitForwardBackward(g, { seeds: ['grad_y'], expensive: (node) => node.opType === 'MatMul' && node.inputs[1]!.startsWith('w') });
  const activations = new Set([a.name, probs.name, c0!.name, c1!.name, chunk0.name, chunk1.name]);
  for (const part of [parts.forward, parts.backward]) {
    const reads = part.nodeList.filter((node) => (node.opType === 'Shape' || node.opType === 'Size') && activations.has(node.inputs[0]!));
    assert.deepEqual(reads.map((node) => node.inputs[0]), [], `${part.name} reads activations' shapes`);
  }
  const forwardProducer = new Map(parts.forward.nodeList.flatMap((node) => node.outputs.map((o) => [o, node] as const)));
  const saved = parts.saved.map((s) => forwardProducer.get(s.name)!);
  assert.deepEqual(saved.filter((node) => node.opType !== 'Shape').map((node) => node.outputs[0]), [a.name]);
  assert.deepEqual(saved.filter((node) => node.opType === 'Shape').map((node) => node.inputs[0]), ['x']);

  const engine = Engine.start({ threads: 1 });
  try {
    await engine.createSession('whole', g.toModel(), []);
    await engine.createSession('fwd', parts.forward.toModel(), []);
    await engine.createSession('bwd', parts.backward.toModel(), []);
    const feeds = { x: tensor([2, n, 8], 42) };
    const gy = tensor([2, 2 * n, 8], 43);
    const whole = await engine.run('whole', { ...feeds, grad_y: gy }, ['grad_x']);
    const names = parts.saved.map((s) => s.name);
    await engine.run('fwd', feeds, ['y', ...names], undefined, { keep: { key: 'c/0', names } });
    const split = await engine.run('bwd', { ...feeds, grad_y: gy }, ['grad_x'], undefined, { take: ['c/0'] });
    assertClose(split.grad_x!.data as Float32Array, whole.grad_x!.data as Float32Array);
  } finally {
    await engine.close();
  }
});

test('memory arena: on, off, or where the available memory reaches the figure asked', () => {
  assert.equal(wantsArena({}, 2 ** 40), false);
  assert.equal(wantsArena({ memoryArena: true }, 0), true);
  assert.equal(wantsArena({ memoryArena: false }, 2 ** 40), false);
  assert.equal(wantsArena({ memoryArena: { ifAvailable: 8 * 2 ** 30 } }, 8 * 2 ** 30), true);
  assert.equal(wantsArena({ memoryArena: { ifAvailable: 8 * 2 ** 30 } }, 8 * 2 ** 30 - 1), false);
  // Borzoi's blocks: 8 heads × 4,096² floats retained ~8×, asked twice over: 8 GiB; Enformer's 1,536 positions: 1.1 GiB.
  assert.deepEqual(blockBackwardSessionOpts(benchArchitecture('borzoi')), { memoryArena: { ifAvailable: 8 * 2 ** 30 } });
  assert.deepEqual(blockBackwardSessionOpts(benchArchitecture('enformer')).memoryArena, { ifAvailable: 2 * 8 * 8 * 1536 * 1536 * 4 });
  assert.deepEqual(blockBackwardSessionOpts(benchArchitecture('borzoi'), false), { memoryArena: false });
  // The blocks' forward: the same ask where that figure is under 1 GiB (Enformer), none above (Borzoi), unless chosen.
  assert.deepEqual(blockForwardSessionOpts(benchArchitecture('enformer')), blockBackwardSessionOpts(benchArchitecture('enformer')));
  assert.deepEqual(blockForwardSessionOpts(benchArchitecture('borzoi')), { memoryArena: false });
  assert.deepEqual(blockForwardSessionOpts(benchArchitecture('borzoi'), true), { memoryArena: true });
  assert.deepEqual(blockForwardSessionOpts(benchArchitecture('enformer'), false), { memoryArena: false });
  // The trunk's backward: 8 of the stem's full-resolution tensors (its channels × the tile with its halo), asked twice over.
  const enformer = benchArchitecture('enformer');
  const tileAsk = (channels: number, columns: number) => ({ memoryArena: { ifAvailable: 2 * 8 * channels * columns * 4 } });
  assert.deepEqual(trunkGradientSessionOpts(enformer, 32_768), tileAsk(768, 32_768 + 2 * enformer.trunkHaloBp));
  assert.deepEqual(trunkGradientSessionOpts(benchArchitecture('borzoi'), 32_768), tileAsk(512, 32_768 + 2 * benchArchitecture('borzoi').trunkHaloBp));
  // One tile (0) and tiles longer than the window: the window with its halo.
  assert.deepEqual(trunkGradientSessionOpts(enformer, 0), tileAsk(768, 196_608 + 2 * enformer.trunkHaloBp));
  assert.deepEqual(trunkGradientSessionOpts(enformer, 1 << 20), trunkGradientSessionOpts(enformer, 0));
  assert.deepEqual(trunkGradientSessionOpts(enformer, 32_768, true), { memoryArena: true });
});
