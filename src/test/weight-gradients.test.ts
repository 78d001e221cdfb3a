/**
 * models/weight-gradients.ts: a convolution's weight gradient built as a GEMM over the input's
 * shifted copies equals the autodiff rule's (a convolution with the cotangent as kernel), for random
 * 1-D and 2-D (height 1) convolutions with any kernel, padding, dilation and batch, weights read
 * through a Reshape or directly; grouped and strided convolutions, which keep the rule, too. Both
 * are float32 sums of the same products in another order: the tolerance is relative to a bound on
 * the sum of the terms' magnitudes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { Graph } from '../engine/graph.js';
import { backward } from '../engine/autodiff.js';
import { weightGradients } from '../models/weight-gradients.js';
import { rng } from './genome-files.js';

interface ConvCase {
  spatial: 1 | 2;
  batch: number;
  cin: number;
  cout: number;
  k: number;
  dilation: number;
  before: number;
  after: number;
  length: number;
  group: number;
  stride: number;
  reshaped: boolean;
  seed: number;
}

/** Uniform in [-0.5, 0.5), from the tests' seeded generator. */
function random(seed: number): () => number {
  const next = rng(seed);
  return () => next() - 0.5;
}

async function check(c: ConvCase): Promise<void> {
  const g = new Graph('conv');
  const xDims = c.spatial === 2 ? [c.batch, c.cin, 1, c.length] : [c.batch, c.cin, c.length];
  const stored = [c.cout, c.cin / c.group, c.k];
  const x = g.input('x', 'float32', xDims);
  const w = g.input('w', 'float32', stored);
  const kernelDims = c.spatial === 2 ? [c.cout, c.cin / c.group, 1, c.k] : stored;
  const weight = c.reshaped || c.spatial === 2 ? g.op('Reshape', [w, g.ints(kernelDims)]) : w;
  const attrs = {
    kernel_shape: c.spatial === 2 ? [1, c.k] : [c.k],
    pads: c.spatial === 2 ? [0, c.before, 0, c.after] : [c.before, c.after],
    dilations: c.spatial === 2 ? [1, c.dilation] : [c.dilation],
    strides: c.spatial === 2 ? [1, c.stride] : [c.stride],
    group: c.group,
  };
  // A nonlinearity after the convolution, so that the cotangent at its output varies.
  const y = g.op('Tanh', [g.op('Conv', [x, weight], attrs)]);
  const viaGemm = weightGradients(g, [y], [{ input: 'w', shape: stored }]).weights[0]!;
  const [viaRule] = backward(g, y, [w]);
  g.output(viaGemm, 'gemm', 'float32', stored);
  g.output(viaRule!, 'rule', 'float32', stored);
  const session = await ort.InferenceSession.create(g.toModel());
  const rand = random(c.seed);
  const xData = Float32Array.from({ length: xDims.reduce((a, b) => a * b, 1) }, rand);
  const wData = Float32Array.from({ length: stored.reduce((a, b) => a * b, 1) }, () => rand() / Math.sqrt(c.k * c.cin));
  const out = await session.run({ x: new ort.Tensor('float32', xData, xDims), w: new ort.Tensor('float32', wData, stored) });
  const gemm = out.gemm!.data as Float32Array;
  const rule = out.rule!.data as Float32Array;
  // Each weight's gradient sums at most B·L products |dy·x| ≤ max|x| (|dy| ≤ 1 after tanh): float32
  // round-off of either order is within a few 1e-7 of that sum.
  const bound = 1e-5 * c.batch * c.length * Math.max(...Array.from(xData, Math.abs));
  for (let i = 0; i < rule.length; i++) assert.ok(Math.abs(gemm[i]! - rule[i]!) <= bound, `${JSON.stringify(c)}: weight ${i}: ${gemm[i]} vs ${rule[i]}`);
  await session.release();
}

test('weight gradients: a convolution weight gradient as one GEMM equals the autodiff rule (random 1-D and 2-D convolutions)', async () => {
  const arb = fc
    .record({
      spatial: fc.constantFrom<1 | 2>(1, 2),
      batch: fc.integer({ min: 1, max: 2 }),
      cin: fc.constantFrom(2, 3, 4),
      cout: fc.constantFrom(2, 4, 5),
      k: fc.constantFrom(1, 2, 3, 5),
      dilation: fc.integer({ min: 1, max: 3 }),
      padFraction: fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
      length: fc.integer({ min: 12, max: 40 }),
      grouped: fc.boolean(),
      strided: fc.boolean(),
      reshaped: fc.boolean(),
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    })
    .map(({ padFraction, grouped, strided, ...r }): ConvCase => {
      const span = r.dilation * (r.k - 1);
      // A grouped or strided convolution keeps the rule: exercised on a fraction of the cases.
      const group = grouped && r.cin % 2 === 0 && r.cout % 2 === 0 ? 2 : 1;
      return { ...r, group, stride: strided ? 2 : 1, before: Math.round(padFraction[0] * span), after: Math.round(padFraction[1] * span) };
    });
  await fc.assert(fc.asyncProperty(arb, check), { numRuns: 40, seed: 7 });
});
