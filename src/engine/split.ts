/**
 * Splits a graph that holds a forward pass and its backward (as `backward()` appends it) into two
 * graphs run one after the other, so the backward does not recompute the forward:
 * - forward: every node that does not depend on the backward's seeds (the cotangent inputs), with
 *   the original seed-independent outputs plus the *saved* values as outputs;
 * - backward: the nodes that depend on the seeds, reading the saved values as inputs.
 * Which forward values are saved is a trade between memory and time: the backward reads a forward
 * value either as a saved input, or by recomputing it from values it has. Expensive nodes (by
 * `expensive`, default: convolutions and matrix products with a long reduction) are saved; cheap ones
 * (elementwise ops, normalisations, reshapes, short reductions like depthwise or stem convs) are
 * recomputed inside the backward from what it has. Shapes the backward reads are first rewritten
 * as arithmetic on the inputs' shapes (`shapesByAlgebra`); a Shape read that remains is saved: a few
 * integers, where recomputing them could mean recomputing the tensor itself.
 */
import { staticFacts, type StaticFacts } from './autodiff.js';
import { Graph, type DType, type Dim, type NodeSpec } from './graph.js';
import { shapesByAlgebra } from './shape-algebra.js';

export interface SplitOptions {
  /** Graph inputs the backward starts from (the cotangents): what the forward graph must not read. */
  seeds: string[];
  /** Whether a forward node's outputs are saved rather than recomputed (default `isExpensive`). */
  expensive?: (node: NodeSpec, facts: StaticFacts, graph: Graph) => boolean;
}

export interface SplitGraphs {
  forward: Graph;
  backward: Graph;
  /** Values the forward outputs and the backward takes as inputs, in output order. */
  saved: { name: string; dtype: DType; rank: number }[];
  /** The original graph's inputs (besides seeds) the backward reads: fed to both runs. */
  backwardInputs: string[];
}

/**
 * Reductions shorter than this are recomputed (a depthwise conv, a stem conv on 4 bases, q·kᵀ per
 * head, 1×1 convs of < 1,024 channels; not Enformer's residual 1×1 convs, the add onto them is saved,
 * see `addsToProduct`, nor its attention-pool gates, whose sigmoid is saved, see `gatesProduct`).
 * Measured trade (BENCHMARKS.md): recomputing a conv output costs ~2K FLOPs per value; keeping it
 * costs 4 bytes of memory, or a write and a read of the spill file, which at ~300 MB/s breaks even
 * near K = 1,000.
 */
const SHORT_REDUCTION = 1024;

/**
 * Default cost rule: Conv, MatMul and Gemm whose reduction (input channels per group × kernel taps,
 * or the inner dimension) is at least `SHORT_REDUCTION`, or not known statically (then a MatMul of
 * two computed values counts as cheap).
 */
export function isExpensive(n: NodeSpec, facts: StaticFacts, graph: Graph): boolean {
  const dims = (name: string) => graph.initializerSpec(name)?.dims ?? facts.shapeOf(name);
  switch (n.opType) {
    case 'Conv': {
      const w = dims(n.inputs[1]!);
      if (!w || w.slice(1).some((d) => typeof d !== 'number')) return true;
      return (w.slice(1) as number[]).reduce((a, b) => a * b, 1) >= SHORT_REDUCTION;
    }
    case 'MatMul': {
      const b = dims(n.inputs[1]!);
      const k = b && b.length >= 2 ? b[b.length - 2] : undefined;
      if (typeof k === 'number') return k >= SHORT_REDUCTION;
      // A product of two computed values (attention's q·kᵀ, its relative-position logits) is larger
      // than its operands and cheap next to the projections that made them: recompute it.
      const computed = (name: string) => !graph.inputSpec(name) && !graph.initializerSpec(name);
      return !(computed(n.inputs[0]!) && computed(n.inputs[1]!));
    }
    case 'Gemm':
    case 'ConvTranspose':
      return true;
  }
  return false;
}

const SHAPE_OPS = new Set(['Shape', 'Size']);
const PRODUCT_OPS = new Set(['Conv', 'MatMul', 'Gemm', 'ConvTranspose']);

