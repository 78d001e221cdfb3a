/**
 * Every vector–Jacobian rule of src/engine/autodiff.ts against central finite differences, on small
 * random graphs with random shapes and attributes (fast-check). For a graph y = F(x₁…xₙ) and a random
 * cotangent s, the rules give gᵢ = ∂<s, y>/∂xᵢ; for random directions vᵢ the directional derivative
 *   Σᵢ <gᵢ, vᵢ>  must equal  (f(x + h v) − f(x − h v)) / 2h,   f = <s, y>  (summed in float64 in JS).
 *
 * Precision and tolerances (why each is what it is):
 * - float64 graphs (ops ONNX Runtime runs in double): h = 1e-4, so the truncation error is
 *   O(h²·f''') ≈ 1e-8 for these O(1) values and the round-off ≈ 1e-16·|f|/h ≈ 1e-12; tolerance
 *   1e-6·(1 + scale), scale = Σ|s·y| + Σ|g·v| (the size of the terms being compared).
 * - float32 graphs: ORT has no double Conv/ConvTranspose. Conv is bilinear in (x, w), so f(x + h v)
 *   is a quadratic in h and the central difference has no truncation error at all: we take h = 1 and
 *   only float32 round-off remains, ≈ 6e-8 per term, accumulated over ≤ a few hundred terms ⇒ 1e-4·scale.
 * - Softplus, Erf: ORT has no double kernel and they are not linear: h = 1e-2 in float32, truncation
 *   h²/6·|f'''| ≲ 2e-6 and round-off ≈ 6e-8·|f|/h ≈ 1e-5 relative, so 1e-3·scale.
 * - Kinks (Relu, MaxPool) are kept away from the step: inputs are at least 0.05 from 0, and MaxPool
 *   inputs are distinct multiples of 0.01 (a step of 1e-4 cannot reorder them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { Graph, type Value } from '../engine/graph.js';
import { backward } from '../engine/autodiff.js';
import { rng } from './genome-files.js';

type Float = 'float32' | 'float64';

interface CaseInput {
  dims: number[];
  /** Value generator: uniform in (-1, 1) by default. */
  kind?: 'any' | 'positive' | 'awayFromZero' | 'large' | 'distinct';
  /** Not differentiated (e.g. an index-like or fixed operand); still fed. */
  fixed?: boolean;
}

interface Case {
  name: string;
  dtype: Float;
  inputs: CaseInput[];
  build: (g: Graph, xs: Value[]) => Value;
  /** Declare the inputs with symbolic dims ('s3' for a run-time 3): exercises the static shape reasoning. */
  symbolic?: boolean;
  /** A smooth op ORT runs only in float32: finite-difference step and tolerance (see the header). */
  float32Smooth?: boolean;
}

function fill(input: CaseInput, rand: () => number): number[] {
  const n = input.dims.reduce((a, b) => a * b, 1);
  const u = () => rand() * 2 - 1;
  switch (input.kind ?? 'any') {
    case 'positive':
      return Array.from({ length: n }, () => 0.5 + rand());
    case 'awayFromZero':
      return Array.from({ length: n }, () => {
        const v = u();
        return Math.sign(v || 1) * (0.05 + Math.abs(v));
      });
    case 'large':
      return Array.from({ length: n }, () => {
        const v = u();
        return Math.sign(v || 1) * (0.5 + Math.abs(v));
      });
    case 'distinct': {
      const values = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.01);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [values[i], values[j]] = [values[j]!, values[i]!];
      }
      return values;
    }
    default:
      return Array.from({ length: n }, u);
  }
}

const tensor = (dtype: Float, dims: number[], data: number[]) =>
  new ort.Tensor(dtype, dtype === 'float32' ? Float32Array.from(data) : Float64Array.from(data), dims);

async function session(g: Graph): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(g.toModel(), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
}

function declare(g: Graph, c: Case): Value[] {
  return c.inputs.map((inp, i) => g.input(`x${i}`, c.dtype, c.symbolic ? inp.dims.map((d) => `s${d}`) : inp.dims));
}

