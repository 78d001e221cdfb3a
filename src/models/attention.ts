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
