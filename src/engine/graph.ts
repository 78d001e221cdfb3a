/**
 * A small typed builder for ONNX graphs. Models describe their architecture with `op()` calls;
 * `toModel()` serialises the graph to ONNX protobuf bytes. Large initializers are never embedded:
 * they point into named external-data blobs (`ExternalBlob`) which the runtime receives as memory,
 * so weights are not copied into the protobuf.
 */
import { ProtoWriter } from './protobuf.js';

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool' | QuantDType;

/** Element types of reduced-precision initializers (quantized or half-precision weights). */
export type QuantDType = 'int8' | 'uint8' | 'float16';

const ONNX_DTYPE: Record<DType, number> = { float32: 1, float64: 11, int32: 6, int64: 7, bool: 9, uint8: 2, int8: 3, float16: 10 };
const DTYPE_BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, int64: 8, bool: 1, uint8: 1, int8: 1, float16: 2 };

/** A symbolic dimension is a string (e.g. 'batch'); a fixed one a number. */
export type Dim = number | string;

export interface Value {
  readonly name: string;
}

export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };

/** Initializer bytes held in the protobuf itself (small tensors only). */
export interface InlineData {
  kind: 'inline';
  bytes: Uint8Array;
}

/** Initializer bytes found in an external blob, handed to the runtime alongside the model. */
export interface ExternalRef {
  kind: 'external';
  blob: string;
  offset: number;
  length: number;
}

export interface InitializerSpec {
  dtype: DType;
  dims: readonly number[];
  data: InlineData | ExternalRef;
}

/** One node as recorded by the builder (read by graph transformations such as autodiff). */
export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  domain: string;
}

export const OPSET = 17;

export class Graph {
  private nodes: NodeSpec[] = [];
  private inputs: { name: string; dtype: DType; shape: Dim[] }[] = [];
  private outputs: { name: string; dtype: DType; shape: Dim[] }[] = [];
  private initializers = new Map<string, InitializerSpec>();
  private names = new Set<string>();
  private counter = 0;
  /** Values declared to have one shape (`declareSameShape`), each mapped to its class's first value. */
  private shapeClasses = new Map<string, string>();

  constructor(readonly name: string) {}

