/**
 * AlphaGenome's building blocks on the graph builder. Convolutional stages are channels-first
 * [B, C, L] (1-D Conv ops); the transformer, pair stack and heads are channels-last. Each helper
 * follows the PyTorch port's arithmetic order where it decides float32 rounding (e.g. scale after
 * the product, reciprocal square roots, the weight standardisation in float32 inside the graph).
 */
import type { Value } from '../../engine/graph.js';
import { gelu, linear, type LayerContext } from '../layers.js';

export { linear };

/** x·σ(1.702x): the GELU of every conv block, embedder and output embedding. */
export function sigmoidGelu(c: LayerContext, x: Value): Value {
  return gelu(c, x, 'sigmoid');
}

/**
 * Exact (erf) GELU, x·½·(1 + erf(x/√2)): the port calls torch's F.gelu in the attention-bias block and
 * the sequence-to-pair y branches (the JAX original's jax.nn.gelu there is the tanh form; we follow the port).
 */
export function erfGelu(c: LayerContext, x: Value): Value {
  const g = c.g;
  return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.scalar(1), g.op('Erf', [g.op('Mul', [x, g.scalar(Math.SQRT1_2)])])])]);
}

/** 1 / √v, as torch.rsqrt computes it. */
function rsqrt(c: LayerContext, v: Value): Value {
  return c.g.op('Reciprocal', [c.g.op('Sqrt', [v])]);
}

/**
 * RMS batch norm with stored statistics: x·(weight·rsqrt(running_var + eps)) + bias, no mean
 * subtraction. `channelsFirst`: x is [B, C, L], else channels are the last axis.
 */
export function rmsBatchNorm(c: LayerContext, x: Value, prefix: string, eps: number, channelsFirst: boolean): Value {
  const g = c.g;
  const inv = g.op('Mul', [c.param(`${prefix}.weight`), rsqrt(c, g.op('Add', [c.param(`${prefix}.running_var`), g.scalar(eps)]))]);
  const bias = c.param(`${prefix}.bias`);
  if (!channelsFirst) return g.op('Add', [g.op('Mul', [x, inv]), bias]);
  const column = (v: Value) => g.op('Unsqueeze', [v, g.ints([1])]);
  return g.op('Add', [g.op('Mul', [x, column(inv)]), column(bias)]);
}

/** RMS norm over the last axis (the port's LayerNorm with rms_norm=True): x·rsqrt(mean(x²) + eps)·weight + bias. */
export function rmsNorm(c: LayerContext, x: Value, prefix: string, eps: number): Value {
  const g = c.g;
  const variance = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
  const normed = g.op('Mul', [x, rsqrt(c, g.op('Add', [variance, g.scalar(eps)]))]);
  return g.op('Add', [g.op('Mul', [normed, c.param(`${prefix}.weight`)]), c.param(`${prefix}.bias`)]);
}

/** Centred layer norm over the last axis with weight and bias. */
export function layerNorm(c: LayerContext, x: Value, prefix: string, eps: number): Value {
  return c.g.op('LayerNormalization', [x, c.param(`${prefix}.weight`), c.param(`${prefix}.bias`)], { axis: -1, epsilon: { float: eps } });
}

/**
 * Weight-standardised conv (k > 1, 'same' padding (k-1)/2 left): w' = (w - mean)·scale·rsqrt(max(var·in·k, 1e-4)),
 * mean and population variance over (in, k) per output channel. The standardisation is part of the
 * graph (float32, as the port computes it); ONNX Runtime folds it once when the session is made.
 */
export function standardizedConv(c: LayerContext, x: Value, prefix: string): Value {
  const g = c.g;
  const [, inCh, k] = c.shape(`${prefix}.weight`) as [number, number, number];
  const w = c.param(`${prefix}.weight`);
  const centred = g.op('Sub', [w, g.op('ReduceMean', [w], { axes: [1, 2], keepdims: 1 })]);
  const variance = g.op('ReduceMean', [g.op('Mul', [centred, centred])], { axes: [1, 2], keepdims: 1 });
  const factor = g.op('Mul', [rsqrt(c, g.op('Max', [g.op('Mul', [variance, g.scalar(inCh * k)]), g.scalar(1e-4)])), c.param(`${prefix}.scale`)]);
  const left = Math.floor((k - 1) / 2);
  return g.op('Conv', [x, g.op('Mul', [centred, factor]), c.param(`${prefix}.bias`)], { kernel_shape: [k], pads: [left, k - 1 - left] });
}

/** Plain Conv1d of kernel 1 (bias optional), PyTorch weight [out, in, 1]. */
export function pointwiseConv(c: LayerContext, x: Value, prefix: string, bias = true): Value {
  const inputs = [x, c.param(`${prefix}.weight`), ...(bias ? [c.param(`${prefix}.bias`)] : [])];
  return c.g.op('Conv', inputs, { kernel_shape: [1] });
}

/** ConvBlock: RMS batch norm → GELU → standardised conv k (k > 1) or Conv1d k1, on [B, C, L]. */
export function convBlock(c: LayerContext, x: Value, prefix: string, eps: number): Value {
  const [, , k] = c.shape(`${prefix}.conv.weight`) as [number, number, number];
  const h = sigmoidGelu(c, rmsBatchNorm(c, x, `${prefix}.norm`, eps, true));
  return k === 1 ? pointwiseConv(c, h, `${prefix}.conv`) : standardizedConv(c, h, `${prefix}.conv`);
}

