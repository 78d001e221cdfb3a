/**
 * The transformer tower at 128 bp (channels-last [B, S, D]) and the pair representation beside it at
 * 2,048 bp ([B, P, P, F], P = S / 16). Before every `pair_update_every`-th block the pair stack is
 * updated from the sequence (sequence-to-pair, row attention, pair MLP); every block then turns the
 * pair representation into an attention bias for its multi-query attention, followed by an MLP.
 *
 *   block i:  [i even] pair = pair + seq2pair(x); pair += RowAttention(pair); pair += PairMLP(pair)
 *             bias = AttentionBias(pair)                       [B, heads, S, S]
 *             x = x + MHA(x, bias);  x = x + MLP(x)
 */
import type { Value } from '../../engine/graph.js';
import type { LayerContext } from '../layers.js';
import type { AlphaGenomeConfig } from './config.js';
import { applyRope, erfGelu, layerNorm, linear, repeatInterleave, rmsBatchNorm, rmsNorm, ropeTables } from './layers.js';
import { noTap, type Tap } from './taps.js';
import { queryChunks, type AttentionTap } from '../attention.js';

/** Length of axis `axis` of x as a scalar int64 value. */
function axisLength(c: LayerContext, x: Value, axis: number): Value {
  return c.g.op('Squeeze', [c.g.op('Shape', [x], { start: axis, end: axis + 1 }), c.g.ints([0])]);
}

/** 0, 1, …, n-1 (int64) for a scalar n. */
function range(c: LayerContext, n: Value): Value {
  return c.g.op('Range', [c.g.ints([0], []), n, c.g.ints([1], [])]);
}

/**
 * Multi-query attention: RMS batch norm; q (heads × qk), one shared k (qk) and v (v), each
 * layer-normed per head; RoPE on q and k at positions 0..S-1; logits q·k / √qk + bias, soft-capped
 * tanh(x / cap)·cap; softmax; heads concatenated → linear → RMS batch norm.
 */
function mhaBlock(c: LayerContext, cfg: AlphaGenomeConfig, x: Value, bias: BiasSource, rope: { cos: Value; sin: Value }, prefix: string, chunks: number, mapTap?: AttentionTap): Value {
  const g = c.g;
  const eps = cfg.normEps;
  const h = rmsBatchNorm(c, x, `${prefix}.norm`, eps, false);
  const heads = (name: string, count: number, size: number) => layerNorm(c, g.op('Reshape', [linear(c, h, `${prefix}.${name}_proj`, { bias: false }), g.ints([0, 0, count, size])]), `${prefix}.norm_${name}`, eps);
  const q = applyRope(c, heads('q', cfg.mhaHeads, cfg.mhaQkDim), rope.cos, rope.sin, cfg.mhaQkDim);
  const k = applyRope(c, heads('k', 1, cfg.mhaQkDim), rope.cos, rope.sin, cfg.mhaQkDim);
  const v = heads('v', 1, cfg.mhaVDim);
  const qT = g.op('Transpose', [q], { perm: [0, 2, 1, 3] });
  const kT = g.op('Transpose', [k], { perm: [0, 2, 3, 1] });
  const vT = g.op('Transpose', [v], { perm: [0, 2, 1, 3] });
  const cap = g.scalar(cfg.logitsSoftCap);
  // Rows of queries against every key: [B, H, rows, S] logits; each row's softmax is the same whichever chunk holds it.
  // `start`/`end` (token rows of the chunk) only feed an attention-map tap.
  const attend = (rows: Value, rowBias: Value, start: () => Value, end: () => Value) => {
    const logits = g.op('Div', [g.op('MatMul', [rows, kT]), g.scalar(Math.sqrt(cfg.mhaQkDim))]);
    const capped = g.op('Mul', [g.op('Tanh', [g.op('Div', [g.op('Add', [logits, rowBias]), cap])]), cap]);
    const weights = g.op('Softmax', [capped], { axis: -1 });
    mapTap?.(weights, start(), end());
    return g.op('MatMul', [weights, vT]);
  };
  let y: Value;
  if (chunks <= 1) y = attend(qT, bias.full(), () => c.g.ints([0]), () => g.op('Shape', [x], { start: 1, end: 2 }));
  else {
    // Query chunks on pair-row boundaries (16 tokens each), so each chunk's bias is built from its own pair rows.
    const pool = g.ints([cfg.seq2pairPool]);
    const parts = queryChunks(c, bias.pairRows, chunks).map(({ start, end }) => {
      const rows = g.op('Slice', [qT, g.op('Mul', [start, pool]), g.op('Mul', [end, pool]), g.ints([2])]);
      return attend(rows, bias.rows(start, end), () => g.op('Mul', [start, pool]), () => g.op('Mul', [end, pool]));
    });
    y = g.op('Concat', parts, { axis: 2 });
  }
  const merged = g.op('Reshape', [g.op('Transpose', [y], { perm: [0, 2, 1, 3] }), g.ints([0, 0, cfg.mhaHeads * cfg.mhaVDim])]);
  return rmsBatchNorm(c, linear(c, merged, `${prefix}.linear_embedding`), `${prefix}.final_norm`, eps, false);
}

