/**
 * Shapes by algebra: a copy of a graph in which every Shape (and Size) of a computed value is
 * worked out from the shapes of the graph's inputs and constants and the ops' own shape operands
 * (Reshape targets, Slice bounds, Pad amounts), through the ops whose output shape follows from
 * their inputs' shapes, instead of being read off the tensor.
 *
 * Why: ONNX Runtime frees a tensor after its last reader has run, and a graph's Shape reads run when
 * its execution order (a depth-first sort from the graph's leaves) reaches them, which for the reads a
 * backward makes of forward activations, or for the shapes a split forward saves for its backward,
 * is often long after the tensor was made. Each such read kept a whole activation alive — in a
 * transformer block, every query chunk's logits and softmax — so nothing could be freed and reused,
 * and the block's forward ran at 1.5× its time (`npm run bench -- block`). A shape computed from the
 * inputs' shapes reads only tensors that live for the whole run anyway.
 *
 * A value made by an op without a rule here keeps a Shape read of itself (correct, only not free).
 */
import { AutodiffError, SAME_SHAPE, staticFacts, windowAttrs, type StaticFacts } from './autodiff.js';
import { Graph, type NodeSpec, type Value } from './graph.js';

/** Ops whose output shape is the broadcast of their inputs' shapes (numpy rules). */
const BROADCASTING = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sum', 'Max', 'Min', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Where']);
/** Ops whose first output has their first input's shape. */
const SHAPE_KEEPING = new Set([...SAME_SHAPE, 'Cast', 'Not']);

/** An axis as ONNX allows it (negative: from the end) at rank r, made non-negative. */
const axisAt = (a: number, r: number) => (a < 0 ? a + r : a);

/** No rule for this value's op (or its operands are not constants where the rule needs them). */
class NoRule extends Error {}

export function shapesByAlgebra(graph: Graph): Graph {
  const facts = staticFacts(graph);
  const out = new Graph(graph.name);
  for (const i of graph.inputList) out.input(i.name, i.dtype, [...i.shape]);
  for (const [name, spec] of graph.initializerList) out.initializer(name, spec);
  const producer = new Map<string, NodeSpec>();
  for (const n of graph.nodeList) for (const o of n.outputs) producer.set(o, n);
  // Constants' dims, and inputs' where declared as numbers, are known now.
  const staticDims = (name: string): readonly number[] | undefined => {
    const dims = graph.initializerSpec(name)?.dims ?? graph.inputSpec(name)?.shape;
    return dims?.every((d): d is number => typeof d === 'number') ? dims : undefined;
  };
  const algebra = new ShapeAlgebra(out, facts, producer, (name) => graph.inputSpec(name) !== undefined, staticDims, new Set(producer.keys()));

  for (const n of graph.nodeList) {
    const x = n.inputs[0];
    // Shapes of inputs too: one Shape node per input (or a constant) instead of one per read.
    const computed = x !== undefined && (producer.has(x) || graph.inputSpec(x) !== undefined);
    if (!computed || (n.opType !== 'Shape' && n.opType !== 'Size')) {
      out.copyNode(n);
      continue;
    }
    let rank: number;
    try {
      rank = facts.rank(x);
    } catch {
      // A rank the static facts cannot tell: the Shape read stays.
      out.copyNode(n);
      continue;
    }
    const full = algebra.shapeOf(x);
    const result = n.opType === 'Size' ? algebra.size(full) : algebra.shapeAttrs(full, rank, n);
    out.op('Identity', [result], {}, n.outputs[0]);
  }
  for (const o of graph.outputList) out.declareOutput(o.name, o.dtype, [...o.shape]);
  return out;
}

class ShapeAlgebra {
  private readonly known = new Map<string, Value>();
  private count = 0;

  constructor(
    private readonly g: Graph,
    private readonly facts: StaticFacts,
    private readonly producer: Map<string, NodeSpec>,
    private readonly isInput: (name: string) => boolean,
    private readonly staticDims: (name: string) => readonly number[] | undefined,
    /** Value names of the source graph, copied into the new one after these nodes are made. */
    private readonly taken: ReadonlySet<string>,
  ) {}