  private fresh(hint: string): string {
    let name = `${hint}_${this.counter++}`;
    while (this.names.has(name)) name = `${hint}_${this.counter++}`;
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`graph ${this.name}: duplicate value name '${name}'`);
    this.names.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape: Dim[]): Value {
    this.inputs.push({ name: this.claim(name), dtype, shape });
    return { name };
  }

  output(value: Value, name: string, dtype: DType, shape: Dim[]): void {
    const out = this.op('Identity', [value], {}, name);
    this.outputs.push({ name: out.name, dtype, shape });
  }

  initializer(name: string, spec: InitializerSpec): Value {
    const expected = spec.dims.reduce((a, b) => a * b, 1) * DTYPE_BYTES[spec.dtype];
    const actual = spec.data.kind === 'inline' ? spec.data.bytes.length : spec.data.length;
    if (expected !== actual) {
      throw new Error(`graph ${this.name}: initializer '${name}' has ${actual} bytes, shape [${spec.dims}] needs ${expected}`);
    }
    this.initializers.set(this.claim(name), spec);
    return { name };
  }

  /** A small float32 constant computed on the JS side (folded norms, position tables). */
  floats(hint: string, dims: readonly number[], values: Float32Array | number[]): Value {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    return this.initializer(this.fresh(hint), { dtype: 'float32', dims, data: { kind: 'inline', bytes } });
  }

  /** A small int64 constant (shapes, axes, slice bounds). */
  ints(values: number[], dims: readonly number[] = [values.length]): Value {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.initializer(this.fresh('const'), {
      dtype: 'int64',
      dims,
      data: { kind: 'inline', bytes: new Uint8Array(data.buffer) },
    });
  }

  scalar(value: number): Value {
    return this.floats('scalar', [], [value]);
  }

  /** A small float constant of either float width (graph transformations keep the graph's dtype). */
  constant(dtype: 'float32' | 'float64', dims: readonly number[], values: number[]): Value {
    const data = dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
    const bytes = new Uint8Array(data.buffer);
    return this.initializer(this.fresh('const'), { dtype, dims, data: { kind: 'inline', bytes } });
  }

  op(opType: string, inputs: (Value | null)[], attrs: Record<string, AttrValue> = {}, outputName?: string): Value {
    return this.opMulti(opType, inputs, 1, attrs, outputName ? [outputName] : undefined)[0]!;
  }

  opMulti(
    opType: string,
    inputs: (Value | null)[],
    outputCount: number,
    attrs: Record<string, AttrValue> = {},
    outputNames?: string[],
    domain = '',
  ): Value[] {
    const outputs: string[] = [];
    for (let i = 0; i < outputCount; i++) {
      outputs.push(this.claim(outputNames?.[i] ?? this.fresh(opType.toLowerCase())));
    }
    this.nodes.push({ opType, inputs: inputs.map((v) => (v ? v.name : '')), outputs, attrs, domain });
    return outputs.map((name) => ({ name }));
  }

  /** Appends a node recorded in another graph, keeping its value names (graph transformations). */
  copyNode(n: NodeSpec): void {
    this.opMulti(n.opType, n.inputs.map((i) => (i === '' ? null : { name: i })), n.outputs.length, n.attrs, n.outputs, n.domain);
  }

  /** Declares a value some node already produces as a graph output (no Identity node added). */
  declareOutput(name: string, dtype: DType, shape: Dim[]): void {
    if (!this.names.has(name)) throw new Error(`graph ${this.name}: output '${name}' is not a value of the graph`);
    this.outputs.push({ name, dtype, shape });
  }

  /** Graph inputs in declaration order. */
  get inputList(): readonly { name: string; dtype: DType; shape: Dim[] }[] {
    return this.inputs;
  }

  /** Graph outputs in declaration order. */
  get outputList(): readonly { name: string; dtype: DType; shape: Dim[] }[] {
    return this.outputs;
  }

  /**
   * Declares that these values always have one shape at run time: a fact the builder knows but a
   * static analysis cannot prove (e.g. attention's content and relative logits, made by different
   * products and slices). The backward then skips un-broadcasting between them. A false
   * declaration gives gradients of the wrong shape, which the runtime rejects.
   */
  declareSameShape(values: Value[]): void {
    const classes = values.map((v) => this.shapeClass(v.name));
    const root = classes[0]!;
    for (const [name, cls] of this.shapeClasses) if (classes.includes(cls)) this.shapeClasses.set(name, root);
    for (const v of values) this.shapeClasses.set(v.name, root);
  }

  /** Whether two values were declared to have one shape. */
  sameShape(a: string, b: string): boolean {
    return a === b || (this.shapeClasses.has(a) && this.shapeClass(a) === this.shapeClass(b));
  }

  private shapeClass(name: string): string {
    return this.shapeClasses.get(name) ?? name;
  }

  /** The nodes in insertion (topological) order. */
  get nodeList(): readonly NodeSpec[] {
    return this.nodes;
  }

  /**
   * Moves each node at index ≥ `from` whose op is in `ops` and whose inputs all exist before `from`
   * to just after the last of their producers. A runtime that runs nodes in the graph's order frees a
   * tensor after its last reader, so a backward pass's Shape of a forward activation, placed early,
   * no longer keeps that activation alive until the backward reaches it. ONNX Runtime orders the
   * nodes itself (depth first from the graph's leaves) and does not keep this placement: for it the
   * split computes such shapes from the inputs' shapes instead (shape-algebra.ts).
   */
  hoist(from: number, ops: ReadonlySet<string>): void {
    const producedAt = new Map<string, number>();
    this.nodes.forEach((n, i) => n.outputs.forEach((o) => producedAt.set(o, i)));
    const early = new Map<number, NodeSpec[]>();
    const rest: NodeSpec[] = [];
    for (const n of this.nodes.slice(from)) {
      const at = n.inputs.map((i) => (i === '' ? -1 : producedAt.get(i) ?? -1));
      if (ops.has(n.opType) && at.every((p) => p < from)) {
        const p = Math.max(-1, ...at);
        early.set(p, [...(early.get(p) ?? []), n]);
      } else {
        rest.push(n);
      }
    }
    const reordered: NodeSpec[] = [...(early.get(-1) ?? [])];
    this.nodes.slice(0, from).forEach((n, i) => reordered.push(n, ...(early.get(i) ?? [])));
    this.nodes = [...reordered, ...rest];
  }

  /** The spec of an initializer, or undefined when `name` is not one. */
  initializerSpec(name: string): InitializerSpec | undefined {
    return this.initializers.get(name);
  }

  /** The declared dtype and shape of a graph input, or undefined when `name` is not one. */
  inputSpec(name: string): { dtype: DType; shape: Dim[] } | undefined {
    return this.inputs.find((i) => i.name === name);
  }

  get initializerCount(): number {
    return this.initializers.size;
  }

  /** Initializers in declaration order (graph transformations copy them). */
  get initializerList(): readonly [string, InitializerSpec][] {
    return [...this.initializers];
  }

  /** Serialises to ONNX ModelProto bytes. External refs name their blob as the external-data location. */
  toModel(): Uint8Array {
    this.checkTopology();
    const w = new ProtoWriter();
    w.int(1, 8); // ir_version 8: understood by onnxruntime-node and onnxruntime-web alike
    w.string(2, 'seq2track');
    w.message(8, (o) => o.string(1, '').int(2, OPSET));
    w.message(7, (g) => {
      for (const n of this.nodes) g.message(1, (m) => writeNode(m, n));
      g.string(2, this.name);
      for (const [name, spec] of this.initializers) g.message(5, (t) => writeTensor(t, name, spec));
      for (const i of this.inputs) g.message(11, (v) => writeValueInfo(v, i.name, i.dtype, i.shape));
      for (const o of this.outputs) g.message(12, (v) => writeValueInfo(v, o.name, o.dtype, o.shape));
    });
    return w.finish();
  }

  private checkTopology(): void {
    const known = new Set<string>([...this.inputs.map((i) => i.name), ...this.initializers.keys(), '']);
    for (const n of this.nodes) {
      for (const i of n.inputs) {
        if (!known.has(i)) throw new Error(`graph ${this.name}: ${n.opType} reads '${i}' before it is produced`);
      }
      for (const o of n.outputs) known.add(o);
    }
  }
}

