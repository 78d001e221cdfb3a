/**
 * ONNX Runtime's JSON profile (`npm run bench -- MODEL --profile PREFIX`) summed by op class:
 *   npm run bench -- profile-summary PREFIX_trunk_….json PREFIX_head_….json [--ceiling GFLOP/s] [--passes N]
 * Every node's `*_kernel_time` event is assigned a class from its op and tensor shapes (Enformer and
 * Borzoi trunks and heads: see `classify`), its FLOPs computed from the shapes (convolutions,
 * MatMul, Gemm: 2 × multiply-adds), and the classes' seconds per session run (or per forward pass with
 * `--passes N`, the number of forward passes profiled, warm-up included: the trunk session runs once per tile), share of the profiled time and GFLOP/s are printed as a Markdown table.
 */
import { readFileSync } from 'node:fs';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; input_type_shape?: Record<string, number[]>[]; output_type_shape?: Record<string, number[]>[] };
}

export interface NodeTime {
  op: string;
  inputs: number[][];
  outputs: number[][];
  /** Microseconds. */
  dur: number;
}

const shapes = (list: Record<string, number[]>[] | undefined) => (list ?? []).map((t) => Object.values(t)[0] ?? []);
const count = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Kernel events and the number of model runs in one profile file. */
export function readProfile(path: string): { nodes: NodeTime[]; runs: number } {
  const events = JSON.parse(readFileSync(path, 'utf8')) as ProfileEvent[];
  const nodes: NodeTime[] = [];
  let runs = 0;
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') runs++;
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    nodes.push({ op: e.args?.op_name ?? '?', inputs: shapes(e.args?.input_type_shape), outputs: shapes(e.args?.output_type_shape), dur: e.dur });
  }
  return { nodes, runs };
}

/**
 * Logical [N, C, H, W] of a tensor: NCHWc tensors keep their logical shape in the profile (the
 * blocking is physical), so a 4-D shape is read as is.
 */
function convKernelWidth(weight: number[]): number {
  return weight.length >= 4 ? weight[weight.length - 1]! * weight[weight.length - 2]! : weight[weight.length - 1] ?? 1;
}

/** FLOPs (2 × multiply-adds) of the node, for convolutions and products; 0 for the rest. */
export function nodeFlops(n: NodeTime): number {
  const [x, w] = n.inputs;
  const y = n.outputs[0];
  if (!x || !y) return 0;
  // Depthwise convolutions (BatchNorm as ORT runs it, the pooling's pair split) are not counted,
  // as the model's FLOP count does not count them.
  if (n.op === 'Conv' && w) return w[1] === 1 ? 0 : 2 * count(y) * w[1]! * convKernelWidth(w);
  // ORT lists only some constant inputs (weights) in the profile: K is read from the activation.
  if (n.op === 'MatMul' || n.op === 'FusedMatMul' || n.op === 'Gemm' || n.op === 'FusedGemm') return 2 * count(y) * x[x.length - 1]!;
  return 0;
}

/**
 * Elementwise ops on conv-layout tensors: in Enformer only the attention pooling's σ, product and add
 * (ORT fuses its GELU and residual adds); in Borzoi the tanh-GELU's arithmetic and the residual/U-Net adds.
 */
const TRUNK_ELEMENTWISE = 'elementwise on conv tensors (Enformer: pooling σ·d + x₁; Borzoi: tanh-GELU, adds)';

/** A trunk activation in the '2d' layout: [B, C, 1, L], or ORT's blocked [B, C/8, 1, L, 8]. */
const isTrunk = (s: number[] | undefined) => s !== undefined && (s.length === 4 || s.length === 5) && s[2] === 1;

/**
 * The op class of a node, from its op and shapes (Enformer's and Borzoi's graphs as built by
 * src/models; ORT's NCHWc rewrites keep op `Conv` and the logical shapes).
 */