  /** A node of the new graph, its output named apart from every value the source graph has. */
  private op(opType: string, inputs: Value[], attrs: Record<string, number | number[]> = {}): Value {
    let name: string;
    do name = `shape_algebra_${this.count++}`;
    while (this.taken.has(name));
    return this.g.op(opType, inputs, attrs, name);
  }

  /** The shape of `name` as a 1-D int64 value of the new graph. */
  shapeOf(name: string): Value {
    let s = this.known.get(name);
    if (!s) {
      try {
        s = this.derive(name);
      } catch (e) {
        // No rule, or a rank the static facts cannot tell.
        if (!(e instanceof NoRule || e instanceof AutodiffError)) throw e;
        s = this.op('Shape', [{ name }]);
      }
      this.known.set(name, s);
    }
    return s;
  }

  /** The element count of a shape, as Size gives it (a scalar). */
  size(shape: Value): Value {
    return this.op('ReduceProd', [shape], { keepdims: 0 });
  }

  /** A Shape node's start/end attributes applied to the full shape (rank r). */
  shapeAttrs(full: Value, r: number, n: NodeSpec): Value {
    if (n.attrs.start === undefined && n.attrs.end === undefined) return full;
    const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
    return this.slice(full, clamp(Number(n.attrs.start ?? 0)), clamp(Number(n.attrs.end ?? r)));
  }