/** RMS batch norm → Linear → ReLU → Linear → RMS batch norm. */
function mlpBlock(c: LayerContext, cfg: AlphaGenomeConfig, x: Value, prefix: string): Value {
  const h = rmsBatchNorm(c, x, `${prefix}.norm`, cfg.normEps, false);
  const hidden = c.g.op('Relu', [linear(c, h, `${prefix}.fc1`)]);
  return rmsBatchNorm(c, linear(c, hidden, `${prefix}.fc2`), `${prefix}.final_norm`, cfg.normEps, false);
}

/** The attention bias of one block: whole ([B, heads, S, S]) or for query rows of pair rows [start, end) ([B, heads, 16·(end - start), S]). */
interface BiasSource {
  full(): Value;
  rows(start: Value, end: Value): Value;
  /** Pair positions P (1-D int64 [1]). */
  pairRows: Value;
}

/** erf-GELU(RMS batch norm(pair)) → Linear (no bias) to one value per head, each pair cell repeated over its 16 × 16 tokens. */
function attentionBias(c: LayerContext, cfg: AlphaGenomeConfig, pair: Value, prefix: string): BiasSource {
  const g = c.g;
  const h = linear(c, erfGelu(c, rmsBatchNorm(c, pair, `${prefix}.norm`, cfg.normEps, false)), `${prefix}.proj`, { bias: false });
  const perHead = g.op('Transpose', [h], { perm: [0, 3, 1, 2] });
  const spread = (v: Value) => repeatInterleave(c, repeatInterleave(c, v, 2, cfg.seq2pairPool, 4), 3, cfg.seq2pairPool, 4);
  let whole: Value | undefined;
  return {
    full: () => (whole ??= spread(perHead)),
    rows: (start, end) => spread(g.op('Slice', [perHead, start, end, g.ints([2])])),
    pairRows: g.op('Shape', [pair], { start: 1, end: 2 }),
  };
}

/**
 * The central-mask widths of the sequence-to-pair relative features, f + geomspace(1, n - F + 1, F,
 * endpoint=False)[f] for F = seq2pair heads, in float32 as the port forms them.
 */
export function centralMaskWidths(features: number, seqLength: number): number[] {
  const f = Math.fround;
  const logStep = f(Math.log(seqLength - features + 1) / features);
  return Array.from({ length: features }, (_, i) => f(i + f(Math.exp(f(i * logStep)))));
}

/**
 * For t [B, H, P, 2P] indexed by relative distance column p (distance p - P), the [B, H, P, P] values
 * t[i, P + j - i] (the port's `_shift`): row i, key j at distance j - i.
 */