/** Checks the rules of one case against finite differences along three random directions. */
async function check(c: Case, seed: number): Promise<void> {
  const rand = rng(seed); // deterministic data from the fast-check seed
  const data = c.inputs.map((inp) => fill(inp, rand));
  const feeds = (values: number[][]) => Object.fromEntries(values.map((d, i) => [`x${i}`, tensor(c.dtype, c.inputs[i]!.dims, d)]));

  // Forward graph: the output and its shape.
  const fg = new Graph('forward');
  fg.output(c.build(fg, declare(fg, c)), 'y', c.dtype, []);
  const forward = await session(fg);
  const y0 = (await forward.run(feeds(data))).y!;
  const seedData = Array.from({ length: y0.data.length }, () => rand() * 2 - 1);

  // Backward graph: gradients of <seed, y> w.r.t. the differentiable inputs.
  const bg = new Graph('backward');
  const xs = declare(bg, c);
  const y = c.build(bg, xs);
  const s = bg.input('seed', c.dtype, [...y0.dims]);
  const wrtIdx = c.inputs.map((inp, i) => (inp.fixed ? -1 : i)).filter((i) => i >= 0);
  const grads = backward(bg, y, wrtIdx.map((i) => xs[i]!), { seed: s, dtype: c.dtype });
  grads.forEach((gv, k) => bg.output(gv, `g${k}`, c.dtype, []));
  const back = await session(bg);
  const out = await back.run({ ...feeds(data), seed: tensor(c.dtype, [...y0.dims], seedData) });
  wrtIdx.forEach((i, k) => assert.deepEqual([...out[`g${k}`]!.dims], c.inputs[i]!.dims, `${c.name}: gradient ${k} has the shape of its input`));

  const [h, tol] = c.float32Smooth ? [1e-2, 1e-3] : c.dtype === 'float32' ? [1, 1e-4] : [1e-4, 1e-6];
  const f = async (values: number[][]) => {
    const r = (await forward.run(feeds(values))).y!.data as Float32Array | Float64Array;
    let sum = 0;
    let mag = 0;
    for (let j = 0; j < r.length; j++) {
      sum += seedData[j]! * r[j]!;
      mag += Math.abs(seedData[j]! * r[j]!);
    }
    return { sum, mag };
  };
  for (let d = 0; d < 3; d++) {
    const dirs = data.map((x, i) => (c.inputs[i]!.fixed ? x.map(() => 0) : x.map(() => rand() * 2 - 1)));
    const plus = await f(data.map((x, i) => x.map((v, j) => v + h * dirs[i]![j]!)));
    const minus = await f(data.map((x, i) => x.map((v, j) => v - h * dirs[i]![j]!)));
    const fd = (plus.sum - minus.sum) / (2 * h);
    let analytic = 0;
    let gmag = 0;
    wrtIdx.forEach((i, k) => {
      const gdata = out[`g${k}`]!.data as Float32Array | Float64Array;
      for (let j = 0; j < gdata.length; j++) {
        analytic += gdata[j]! * dirs[i]![j]!;
        gmag += Math.abs(gdata[j]! * dirs[i]![j]!);
      }
    });
    const scale = 1 + plus.mag + gmag;
    assert.ok(Math.abs(fd - analytic) <= tol * scale, `${c.name}: finite difference ${fd} vs gradient ${analytic} (direction ${d}, scale ${scale.toFixed(2)})`);
  }
  await forward.release();
  await back.release();
}

/**
 * A fixed fast-check seed keeps the suite deterministic (a float32 case drawn at random can land
 * within round-off of its tolerance); SEQ2TRACK_PROPERTY_SEED explores others.
 */
const PROPERTY_SEED = Number(process.env.SEQ2TRACK_PROPERTY_SEED ?? 20261206);

/** Runs `runs` random cases of one family. */
async function property<T>(arb: fc.Arbitrary<T>, make: (t: T) => Case, runs = 12): Promise<void> {
  try {
    await fc.assert(
      fc.asyncProperty(arb, fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (t, seed) => check(make(t), seed)),
      { numRuns: runs, seed: PROPERTY_SEED },
    );
  } catch (e) {
    // fast-check keeps the failing assertion in `cause`; show it beside the counterexample.
    const cause = e instanceof Error && e.cause instanceof Error ? `\n${e.cause.message}` : '';
    throw new Error(`${e instanceof Error ? e.message : String(e)}${cause}`);
  }
}

/** fc.record fields of integers in [min, max]; the fields keep the order given, so the draws (and the cases) stay the same. */
const integers = <K extends string>(ranges: Record<K, [number, number]>) =>
  Object.fromEntries(Object.entries<[number, number]>(ranges).map(([key, [min, max]]) => [key, fc.integer({ min, max })])) as Record<K, fc.Arbitrary<number>>;
const dims = (rank: number, max = 4) => fc.array(fc.integer({ min: 1, max }), { minLength: rank, maxLength: rank });
const anyRank = (min: number, max: number, size = 4) => fc.integer({ min, max }).chain((r) => dims(r, size));

/** Two shapes that broadcast together: b drops leading axes and sets some axes to 1. */
const broadcastPair = anyRank(1, 4).chain((a) =>
  fc.tuple(fc.constant(a), fc.integer({ min: 0, max: a.length - 1 }), fc.array(fc.boolean(), { minLength: a.length, maxLength: a.length }), fc.boolean()),
).map(([a, drop, ones, swap]) => {
  const b = a.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
  return swap ? [b, a] : [a, b];
});

test('autodiff: Add, Sub, Mul, Div with broadcasting', async () => {
  for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
    await property(fc.tuple(broadcastPair, fc.boolean()), ([[a, b], symbolic]) => ({
      name: op,
      dtype: 'float64',
      symbolic,
      inputs: [{ dims: a! }, { dims: b!, kind: op === 'Div' ? 'large' : 'any' }],
      build: (g, [x, y]) => g.op(op, [x!, y!]),
    }), 8);
  }
});

