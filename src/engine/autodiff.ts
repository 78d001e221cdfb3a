/**
 * Reverse-mode differentiation over the graph builder's IR. `backward()` appends the vector–Jacobian
 * products of a graph's nodes, as ordinary ONNX (opset 17) nodes, to the same graph: gradients then
 * run in ONNX Runtime sessions exactly like the forward pass (CPU, CUDA, web), with no runtime of our own.
 *
 * Design:
 * - Activity: only values that depend on a `wrt` value through differentiable inputs get gradients;
 *   integer shape arithmetic (Shape, Slice bounds, Reshape targets…) never does.
 * - Shapes: the builder tracks none, so rules that must un-broadcast or rebuild a shape read it at run
 *   time (Shape, Size) and reduce over the axes where it differs. Static knowledge is limited to ranks,
 *   inferred here from input declarations, initializer dims and per-op rank rules, and to the values of
 *   small int64 initializers (axes, pads); that is all the rules need (transposes, per-axis pads).
 * - Every rule recomputes what it needs from the forward values (e.g. LayerNorm's mean and deviation,
 *   MaxPool's argmax indices), so the forward graph is left as the models wrote it.
 */
import type { Graph, NodeSpec, Value } from './graph.js';

export interface BackwardOptions {
  /**
   * Cotangent(s) of the output(s), each of its output's shape: the gradients are then those of
   * Σ <seed, output>. Without it, of Σ output (all ones).
   */
  seed?: Value | Value[];
  /** Float type of the graph's tensors (default float32); constants the rules add use it. */
  dtype?: 'float32' | 'float64';
}

export class AutodiffError extends Error {}

/**
 * Ops whose outputs never carry a gradient: shape and index arithmetic, comparisons, and Sign (its
 * derivative is 0 wherever it exists, so treating its output as a constant is exact).
 */
const NON_DIFFERENTIABLE = new Set(['Shape', 'Size', 'ConstantOfShape', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'NonZero', 'Cast', 'Range', 'ArgMax', 'ArgMin', 'Sign']);

/** Input channels up to which a convolution's input gradient is a product and shifted sums (`thinConvInputGrad`). */
const THIN_CONV_CHANNELS = 8;

/** Which inputs of an op carry gradient ('all': every input). */
const DIFFERENTIABLE_INPUTS: Record<string, number[] | 'all'> = {
  Add: [0, 1], Sub: [0, 1], Mul: [0, 1], Div: [0, 1], Where: [1, 2],
  Identity: [0], Neg: [0], Relu: [0], Sigmoid: [0], Tanh: [0], Softplus: [0], Sqrt: [0], Exp: [0], Log: [0],
  Reciprocal: [0], Erf: [0], Abs: [0], Cos: [0], Sin: [0], Pow: [0, 1], GatherElements: [0],
  Softmax: [0], Reshape: [0], Squeeze: [0], Unsqueeze: [0], Flatten: [0], Transpose: [0], Expand: [0],
  Slice: [0], Pad: [0], Concat: 'all', Split: [0], ReduceSum: [0], ReduceMean: [0], MaxPool: [0],
  Conv: [0, 1, 2], Gemm: [0, 1, 2], MatMul: [0, 1],
  BatchNormalization: [0, 1, 2, 3, 4], LayerNormalization: [0, 1, 2],
};

/** Ops whose output rank equals their first input's. */
const SAME_RANK = new Set([
  'Identity', 'Neg', 'Relu', 'Sigmoid', 'Tanh', 'Softplus', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Abs', 'Erf', 'Sign', 'Cos', 'Sin', 'Softmax', 'LogSoftmax',
  'LayerNormalization', 'BatchNormalization', 'Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'Pad', 'Slice', 'Transpose',
  'Concat', 'Split', 'Cast', 'Clip', 'ScatterElements', 'GatherElements', 'Not', 'MaxUnpool',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sum', 'Where', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Max', 'Min', 'And', 'Or']);

type Grads = (Value | undefined)[];

/** A static dimension: a number, or a symbol (declared dim_param, or an expression of other symbols). */
type Sym = number | string;

/** Ops whose output has exactly their first input's shape. */
export const SAME_SHAPE: ReadonlySet<string> = new Set(['Identity', 'Neg', 'Relu', 'Sigmoid', 'Tanh', 'Softplus', 'Sqrt', 'Exp', 'Log', 'Reciprocal', 'Abs', 'Erf', 'Sign', 'Cos', 'Sin', 'Softmax', 'LayerNormalization', 'BatchNormalization']);

/** A Conv's or pool's padding, dilations and strides over `spatial` axes, with ONNX's defaults (0, 1, 1). */
export function windowAttrs(n: NodeSpec, spatial: number): { pads: number[]; dil: number[]; strides: number[] } {
  const ones = Array<number>(spatial).fill(1);
  return {
    pads: (n.attrs.pads as number[] | undefined) ?? Array<number>(2 * spatial).fill(0),
    dil: (n.attrs.dilations as number[] | undefined) ?? ones,
    strides: (n.attrs.strides as number[] | undefined) ?? ones,
  };
}

/**
 * Appends to `graph` the nodes computing d(Σ output)/d(wrt) — or d(Σ <seed, output>)/d(wrt) with
 * `opts.seed` — and returns the gradient values in `wrt` order. `wrt` may hold graph inputs,
 * initializers (parameters) or intermediate values; a `wrt` value the output does not depend on gets
 * zeros of its shape. Several outputs (each with its seed) sum their contributions.
 */
export function backward(graph: Graph, output: Value | Value[], wrt: Value[], opts: BackwardOptions = {}): Value[] {
  return new Differentiator(graph, opts.dtype ?? 'float32').run(
    Array.isArray(output) ? output : [output],
    wrt,
    opts.seed === undefined ? undefined : Array.isArray(opts.seed) ? opts.seed : [opts.seed],
  );
}

/** What the differentiator can tell statically about a graph's values (for graph transformations). */
export interface StaticFacts {
  /** Rank of a value; throws an AutodiffError when no rule tells it. */
  rank(name: string): number;
  /** Static shape (numbers, or symbols for run-time dims), or null when unknown. */
  shapeOf(name: string): (number | string)[] | null;
  /** Values of a small int64 constant (axes, pads); throws an AutodiffError when `name` is not one. */
  constInts(name: string): number[];
}

/** Static facts about `graph`'s values as they are now (ranks and shapes from declarations and op rules). */
export function staticFacts(graph: Graph): StaticFacts {
  return new Differentiator(graph, 'float32');
}

class Differentiator {
  private producer = new Map<string, NodeSpec>();
  private indexed = 0;
  private ranks = new Map<string, number>();
  private shapes = new Map<string, Sym[] | null>();
  private freshSyms = 0;
  private lengths = new Map<string, number>();

  constructor(
    private readonly g: Graph,
    private readonly dtype: 'float32' | 'float64',
  ) {}