function relativeShift(c: LayerContext, t: Value, p: Value): Value {
  const g = c.g;
  const idx = range(c, p);
  const table = g.op('Add', [g.op('Sub', [g.op('Unsqueeze', [idx, g.ints([0])]), g.op('Unsqueeze', [idx, g.ints([1])])]), p]);
  const shape = g.op('Concat', [g.op('Shape', [t], { start: 0, end: 3 }), g.op('Unsqueeze', [p, g.ints([0])])], { axis: 0 });
  return g.op('GatherElements', [t, g.op('Expand', [table, shape])], { axis: 3 });
}

/**
 * Sequence to pair: mean-pool 16 tokens, RMS norm; per head, logits q·k plus half the sum of the
 * relative terms (q + q_r_bias)·r and (k + k_r_bias)·r, r from the central-mask features of the
 * distance (and their signed copy) → Linear to pair width; plus y_q(row) + y_k(column) from the
 * erf-GELU of the pooled tokens.
 */
function sequenceToPair(c: LayerContext, cfg: AlphaGenomeConfig, x: Value, prefix: string): Value {
  const g = c.g;
  const H = cfg.seq2pairHeads;
  const C = cfg.seq2pairHeadDim;
  const D = cfg.trunkDim;
  const pooled = g.op('ReduceMean', [g.op('Reshape', [x, g.ints([0, -1, cfg.seq2pairPool, D])])], { axes: [2], keepdims: 0 });
  const xn = rmsNorm(c, pooled, `${prefix}.norm_seq2pair`, cfg.normEps);
  const headsOf = (name: string) => g.op('Reshape', [linear(c, xn, `${prefix}.${name}`, { bias: false }), g.ints([0, 0, H, C])]);
  const q = headsOf('linear_q');
  const k = headsOf('linear_k');
  const p = axisLength(c, xn, 1);

  // Distances -P .. P-1 → [2P, 2H] features [central mask | sign · central mask].
  const distance = g.op('Cast', [g.op('Range', [g.op('Neg', [p]), p, g.ints([1], [])])], { to: 1 });
  const widths = g.floats('central_mask_widths', [H], centralMaskWidths(H, cfg.centralMaskSeqLength));
  const column = g.op('Unsqueeze', [distance, g.ints([1])]);
  const mask = g.op('Cast', [g.op('Greater', [widths, g.op('Abs', [column])])], { to: 1 });
  const features = g.op('Concat', [mask, g.op('Mul', [g.op('Sign', [column]), mask])], { axis: 1 });
  // [2P, H·C] → [H, C, 2P]
  const r = g.op('Transpose', [g.op('Reshape', [linear(c, features, `${prefix}.linear_pos_features`), g.ints([-1, H, C])])], { perm: [1, 2, 0] });
  const perHead = (v: Value) => g.op('Transpose', [v], { perm: [0, 2, 1, 3] });
  const termQ = g.op('MatMul', [perHead(g.op('Add', [q, c.param(`${prefix}.q_r_bias`)])), r]);
  const termK = g.op('MatMul', [perHead(g.op('Add', [k, c.param(`${prefix}.k_r_bias`)])), r]);
  const relQ = relativeShift(c, termQ, p);
  const relK = g.op('Transpose', [relativeShift(c, termK, p)], { perm: [0, 1, 3, 2] });
  const content = g.op('MatMul', [perHead(q), g.op('Transpose', [k], { perm: [0, 2, 3, 1] })]);
  const logits = g.op('Add', [content, g.op('Mul', [g.scalar(0.5), g.op('Add', [relQ, relK])])]);
  const a = g.op('Transpose', [logits], { perm: [0, 2, 3, 1] });

  const xg = erfGelu(c, xn);
  const yq = g.op('Unsqueeze', [linear(c, xg, `${prefix}.linear_y_q`, { bias: false }), g.ints([2])]);
  const yk = g.op('Unsqueeze', [linear(c, xg, `${prefix}.linear_y_k`, { bias: false }), g.ints([1])]);
  return g.op('Add', [g.op('Add', [linear(c, a, `${prefix}.linear_pair`), yq]), yk]);
}