test('autodiff: unary ops (Relu, Sigmoid, Tanh, Softplus, Sqrt, Exp, Log, Neg, Identity)', async () => {
  const ops: [string, CaseInput['kind'], Float][] = [
    ['Relu', 'awayFromZero', 'float64'], ['Sigmoid', 'any', 'float64'], ['Tanh', 'any', 'float64'],
    ['Softplus', 'any', 'float32'], ['Sqrt', 'positive', 'float64'], ['Exp', 'any', 'float64'],
    ['Log', 'positive', 'float64'], ['Neg', 'any', 'float64'], ['Identity', 'any', 'float64'],
  ];
  for (const [op, kind, dtype] of ops) {
    await property(anyRank(1, 3), (d) => ({ name: op, dtype, inputs: [{ dims: d, kind }], build: (g, [x]) => g.op(op, [x!]), float32Smooth: dtype === 'float32' }), 4);
  }
});

test('autodiff: Softmax over a random axis', async () => {
  await property(anyRank(1, 4).chain((d) => fc.tuple(fc.constant(d), fc.integer({ min: -d.length, max: d.length - 1 }))), ([d, axis]) => ({
    name: 'Softmax',
    dtype: 'float64',
    inputs: [{ dims: d }],
    build: (g, [x]) => g.op('Softmax', [x!], { axis }),
  }));
});

test('autodiff: LayerNormalization (input, scale, bias) over trailing axes', async () => {
  await property(anyRank(1, 3).chain((d) => fc.tuple(fc.constant(d.map((v) => v + 1)), fc.integer({ min: 0, max: d.length - 1 }))), ([d, axis]) => ({
    name: 'LayerNormalization',
    dtype: 'float64',
    inputs: [{ dims: d }, { dims: d.slice(axis) }, { dims: d.slice(axis) }],
    build: (g, [x, s, b]) => g.op('LayerNormalization', [x!, s!, b!], { axis, epsilon: { float: 1e-3 } }),
  }));
});

test('autodiff: BatchNormalization (inference) w.r.t. input, scale, bias, mean and variance', async () => {
  await property(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), anyRank(0, 2)), ([b, ch, rest]) => ({
    name: 'BatchNormalization',
    dtype: 'float64',
    inputs: [{ dims: [b, ch, ...rest] }, { dims: [ch] }, { dims: [ch] }, { dims: [ch] }, { dims: [ch], kind: 'positive' }],
    build: (g, [x, s, bias, m, v]) => g.op('BatchNormalization', [x!, s!, bias!, m!, v!], { epsilon: { float: 1e-3 } }),
  }));
});

test('autodiff: Gemm with transA/transB, alpha, beta and a broadcast C', async () => {
  const arb = fc.tuple(dims(3, 4), fc.boolean(), fc.boolean(), fc.constantFrom(1, 0.5), fc.constantFrom(1, -2), fc.constantFrom('vector', 'matrix', 'row'));
  await property(arb, ([[m, k, n], ta, tb, alpha, beta, cKind]) => ({
    name: 'Gemm',
    dtype: 'float64',
    inputs: [{ dims: ta ? [k!, m!] : [m!, k!] }, { dims: tb ? [n!, k!] : [k!, n!] }, { dims: cKind === 'vector' ? [n!] : cKind === 'row' ? [1, n!] : [m!, n!] }],
    build: (g, [a, b, c]) =>
      g.op('Gemm', [a!, b!, c!], { transA: ta ? 1 : 0, transB: tb ? 1 : 0, ...(alpha !== 1 ? { alpha: { float: alpha } } : {}), ...(beta !== 1 ? { beta: { float: beta } } : {}) }),
  }));
});

test('autodiff: batched MatMul with broadcast batch axes', async () => {
  const arb = fc.tuple(dims(3, 4), anyRank(0, 3, 3), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }));
  await property(arb, ([[m, k, n], batch, ones]) => ({
    name: 'MatMul',
    dtype: 'float64',
    inputs: [{ dims: [...batch, m!, k!] }, { dims: [...batch.map((d, i) => (ones[i] ? 1 : d)), k!, n!] }],
    build: (g, [a, b]) => g.op('MatMul', [a!, b!]),
  }));
});

