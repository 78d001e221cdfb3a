/**
 * Transformer-XL relative multi-head attention (Enformer, Borzoi): content logits (q + u)·k and
 * positional logits (q + v)·r, relative-shifted so key j of query i sees distance j - i.
 * Works for any sequence length n: the [2n-1, F] positional table is a graph input.
 */
import type { Value } from '../engine/graph.js';
import { layerNorm, linear, type LayerContext } from './layers.js';


/** [B, n, H·d] -> [B, H, n, d] */
function splitHeads(c: LayerContext, x: Value, heads: number): Value {
  const g = c.g;
  const r = g.op('Reshape', [x, g.ints([0, 0, heads, -1])]);
  return g.op('Transpose', [r], { perm: [0, 2, 1, 3] });
}

/** [B, H, n, d] -> [B, n, H·d] */
export function mergeHeads(c: LayerContext, x: Value): Value {
  const g = c.g;
  return g.op('Reshape', [g.op('Transpose', [x], { perm: [0, 2, 1, 3] }), g.ints([0, 0, -1])]);
}

/**
 * Relative shift of the positional logits of query rows [r0, r0 + c): x is [B, H, c, n + c], made from
 * the key-distance columns n - r0 - c .. 2n - 1 - r0 (the last one is never read), and
 * out[i, j] = x[i, (c-1) + j - i]. In the flattened rows that element sits at (c-1) + i·(n+c-1) + j,
 * so dropping the first c-1 values, viewing c rows of n+c-1 and keeping the first n columns is the
 * shift: one slice of contiguous memory and one strided copy (no Pad of the whole tensor, which is
 * slow in ONNX Runtime; the extra column is what makes the row stride n+c-1 ≥ n even for c = 1).
 */
export function relativeShift(c: LayerContext, x: Value, rows: Value, n: Value): Value {
  const g = c.g;
  const flat = g.op('Reshape', [x, g.ints([0, 0, -1])]);
  const stride = g.op('Sub', [g.op('Add', [n, rows]), g.ints([1])]);
  const start = g.op('Sub', [rows, g.ints([1])]);
  const end = g.op('Add', [start, g.op('Mul', [rows, stride])]);
  const kept = g.op('Slice', [flat, start, end, g.ints([2])]);
  const wide = g.op('Reshape', [kept, g.op('Concat', [g.ints([0, 0]), rows, stride], { axis: 0 })]);
  return g.op('Slice', [wide, g.ints([0]), n, g.ints([3])]);
}

/**
 * Splits the query axis into `count` nearly equal row ranges [start, end) (1-D int64 values), for any
 * length known only at run time. Attending chunk by chunk bounds the [rows, keys] logits in memory.
 */
export function queryChunks(c: LayerContext, n: Value, count: number): { start: Value; end: Value }[] {
  const g = c.g;
  const bound = (i: number) => (i === 0 ? g.ints([0]) : i === count ? n : g.op('Div', [g.op('Mul', [n, g.ints([i])]), g.ints([count])]));
  return Array.from({ length: count }, (_, i) => ({ start: bound(i), end: bound(i + 1) }));
}

/**
 * Receives the softmax weights of one query chunk, [B, H, rows, n] (rows = end - start), exactly the
 * tensor the forward multiplies with the values; used to write attention maps (attention-maps.ts).
 */
export type AttentionTap = (weights: Value, start: Value, end: Value) => void;

export interface RelativeAttentionShape {
  heads: number;
  keySize: number;
  valueSize: number;
  /** Query rows are processed in this many chunks (memory, not results, depends on it). */
  queryChunks?: number;
  /**
   * How the positional logits are formed (equal in real arithmetic): 'keys', q·(W p) as the
   * reference; 'features', (q W)·p; 'auto' (default), 'features' when there are fewer position
   * features than key dims.
   */
  positionalProduct?: 'auto' | 'keys' | 'features';
}

/**
 * x: [B, n, C]; positions: [2n-1, F]. Weights `${prefix}.to_q/to_k/to_v` (no bias), `to_rel_k`
 * (no bias), `to_out` (bias), `rel_content_bias` and `rel_pos_bias` [1, H, 1, dk].
 */