function writeNode(w: ProtoWriter, n: NodeSpec): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.outputs[0]!);
  w.string(4, n.opType);
  if (n.domain) w.string(7, n.domain);
  for (const [name, value] of Object.entries(n.attrs)) w.message(5, (a) => writeAttr(a, name, value));
}

function writeAttr(w: ProtoWriter, name: string, value: AttrValue): void {
  w.string(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use {float: x} for float attributes`);
    w.int(3, value).int(20, 2);
  } else if (typeof value === 'string') {
    w.string(4, value).int(20, 3);
  } else if (Array.isArray(value)) {
    for (const v of value) w.int(8, v);
    w.int(20, 7);
  } else if ('float' in value) {
    w.float(2, value.float).int(20, 1);
  } else {
    for (const v of value.floats) w.float(7, v);
    w.int(20, 6);
  }
}

function writeTensor(w: ProtoWriter, name: string, spec: InitializerSpec): void {
  for (const d of spec.dims) w.int(1, d);
  w.int(2, ONNX_DTYPE[spec.dtype]);
  w.string(8, name);
  if (spec.data.kind === 'inline') {
    w.bytes(9, spec.data.bytes);
  } else {
    const ref = spec.data;
    const entry = (key: string, value: string) => w.message(13, (e) => e.string(1, key).string(2, value));
    entry('location', ref.blob);
    entry('offset', String(ref.offset));
    entry('length', String(ref.length));
    w.int(14, 1);
  }
}

function writeValueInfo(w: ProtoWriter, name: string, dtype: DType, shape: Dim[]): void {
  w.string(1, name);
  w.message(2, (t) =>
    t.message(1, (tt) => {
      tt.int(1, ONNX_DTYPE[dtype]);
      tt.message(2, (s) => {
        for (const d of shape) s.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}