test('autodiff: Conv (1-D and height-1 2-D) w.r.t. input, weight and bias: kernel, dilation, padding, stride, groups', async () => {
  const arb = fc.record({
    twoD: fc.boolean(),
    ...integers({ batch: [1, 2], groups: [1, 3], cin: [1, 2], cout: [1, 2], k: [1, 5], dilation: [1, 2], stride: [1, 2], padA: [0, 4], padB: [0, 4], extra: [0, 6] }),
    bias: fc.boolean(),
    symbolic: fc.boolean(),
  });
  await property(arb, (p) => {
    const span = p.dilation * (p.k - 1);
    const padA = Math.min(p.padA, span);
    const padB = Math.min(p.padB, span);
    const length = Math.max(1, span + 1 - padA - padB) + p.extra;
    const cin = p.cin * p.groups;
    const cout = p.cout * p.groups;
    const h = p.twoD ? [1] : [];
    const inputs: CaseInput[] = [{ dims: [p.batch, cin, ...h, length] }, { dims: [cout, p.cin, ...h, p.k] }];
    if (p.bias) inputs.push({ dims: [cout] });
    return {
      name: 'Conv',
      dtype: 'float32',
      symbolic: p.symbolic,
      inputs,
      build: (g, xs) =>
        g.op('Conv', xs, {
          kernel_shape: [...h, p.k],
          pads: p.twoD ? [0, padA, 0, padB] : [padA, padB],
          dilations: [...h, p.dilation],
          strides: [...h, p.stride],
          group: p.groups,
        }),
    };
  }, 25);
});

test('autodiff: depthwise Conv with constant weights whose windows tile the input (stride = kernel): the broadcast-product rule', async () => {
  const arb = fc.record({
    twoD: fc.boolean(),
    ...integers({ batch: [1, 2], channels: [2, 4], k: [1, 3], windows: [1, 5], rest: [0, 2] }),
    symbolic: fc.boolean(),
    weights: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 12, maxLength: 12 }),
  });
  await property(arb, (p) => {
    const h = p.twoD ? [1] : [];
    // Positions past the last whole window (rest < k) are never read: their gradient is 0.
    const length = p.windows * p.k + Math.min(p.rest, p.k - 1);
    return {
      name: 'Conv (depthwise, stride = kernel)',
      dtype: 'float32',
      symbolic: p.symbolic,
      inputs: [{ dims: [p.batch, p.channels, ...h, length] }],
      build: (g, [x]) => {
        const w = g.floats('w_depthwise', [p.channels, 1, ...h, p.k], Float32Array.from({ length: p.channels * p.k }, (_, i) => p.weights[i % 12]!));
        return g.op('Conv', [x!, w], { kernel_shape: [...h, p.k], strides: [...h, p.k], group: p.channels });
      },
    };
  }, 25);
});

test('autodiff: a residual conv block with symbolic dims (shapes proven equal skip un-broadcasting)', async () => {
  const arb = fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 9 }), fc.boolean());
  await property(arb, ([b, ch, n, twoD]) => {
    const h = twoD ? [1] : [];
    return {
      name: 'residual block',
      dtype: 'float32',
      float32Smooth: true,
      symbolic: true,
      inputs: [{ dims: [b, ch, ...h, n] }, { dims: [ch, ch, ...h, 3] }, { dims: [1, ch, ...h, 1] }],
      build: (g, [x, w, bias]) => {
        const gelu = g.op('Mul', [x!, g.op('Sigmoid', [g.op('Mul', [x!, g.scalar(1.702)])])]);
        const conv = g.op('Conv', [gelu, w!], { kernel_shape: [...h, 3], pads: twoD ? [0, 1, 0, 1] : [1, 1] });
        const residual = g.op('Add', [x!, g.op('Add', [conv, bias!])]);
        // Two reshapes of equal-shaped values get one symbolic length (as Enformer's pooling pairs do).
        return g.op('Mul', [g.op('Reshape', [residual, g.ints([0, 0, -1])]), g.op('Reshape', [conv, g.ints([0, 0, -1])])]);
      },
    };
  });
});

/** A Linear layer as the models write it (layers.ts `linear`): flatten, Gemm, the leading dims back from the input's shape. */
function linearLayer(g: Graph, x: Value, w: Value, channels: number, out: number): Value {
  const flat = g.op('Reshape', [x, g.ints([-1, channels])]);
  const y = g.op('Gemm', [flat, w], { transB: 1 });
  return g.op('Reshape', [y, g.op('Concat', [g.op('Shape', [x], { start: 0, end: -1 }), g.ints([out])], { axis: 0 })]);
}

/** Linear → tanh GELU → MatMul: elementwise ops on a value whose shape is read off another's at run time. */
function linearGeluBuild(channels: number, out: number) {
  return (g: Graph, [x, w, v]: Value[]) => {
    const y = linearLayer(g, x!, w!, channels, out);
    const inner = g.op('Mul', [g.op('Add', [y, g.op('Mul', [g.op('Pow', [y, g.scalar(3)]), g.scalar(0.044715)])]), g.scalar(0.79788456)]);
    const gelu = g.op('Mul', [g.op('Mul', [y, g.scalar(0.5)]), g.op('Add', [g.op('Tanh', [inner]), g.scalar(1)])]);
    return g.op('MatMul', [gelu, v!]);
  };
}