  run(outputs: Value[], wrt: Value[], seeds: Value[] | undefined): Value[] {
    if (seeds && seeds.length !== outputs.length) throw new AutodiffError(`backward: ${outputs.length} outputs but ${seeds.length} seeds`);
    const nodes = [...this.g.nodeList];

    // Forward activity: values that depend on some wrt value.
    const active = new Set(wrt.map((v) => v.name));
    for (const n of nodes) {
      if (NON_DIFFERENTIABLE.has(n.opType)) continue;
      const slots = DIFFERENTIABLE_INPUTS[n.opType];
      const inputs = n.inputs.map((name, i) => ({ name, i })).filter(({ name }) => name !== '' && active.has(name));
      if (inputs.length === 0) continue;
      if (!slots) throw new AutodiffError(`backward: no gradient rule for ${n.opType} (node producing '${n.outputs[0]}')`);
      if (inputs.some(({ i }) => slots === 'all' || slots.includes(i))) for (const o of n.outputs) active.add(o);
    }

    const grads = new Map<string, Value>();
    const accumulate = (name: string, gv: Value) => {
      const prev = grads.get(name);
      grads.set(name, prev ? this.g.op('Add', [prev, gv]) : gv);
    };
    outputs.forEach((o, i) => {
      if (!active.has(o.name)) return;
      accumulate(o.name, seeds ? seeds[i]! : this.g.op('Expand', [this.g.constant(this.dtype, [], [1]), this.g.op('Shape', [o])]));
    });

    const uses = new Map<string, number>();
    for (const n of nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
    for (const o of outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);

    for (let k = nodes.length - 1; k >= 0; k--) {
      const n = nodes[k]!;
      const gy = n.outputs.map((o) => grads.get(o));
      if (gy.every((v) => v === undefined)) continue;
      const gelu = this.sigmoidGelu(n, uses, active);
      if (gelu) {
        accumulate(gelu.x.name, this.sigmoidGeluVjp(gy[0]!, gelu));
        continue;
      }
      const slots = DIFFERENTIABLE_INPUTS[n.opType]!;
      const need = n.inputs.map((name, i) => name !== '' && active.has(name) && (slots === 'all' || slots.includes(i)));
      if (!need.some(Boolean)) continue;
      const gx = this.rule(n, gy, need);
      n.inputs.forEach((name, i) => {
        const gv = gx[i];
        if (need[i] && gv) accumulate(name, gv);
      });
    }
    const result = wrt.map((v) => grads.get(v.name) ?? this.g.op('Expand', [this.zero(), this.g.op('Shape', [v])]));
    // Shapes of forward activations placed right after them in node order (see Graph.hoist).
    this.g.hoist(nodes.length, new Set(['Shape', 'Size']));
    return result;
  }

  // ---------------------------------------------------------------- static facts (ranks, constants)

  /** Rank of a value, from declarations and per-op rules. */
  rank(name: string): number {
    const known = this.ranks.get(name);
    if (known !== undefined) return known;
    const r = this.inferRank(name);
    this.ranks.set(name, r);
    return r;
  }

  private inferRank(name: string): number {
    const input = this.g.inputSpec(name);
    if (input) return input.shape.length;
    const init = this.g.initializerSpec(name);
    if (init) return init.dims.length;
    const n = this.producerOf(name);
    if (!n) throw new AutodiffError(`backward: cannot tell the rank of '${name}'`);
    const op = n.opType;
    const r0 = () => this.rank(n.inputs[0]!);
    if (SAME_RANK.has(op)) return r0();
    if (BROADCAST.has(op)) return Math.max(...n.inputs.filter((i) => i !== '').map((i) => this.rank(i)));
    switch (op) {
      case 'Gemm':
        return 2;
      case 'MatMul':
        return Math.max(this.rank(n.inputs[0]!), this.rank(n.inputs[1]!));
      case 'Reshape':
      case 'ConstantOfShape':
        return this.length(n.inputs[n.opType === 'Reshape' ? 1 : 0]!);
      case 'Expand':
        return Math.max(r0(), this.length(n.inputs[1]!));
      case 'Squeeze':
        return r0() - this.constInts(n.inputs[1]!).length;
      case 'Unsqueeze':
        return r0() + this.constInts(n.inputs[1]!).length;
      case 'Flatten':
        return 2;
      case 'Range':
        return 1;
      case 'Shape':
      case 'NonZero':
        return op === 'Shape' ? 1 : 2;
      case 'Size':
        return 0;
      case 'ReduceSum':
      case 'ReduceMean':
      case 'ReduceMax':
      case 'ReduceProd': {
        if ((n.attrs.keepdims ?? 1) === 1) return r0();
        const axes = this.reduceAxes(n);
        return axes === null ? 0 : r0() - axes.length;
      }
      case 'Gather':
        return r0() - 1 + this.rank(n.inputs[1]!);
    }
    throw new AutodiffError(`backward: no rank rule for ${op}`);
  }

  /** The node producing `name` (nodes appended by the rules are indexed as they appear). */
  private producerOf(name: string): NodeSpec | undefined {
    const nodes = this.g.nodeList;
    for (; this.indexed < nodes.length; this.indexed++) for (const o of nodes[this.indexed]!.outputs) this.producer.set(o, nodes[this.indexed]!);
    return this.producer.get(name);
  }

  /**
   * Static shape of a value as far as it can be told (symbols for run-time dims; identical symbols
   * are equal dims), or null. Only used to skip un-broadcasting where operand and result provably
   * have one shape, which saves a copy of every large activation in the conv stacks.
   */
  shapeOf(name: string): Sym[] | null {
    if (this.shapes.has(name)) return this.shapes.get(name)!;
    let shape: Sym[] | null = null;
    try {
      shape = this.inferShape(name);
    } catch {
      shape = null;
    }
    this.shapes.set(name, shape);
    return shape;
  }

  private inferShape(name: string): Sym[] | null {
    const input = this.g.inputSpec(name);
    if (input) return [...input.shape];
    const init = this.g.initializerSpec(name);
    if (init) return [...init.dims];
    const n = this.producerOf(name);
    if (!n) return null;
    const op = n.opType;
    const x = n.inputs[0] ? this.shapeOf(n.inputs[0]) : null;
    if (SAME_SHAPE.has(op)) return x;
    if (BROADCAST.has(op) && !['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or'].includes(op)) {
      const all = n.inputs.filter((i) => i !== '').map((i) => this.shapeOf(i));
      if (all.some((sh) => sh === null)) return null;
      const rank = Math.max(...all.map((sh) => sh!.length));
      const out: Sym[] = [];
      for (let d = 0; d < rank; d++) {
        const dims = all.map((sh) => sh![sh!.length - rank + d]).filter((v): v is Sym => v !== undefined && v !== 1);
        const distinct = [...new Set(dims)];
        out.push(distinct.length === 0 ? 1 : distinct.length === 1 ? distinct[0]! : this.freshSym());
      }
      return out;
    }
    if (!x) return null;
    switch (op) {
      case 'Transpose': {
        const perm = (n.attrs.perm as number[] | undefined) ?? x.map((_, i) => x.length - 1 - i);
        return perm.map((p) => x[p]!);
      }
      case 'Unsqueeze': {
        const r = x.length + this.constInts(n.inputs[1]!).length;
        const axes = this.constInts(n.inputs[1]!).map((a) => (a < 0 ? a + r : a));
        const out: Sym[] = [];
        for (let i = 0, j = 0; i < r; i++) out.push(axes.includes(i) ? 1 : x[j++]!);
        return out;
      }
      case 'Squeeze': {
        const axes = this.constInts(n.inputs[1]!).map((a) => (a < 0 ? a + x.length : a));
        return x.filter((_, i) => !axes.includes(i));
      }
      case 'MaxUnpool': {
        // Only with its output_shape input (as the MaxPool backward writes it).
        const symbolic = n.inputs[2] ? this.shapeVector(n.inputs[2]) : null;
        return symbolic ?? null;
      }
      case 'Reshape': {
        // A constant target: 0 copies a dim; -1 becomes a symbol named by what determines it. A
        // target assembled from other values' shapes (`linear`'s leading dims + [out]) is read
        // symbolically, without -1 or 0 entries.
        const symbolic = this.shapeVector(n.inputs[1]!);
        if (symbolic && symbolic.every((t) => t !== -1 && t !== 0)) return symbolic;
        const target = this.constInts(n.inputs[1]!);
        return target.map((t, i) => (t === 0 ? x[i]! : t === -1 ? `reshape(${JSON.stringify(x)},${target.join(',')})` : t));
      }
      case 'Gemm': {
        const w = this.shapeOf(n.inputs[1]!);
        if (!w || x.length !== 2 || w.length !== 2) return null;
        return [Number(n.attrs.transA ?? 0) ? x[1]! : x[0]!, Number(n.attrs.transB ?? 0) ? w[0]! : w[1]!];
      }
      case 'MatMul': {
        const w = this.shapeOf(n.inputs[1]!);
        if (!w || x.length < 2 || w.length < 2) return null;
        const batch = [x.slice(0, -2), w.slice(0, -2)];
        const rank = Math.max(...batch.map((b) => b.length));
        const out: Sym[] = [];
        for (let d = 0; d < rank; d++) {
          const dims = batch.map((b) => b[b.length - rank + d]).filter((v): v is Sym => v !== undefined && v !== 1);
          const distinct = [...new Set(dims)];
          out.push(distinct.length === 0 ? 1 : distinct.length === 1 ? distinct[0]! : this.freshSym());
        }
        return [...out, x[x.length - 2]!, w[w.length - 1]!];
      }
      case 'ReduceSum':
      case 'ReduceMean': {
        const axes = this.reduceAxes(n) ?? x.map((_, i) => i);
        const keep = (n.attrs.keepdims ?? 1) === 1;
        return x.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
      }
      case 'Conv':
      case 'MaxPool': {
        const w = op === 'Conv' ? this.shapeOf(n.inputs[1]!) : null;
        const spatial = x.length - 2;
        const kernel = (n.attrs.kernel_shape as number[] | undefined) ?? w?.slice(2);
        if (!kernel || kernel.some((k) => typeof k !== 'number')) return null;
        const { pads, dil, strides } = windowAttrs(n, spatial);
        const dims = x.slice(2).map((d, i) => {
          const shrink = dil[i]! * ((kernel[i] as number) - 1) - pads[i]! - pads[i + spatial]!;
          if (strides[i] === 1 && shrink === 0) return d;
          if (typeof d === 'number') return Math.floor((d - shrink - 1) / strides[i]!) + 1;
          return `(${d}-${shrink}-1)/${strides[i]}+1`;
        });
        return [x[0]!, op === 'Conv' ? (w?.[0] ?? this.freshSym()) : x[1]!, ...dims];
      }
    }
    return null;
  }

  /**
   * A 1-D int64 shape value as symbolic dims, where it is assembled from constants and slices of
   * values' shapes (`Shape` with start/end, `Concat`); null otherwise.
   */
  private shapeVector(name: string): Sym[] | null {
    const init = this.g.initializerSpec(name);
    if (init) return init.dtype === 'int64' && init.data.kind === 'inline' ? this.constInts(name) : null;
    const n = this.producerOf(name);
    if (!n) return null;
    if (n.opType === 'Shape') {
      const x = this.shapeOf(n.inputs[0]!);
      if (!x) return null;
      const r = x.length;
      const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
      return x.slice(clamp(Number(n.attrs.start ?? 0)), clamp(Number(n.attrs.end ?? r)));
    }
    if (n.opType === 'Concat' && Number(n.attrs.axis ?? 0) === 0) {
      const parts = n.inputs.map((i) => this.shapeVector(i));
      return parts.every((p) => p !== null) ? parts.flatMap((p) => p!) : null;
    }
    return null;
  }

  private freshSym(): string {
    return `?${this.freshSyms++}`;
  }

  /** Length of a 1-D int64 value (shape arithmetic), when it is known statically. */
  length(name: string): number {
    const known = this.lengths.get(name);
    if (known !== undefined) return known;
    const len = this.inferLength(name);
    this.lengths.set(name, len);
    return len;
  }

  private inferLength(name: string): number {
    const input = this.g.inputSpec(name);
    if (input && input.shape.length === 1 && typeof input.shape[0] === 'number') return input.shape[0];
    const init = this.g.initializerSpec(name);
    if (init) return init.dims.length === 0 ? 1 : init.dims[0]!;
    const n = this.producerOf(name);
    const fail = () => new AutodiffError(`backward: cannot tell the length of the shape value '${name}'`);
    if (!n) throw fail();
    switch (n.opType) {
      case 'Shape': {
        const r = this.rank(n.inputs[0]!);
        const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
        return clamp(Number(n.attrs.end ?? r)) - clamp(Number(n.attrs.start ?? 0));
      }
      case 'Concat':
        return n.inputs.reduce((a, i) => a + this.length(i), 0);
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Max':
      case 'Min':
        return Math.max(...n.inputs.map((i) => this.length(i)));
      case 'Where':
        return Math.max(this.length(n.inputs[1]!), this.length(n.inputs[2]!));
      case 'Identity':
      case 'Cast':
        return this.length(n.inputs[0]!);
      case 'Slice': {
        const len = this.length(n.inputs[0]!);
        const clamp = (v: number) => Math.min(len, Math.max(0, v < 0 ? v + len : v));
        const [s] = this.constInts(n.inputs[1]!);
        const [e] = this.constInts(n.inputs[2]!);
        if (n.inputs[4]) throw fail();
        return Math.max(0, clamp(e!) - clamp(s!));
      }
    }
    throw fail();
  }

  /** Values of a small int64 initializer (axes, pads, perm-like constants). */
  constInts(name: string): number[] {
    const init = this.g.initializerSpec(name);
    if (!init || init.dtype !== 'int64' || init.data.kind !== 'inline') {
      throw new AutodiffError(`backward: '${name}' must be an int64 constant (axes, pads)`);
    }
    const b = init.data.bytes;
    return Array.from(new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), Number);
  }

