/**
 * Transformer-XL relative multi-head attention (Enformer, Borzoi): content logits (q + u)·k and
 * positional logits (q + v)·r, relative-shifted so key j of query i sees distance j - i.
 * Works for any sequence length n: the [2n-1, F] positional table is a graph input.
 */
import type { Value } from '../engine/graph.js';
import { linear, type LayerContext } from './layers.js';

export interface RelativeAttentionShape {
  heads: number;
  keySize: number;
  valueSize: number;
}

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
 * out[b, h, i, j] = x[b, h, i, (n-1) + j - i] for x of shape [B, H, n, 2n-1]: pad one zero column in
 * front, view as [2n, n], drop the first row, view as [n, 2n-1], keep the first n columns.
 */
export function relativeShift(c: LayerContext, x: Value): Value {
  const g = c.g;
  const n = g.op('Shape', [x], { start: 2, end: 3 });
  const padded = g.op('Pad', [x, g.ints([0, 0, 0, 1, 0, 0, 0, 0])]);
  const tall = g.op('Reshape', [padded, g.op('Concat', [g.ints([0, 0, -1]), n], { axis: 0 })]);
  const dropped = g.op('Slice', [tall, g.ints([1]), g.ints([Number.MAX_SAFE_INTEGER]), g.ints([2])]);
  const wide = g.op('Reshape', [dropped, g.op('Concat', [g.ints([0, 0]), n, g.ints([-1])], { axis: 0 })]);
  return g.op('Slice', [wide, g.ints([0]), n, g.ints([3])]);
}

/**
 * x: [B, n, C]; positions: [2n-1, F]. Weights `${prefix}.to_q/to_k/to_v` (no bias), `to_rel_k`
 * (no bias), `to_out` (bias), `rel_content_bias` and `rel_pos_bias` [1, H, 1, dk].
 */
export function relativeAttention(c: LayerContext, x: Value, positions: Value, prefix: string, s: RelativeAttentionShape): Value {
  const g = c.g;
  const q0 = splitHeads(c, linear(c, x, `${prefix}.to_q`, { bias: false }), s.heads);
  const q = g.op('Mul', [q0, g.scalar(s.keySize ** -0.5)]);
  const k = splitHeads(c, linear(c, x, `${prefix}.to_k`, { bias: false }), s.heads);
  const v = splitHeads(c, linear(c, x, `${prefix}.to_v`, { bias: false }), s.heads);

  const kT = g.op('Transpose', [k], { perm: [0, 1, 3, 2] });
  const content = g.op('MatMul', [g.op('Add', [q, c.param(`${prefix}.rel_content_bias`)]), kT]);

  // r: [2n-1, H·dk] -> [H, dk, 2n-1]
  const r = linear(c, positions, `${prefix}.to_rel_k`, { bias: false });
  const rT = g.op('Transpose', [g.op('Reshape', [r, g.ints([0, s.heads, s.keySize])])], { perm: [1, 2, 0] });
  const rel = relativeShift(c, g.op('MatMul', [g.op('Add', [q, c.param(`${prefix}.rel_pos_bias`)]), rT]));

  const attn = g.op('Softmax', [g.op('Add', [content, rel])], { axis: -1 });
  const out = mergeHeads(c, g.op('MatMul', [attn, v]));
  return linear(c, out, `${prefix}.to_out`);
}

export interface RotaryAttentionShape {
  heads: number;
  /** Key/value heads; query head j uses kv head floor(j / (heads / kvHeads)). */
  kvHeads: number;
  headDim: number;
  /** Leading head dims that get the rotary embedding. */
  rotaryDim: number;
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
export function rotaryAttention(c: LayerContext, x: Value, cos: Value, sin: Value, prefix: string, s: RotaryAttentionShape): Value {
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
  const attn = g.op('Softmax', [g.op('MatMul', [qg, kT])], { axis: -1 });
  const out = g.op('MatMul', [attn, g.op('Unsqueeze', [v, g.ints([2])])]);
  const merged = mergeHeads(c, g.op('Reshape', [out, g.ints([0, heads, -1, d])]));
  return linear(c, merged, `${prefix}.out_proj`);
}