test('autodiff: a linear layer\'s shape read off its input (Reshape to Shape + [out], Gemm, MatMul) is known statically: gradients right, no run-time un-broadcasting', async () => {
  const arb = fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }));
  await property(arb, ([b, t, c, out, k]) => ({
    name: 'linear + GELU',
    dtype: 'float32',
    float32Smooth: true,
    symbolic: true,
    inputs: [{ dims: [b, t, c] }, { dims: [out, c] }, { dims: [out, k] }],
    build: linearGeluBuild(c, out),
  }));
  // The same graph with symbolic dims, differentiated w.r.t. x: every elementwise op's operands
  // provably have the result's shape, so no ReduceSum over run-time axes (NonZero) is emitted.
  const g = new Graph('linear');
  const inputs = [g.input('x', 'float32', ['batch', 'positions', 3]), g.input('w', 'float32', [5, 3]), g.input('v', 'float32', [5, 2])];
  const y = linearGeluBuild(3, 5)(g, inputs);
  const before = g.nodeList.length;
  backward(g, y, [inputs[0]!]);
  const added = g.nodeList.slice(before).map((n) => n.opType);
  assert.ok(!added.includes('NonZero') && !added.includes('ReduceSum'), `backward ops: ${added.join(' ')}`);
});

test('autodiff: x·σ(c·x) as one op (Enformer GELU), and left to the per-node rules when σ(c·x) is read elsewhere', async () => {
  const arb = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 7 }), fc.constantFrom(1.702, -0.5, 3), fc.boolean(), fc.boolean());
  await property(arb, ([b, n, c, shared, swapped]) => ({
    name: `gelu c=${c}${shared ? ' (σ shared)' : ''}`,
    dtype: 'float64',
    inputs: [{ dims: [b, n], kind: 'large' }],
    build: (g, [x]) => {
      const t = swapped ? g.op('Mul', [g.constant('float64', [], [c]), x!]) : g.op('Mul', [x!, g.constant('float64', [], [c])]);
      const s = g.op('Sigmoid', [t]);
      const y = swapped ? g.op('Mul', [s, x!]) : g.op('Mul', [x!, s]);
      return shared ? g.op('Add', [y, g.op('Mul', [s, s])]) : y;
    },
  }));
});

test('autodiff: Conv with few input channels (the stem on one-hot DNA) takes its input gradient as a product and shifted sums', async () => {
  const arb = fc.record({
    twoD: fc.boolean(),
    ...integers({ cin: [1, 8], cout: [1, 24], k: [1, 15], padA: [0, 14], padB: [0, 14], extra: [0, 12] }),
    symbolic: fc.boolean(),
  });
  await property(arb, (p) => {
    const padA = Math.min(p.padA, p.k - 1);
    const padB = Math.min(p.padB, p.k - 1);
    const length = Math.max(1, p.k - padA - padB) + p.extra;
    const h = p.twoD ? [1] : [];
    return {
      name: 'thin Conv',
      dtype: 'float32',
      // A symbolic height would not be known to be 1: the 2-D cases keep static dims.
      symbolic: p.symbolic && !p.twoD,
      inputs: [{ dims: [2, p.cin, ...h, length] }, { dims: [p.cout, p.cin, ...h, p.k], fixed: true }],
      build: (g, [x, w]) => g.op('Conv', [x!, w!], { kernel_shape: [...h, p.k], pads: p.twoD ? [0, padA, 0, padB] : [padA, padB] }),
    };
  });
  // The stem's shapes (2-D layout): no convolution in the input gradient, one product.
  const g = new Graph('stem');
  const x = g.input('dna', 'float32', [1, 4, 1, 64]);
  const y = g.op('Conv', [x, g.floats('w', [32, 4, 1, 15], new Float32Array(32 * 60).fill(0.1))], { kernel_shape: [1, 15], pads: [0, 7, 0, 7] });
  const before = g.nodeList.length;
  backward(g, y, [x]);
  const ops = g.nodeList.slice(before).map((n) => n.opType);
  assert.ok(!ops.includes('Conv') && ops.filter((o) => o === 'MatMul').length === 1, ops.join(', '));
});

test('autodiff: MaxPool (pairs as in Borzoi, blocks of 3 with an unread tail, and overlapping windows)', async () => {
  const arb = fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom([2, 2], [3, 3], [3, 1], [3, 2]));
  await property(arb, ([twoD, b, c, n, [k, s]]) => {
    const h = twoD ? [1] : [];
    return {
      name: 'MaxPool',
      dtype: 'float64',
      inputs: [{ dims: [b, c, ...h, n * 2 + k!], kind: 'distinct' }],
      build: (g, [x]) => g.op('MaxPool', [x!], { kernel_shape: [...h, k!], strides: [...h, s!] }),
    };
  });
});