  /** Normalised reduction axes of a Reduce* node, or null for "all axes". */
  private reduceAxes(n: NodeSpec): number[] | null {
    const r = this.rank(n.inputs[0]!);
    const raw = n.opType === 'ReduceSum' ? (n.inputs[1] ? this.constInts(n.inputs[1]) : []) : ((n.attrs.axes as number[] | undefined) ?? []);
    if (raw.length === 0) return (n.attrs.noop_with_empty_axes ?? 0) === 1 ? [] : null;
    return raw.map((a) => (a < 0 ? a + r : a)).sort((a, b) => a - b);
  }

  // ---------------------------------------------------------------- small builders

  private op(type: string, inputs: (Value | null)[], attrs: Record<string, unknown> = {}): Value {
    return this.g.op(type, inputs, attrs as Parameters<Graph['op']>[2]);
  }

  private c(v: number): Value {
    return this.g.constant(this.dtype, [], [v]);
  }

  private zero(): Value {
    return this.c(0);
  }

  private shape(v: Value, start?: number, end?: number): Value {
    const attrs: Record<string, number> = {};
    if (start !== undefined) attrs.start = start;
    if (end !== undefined) attrs.end = end;
    return this.op('Shape', [v], attrs);
  }

  private reduceSum(v: Value, axes: number[], keepdims: 0 | 1): Value {
    return this.op('ReduceSum', [v, this.g.ints(axes)], { keepdims, noop_with_empty_axes: 1 });
  }