/** Attention along each row of the pair representation: RMS norm, q/k/v, softmax(q·k · 1/√F) v. */
function rowAttention(c: LayerContext, cfg: AlphaGenomeConfig, pair: Value, prefix: string): Value {
  const g = c.g;
  const h = rmsNorm(c, pair, `${prefix}.norm`, cfg.normEps);
  const q = linear(c, h, `${prefix}.linear_q`, { bias: false });
  const k = linear(c, h, `${prefix}.linear_k`, { bias: false });
  const v = linear(c, h, `${prefix}.linear_v`);
  const logits = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), g.scalar(1 / Math.sqrt(cfg.pairDim))]);
  return g.op('MatMul', [g.op('Softmax', [logits], { axis: -1 }), v]);
}

function pairMlp(c: LayerContext, cfg: AlphaGenomeConfig, pair: Value, prefix: string): Value {
  const h = rmsNorm(c, pair, `${prefix}.norm`, cfg.normEps);
  return linear(c, c.g.op('Relu', [linear(c, h, `${prefix}.linear1`)]), `${prefix}.linear2`);
}

function pairUpdate(c: LayerContext, cfg: AlphaGenomeConfig, x: Value, pair: Value | null, prefix: string): Value {
  const g = c.g;
  const y = sequenceToPair(c, cfg, x, `${prefix}.seq2pair`);
  let p = pair ? g.op('Add', [pair, y]) : y;
  p = g.op('Add', [p, rowAttention(c, cfg, p, `${prefix}.row_attn`)]);
  return g.op('Add', [p, pairMlp(c, cfg, p, `${prefix}.pair_mlp`)]);
}

/** Tower input [B, S, D] (encoder output + organism embedding) → tower output and the last pair representation. */
export function transformerTower(c: LayerContext, cfg: AlphaGenomeConfig, x: Value, tap: Tap, opts: { queryChunks?: number; attentionTap?: (block: number) => AttentionTap | undefined } = {}): { x: Value; pair: Value } {
  const g = c.g;
  const positions = range(c, axisLength(c, x, 1));
  const tables = ropeTables(c, positions, cfg.mhaQkDim, cfg.ropeMaxPosition);
  // [S, C/2] → [S, 1, C/2]: against q [B, S, heads, C/2 pairs].
  const rope = { cos: g.op('Unsqueeze', [tables.cos, g.ints([1])]), sin: g.op('Unsqueeze', [tables.sin, g.ints([1])]) };
  let pair: Value | null = null;
  for (let i = 0; i < cfg.transformerBlocks; i++) {
    const p = `tower.blocks.${i}`;
    if (i % cfg.pairUpdateEvery === 0) {
      pair = pairUpdate(c, cfg, x, pair, `${p}.pair_update`);
      tap(`tower_block_${i}_pair`, pair, 'as-is');
    }
    const bias = attentionBias(c, cfg, pair!, `${p}.attn_bias`);
    if (tap !== noTap) tap(`tower_block_${i}_attention_bias`, bias.full(), 'as-is');
    const attended = mhaBlock(c, cfg, x, bias, rope, `${p}.mha`, opts.queryChunks ?? 1, opts.attentionTap?.(i));
    tap(`tower_block_${i}_mha_out`, attended, 'as-is');
    x = g.op('Add', [x, attended]);
    tap(`tower_block_${i}_after_mha`, x, 'as-is');
    x = g.op('Add', [x, mlpBlock(c, cfg, x, `${p}.mlp`)]);
    tap(`tower_block_${i}_out`, x, 'as-is');
  }
  tap('tower_output', x, 'as-is');
  tap('tower_pair_output', pair!, 'as-is');
  return { x, pair: pair! };
}