test('autodiff: MaxPool ties send the gradient to the first maximum (as PyTorch)', async () => {
  const g = new Graph('ties');
  const x = g.input('x', 'float32', [1, 1, 4]);
  const y = g.op('MaxPool', [x], { kernel_shape: [2], strides: [2] });
  const [gx] = backward(g, y, [x]);
  g.output(gx!, 'gx', 'float32', [1, 1, 4]);
  const s = await session(g);
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([3, 3, -1, -1]), [1, 1, 4]) });
  assert.deepEqual([...(out.gx!.data as Float32Array)], [1, 0, 1, 0]);
  // Blocks of 3, a three-way tie, and a last position no block reads.
  const g3 = new Graph('ties3');
  const x3 = g3.input('x', 'float32', [1, 1, 7]);
  const [gx3] = backward(g3, g3.op('MaxPool', [x3], { kernel_shape: [3], strides: [3] }), [x3]);
  g3.output(gx3!, 'gx', 'float32', [1, 1, 7]);
  const out3 = await (await session(g3)).run({ x: new ort.Tensor('float32', Float32Array.from([2, 5, 5, 1, 1, 1, 7]), [1, 1, 7]) });
  assert.deepEqual([...(out3.gx!.data as Float32Array)], [0, 1, 0, 1, 0, 0, 0]);
});

test('autodiff: MaxPool in float32 (ORT has MaxUnpool only for float): windows that do not overlap unpool, overlapping ones scatter; the same gradient as float64', async () => {
  const random = rng(7);
  for (const [twoD, k, s, n] of [[false, 2, 2, 6], [true, 2, 2, 5], [false, 3, 3, 4], [true, 3, 2, 4]] as const) {
    const h = twoD ? [1] : [];
    // Blocks of 3 leave an unread tail (n · 3 + 1 positions).
    const dims = [2, 3, ...h, n * s + (k === s ? 1 : k - s)];
    const size = dims.reduce((a, b) => a * b, 1);
    // A random permutation of distinct values: one maximum per window.
    const x = Array.from({ length: size }, (_, i) => i * 0.25).sort(() => random() - 0.5);
    const grads: number[][] = [];
    for (const dtype of ['float32', 'float64'] as const) {
      const g = new Graph(`maxpool_${dtype}`);
      const xv = g.input('x', dtype, dims);
      const y = g.op('MaxPool', [xv], { kernel_shape: [...h, k], strides: [...h, s] });
      const yDims = [2, 3, ...h, Math.floor((dims.at(-1)! - k) / s) + 1];
      const seed = g.input('seed', dtype, yDims);
      const [gx] = backward(g, y, [xv], { seed, dtype });
      g.output(gx!, 'gx', dtype, dims);
      const ops = new Set(g.nodeList.map((node) => node.opType));
      if (dtype === 'float32') assert.equal(ops.has('MaxUnpool'), k === s, `k ${k} s ${s}: ${[...ops].join(', ')}`);
      else assert.ok(!ops.has('MaxUnpool'), 'no double MaxUnpool in ORT');
      const seedData = Array.from({ length: yDims.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7) - 3);
      const out = await (await session(g)).run({ x: tensor(dtype, dims, x), seed: tensor(dtype, yDims, seedData) });
      grads.push([...(out.gx!.data as Float32Array | Float64Array)]);
    }
    assert.deepEqual(grads[0], grads[1], `k ${k} s ${s}${twoD ? ' 2-D' : ''}`);
  }
});

test('autodiff: Reshape, Transpose, Squeeze, Unsqueeze, Flatten, Expand', async () => {
  await property(anyRank(2, 4).chain((d) => fc.tuple(fc.constant(d), fc.shuffledSubarray(d.map((_, i) => i), { minLength: d.length, maxLength: d.length }))), ([d, perm]) => ({
    name: 'shape ops',
    dtype: 'float64',
    inputs: [{ dims: d }],
    build: (g, [x]) => {
      const t = g.op('Transpose', [x!], { perm });
      const u = g.op('Unsqueeze', [t, g.ints([0, -1])]);
      const r = g.op('Reshape', [u, g.ints([0, -1])]);
      const sq = g.op('Squeeze', [g.op('Unsqueeze', [r, g.ints([1])]), g.ints([1])]);
      const e = g.op('Expand', [g.op('Unsqueeze', [sq, g.ints([1])]), g.ints([1, 3, 1])]);
      return g.op('Mul', [g.op('Flatten', [e], { axis: 1 }), g.op('Flatten', [e], { axis: 1 })]);
    },
  }));
});

test('autodiff: Slice with negative, clamped and run-time starts', async () => {
  const arb = anyRank(1, 3, 6).chain((d) =>
    fc.tuple(fc.constant(d), fc.integer({ min: 0, max: d.length - 1 }), fc.integer({ min: -8, max: 8 }), fc.integer({ min: -8, max: 8 }), fc.boolean()),
  );
  await property(arb, ([d, axis, start, end, negativeAxis]) => ({
    name: 'Slice',
    dtype: 'float64',
    inputs: [{ dims: d }],
    build: (g, [x]) => {
      // The start is computed at run time (as attention's row chunks are), the end is a constant.
      const runtimeStart = g.op('Sub', [g.op('Shape', [x!], { start: axis, end: axis + 1 }), g.ints([d[axis]! - start])]);
      const sliced = g.op('Slice', [x!, runtimeStart, g.ints([end]), g.ints([negativeAxis ? axis - d.length : axis])]);
      return g.op('Concat', [sliced, g.op('Slice', [x!, g.ints([0]), g.ints([1]), g.ints([axis])])], { axis });
    },
  }));
});