  /**
   * Sums `grad` (the shape of a broadcast result, `like` when given) down to the run-time shape of
   * `target`; nothing to do when the shapes are statically one.
   */
  private unbroadcast(grad: Value, target: Value, like?: Value): Value {
    if (like && this.g.sameShape(like.name, target.name)) return grad;
    if (like) {
      const a = this.shapeOf(like.name);
      const b = this.shapeOf(target.name);
      if (a && b && a.length === b.length && a.every((d, i) => d === b[i])) return grad;
    }
    const rg = this.rank(grad.name);
    const rt = this.rank(target.name);
    const st = this.shape(target);
    const padded = rt < rg ? this.op('Concat', [this.g.ints(Array(rg - rt).fill(1)), st], { axis: 0 }) : st;
    const differs = this.op('Not', [this.op('Equal', [padded, this.shape(grad)])]);
    const axes = this.op('Reshape', [this.op('NonZero', [differs]), this.g.ints([-1])]);
    const summed = this.op('ReduceSum', [grad, axes], { keepdims: 1, noop_with_empty_axes: 1 });
    return this.op('Reshape', [summed, st]);
  }

  /** Per-channel [C] vector viewed as [C, 1, …, 1] to broadcast against a rank-r channels-first tensor. */
  private channelView(v: Value, r: number): Value {
    return r > 2 ? this.op('Unsqueeze', [v, this.g.ints(Array.from({ length: r - 2 }, (_, i) => i + 1))]) : v;
  }

  /**
   * Whether a matrix product's operand `target` has the product's whole batch shape (the other
   * operand broadcasts against it, never it against the other), as far as the static shapes tell:
   * then its gradient needs no un-broadcasting, whose run-time form (a ReduceSum over no axes) still
   * copies the tensor: attention's [B, H, rows, n] weights' gradient, once per query chunk.
   */
  private holdsBatch(target: Value, other: Value): boolean {
    const t = this.shapeOf(target.name);
    const o = this.shapeOf(other.name);
    if (!t || !o || t.length < 2 || o.length < 2 || t.length < o.length) return false;
    const tb = t.slice(0, -2);
    const ob = o.slice(0, -2);
    const offset = tb.length - ob.length;
    return ob.every((d, i) => d === 1 || d === tb[i + offset]);
  }

  private swapLast(v: Value): Value {
    const r = this.rank(v.name);
    if (r < 2) throw new AutodiffError('backward: MatMul of 1-D operands is not supported');
    const perm = Array.from({ length: r }, (_, i) => i);
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return this.op('Transpose', [v], { perm });
  }

  /**
   * y = x · σ(c·x) (Enformer's GELU) with c a scalar constant and the inner values used by nothing
   * else: differentiated as one op, dy/dx = s·(1 + t·(1 − s)) with t = c·x, s = σ(t), in five
   * elementwise passes instead of the seven its three nodes' rules take.
   */
  private sigmoidGelu(n: NodeSpec, uses: Map<string, number>, active: Set<string>): { x: Value; t: Value; s: Value } | undefined {
    if (n.opType !== 'Mul') return undefined;
    for (const [xi, si] of [[0, 1], [1, 0]] as const) {
      const x = n.inputs[xi]!;
      const s = n.inputs[si]!;
      const sig = this.producerOf(s);
      if (!active.has(x) || sig?.opType !== 'Sigmoid' || uses.get(s) !== 1) continue;
      const t = sig.inputs[0]!;
      const scale = this.producerOf(t);
      if (scale?.opType !== 'Mul' || uses.get(t) !== 1) continue;
      const other = scale.inputs[0] === x ? scale.inputs[1]! : scale.inputs[1] === x ? scale.inputs[0]! : undefined;
      const c = other === undefined ? undefined : this.g.initializerSpec(other);
      if (!c || c.dims.reduce((a, b) => a * b, 1) !== 1) continue;
      return { x: { name: x }, t: { name: t }, s: { name: s } };
    }
    return undefined;
  }

  private sigmoidGeluVjp(g: Value, { t, s }: { x: Value; t: Value; s: Value }): Value {
    const one = this.c(1);
    const slope = this.op('Mul', [s, this.op('Add', [one, this.op('Mul', [t, this.op('Sub', [one, s])])])]);
    return this.op('Mul', [g, slope]);
  }

  // ---------------------------------------------------------------- vector–Jacobian rules