export function splitForwardBackward(unsplit: Graph, opts: SplitOptions): SplitGraphs {
  // Shapes from the inputs' shapes: a Shape read of an activation, saved or in the backward, would
  // keep the activation alive (shape-algebra.ts).
  const graph = shapesByAlgebra(unsplit);
  const expensive = opts.expensive ?? isExpensive;
  const facts = staticFacts(graph);
  const nodes = graph.nodeList;
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
  for (const s of opts.seeds) if (!graph.inputSpec(s)) throw new Error(`split: seed '${s}' is not an input of graph ${graph.name}`);

  // Values that depend on a seed, and so on the backward.
  const late = new Set(opts.seeds);
  const isLate = nodes.map((n) => {
    const dependent = n.inputs.some((i) => late.has(i));
    if (dependent) n.outputs.forEach((o) => late.add(o));
    return dependent;
  });

  const outputs = graph.outputList;
  const backwardOutputs = outputs.filter((o) => late.has(o.name));
  const forwardOutputs = outputs.filter((o) => !late.has(o.name));

  // An Add onto a layer's product (a residual or bias add onto a dense convolution, or onto an
  // expensive matrix product) is saved itself rather than recomputed: the backward reads the sum (the
  // next layer's input), not the product, so one tensor is kept either way, the backward redoes
  // neither the add nor the product (a 1×1 convolution below the reduction threshold would be
  // recomputed for it), and the forward keeps ONNX Runtime's fused Conv+Add kernel, which an output
  // taken between the two would break. Not onto products of two computed values (attention logits).
  const layerProduct = (n: NodeSpec) => (n.opType === 'Conv' && Number(n.attrs.group ?? 1) === 1) || (PRODUCT_OPS.has(n.opType) && expensive(n, facts, graph));
  const addsToProduct = (n: NodeSpec) =>
    n.opType === 'Add' &&
    n.inputs.some((i) => {
      const p = producer.get(i);
      return p !== undefined && !isLate[p] && layerProduct(nodes[p]!);
    });

  // A Sigmoid that is the only reader of a layer's product (Enformer's attention-pool gates) is saved
  // itself rather than the product: its backward reads only its own output, so one tensor is kept
  // either way, the backward recomputes neither the sigmoid nor the product (a 1×1 convolution
  // below the reduction threshold, e.g. the 768-channel gates, would be recomputed for it), and the
  // forward keeps ONNX Runtime's fused Conv+Sigmoid kernel.
  const readers = new Map<string, number>();
  for (const n of nodes) for (const i of n.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
  const gatesProduct = (n: NodeSpec) => {
    if (n.opType !== 'Sigmoid') return false;
    const p = producer.get(n.inputs[0]!);
    return p !== undefined && !isLate[p] && layerProduct(nodes[p]!) && readers.get(n.inputs[0]!) === 1;
  };

  // The backward's nodes: seed-dependent ones it needs, plus cheap forward nodes it recomputes.
  const inBackward = new Set<number>();
  const saved = new Set<string>();
  const backwardInputs = new Set<string>();
  const stack = backwardOutputs.map((o) => o.name);
  const visited = new Set<string>();
  while (stack.length) {
    const v = stack.pop()!;
    if (v === '' || visited.has(v)) continue;
    visited.add(v);
    if (graph.initializerSpec(v)) continue;
    if (graph.inputSpec(v)) {
      if (!late.has(v)) backwardInputs.add(v);
      continue;
    }
    const at = producer.get(v);
    if (at === undefined) throw new Error(`split: '${v}' has no producer in graph ${graph.name}`);
    const n = nodes[at]!;
    if (!isLate[at] && (SHAPE_OPS.has(n.opType) || expensive(n, facts, graph) || addsToProduct(n) || gatesProduct(n))) {
      saved.add(v);
      continue;
    }
    inBackward.add(at);
    stack.push(...n.inputs);
  }

  // The forward's nodes: what its outputs and the saved values need.
  const inForward = new Set<number>();
  const need = [...forwardOutputs.map((o) => o.name), ...saved];
  const seen = new Set<string>();
  while (need.length) {
    const v = need.pop()!;
    if (v === '' || seen.has(v)) continue;
    seen.add(v);
    const at = producer.get(v);
    if (at === undefined) continue;
    inForward.add(at);
    need.push(...nodes[at]!.inputs);
  }

  const dtypes = new Map<string, DType>();
  const dtypeOf = (name: string): DType => {
    const known = dtypes.get(name) ?? graph.inputSpec(name)?.dtype ?? graph.initializerSpec(name)?.dtype;
    if (known) return known;
    const n = nodes[producer.get(name)!]!;
    const t = nodeDtype(n, dtypeOf);
    dtypes.set(name, t);
    return t;
  };
  // A saved value that is also a forward output travels under a second name (an output is named once).
  const alias = (name: string) => (forwardOutputs.some((o) => o.name === name) ? `saved:${name}` : name);
  const savedList = [...saved]
    .sort((a, b) => producer.get(a)! - producer.get(b)!)
    .map((value) => ({ value, name: alias(value), dtype: dtypeOf(value), rank: facts.rank(value) }));
  const symbolic = (name: string, rank: number): Dim[] => Array.from({ length: rank }, (_, i) => `${name}_d${i}`);

  const forward = new Graph(`${graph.name}_forward`);
  const backward = new Graph(`${graph.name}_backward`);
  const copyInputsAndInitializers = (g: Graph, part: Set<number>, extraInputs: Iterable<string>) => {
    const reads = new Set<string>(extraInputs);
    for (const at of part) for (const i of nodes[at]!.inputs) reads.add(i);
    for (const i of graph.inputList) if (reads.has(i.name)) g.input(i.name, i.dtype, [...i.shape]);
    for (const name of reads) {
      const spec = graph.initializerSpec(name);
      if (spec) g.initializer(name, spec);
    }
  };
  copyInputsAndInitializers(forward, inForward, forwardOutputs.map((o) => o.name));
  nodes.forEach((n, at) => inForward.has(at) && forward.copyNode(n));
  for (const o of forwardOutputs) forward.declareOutput(o.name, o.dtype, [...o.shape]);
  for (const s of savedList) {
    if (s.name !== s.value) forward.op('Identity', [{ name: s.value }], {}, s.name);
    forward.declareOutput(s.name, s.dtype, symbolic(s.name, s.rank));
  }

  for (const s of opts.seeds) {
    const spec = graph.inputSpec(s)!;
    backward.input(s, spec.dtype, [...spec.shape]);
  }
  for (const s of savedList) {
    backward.input(s.name, s.dtype, symbolic(s.name, s.rank));
    if (s.name !== s.value) backward.op('Identity', [{ name: s.name }], {}, s.value);
  }
  const reads = new Set<string>();
  for (const at of inBackward) for (const i of nodes[at]!.inputs) reads.add(i);
  for (const i of graph.inputList) if (reads.has(i.name) && !opts.seeds.includes(i.name)) backward.input(i.name, i.dtype, [...i.shape]);
  for (const name of reads) {
    const spec = graph.initializerSpec(name);
    if (spec) backward.initializer(name, spec);
  }
  nodes.forEach((n, at) => inBackward.has(at) && backward.copyNode(n));
  for (const o of backwardOutputs) backward.declareOutput(o.name, o.dtype, [...o.shape]);

  return { forward, backward, saved: savedList.map(({ name, dtype, rank }) => ({ name, dtype, rank })), backwardInputs: graph.inputList.map((i) => i.name).filter((n) => backwardInputs.has(n)) };
}

/** Element type of a node's first output from its inputs' (the ops the models and rules emit). */
function nodeDtype(n: NodeSpec, dtypeOf: (name: string) => DType): DType {
  switch (n.opType) {
    case 'Shape':
    case 'Size':
    case 'NonZero':
    case 'ArgMax':
    case 'ArgMin':
      return 'int64';
    case 'Equal':
    case 'Greater':
    case 'Less':
    case 'GreaterOrEqual':
    case 'LessOrEqual':
    case 'Not':
    case 'And':
    case 'Or':
      return 'bool';
    case 'Cast':
      return castTarget(Number(n.attrs.to));
    case 'Where':
      return dtypeOf(n.inputs[1]!);
  }
  return dtypeOf(n.inputs[0]!);
}

function castTarget(code: number): DType {
  const byCode: Record<number, DType> = { 1: 'float32', 11: 'float64', 7: 'int64', 6: 'int32', 9: 'bool' };
  const t = byCode[code];
  if (!t) throw new Error(`split: Cast to ONNX type ${code} is not supported`);
  return t;
}