export function classify(n: NodeTime): string {
  const [x, w] = n.inputs;
  const y = n.outputs[0] ?? [];
  switch (n.op) {
    case 'Conv': {
      const k = w ? convKernelWidth(w) : 0;
      const inCh = w?.[1] ?? 0;
      // ORT runs a BatchNormalization that follows an NCHWc conv as a depthwise 1×1 conv.
      if (inCh === 1 && k === 1) return 'BatchNorm';
      if (inCh === 1 && k === 2) return 'attention pooling: pair split (stride-2 depthwise)';
      if (inCh === 1) return `depthwise k=${k} convs`;
      if (inCh <= 4) return 'stem conv (4 input channels)';
      if (k === 1) return n.inputs.length === 2 ? '1×1 convs: attention-pool logits' : '1×1 convs with bias (Enformer: residual blocks; Borzoi: U-Net)';
      return `k=${k} convs`;
    }
    case 'MatMul':
    case 'FusedMatMul':
      // q·r reads the [H, dk, distances] relative keys (3-D); q·kᵀ and attention·v read 4-D tensors.
      if (w && w.length === 3 && y.length === 4) return 'relative-position part';
      if (y.length === 4) return 'attention q·kᵀ, attention·v';
      return 'linear layers (Gemm/MatMul)';
    case 'Gemm':
    case 'FusedGemm':
      // to_rel_k projects the [2n-1, F] position basis: the only product with an odd number of rows
      // (every other linear layer runs on batch × n positions, n = length / 128, here even).
      if (x && x.length === 2 && x[0]! % 2 === 1) return 'relative-position part';
      return 'linear layers (Gemm/MatMul)';
    case 'Pad':
      return y.length === 4 && !isTrunk(y) ? 'relative-position part' : 'pads, slices, concats';
    case 'Slice':
      if (x && (x.length === 3 || (x.length === 4 && y.length === 4 && x[3]! > y[3]! && !isTrunk(x)))) return 'relative-position part';
      return 'pads, slices, concats';
    case 'BatchNormalization':
      return 'BatchNorm';
    case 'QuickGelu':
    case 'Gelu':
    case 'FastGelu':
    case 'Tanh':
      return 'GELU';
    case 'ReorderInput':
    case 'ReorderOutput':
    case 'Transpose':
      return 'layout reorders, transposes';
    case 'LayerNormalization':
      return 'LayerNorm';
    case 'Softmax':
      // Enformer's old pooling: softmax over pairs of positions, [B, C, L/2, 2].
      return y.length === 4 && y[3] === 2 ? 'attention pooling: softmax, products, sums' : 'attention softmax';
    case 'Sigmoid':
      return isTrunk(y) ? TRUNK_ELEMENTWISE : 'elementwise';
    case 'ReduceSum':
      return x && x.length === 4 && x[3] === 2 ? 'attention pooling: softmax, products, sums' : 'elementwise';
    case 'Mul':
    case 'Add':
      if (y.length === 4 && y[3] === 2) return 'attention pooling: softmax, products, sums';
      if (isTrunk(y)) return TRUNK_ELEMENTWISE;
      return 'elementwise';
    case 'Concat':
    case 'Reshape':
    case 'Expand':
    case 'Squeeze':
    case 'Unsqueeze':
    case 'Identity':
    case 'Shape':
      return 'pads, slices, concats';
    case 'MaxPool':
      return 'max pooling';
    default:
      return ['Sub', 'Div', 'Relu', 'Softplus', 'Neg', 'Sqrt'].includes(n.op) ? 'elementwise' : `other (${n.op})`;
  }
}

export interface ClassRow {
  cls: string;
  seconds: number;
  flops: number;
  nodes: number;
}

/** Per-class seconds and FLOPs per model run. */
export function summarise(nodes: NodeTime[], runs: number): ClassRow[] {
  const rows = new Map<string, ClassRow>();
  for (const n of nodes) {
    const cls = classify(n);
    const r = rows.get(cls) ?? { cls, seconds: 0, flops: 0, nodes: 0 };
    r.seconds += n.dur / 1e6 / runs;
    r.flops += nodeFlops(n) / runs;
    r.nodes += 1 / runs;
    rows.set(cls, r);
  }
  return [...rows.values()].sort((a, b) => b.seconds - a.seconds);
}

export function summaryTable(title: string, rows: ClassRow[], ceiling?: number): string {
  const total = rows.reduce((a, r) => a + r.seconds, 0);
  const totalFlops = rows.reduce((a, r) => a + r.flops, 0);
  const lines = [`${title}: ${total.toFixed(2)} s of kernel time, ${(totalFlops / 1e9).toFixed(1)} GFLOP`, '', `| op class | nodes | s | share | GFLOP | GFLOP/s${ceiling ? ' | of ceiling' : ''} |`, `| --- | --- | --- | --- | --- | ---${ceiling ? ' | ---' : ''} |`];
  for (const r of rows) {
    const gf = r.flops > 0 ? r.flops / r.seconds / 1e9 : 0;
    lines.push(`| ${r.cls} | ${Math.round(r.nodes)} | ${r.seconds.toFixed(2)} | ${((100 * r.seconds) / total).toFixed(1)} % | ${r.flops > 0 ? (r.flops / 1e9).toFixed(1) : '—'} | ${gf > 0 ? gf.toFixed(1) : '—'}${ceiling ? ` | ${gf > 0 ? (gf / ceiling).toFixed(2) : '—'}` : ''} |`);
  }
  return lines.join('\n');
}

/** `passes`: forward passes in the profile (the trunk session runs once per tile): figures are per pass. */
export function profileSummary(files: string[], ceiling?: number, passes?: number): void {
  for (const f of files) {
    const { nodes, runs } = readProfile(f);
    if (runs === 0) throw new Error(`${f}: no model_run events (was profiling ended? the file is written when the session ends)`);
    const per = passes ?? runs;
    console.log(summaryTable(`${f} (${runs} session runs, figures per ${passes ? 'forward pass' : 'session run'})`, summarise(nodes, per), ceiling));
    console.log('');
  }
}