  private rule(n: NodeSpec, gy: Grads, need: boolean[]): Grads {
    const x = n.inputs.map((name) => (name === '' ? undefined : { name }));
    const y = n.outputs.map((name) => ({ name }));
    const g = gy[0]!;
    const a = x[0]!;
    const b = x[1]!;
    const op = this.op.bind(this);
    switch (n.opType) {
      case 'Identity':
        return [g];
      case 'Neg':
        return [op('Neg', [g])];
      case 'Add':
        return [need[0] ? this.unbroadcast(g, a, y[0]) : undefined, need[1] ? this.unbroadcast(g, b, y[0]) : undefined];
      case 'Sub':
        return [need[0] ? this.unbroadcast(g, a, y[0]) : undefined, need[1] ? this.unbroadcast(op('Neg', [g]), b, y[0]) : undefined];
      case 'Mul':
        return [need[0] ? this.unbroadcast(op('Mul', [g, b]), a, y[0]) : undefined, need[1] ? this.unbroadcast(op('Mul', [g, a]), b, y[0]) : undefined];
      case 'Div':
        return [
          need[0] ? this.unbroadcast(op('Div', [g, b]), a, y[0]) : undefined,
          need[1] ? this.unbroadcast(op('Neg', [op('Div', [op('Mul', [g, y[0]!]), b])]), b, y[0]) : undefined,
        ];
      case 'Where': {
        const cond = x[0]!;
        return [
          undefined,
          need[1] ? this.unbroadcast(op('Where', [cond, g, this.zero()]), x[1]!, y[0]) : undefined,
          need[2] ? this.unbroadcast(op('Where', [cond, this.zero(), g]), x[2]!, y[0]) : undefined,
        ];
      }
      case 'Relu':
        return [op('Where', [op('Greater', [a, this.zero()]), g, this.zero()])];
      case 'Sigmoid':
        return [op('Mul', [g, op('Mul', [y[0]!, op('Sub', [this.c(1), y[0]!])])])];
      case 'Tanh':
        return [op('Mul', [g, op('Sub', [this.c(1), op('Mul', [y[0]!, y[0]!])])])];
      case 'Softplus':
        return [op('Mul', [g, op('Sigmoid', [a])])];
      case 'Sqrt':
        return [op('Div', [op('Mul', [g, this.c(0.5)]), y[0]!])];
      case 'Exp':
        return [op('Mul', [g, y[0]!])];
      case 'Log':
        return [op('Div', [g, a])];
      case 'Reciprocal':
        // d(1/a) = -1/a² = -y²
        return [op('Neg', [op('Mul', [g, op('Mul', [y[0]!, y[0]!])])])];
      case 'Erf':
        // d erf(a) = 2/√π · exp(-a²)
        return [op('Mul', [g, op('Mul', [this.c(2 / Math.sqrt(Math.PI)), op('Exp', [op('Neg', [op('Mul', [a, a])])])])])];
      case 'Abs':
        // sign(a); 0 at the kink (as PyTorch)
        return [op('Mul', [g, op('Sign', [a])])];
      case 'Cos':
        return [op('Neg', [op('Mul', [g, op('Sin', [a])])])];
      case 'Sin':
        return [op('Mul', [g, op('Cos', [a])])];
      case 'Pow':
        return this.powVjp(g, a, b, y[0]!, need);
      case 'GatherElements':
        return [this.gatherElementsVjp(n, g, a)];
      case 'Softmax': {
        const axis = Number(n.attrs.axis ?? -1);
        const gyy = op('Mul', [g, y[0]!]);
        return [op('Sub', [gyy, op('Mul', [y[0]!, this.reduceSum(gyy, [axis], 1)])])];
      }
      case 'Reshape':
      case 'Squeeze':
      case 'Unsqueeze':
      case 'Flatten':
        return [op('Reshape', [g, this.shape(a)])];
      case 'Expand':
        return [this.unbroadcast(g, a)];
      case 'Transpose': {
        const r = this.rank(a.name);
        const perm = (n.attrs.perm as number[] | undefined) ?? Array.from({ length: r }, (_, i) => r - 1 - i);
        const inverse = new Array<number>(r);
        perm.forEach((p, i) => (inverse[p] = i));
        return [op('Transpose', [g], { perm: inverse })];
      }
      case 'Slice':
        return [this.sliceVjp(n, g, a)];
      case 'Pad':
        return [this.padVjp(n, g, a)];
      case 'Concat':
        return this.concatVjp(n, g, x as Value[], need);
      case 'Split':
        return [this.splitVjp(n, gy, y)];
      case 'ReduceSum':
      case 'ReduceMean':
        return [this.reduceVjp(n, g, a, y[0]!)];
      case 'MaxPool':
        return [this.maxPoolVjp(n, g, a)];
      case 'Conv':
        return this.convVjp(n, g, x, need);
      case 'Gemm':
        return this.gemmVjp(n, g, x, need);
      case 'MatMul': {
        const fit = (grad: Value, target: Value, other: Value) => (this.holdsBatch(target, other) ? grad : this.unbroadcast(grad, target));
        return [need[0] ? fit(op('MatMul', [g, this.swapLast(b)]), a, b) : undefined, need[1] ? fit(op('MatMul', [this.swapLast(a), g]), b, a) : undefined];
      }
      case 'BatchNormalization':
        return this.batchNormVjp(n, g, x as Value[], need);
      case 'LayerNormalization':
        return this.layerNormVjp(n, g, x, need);
    }
    throw new AutodiffError(`backward: no gradient rule for ${n.opType}`);
  }

  /**
   * y = a^b: dy/da = b·a^(b−1) (computed as a power, not b·y/a, so a = 0 gives the limit, 0 for b > 1);
   * dy/db = y·ln a where a > 0, else 0 (a^b for a ≤ 0 is only defined for integer b, where ONNX Pow
   * has no derivative in b; 0^b = 0 for b > 0 has none either).
   */
  private powVjp(g: Value, a: Value, b: Value, y: Value, need: boolean[]): Grads {
    const out: Grads = [undefined, undefined];
    if (need[0]) out[0] = this.unbroadcast(this.op('Mul', [g, this.op('Mul', [b, this.op('Pow', [a, this.op('Sub', [b, this.c(1)])])])]), a, y);
    if (need[1]) {
      const slope = this.op('Where', [this.op('Greater', [a, this.zero()]), this.op('Mul', [y, this.op('Log', [a])]), this.zero()]);
      out[1] = this.unbroadcast(this.op('Mul', [g, slope]), b, y);
    }
    return out;
  }

  /**
   * GatherElements: each output element is one input element, so the gradient scatters g back onto
   * the indices it was read from, summed where an index was read more than once.
   */
  private gatherElementsVjp(n: NodeSpec, g: Value, a: Value): Value {
    const zeros = this.op('Expand', [this.zero(), this.shape(a)]);
    return this.op('ScatterElements', [zeros, { name: n.inputs[1]! }, g], { axis: Number(n.attrs.axis ?? 0), reduction: 'add' });
  }

  /** Zero-pads the gradient of a unit-step Slice back to the input's shape (begin pad = clamped start). */
  private sliceVjp(n: NodeSpec, g: Value, a: Value): Value {
    const r = this.rank(a.name);
    if (n.inputs[4] && this.constInts(n.inputs[4]).some((s) => s !== 1)) throw new AutodiffError('backward: Slice with steps other than 1 is not supported');
    const starts = { name: n.inputs[1]! };
    const count = this.length(starts.name);
    const axes = n.inputs[3] ? this.constInts(n.inputs[3]).map((ax) => (ax < 0 ? ax + r : ax)) : Array.from({ length: count }, (_, i) => i);
    const begins: Value[] = [];
    const ends: Value[] = [];
    const zero = this.g.ints([0]);
    for (let axis = 0; axis < r; axis++) {
      const j = axes.indexOf(axis);
      if (j < 0) {
        begins.push(zero);
        ends.push(zero);
        continue;
      }
      const dim = this.shape(a, axis, axis + 1);
      const s0 = this.op('Slice', [starts, this.g.ints([j]), this.g.ints([j + 1])]);
      const wrapped = this.op('Where', [this.op('Less', [s0, zero]), this.op('Add', [s0, dim]), s0]);
      const s = this.op('Max', [zero, this.op('Min', [wrapped, dim])]);
      begins.push(s);
      ends.push(this.op('Sub', [this.op('Sub', [dim, s]), this.shape(g, axis, axis + 1)]));
    }
    if (axes.length === 1) return this.zeroExtend(g, axes[0]!, begins[axes[0]!]!, ends[axes[0]!]!);
    const pads = this.op('Concat', [...begins, ...ends], { axis: 0 });
    return this.op('Pad', [g, pads]);
  }