export function relativeAttention(c: LayerContext, x: Value, positions: Value, prefix: string, s: RelativeAttentionShape, tap?: AttentionTap): Value {
  const g = c.g;
  const q0 = splitHeads(c, linear(c, x, `${prefix}.to_q`, { bias: false }), s.heads);
  const q = g.op('Mul', [q0, g.scalar(s.keySize ** -0.5)]);
  const k = splitHeads(c, linear(c, x, `${prefix}.to_k`, { bias: false }), s.heads);
  const v = splitHeads(c, linear(c, x, `${prefix}.to_v`, { bias: false }), s.heads);
  const kT = g.op('Transpose', [k], { perm: [0, 1, 3, 2] });
  const qContent = g.op('Add', [q, c.param(`${prefix}.rel_content_bias`)]);
  const qPosition = g.op('Add', [q, c.param(`${prefix}.rel_pos_bias`)]);

  // The positional logits are q_h·(W_h p_d) for distance features p_d [F] and W = to_rel_k [H·dk, F].
  // With fewer features than key dims (Borzoi: F = 32, dk = 64) they are computed as (q_h W_h)·p_d:
  // the queries projected onto the features, then one product with the features shared by every
  // head, half the FLOPs of the distance keys' product and a plain broadcast GEMM. Otherwise (Enformer:
  // F = 192) as the reference does, through the keys r = W p. Either way the right operand is
  // [.., K, 2n] with a zero column at the end; column m holds distance m - (n-1).
  const features = (c.shape(`${prefix}.to_rel_k.weight`) as [number, number])[1];
  const viaFeatures = s.positionalProduct === 'features' || ((s.positionalProduct ?? 'auto') === 'auto' && features < s.keySize);
  let qRel: Value;
  let rT: Value;
  if (viaFeatures) {
    const w = g.op('Reshape', [c.param(`${prefix}.to_rel_k.weight`), g.ints([s.heads, s.keySize, features])]);
    qRel = g.op('MatMul', [qPosition, w]);
    rT = g.op('Pad', [g.op('Transpose', [positions], { perm: [1, 0] }), g.ints([0, 0, 0, 1])]);
  } else {
    const r = linear(c, positions, `${prefix}.to_rel_k`, { bias: false });
    qRel = qPosition;
    rT = g.op('Pad', [g.op('Transpose', [g.op('Reshape', [r, g.ints([0, s.heads, s.keySize])])], { perm: [1, 2, 0] }), g.ints([0, 0, 0, 0, 0, 1])]);
  }
  const distanceAxis = g.ints([viaFeatures ? 1 : 2]);

  const n = g.op('Shape', [x], { start: 1, end: 2 });
  const twoN = g.op('Mul', [n, g.ints([2])]);
  const rowsAxis = g.ints([2]);
  const outputs = queryChunks(c, n, s.queryChunks ?? 1).map(({ start, end }) => {
    const rows = g.op('Sub', [end, start]);
    const content = g.op('MatMul', [g.op('Slice', [qContent, start, end, rowsAxis]), kT]);
    // Distances needed by rows [start, end): columns n - end .. 2n - 2 - start, and one more (relativeShift).
    const rChunk = g.op('Slice', [rT, g.op('Sub', [n, end]), g.op('Sub', [twoN, start]), distanceAxis]);
    const rel = relativeShift(c, g.op('MatMul', [g.op('Slice', [qRel, start, end, rowsAxis]), rChunk]), rows, n);
    const logits = g.op('Add', [content, rel]);
    g.declareSameShape([content, rel, logits]);
    const attn = g.op('Softmax', [logits], { axis: -1 });
    tap?.(attn, start, end);
    return g.op('MatMul', [attn, v]);
  });
  const out = outputs.length === 1 ? outputs[0]! : g.op('Concat', outputs, { axis: 2 });
  return linear(c, mergeHeads(c, out), `${prefix}.to_out`);
}

export interface RotaryAttentionShape {
  heads: number;
  /** Key/value heads; query head j uses kv head floor(j / (heads / kvHeads)). */
  kvHeads: number;
  headDim: number;
  /** Leading head dims that get the rotary embedding. */
  rotaryDim: number;
  /** Query rows are processed in this many chunks (memory, not results, depends on it). */
  queryChunks?: number;
}

/**
 * Rotate-half (GPT-NeoX, flash-attn non-interleaved) rotary embedding of x [B, H, n, d] on its first
 * `dim` channels: with x1, x2 the two halves, (x1 cos - x2 sin, x2 cos + x1 sin, rest).
 * cos, sin: [n, dim/2].
 */