// A slice along one axis gets its gradient by concatenating zero blocks (the test above, empty
// slices included), along several by one Pad: here non-empty slices of two axes, negative starts
// and clamped ends among them.
test('autodiff: Slice along two axes at once', async () => {
  const bounds = (d: number) => fc.tuple(fc.integer({ min: 0, max: d - 1 }), fc.integer({ min: 1, max: d + 2 }), fc.boolean()).map(([s, len, negative]) => [negative ? s - d : s, s + len] as const);
  const arb = anyRank(2, 3, 5).chain((d) => fc.tuple(fc.constant(d), bounds(d[0]!), bounds(d[d.length - 1]!)));
  await property(arb, ([d, [s0, e0], [s1, e1]]) => ({
    name: 'Slice (2 axes)',
    dtype: 'float64',
    inputs: [{ dims: d }],
    build: (g, [x]) => {
      const sliced = g.op('Slice', [x!, g.ints([s0, s1]), g.ints([e0, e1]), g.ints([0, d.length - 1])]);
      return g.op('Concat', [g.op('Reshape', [g.op('Mul', [sliced, sliced]), g.ints([-1])]), g.op('Reshape', [x!, g.ints([-1])])], { axis: 0 });
    },
  }));
});

test('autodiff: Pad (constant) and Concat / Split along a random axis', async () => {
  const arb = anyRank(1, 4).chain((d) => fc.tuple(fc.constant(d), fc.integer({ min: 0, max: d.length - 1 }), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 2 * d.length, maxLength: 2 * d.length })));
  await property(arb, ([d, axis, pads]) => ({
    name: 'Pad/Concat/Split',
    dtype: 'float64',
    inputs: [{ dims: d }, { dims: d.map((v, i) => (i === axis ? v + 1 : v)) }],
    build: (g, [x, y]) => {
      const padded = g.op('Pad', [x!, g.ints(pads)]);
      const joined = g.op('Concat', [x!, y!, x!], { axis: axis - d.length });
      const [, second] = g.opMulti('Split', [joined, g.ints([d[axis]!, 2 * d[axis]! + 1])], 2, { axis });
      return g.op('Concat', [g.op('Reshape', [padded, g.ints([-1])]), g.op('Reshape', [g.op('Mul', [second!, second!]), g.ints([-1])])], { axis: 0 });
    },
  }));
});

test('autodiff: ReduceSum and ReduceMean over random axes, with and without keepdims', async () => {
  const arb = anyRank(1, 4).chain((d) => fc.tuple(fc.constant(d), fc.subarray(d.map((_, i) => i)), fc.constantFrom(0, 1), fc.boolean()));
  await property(arb, ([d, axes, keepdims, mean]) => ({
    name: mean ? 'ReduceMean' : 'ReduceSum',
    dtype: 'float64',
    inputs: [{ dims: d }],
    build: (g, [x]) => {
      const sq = g.op('Mul', [x!, x!]);
      if (mean) return g.op('ReduceMean', [sq], axes.length ? { axes, keepdims } : { keepdims });
      return axes.length ? g.op('ReduceSum', [sq, g.ints(axes)], { keepdims }) : g.op('ReduceSum', [sq], { keepdims });
    },
  }));
});

test('autodiff: Where (both branches) and a value used by several consumers', async () => {
  await property(anyRank(1, 3), (d) => ({
    name: 'Where',
    dtype: 'float64',
    inputs: [{ dims: d, kind: 'awayFromZero' }, { dims: d }],
    build: (g, [x, y]) => {
      const cond = g.op('Greater', [x!, g.constant('float64', [], [0])]);
      return g.op('Add', [g.op('Where', [cond, g.op('Mul', [x!, y!]), y!]), g.op('Mul', [x!, x!])]);
    },
  }), 6);
});

test('autodiff: gradients w.r.t. initializers (parameters), and zeros for an unused wrt', async () => {
  const g = new Graph('params');
  const x = g.input('x', 'float32', [2, 3]);
  const w = g.floats('w', [4, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const b = g.floats('b', [4], [0.5, -0.5, 1, -1]);
  const unused = g.floats('unused', [2], [1, 1]);
  const y = g.op('Gemm', [x, w, b], { transB: 1 });
  const [gw, gb, gu] = backward(g, y, [w, b, unused]);
  g.output(gw!, 'gw', 'float32', [4, 3]);
  g.output(gb!, 'gb', 'float32', [4]);
  g.output(gu!, 'gu', 'float32', [2]);
  const s = await session(g);
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]) });
  // d Σ y / d w[o, i] = Σ_b x[b, i]; d Σ y / d b[o] = batch size.
  assert.deepEqual([...(out.gw!.data as Float32Array)], [5, 7, 9, 5, 7, 9, 5, 7, 9, 5, 7, 9]);
  assert.deepEqual([...(out.gb!.data as Float32Array)], [2, 2, 2, 2]);
  assert.deepEqual([...(out.gu!.data as Float32Array)], [0, 0]);
});