  /**
   * g with `before` and `after` zeros added along `axis` (1-element int64 counts): a Concat with two
   * zero blocks, not a Pad. ONNX Runtime's Concat copies whole blocks, its Pad took about twice as
   * long on large tensors (the relative shift's backward widens [B, H, rows, n] logits twice per
   * query chunk: BENCHMARKS.md, "Fresh pages in the block backward").
   */
  private zeroExtend(g: Value, axis: number, before: Value, after: Value): Value {
    const r = this.rank(g.name);
    const zeros = (count: Value) => {
      const dims = [...(axis > 0 ? [this.shape(g, 0, axis)] : []), count, ...(axis + 1 < r ? [this.shape(g, axis + 1)] : [])];
      return this.op('Expand', [this.zero(), this.op('Concat', dims, { axis: 0 })]);
    };
    return this.op('Concat', [zeros(before), g, zeros(after)], { axis });
  }

  private padVjp(n: NodeSpec, g: Value, a: Value): Value {
    const mode = n.attrs.mode ?? 'constant';
    if (mode !== 'constant') throw new AutodiffError(`backward: Pad mode '${String(mode)}' is not supported`);
    const r = this.rank(a.name);
    const pads = { name: n.inputs[1]! };
    const begin = this.op('Slice', [pads, this.g.ints([0]), this.g.ints([r])]);
    const endPad = this.op('Slice', [pads, this.g.ints([r]), this.g.ints([2 * r])]);
    const end = this.op('Sub', [this.shape(g), endPad]);
    return this.op('Slice', [g, begin, end, this.g.ints(Array.from({ length: r }, (_, i) => i))]);
  }

  private concatVjp(n: NodeSpec, g: Value, x: Value[], need: boolean[]): Grads {
    const r = this.rank(x[0]!.name);
    let axis = Number(n.attrs.axis);
    if (axis < 0) axis += r;
    const sizes = this.op('Concat', x.map((v) => this.shape(v, axis, axis + 1)), { axis: 0 });
    const parts = this.g.opMulti('Split', [g, sizes], x.length, { axis });
    return parts.map((p, i) => (need[i] ? p : undefined));
  }

  private splitVjp(n: NodeSpec, gy: Grads, y: Value[]): Value {
    const parts = y.map((out, i) => gy[i] ?? this.op('Expand', [this.zero(), this.shape(out)]));
    return this.op('Concat', parts, { axis: Number(n.attrs.axis ?? 0) });
  }

  private reduceVjp(n: NodeSpec, g: Value, a: Value, y: Value): Value {
    const r = this.rank(a.name);
    const axes = this.reduceAxes(n);
    let gk = g;
    if ((n.attrs.keepdims ?? 1) === 0) {
      gk = axes === null ? this.op('Reshape', [g, this.g.ints(Array(r).fill(1))]) : axes.length ? this.op('Unsqueeze', [g, this.g.ints(axes)]) : g;
    }
    const spread = this.op('Expand', [gk, this.shape(a)]);
    if (n.opType === 'ReduceSum') return spread;
    const count = this.op('Div', [this.op('Cast', [this.op('Size', [a])], { to: this.dtypeCode }), this.op('Cast', [this.op('Size', [y])], { to: this.dtypeCode })]);
    return this.op('Div', [spread, count]);
  }

  private get dtypeCode(): number {
    return this.dtype === 'float32' ? 1 : 11;
  }

  /**
   * MaxPool: the gradient goes to the first maximal element of each window (as PyTorch does, and as
   * ONNX Runtime's argmax indices choose). Windows that do not overlap (Borzoi's k = stride = 2) have
   * one gradient per index: MaxUnpool writes them (a plain store per element; ORT's ScatterElements
   * with summation took ≈ 6× as long on Borzoi's trunk tiles, BENCHMARKS.md). Overlapping windows
   * are scattered back with summation.
   */
  private maxPoolVjp(n: NodeSpec, g: Value, a: Value): Value {
    if (n.attrs.auto_pad !== undefined && n.attrs.auto_pad !== 'NOTSET') throw new AutodiffError('backward: MaxPool auto_pad is not supported');
    const [, indices] = this.g.opMulti('MaxPool', [a], 2, n.attrs);
    const kernel = n.attrs.kernel_shape as number[];
    const { pads, dil, strides } = windowAttrs(n, kernel.length);
    // ONNX Runtime's MaxUnpool is float32 only.
    if (this.dtype === 'float32' && kernel.every((k, i) => dil[i] === 1 && strides[i]! >= k)) {
      return this.op('MaxUnpool', [g, indices!, this.shape(a)], { kernel_shape: kernel, strides, pads });
    }
    const flat = this.g.ints([-1]);
    const zeros = this.op('Expand', [this.zero(), this.op('Reshape', [this.op('Size', [a]), this.g.ints([1])])]);
    const scattered = this.op('ScatterElements', [zeros, this.op('Reshape', [indices!, flat]), this.op('Reshape', [g, flat])], { axis: 0, reduction: 'add' });
    return this.op('Reshape', [scattered, this.shape(a)]);
  }