export function applyRotary(c: LayerContext, x: Value, cos: Value, sin: Value, dim: number, headDim: number): Value {
  const g = c.g;
  const axis = g.ints([3]);
  const x1 = g.op('Slice', [x, g.ints([0]), g.ints([dim / 2]), axis]);
  const x2 = g.op('Slice', [x, g.ints([dim / 2]), g.ints([dim]), axis]);
  const r1 = g.op('Sub', [g.op('Mul', [x1, cos]), g.op('Mul', [x2, sin])]);
  const r2 = g.op('Add', [g.op('Mul', [x2, cos]), g.op('Mul', [x1, sin])]);
  const parts = [r1, r2];
  if (headDim > dim) parts.push(g.op('Slice', [x, g.ints([dim]), g.ints([headDim]), axis]));
  return g.op('Concat', parts, { axis: 3 });
}

/**
 * Flash-attn `MHA` as used by Flashzoi: fused `Wqkv` (bias) -> q (heads), k and v (kvHeads), each head
 * of size headDim; rotary on q and k; softmax(q kᵀ / √headDim) v with each kv head shared by a group
 * of query heads; heads concatenated; `out_proj` (bias). x: [B, n, C]; cos/sin: [n, rotaryDim/2].
 */
export function rotaryAttention(c: LayerContext, x: Value, cos: Value, sin: Value, prefix: string, s: RotaryAttentionShape, tap?: AttentionTap): Value {
  const g = c.g;
  const { heads, kvHeads, headDim: d } = s;
  const group = heads / kvHeads;
  const qkv = linear(c, x, `${prefix}.Wqkv`);
  const [q0, k0, v0] = g.opMulti('Split', [qkv, g.ints([heads * d, kvHeads * d, kvHeads * d])], 3, { axis: -1 }) as [Value, Value, Value];
  const q = applyRotary(c, splitHeads(c, q0, heads), cos, sin, s.rotaryDim, d);
  const k = applyRotary(c, splitHeads(c, k0, kvHeads), cos, sin, s.rotaryDim, d);
  const v = splitHeads(c, v0, kvHeads);

  // Query heads grouped by their kv head: [B, Hkv, G, n, d] against k, v as [B, Hkv, 1, n, d].
  const qg = g.op('Mul', [g.op('Reshape', [q, g.ints([0, kvHeads, group, -1, d])]), g.scalar(d ** -0.5)]);
  const kT = g.op('Unsqueeze', [g.op('Transpose', [k], { perm: [0, 1, 3, 2] }), g.ints([2])]);
  const vg = g.op('Unsqueeze', [v, g.ints([2])]);
  const n = g.op('Shape', [x], { start: 1, end: 2 });
  const rowsAxis = g.ints([3]);
  const chunks = queryChunks(c, n, s.queryChunks ?? 1).map(({ start, end }) => {
    const attn = g.op('Softmax', [g.op('MatMul', [g.op('Slice', [qg, start, end, rowsAxis]), kT])], { axis: -1 });
    // [B, Hkv, G, rows, n] -> [B, H, rows, n]: query head j is kv head j / G, member j % G.
    if (tap) tap(g.op('Reshape', [attn, g.op('Concat', [g.ints([0, heads, -1]), n], { axis: 0 })]), start, end);
    return g.op('MatMul', [attn, vg]);
  });
  const out = chunks.length === 1 ? chunks[0]! : g.op('Concat', chunks, { axis: 3 });
  const merged = mergeHeads(c, g.op('Reshape', [out, g.ints([0, heads, -1, d])]));
  return linear(c, merged, `${prefix}.out_proj`);
}

/**
 * The transformer block both families share (PyTorch names `transformer.{j}.0.fn` / `.1.fn`):
 * x + Attention(LayerNorm(x)), then x + Linear(ReLU(Linear(LayerNorm(x)))).
 */
export function transformerBlock(c: LayerContext, x: Value, j: number, eps: number, attention: (v: Value, prefix: string) => Value): Value {
  const g = c.g;
  const a = `transformer.${j}.0.fn`;
  const attended = attention(layerNorm(c, x, `${a}.0`, eps), `${a}.1`);
  const afterAttention = g.op('Add', [x, attended]);
  const m = `transformer.${j}.1.fn`;
  const hidden = g.op('Relu', [linear(c, layerNorm(c, afterAttention, `${m}.0`, eps), `${m}.1`)]);
  const mlp = linear(c, hidden, `${m}.4`);
  const y = g.op('Add', [afterAttention, mlp]);
  // Residual branches keep the stream's shape [B, n, C].
  g.declareSameShape([x, attended, afterAttention, mlp, y]);
  return y;
}