  private derive(name: string): Value {
    const dims = this.staticDims(name);
    if (dims) return this.g.ints([...dims]);
    if (this.isInput(name)) return this.op('Shape', [{ name }]);
    const n = this.producer.get(name);
    if (n?.opType === 'Split') return this.splitPart(n, name);
    if (!n || n.outputs[0] !== name) throw new NoRule();
    const g = this.g;
    const input = (i: number) => n.inputs[i]!;
    const rank = (v: string) => this.facts.rank(v);
    const op = n.opType;
    if (SHAPE_KEEPING.has(op)) return this.shapeOf(input(0));
    if (BROADCASTING.has(op)) {
      const operands = n.inputs.filter((i) => i !== '');
      return operands.slice(1).reduce((acc, v) => ({ s: this.broadcast(acc.s, acc.r, this.shapeOf(v), rank(v)), r: Math.max(acc.r, rank(v)) }), { s: this.shapeOf(operands[0]!), r: rank(operands[0]!) }).s;
    }
    switch (op) {
      case 'Transpose': {
        const r = rank(input(0));
        const perm = (n.attrs.perm as number[] | undefined) ?? Array.from({ length: r }, (_, i) => r - 1 - i);
        return this.op('Gather', [this.shapeOf(input(0)), g.ints(perm)], { axis: 0 });
      }
      case 'MatMul': {
        const [ra, rb] = [rank(input(0)), rank(input(1))];
        if (ra < 2 || rb < 2) throw new NoRule();
        const [sa, sb] = [this.shapeOf(input(0)), this.shapeOf(input(1))];
        const rows = this.slice(sa, ra - 2, ra - 1);
        const cols = this.slice(sb, rb - 1, rb);
        if (ra === 2 && rb === 2) return this.op('Concat', [rows, cols], { axis: 0 });
        const batch = ra === 2 ? this.slice(sb, 0, rb - 2) : rb === 2 ? this.slice(sa, 0, ra - 2) : this.broadcast(this.slice(sa, 0, ra - 2), ra - 2, this.slice(sb, 0, rb - 2), rb - 2);
        return this.op('Concat', [batch, rows, cols], { axis: 0 });
      }
      case 'Gemm': {
        const [sa, sb] = [this.shapeOf(input(0)), this.shapeOf(input(1))];
        const ta = Number(n.attrs.transA ?? 0) === 1;
        const tb = Number(n.attrs.transB ?? 0) === 1;
        return this.op('Concat', [this.slice(sa, ta ? 1 : 0, ta ? 2 : 1), this.slice(sb, tb ? 0 : 1, tb ? 1 : 2)], { axis: 0 });
      }
      case 'MaxUnpool': {
        // Its output_shape input is its shape; without one, the shape follows the windows (no rule).
        if (!n.inputs[2]) throw new NoRule();
        return { name: input(2) };
      }
      case 'Reshape': {
        if (Number(n.attrs.allowzero ?? 0) !== 0) throw new NoRule();
        const [rx, rt] = [rank(input(0)), rank(name)];
        const sx = this.shapeOf(input(0));
        const target = { name: input(1) };
        // A 0 in the target copies the input's dim at that index; a -1 takes what the other dims leave.
        const aligned = rx >= rt ? this.slice(sx, 0, rt) : this.op('Concat', [sx, g.ints(Array<number>(rt - rx).fill(1))], { axis: 0 });
        const copied = this.op('Where', [this.op('Equal', [target, g.ints([0])]), aligned, target]);
        const inferred = this.op('Equal', [copied, g.ints([-1])]);
        const total = this.op('ReduceProd', [sx], { keepdims: 1 });
        const others = this.op('Max', [this.op('ReduceProd', [this.op('Where', [inferred, g.ints([1]), copied])], { keepdims: 1 }), g.ints([1])]);
        return this.op('Where', [inferred, this.op('Div', [total, others]), copied]);
      }
      case 'Slice': {
        const r = rank(input(0));
        if (!n.inputs[3]) throw new NoRule();
        if (n.inputs[4] && this.constants(input(4)).some((s) => s !== 1)) throw new NoRule();
        const axes = this.constants(input(3)).map((a) => axisAt(a, r));
        const sx = this.shapeOf(input(0));
        const dims = this.op('Gather', [sx, g.ints(axes)], { axis: 0 });
        // ONNX Slice bounds: negative ones count from the end, then both are clamped to [0, dim].
        const bound = (v: Value) => this.op('Min', [this.op('Max', [this.op('Where', [this.op('Less', [v, g.ints([0])]), this.op('Add', [v, dims]), v]), g.ints([0])]), dims]);
        const length = this.op('Max', [this.op('Sub', [bound({ name: input(2) }), bound({ name: input(1) })]), g.ints([0])]);
        return this.op('ScatterElements', [sx, g.ints(axes), length], { axis: 0 });
      }
      case 'Concat': {
        const r = rank(input(0));
        const axis = axisAt(Number(n.attrs.axis), r);
        const parts = n.inputs.filter((i) => i !== '').map((v) => this.shapeOf(v));
        const along = parts.map((s) => this.slice(s, axis, axis + 1)).reduce((a, b) => this.op('Add', [a, b]));
        return this.op('ScatterElements', [parts[0]!, g.ints([axis]), along], { axis: 0 });
      }
      case 'Pad': {
        if (n.inputs[3]) throw new NoRule();
        const r = rank(input(0));
        const pads = { name: input(1) };
        return this.op('Add', [this.op('Add', [this.shapeOf(input(0)), this.slice(pads, 0, r)]), this.slice(pads, r, 2 * r)]);
      }
      case 'Conv':
      case 'MaxPool':
      case 'AveragePool': {
        // Each spatial dim: floor((in + pads - dilation·(kernel - 1) - 1) / stride) + 1.
        if ((n.attrs.auto_pad ?? 'NOTSET') !== 'NOTSET' || Number(n.attrs.ceil_mode ?? 0) !== 0) throw new NoRule();
        const r = rank(input(0));
        const spatial = r - 2;
        const w = op === 'Conv' ? this.staticDims(input(1)) : undefined;
        const kernel = (n.attrs.kernel_shape as number[] | undefined) ?? w?.slice(2);
        if (!kernel || (op === 'Conv' && !w)) throw new NoRule();
        const { pads, dil, strides } = windowAttrs(n, spatial);
        const sx = this.shapeOf(input(0));
        const shrink = kernel.map((k, i) => pads[i]! + pads[i + spatial]! - dil[i]! * (k - 1) - 1);
        const dims = this.op('Add', [this.op('Div', [this.op('Add', [this.slice(sx, 2, r), this.g.ints(shrink)]), this.g.ints(strides)]), this.g.ints(strides.map(() => 1))]);
        const channels = w ? this.g.ints([w[0]!]) : this.slice(sx, 1, 2);
        return this.op('Concat', [this.slice(sx, 0, 1), channels, dims], { axis: 0 });
      }
      case 'ReduceSum':
      case 'ReduceMean':
      case 'ReduceMax':
      case 'ReduceProd': {
        // Opset 17: ReduceSum takes its axes as an input, the others as an attribute.
        const r = rank(input(0));
        const listed = op === 'ReduceSum' ? (n.inputs[1] ? this.constants(input(1)) : undefined) : (n.attrs.axes as number[] | undefined);
        if (listed?.length === 0 && Number(n.attrs.noop_with_empty_axes ?? 0) === 1) return this.shapeOf(input(0));
        const axes = listed?.length ? listed.map((a) => axisAt(a, r)) : Array.from({ length: r }, (_, i) => i);
        const sx = this.shapeOf(input(0));
        if (Number(n.attrs.keepdims ?? 1) === 1) return this.op('ScatterElements', [sx, this.g.ints(axes), this.g.ints(axes.map(() => 1))], { axis: 0 });
        const kept = Array.from({ length: r }, (_, i) => i).filter((i) => !axes.includes(i));
        return kept.length === 0 ? this.g.ints([]) : this.op('Gather', [sx, this.g.ints(kept)], { axis: 0 });
      }
      case 'Expand':
        return this.broadcast(this.shapeOf(input(0)), rank(input(0)), { name: input(1) }, rank(name));
      case 'Unsqueeze':
      case 'Squeeze': {
        if (!n.inputs[1]) throw new NoRule();
        const [rx, ro] = [rank(input(0)), rank(name)];
        const sx = this.shapeOf(input(0));
        const unsqueeze = op === 'Unsqueeze';
        const axes = this.constants(input(1)).map((a) => axisAt(a, unsqueeze ? ro : rx));
        const pieces: Value[] = [];
        if (unsqueeze) {
          let next = 0;
          for (let i = 0; i < ro; i++) pieces.push(axes.includes(i) ? g.ints([1]) : this.slice(sx, next, ++next));
        } else {
          for (let i = 0; i < rx; i++) if (!axes.includes(i)) pieces.push(this.slice(sx, i, i + 1));
        }
        return pieces.length === 0 ? g.ints([]) : this.op('Concat', pieces, { axis: 0 });
      }
    }
    throw new NoRule();
  }