  private convVjp(n: NodeSpec, g: Value, x: (Value | undefined)[], need: boolean[]): Grads {
    const input = x[0]!;
    const w = x[1]!;
    const r = this.rank(input.name);
    const spatial = r - 2;
    if (n.attrs.auto_pad !== undefined && n.attrs.auto_pad !== 'NOTSET') throw new AutodiffError('backward: Conv auto_pad is not supported');
    const wInit = this.g.initializerSpec(w.name);
    const kernel = (n.attrs.kernel_shape as number[] | undefined) ?? wInit?.dims.slice(2);
    if (!kernel) throw new AutodiffError('backward: Conv needs kernel_shape (or a constant weight)');
    const { pads, dil, strides } = windowAttrs(n, spatial);
    const group = Number(n.attrs.group ?? 1);
    const out: Grads = [undefined, undefined, undefined];

    if (need[0]) {
      const depthwiseBlocks =
        wInit !== undefined &&
        group > 1 &&
        wInit.dims.length === r &&
        wInit.dims[0] === group &&
        wInit.dims[1] === 1 &&
        kernel.every((k, i) => strides[i] === k && dil[i] === 1 && (k === 1 || i === spatial - 1)) &&
        pads.every((p) => p === 0);
      const inputDims = this.shapeOf(input.name);
      const wDims = this.shapeOf(w.name);
      const thin =
        group === 1 &&
        typeof wDims?.[0] === 'number' &&
        typeof wDims[1] === 'number' &&
        wDims[1] <= THIN_CONV_CHANNELS &&
        strides.every((st) => st === 1) &&
        dil.every((d) => d === 1) &&
        kernel.every((k, i) => i === spatial - 1 || (k === 1 && pads[i] === 0 && pads[i + spatial] === 0 && inputDims?.[i + 2] === 1));
      out[0] = depthwiseBlocks
        ? this.blockDepthwiseInputGrad(g, input, w, kernel[spatial - 1]!, spatial)
        : thin
          ? this.thinConvInputGrad(g, w, wDims[0] as number, wDims[1] as number, kernel[spatial - 1]!, pads[spatial - 1]!, pads[2 * spatial - 1]!, spatial)
          : this.convInputGrad(g, input, w, { kernel, pads, dil, strides, group, spatial });
    }
    if (need[1]) {
      // dW[o, i, k] = Σ_b,l g[b, o, l] · x_pad[b, group(o)·Cg + i, l·s + k·d]: a convolution of x
      // (batch moved to channels, group kept) with g as the kernel, dilation and stride swapped.
      const xs = this.op('Reshape', [input, this.op('Concat', [this.shape(input, 0, 1), this.g.ints([group, -1]), this.shape(input, 2)], { axis: 0 })]);
      const xt = this.op('Transpose', [xs], { perm: [2, 1, 0, ...Array.from({ length: spatial }, (_, i) => i + 3)] });
      const xg = this.op('Reshape', [xt, this.op('Concat', [this.g.ints([0, -1]), this.shape(input, 2)], { axis: 0 })]);
      const gt = this.op('Transpose', [g], { perm: [1, 0, ...Array.from({ length: spatial }, (_, i) => i + 2)] });
      const corr = this.op('Conv', [xg, gt], { pads, dilations: strides, strides: dil, group });
      const axes = Array.from({ length: spatial }, (_, i) => i + 2);
      const cut = this.op('Slice', [corr, this.g.ints(Array(spatial).fill(0)), this.g.ints(kernel), this.g.ints(axes)]);
      out[1] = this.op('Transpose', [cut], { perm: [1, 0, ...axes] });
    }
    if (need[2]) out[2] = this.reduceSum(g, [0, ...Array.from({ length: spatial }, (_, i) => i + 2)], 0);
    return out;
  }

  /**
   * dx of a convolution: a convolution of g (zero-dilated by the stride) with the group-transposed,
   * spatially flipped kernel. With stride 1 and pads ≤ the kernel span the padding is just the
   * complement (and ORT's fast Conv kernels apply); otherwise the gradient w.r.t. the fully padded
   * input is computed and cut/zero-extended to the input (positions the forward never read get 0).
   */
  private convInputGrad(
    g: Value,
    input: Value,
    w: Value,
    a: { kernel: number[]; pads: number[]; dil: number[]; strides: number[]; group: number; spatial: number },
  ): Value {
    const { kernel, pads, dil, strides, group, spatial } = a;
    const axes = Array.from({ length: spatial }, (_, i) => i + 2);
    let wt: Value;
    if (group === 1) {
      wt = this.op('Transpose', [w], { perm: [1, 0, ...axes] });
    } else {
      const grouped = this.op('Reshape', [w, this.op('Concat', [this.g.ints([group, -1]), this.shape(w, 1)], { axis: 0 })]);
      const swapped = this.op('Transpose', [grouped], { perm: [0, 2, 1, ...axes.map((i) => i + 1)] });
      wt = this.op('Reshape', [swapped, this.op('Concat', [this.g.ints([-1]), this.shape(swapped, 2)], { axis: 0 })]);
    }
    const flipped = this.op('Slice', [wt, this.g.ints(Array(spatial).fill(-1)), this.g.ints(Array(spatial).fill(-(2 ** 53))), this.g.ints(axes), this.g.ints(Array(spatial).fill(-1))]);
    let gd = g;
    strides.forEach((s, i) => {
      if (s > 1) gd = this.dilate(gd, i + 2, s);
    });
    const span = kernel.map((k, i) => dil[i]! * (k - 1));
    const begin = span.map((sp, i) => sp - pads[i]!);
    const end = span.map((sp, i) => sp - pads[i + spatial]!);
    const conv = (p: number[]) => this.op('Conv', [gd, flipped], { kernel_shape: kernel, pads: p, dilations: dil, group });
    if (strides.every((s) => s === 1) && [...begin, ...end].every((p) => p >= 0)) return conv([...begin, ...end]);
    const full = conv([...span, ...span]);
    const starts = this.g.ints(pads.slice(0, spatial));
    const cut = this.op('Slice', [full, starts, this.op('Add', [this.shape(input, 2), starts]), this.g.ints(axes)]);
    const missing = this.op('Sub', [this.shape(input, 2), this.shape(cut, 2)]);
    return this.op('Pad', [cut, this.op('Concat', [this.g.ints(Array(spatial + 4).fill(0)), missing], { axis: 0 })]);
  }

  /**
   * dx of a convolution with few input channels (the stem's one-hot DNA: 4), stride 1, no dilation,
   * a kernel along the last axis only, on inputs of height 1 there: the product P = Wᵀ · g
   * ([C_in·K, C_out] × [C_out, positions], one GEMM of the convolution's FLOPs) and then
   * dx[c, l] = Σ_k P[c·K + k, l + padBegin − k], K shifted slices of P (zero outside it) summed. As a
   * convolution of g, ORT's NCHWc kernel pads the C_in outputs to its channel block (16 on AVX-512):
   * Enformer's stem input gradient took 63 ms per tile that way, 40 ms this way (BENCHMARKS.md).
   */
  private thinConvInputGrad(g: Value, w: Value, cOut: number, cIn: number, k: number, padBegin: number, padEnd: number, spatial: number): Value {
    const wT = this.op('Transpose', [this.op('Reshape', [w, this.g.ints([cOut, cIn * k])])], { perm: [1, 0] });
    const rows = this.op('Reshape', [g, this.g.ints([0, cOut, -1])]);
    const p = this.op('MatMul', [wT, rows]);
    const padded = this.op('Pad', [p, this.g.ints([0, 0, k - 1, 0, 0, k - 1])]);
    // Tap j reads padded positions [padBegin + K − 1 − j, len − padEnd − j): both bounds constant.
    const taps = Array.from({ length: k }, (_, j) => {
      const end = padEnd + j === 0 ? Number.MAX_SAFE_INTEGER : -(padEnd + j);
      return this.op('Slice', [padded, this.g.ints([j, padBegin + k - 1 - j]), this.g.ints([cIn * k, end]), this.g.ints([1, 2]), this.g.ints([k, 1])]);
    });
    const sum = taps.length === 1 ? taps[0]! : this.op('Sum', taps);
    return spatial === 1 ? sum : this.op('Unsqueeze', [sum, this.g.ints(Array.from({ length: spatial - 1 }, (_, i) => i + 2))]);
  }