test('autodiff: an op without a rule is refused by name', () => {
  const g = new Graph('norule');
  const x = g.input('x', 'float32', [3]);
  const y = g.op('Atan', [x]);
  assert.throws(() => backward(g, y, [x]), /no gradient rule for Atan/);
});

test('autodiff: Reciprocal, Erf, Abs, Cos, Sin (AlphaGenome: rsqrt, erf GELU)', async () => {
  const ops: [string, CaseInput['kind'], Float][] = [['Reciprocal', 'large', 'float64'], ['Erf', 'any', 'float32'], ['Abs', 'awayFromZero', 'float64'], ['Cos', 'large', 'float64'], ['Sin', 'large', 'float64']];
  for (const [op, kind, dtype] of ops) {
    await property(anyRank(1, 3), (d) => ({ name: op, dtype, inputs: [{ dims: d, kind }], build: (g, [x]) => g.op(op, [x!]), float32Smooth: dtype === 'float32' }), 4);
  }
});

test('autodiff: Pow w.r.t. base and exponent with broadcasting', async () => {
  await property(fc.tuple(broadcastPair, fc.boolean()), ([[a, b], symbolic]) => ({
    name: 'Pow',
    dtype: 'float64',
    symbolic,
    // A positive base keeps a^b real for every exponent (and ln a finite for d/d exponent).
    inputs: [{ dims: a!, kind: 'positive' }, { dims: b! }],
    build: (g, [x, y]) => g.op('Pow', [x!, y!]),
  }), 8);
});

test('autodiff: Pow at a zero base takes the limit (AlphaGenome squashing x^(4/3) of a clipped 0)', async () => {
  const g = new Graph('pow0');
  const x = g.input('x', 'float32', [3]);
  const y = g.op('Pow', [x, g.scalar(1 / 0.75)]);
  const [gx] = backward(g, y, [x]);
  g.output(gx!, 'gx', 'float32', [3]);
  const s = await session(g);
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([0, 1, 8]), [3]) });
  // d x^(4/3) = 4/3 · x^(1/3): 0, 4/3, 8/3.
  const got = [...(out.gx!.data as Float32Array)];
  [0, 4 / 3, 8 / 3].forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-6, `Pow gradient at ${[0, 1, 8][i]}: ${got[i]} vs ${v}`));
});

test('autodiff: GatherElements (repeated and negative indices sum their gradients)', async () => {
  const arb = anyRank(1, 3).chain((d) => fc.tuple(fc.constant(d), fc.integer({ min: 0, max: d.length - 1 }), fc.integer({ min: 1, max: 5 }), fc.array(fc.nat(), { minLength: 64, maxLength: 64 })));
  await property(arb, ([d, axis, count, draws]) => {
    const shape = d.map((v, i) => (i === axis ? count : v));
    const size = shape.reduce((p, q) => p * q, 1);
    // Indices in [-n, n): negative ones count from the end, as ONNX allows.
    const n = d[axis]!;
    const indices = Array.from({ length: size }, (_, i) => (draws[i % draws.length]! % (2 * n)) - n);
    return {
      name: 'GatherElements',
      dtype: 'float64',
      inputs: [{ dims: d }],
      build: (g, [x]) => {
        const picked = g.op('GatherElements', [x!, g.ints(indices, shape)], { axis });
        return g.op('Mul', [picked, picked]);
      },
    };
  });
});

test('autodiff: Sign passes no gradient (x·sign(x) = |x|), and inactive paths need no rules', async () => {
  await property(anyRank(1, 3), (d) => ({
    name: 'Sign',
    dtype: 'float64',
    inputs: [{ dims: d, kind: 'awayFromZero' }],
    build: (g, [x]) => g.op('Mul', [x!, g.op('Sign', [x!])]),
  }), 4);
  // A table from positions (Range → Cast → Atan, an op without a rule) scales x: only x is active.
  // (Its rank, which un-broadcasting reads, is stated by the Reshape.)
  const g = new Graph('inactive');
  const x = g.input('x', 'float32', [4]);
  const n = g.op('Squeeze', [g.op('Shape', [x]), g.ints([0])]);
  const angles = g.op('Atan', [g.op('Cast', [g.op('Range', [g.ints([0], []), n, g.ints([1], [])])], { to: 1 })]);
  const table = g.op('Reshape', [angles, g.ints([-1])]);
  const [gx] = backward(g, g.op('Mul', [x, table]), [x]);
  g.output(gx!, 'gx', 'float32', [4]);
  const s = await session(g);
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([5, 6, 7, 8]), [4]) });
  const got = [...(out.gx!.data as Float32Array)];
  [0, 1, 2, 3].forEach((i) => assert.ok(Math.abs(got[i]! - Math.atan(i)) < 1e-6));
});