/** Each position repeated `times` times along `axis` of a rank-`rank` x (torch.repeat_interleave). */
export function repeatInterleave(c: LayerContext, x: Value, axis: number, times: number, rank: number): Value {
  const g = c.g;
  const ones = Array.from({ length: rank + 1 }, (_, i) => (i === axis + 1 ? times : 1));
  const wide = g.op('Expand', [g.op('Unsqueeze', [x, g.ints([axis + 1])]), g.ints(ones)]);
  const shape = g.op('Shape', [x]);
  // The axis's new length spelled out, not -1: a query chunk may be empty (zero rows), which -1 cannot resolve.
  const widened = g.op('Mul', [g.op('Slice', [shape, g.ints([axis]), g.ints([axis + 1])]), g.ints([times])]);
  const target = g.op('Concat', [g.op('Slice', [shape, g.ints([0]), g.ints([axis])]), widened, g.op('Slice', [shape, g.ints([axis + 1]), g.ints([rank])])], { axis: 0 });
  return g.op('Reshape', [wide, target]);
}

/** One row per batch item of a per-organism tensor [organisms, …]: [B, …]. */
export function perOrganism(c: LayerContext, name: string, organism: Value): Value {
  return c.g.op('Gather', [c.param(name), organism], { axis: 0 });
}

/**
 * The port's MultiOrganismConv1d (kernel 1) on channels-last x [B, S, in]: weight [organisms, out, in]
 * and bias [organisms, out], each batch item with its organism's slice. Returns [B, S, out].
 */
export function multiOrganismConv(c: LayerContext, x: Value, prefix: string, organism: Value): Value {
  const g = c.g;
  const w = g.op('Transpose', [perOrganism(c, `${prefix}.weight`, organism)], { perm: [0, 2, 1] });
  const b = g.op('Unsqueeze', [perOrganism(c, `${prefix}.bias`, organism), g.ints([1])]);
  return g.op('Add', [g.op('MatMul', [x, w]), b]);
}

/** The port's MultiOrganismLinear on x [B, N, in]: weight [organisms, in, out], bias [organisms, out]. */
export function multiOrganismLinear(c: LayerContext, x: Value, prefix: string, organism: Value): Value {
  const g = c.g;
  const b = g.op('Unsqueeze', [perOrganism(c, `${prefix}.bias`, organism), g.ints([1])]);
  return g.op('Add', [g.op('MatMul', [x, perOrganism(c, `${prefix}.weight`, organism)]), b]);
}

/**
 * RoPE denominators f + geomspace(1, maxPosition - C/2 + 1, C/2)[f], as the port forms them in float32
 * (torch.linspace's two-sided float32 steps, × ln 10, exp, + f), so both of its runs share them.
 */
export function ropeDenominators(channels: number, maxPosition: number): Float64Array {
  const n = channels / 2;
  const f = Math.fround;
  const end = f(Math.log10(maxPosition - n + 1));
  const step = n > 1 ? f(end / (n - 1)) : 0;
  const ln10 = f(Math.LN10);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const lin = i < Math.floor(n / 2) ? f(step * i) : f(end - f(step * (n - i - 1)));
    out[i] = f(i + f(Math.exp(f(lin * ln10))));
  }
  if (n === 1) out[0] = 1;
  return out;
}

/**
 * cos and sin of the RoPE angles θ[…, f] = position·(1/denominator[f]) for int64 `positions` of any
 * shape, each [...positions.shape, C/2] float32. θ is formed in float64 (the port forms it in the
 * working dtype; at the junction head's positions up to 2^20 float32 θ would carry ~0.06 rad of
 * rounding), then cos and sin are rounded once to float32.
 */
export function ropeTables(c: LayerContext, positions: Value, channels: number, maxPosition: number): { cos: Value; sin: Value } {
  const g = c.g;
  const inv = Array.from(ropeDenominators(channels, maxPosition), (d) => 1 / d);
  const theta = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', [positions], { to: 11 }), g.ints([-1])]), g.constant('float64', [inv.length], inv)]);
  return { cos: g.op('Cast', [g.op('Cos', [theta])], { to: 1 }), sin: g.op('Cast', [g.op('Sin', [theta])], { to: 1 }) };
}

/**
 * Interleaved RoPE on the last axis of a rank-4 x [a, b, c, C]: each pair (x₂f, x₂f₊₁) becomes
 * (x₂f·cos − x₂f₊₁·sin, x₂f·sin + x₂f₊₁·cos). cos, sin: [..., C/2] broadcastable against [a, b, c, C/2].
 */
export function applyRope(c: LayerContext, x: Value, cos: Value, sin: Value, channels: number): Value {
  const g = c.g;
  const pairs = g.op('Reshape', [x, g.ints([0, 0, 0, channels / 2, 2])]);
  const [even, odd] = g.opMulti('Split', [pairs, g.ints([1, 1])], 2, { axis: 4 }) as [Value, Value];
  const cs = g.op('Unsqueeze', [cos, g.ints([-1])]);
  const sn = g.op('Unsqueeze', [sin, g.ints([-1])]);
  const rotatedEven = g.op('Sub', [g.op('Mul', [even, cs]), g.op('Mul', [odd, sn])]);
  const rotatedOdd = g.op('Add', [g.op('Mul', [even, sn]), g.op('Mul', [odd, cs])]);
  return g.op('Reshape', [g.op('Concat', [rotatedEven, rotatedOdd], { axis: 4 }), g.ints([0, 0, 0, channels])]);
}