  /**
   * dx of a depthwise convolution whose windows tile the last axis (stride = kernel k there, kernel 1
   * elsewhere, no padding, no dilation): every input position belongs to one window, so
   * dx[b, c, …, o·k + j] = W[c, j] · g[b, c, …, o]. Built as k channel-scaled copies of g stacked in
   * front ([k, B, C, …, O]: a broadcast with long inner runs), that axis moved innermost (one
   * transpose) and merged into positions; positions past the last whole window get 0. The general
   * path (zero-dilate g, full convolution, cut, pad) costs several more copies of the input's size.
   */
  private blockDepthwiseInputGrad(g: Value, input: Value, w: Value, k: number, spatial: number): Value {
    const channels = this.g.initializerSpec(w.name)!.dims[0]!;
    const r = spatial + 2;
    const wk = this.op('Transpose', [this.op('Reshape', [w, this.g.ints([channels, k])])], { perm: [1, 0] });
    const scales = this.op('Reshape', [wk, this.g.ints([k, 1, channels, ...Array<number>(spatial).fill(1)])]);
    const copies = this.op('Mul', [this.op('Unsqueeze', [g, this.g.ints([0])]), scales]);
    const interleaved = this.op('Transpose', [copies], { perm: [...Array.from({ length: r }, (_, i) => i + 1), 0] });
    const positions = this.op('Mul', [this.shape(g, r - 1, r), this.g.ints([k])]);
    const dx = this.op('Reshape', [interleaved, this.op('Concat', [this.shape(g, 0, r - 1), positions], { axis: 0 })]);
    const missing = this.op('Sub', [this.shape(input, 2), this.shape(dx, 2)]);
    return this.op('Pad', [dx, this.op('Concat', [this.g.ints(Array(spatial + 4).fill(0)), missing], { axis: 0 })]);
  }

  /** Inserts s - 1 zeros between neighbours along `axis` (length n -> (n - 1)·s + 1). */
  private dilate(v: Value, axis: number, s: number): Value {
    const r = this.rank(v.name);
    const u = this.op('Unsqueeze', [v, this.g.ints([axis + 1])]);
    const pads = Array<number>(2 * (r + 1)).fill(0);
    pads[r + 1 + axis + 1] = s - 1;
    const padded = this.op('Pad', [u, this.g.ints(pads)]);
    const merged = this.op('Reshape', [padded, this.op('Concat', [this.shape(padded, 0, axis), this.g.ints([-1]), this.shape(padded, axis + 2)], { axis: 0 })]);
    return this.op('Slice', [merged, this.g.ints([0]), this.g.ints([-(s - 1)]), this.g.ints([axis])]);
  }

  private gemmVjp(n: NodeSpec, g: Value, x: (Value | undefined)[], need: boolean[]): Grads {
    const [A, B, C] = x;
    const transA = Number(n.attrs.transA ?? 0);
    const transB = Number(n.attrs.transB ?? 0);
    const alpha = (n.attrs.alpha as { float: number } | undefined)?.float ?? 1;
    const beta = (n.attrs.beta as { float: number } | undefined)?.float ?? 1;
    const gemm = (p: Value, q: Value, ta: number, tb: number) => this.op('Gemm', [p, q], { transA: ta, transB: tb, ...(alpha !== 1 ? { alpha: { float: alpha } } : {}) });
    const out: Grads = [undefined, undefined, undefined];
    if (need[0]) out[0] = transA ? gemm(B!, g, transB, 1) : gemm(g, B!, 0, transB ? 0 : 1);
    if (need[1]) out[1] = transB ? gemm(g, A!, 1, transA) : gemm(A!, g, transA ? 0 : 1, 0);
    if (need[2]) out[2] = this.unbroadcast(beta === 1 ? g : this.op('Mul', [g, this.c(beta)]), C!);
    return out;
  }

  /** Inference BatchNormalization (running statistics are inputs): gradients for x and all four vectors. */
  private batchNormVjp(n: NodeSpec, g: Value, x: Value[], need: boolean[]): Grads {
    if (Number(n.attrs.training_mode ?? 0) !== 0) throw new AutodiffError('backward: BatchNormalization in training mode is not supported');
    const [input, scale, , mean, variance] = x as [Value, Value, Value, Value, Value];
    const eps = (n.attrs.epsilon as { float: number } | undefined)?.float ?? 1e-5;
    const r = this.rank(input.name);
    const inv = this.op('Reciprocal', [this.op('Sqrt', [this.op('Add', [variance, this.c(eps)])])]);
    const factor = this.op('Mul', [scale, inv]);
    const redAxes = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
    const out: Grads = [undefined, undefined, undefined, undefined, undefined];
    if (need[0]) out[0] = this.op('Mul', [g, this.channelView(factor, r)]);
    const sumG = need[2] || need[3] ? this.reduceSum(g, redAxes, 0) : undefined;
    const centred = need[1] || need[4] ? this.op('Sub', [input, this.channelView(mean, r)]) : undefined;
    const sumGC = centred ? this.reduceSum(this.op('Mul', [g, centred]), redAxes, 0) : undefined;
    if (need[1]) out[1] = this.op('Mul', [sumGC!, inv]);
    if (need[2]) out[2] = sumG;
    if (need[3]) out[3] = this.op('Neg', [this.op('Mul', [sumG!, factor])]);
    if (need[4]) out[4] = this.op('Mul', [this.op('Mul', [sumGC!, scale]), this.op('Mul', [this.c(-0.5), this.op('Mul', [inv, this.op('Mul', [inv, inv])])])]);
    return out;
  }

  /** LayerNormalization over axes [axis, rank): mean and deviation are recomputed from x. */
  private layerNormVjp(n: NodeSpec, g: Value, x: (Value | undefined)[], need: boolean[]): Grads {
    const [input, scale, bias] = x as [Value, Value | undefined, Value | undefined];
    const r = this.rank(input.name);
    let axis = Number(n.attrs.axis ?? -1);
    if (axis < 0) axis += r;
    const eps = (n.attrs.epsilon as { float: number } | undefined)?.float ?? 1e-5;
    const normAxes = Array.from({ length: r - axis }, (_, i) => axis + i);
    const leading = Array.from({ length: axis }, (_, i) => i);
    const mean = (v: Value) => this.op('ReduceMean', [v], { axes: normAxes, keepdims: 1 });
    const centred = this.op('Sub', [input, mean(input)]);
    const inv = this.op('Reciprocal', [this.op('Sqrt', [this.op('Add', [mean(this.op('Mul', [centred, centred])), this.c(eps)])])]);
    const xhat = this.op('Mul', [centred, inv]);
    const out: Grads = [undefined, undefined, undefined];
    if (need[0]) {
      const gh = scale ? this.op('Mul', [g, scale]) : g;
      const inner = this.op('Sub', [this.op('Sub', [gh, mean(gh)]), this.op('Mul', [xhat, mean(this.op('Mul', [gh, xhat]))])]);
      out[0] = this.op('Mul', [inner, inv]);
    }
    if (need[1]) out[1] = this.op('Reshape', [this.reduceSum(this.op('Mul', [g, xhat]), leading, 0), this.shape(scale!)]);
    if (need[2]) out[2] = this.op('Reshape', [this.reduceSum(g, leading, 0), this.shape(bias!)]);
    return out;
  }
}
