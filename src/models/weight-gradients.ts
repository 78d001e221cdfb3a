/**
 * Gradients w.r.t. weights that are graph inputs, for training graphs. `backward()` gives every
 * weight's gradient by its op rules, but its rule for a convolution's weight is a convolution of
 * the input with the whole cotangent as the kernel, which ONNX Runtime runs as a GEMM with as many
 * columns as the kernel has taps (5 or 1): measured on this project's shapes (x [1, 768, 1, 16384],
 * W [896, 768, 1, 5]; and a 1×1 conv of 1,536 channels at 2,048 positions) 4–10× slower than the
 * same product as one GEMM over the input's shifted copies. So here a full-mixing, unstrided
 * convolution's weight gradient is built as that GEMM from the gradient w.r.t. the convolution's
 * output (which `backward()` gives as for any intermediate value):
 *   dW[o, i, t] = Σ_{b, l} dy[b, o, l] · x_pad[b, i, l + t·d]
 *              = (dy as [Cout, B·L]) · (the k shifted inputs stacked as [Cin·k, B·L])ᵀ.
 * Every other weight (biases, norms, linears, grouped or strided convolutions) goes by its rule.
 */
import { backward } from '../engine/autodiff.js';
import type { Graph, NodeSpec, Value } from '../engine/graph.js';

/**
 * d Σ <seed, output> / d each of `weights` (graph inputs of `g`, with their stored shapes) and
 * d / d each of `extra` (other values), in that order.
 */
export function weightGradients(
  g: Graph,
  outputs: Value[],
  weights: { input: string; shape: number[] }[],
  opts: { seed?: Value[]; extra?: Value[] } = {},
): { weights: Value[]; extra: Value[] } {
  const convs = gemmConvolutions(g, new Set(weights.map((w) => w.input)));
  const byRule = weights.filter((w) => !convs.has(w.input));
  const convList = [...convs];
  const grads = backward(g, outputs, [...byRule.map((w) => ({ name: w.input })), ...convList.map(([, n]) => ({ name: n.outputs[0]! })), ...(opts.extra ?? [])], { seed: opts.seed });
  const result = new Map<string, Value>(byRule.map((w, i) => [w.input, grads[i]!]));
  convList.forEach(([input, n], i) => {
    const shape = weights.find((w) => w.input === input)!.shape;
    result.set(input, convWeightGradient(g, n, grads[byRule.length + i]!, shape));
  });
  return { weights: weights.map((w) => result.get(w.input)!), extra: grads.slice(byRule.length + convList.length) };
}

/**
 * The convolutions whose weight is one of `inputs` (directly or through one Reshape) read nowhere
 * else, with group 1, stride 1 and a kernel along the last axis only: weight input -> its Conv node.
 */
function gemmConvolutions(g: Graph, inputs: Set<string>): Map<string, NodeSpec> {
  const nodes = g.nodeList;
  const uses = new Map<string, number>();
  for (const n of nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  const producer = new Map<string, NodeSpec>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const result = new Map<string, NodeSpec>();
  for (const n of nodes) {
    if (n.opType !== 'Conv' || uses.get(n.inputs[1]!) !== 1) continue;
    let weight = n.inputs[1]!;
    const reshape = producer.get(weight);
    if (reshape?.opType === 'Reshape') weight = reshape.inputs[0]!;
    if (!inputs.has(weight) || uses.get(weight) !== 1 || result.has(weight)) continue;
    const kernel = n.attrs.kernel_shape as number[] | undefined;
    const pads = (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0];
    const dilations = (n.attrs.dilations as number[] | undefined) ?? [1, 1];
    const strides = (n.attrs.strides as number[] | undefined) ?? [];
    if (!kernel || (kernel.length !== 1 && kernel.length !== 2)) continue;
    // 2-D: height 1 throughout (the '2d' layout's 1-D convolutions).
    if (kernel.length === 2 && (kernel[0] !== 1 || pads[0] !== 0 || pads[2] !== 0 || dilations[0] !== 1)) continue;
    if (Number(n.attrs.group ?? 1) !== 1 || strides.some((s) => s !== 1) || (n.attrs.auto_pad ?? 'NOTSET') !== 'NOTSET') continue;
    result.set(weight, n);
  }
  return result;
}

/** dW of convolution `n` (see the module comment) from dy = d / d its output, reshaped to the weight's stored `shape`. */
function convWeightGradient(g: Graph, n: NodeSpec, dy: Value, shape: number[]): Value {
  const kernel = n.attrs.kernel_shape as number[];
  const spatial = kernel.length;
  const k = kernel[spatial - 1]!;
  const pads = (n.attrs.pads as number[] | undefined) ?? Array<number>(2 * spatial).fill(0);
  const [before, after] = [pads[spatial - 1]!, pads[2 * spatial - 1]!];
  const d = ((n.attrs.dilations as number[] | undefined) ?? [])[spatial - 1] ?? 1;
  const cout = shape[0]!;
  const cinTaps = shape.slice(1).reduce((a, b) => a * b, 1);
  // Both as [B, C, 1, L]: a 1-D convolution's tensors get the height axis the 2-D layout has.
  const x4 = spatial === 1 ? g.op('Unsqueeze', [{ name: n.inputs[0]! }, g.ints([2])]) : { name: n.inputs[0]! };
  const dy4 = spatial === 1 ? g.op('Unsqueeze', [dy, g.ints([2])]) : dy;
  let taps: Value = x4;
  if (k > 1 || before > 0 || after > 0) {
    const padded = before > 0 || after > 0 ? g.op('Pad', [x4, g.ints([0, 0, 0, before, 0, 0, 0, after])]) : x4;
    const length = g.op('Shape', [dy4], { start: 3, end: 4 });
    const shifted = Array.from({ length: k }, (_, t) => g.op('Slice', [padded, g.ints([t * d]), g.op('Add', [length, g.ints([t * d])]), g.ints([3])]));
    // The taps stacked on the height axis: [B, Cin, k, L], i.e. rows (i, t) once batch is moved.
    taps = k > 1 ? g.op('Concat', shifted, { axis: 2 }) : shifted[0]!;
  }
  const x = g.op('Reshape', [g.op('Transpose', [taps], { perm: [1, 2, 0, 3] }), g.ints([cinTaps, -1])]);
  const grad = g.op('Reshape', [g.op('Transpose', [dy4], { perm: [1, 0, 2, 3] }), g.ints([cout, -1])]);
  return g.op('Reshape', [g.op('Gemm', [grad, x], { transB: 1 }), g.ints(shape)]);
}