  /** A Split output: the input's shape with the split axis cut to that part's size. */
  private splitPart(n: NodeSpec, name: string): Value {
    if (!n.inputs[1]) throw new NoRule();
    const r = this.facts.rank(n.inputs[0]!);
    const axis = axisAt(Number(n.attrs.axis ?? 0), r);
    const k = n.outputs.indexOf(name);
    return this.op('ScatterElements', [this.shapeOf(n.inputs[0]!), this.g.ints([axis]), this.slice({ name: n.inputs[1] }, k, k + 1)], { axis: 0 });
  }

  /** Numpy broadcast of two shapes (ranks ra, rb): the shorter padded with leading 1s, then per dim the one that is not 1. */
  private broadcast(a: Value, ra: number, b: Value, rb: number): Value {
    const g = this.g;
    const pad = (s: Value, by: number) => (by > 0 ? this.op('Concat', [g.ints(Array<number>(by).fill(1)), s], { axis: 0 }) : s);
    const [pa, pb] = [pad(a, rb - ra), pad(b, ra - rb)];
    return this.op('Where', [this.op('Equal', [pa, g.ints([1])]), pb, pa]);
  }

  private slice(s: Value, start: number, end: number): Value {
    return this.op('Slice', [s, this.g.ints([start]), this.g.ints([end]), this.g.ints([0])]);
  }

  private constants(name: string): number[] {
    try {
      return this.facts.constInts(name);
    } catch {
      throw new NoRule();
    }
  }
}
