/**
 * Layers shared by the model families, written against the graph builder. Convolutional stages are
 * channels-first; with layout '2d' every 1-D convolution runs as a 2-D one of height 1 (tensors
 * [B, C, 1, L]), which lets ONNX Runtime use its NCHWc convolution kernels on x86.
 */
import type { Graph, Value } from '../engine/graph.js';

export type ConvLayout = '1d' | '2d';

export interface WeightRef {
  offset: number;
  length: number;
}

/** A full-mixing convolution (no groups) of `conv()` / `attentionPool()`, as `LayerContext.convolution` sees it. */
export interface ConvSite {
  x: Value;
  weight: string;
  /** Weight dims in this layout's rank. */
  weightDims: number[];
  bias?: string;
  attrs: Record<string, number[] | number>;
}

/** Graph builder plus access to the model's named weights in the external blob. */
export class LayerContext {
  private registered = new Map<string, Value>();

  constructor(
    readonly g: Graph,
    private readonly resolve: (name: string) => WeightRef | undefined,
    private readonly shapes: Map<string, number[]>,
    readonly layout: ConvLayout,
    /** Name of the external-data blob the weights are read from. */
    readonly blob = 'weights',
  ) {}

  shape(name: string): number[] {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`weight '${name}' is not part of this model`);
    return s;
  }

  /** A named weight as an initializer; `dims` may reinterpret its shape (same element count). */
  param(name: string, dims?: number[]): Value {
    const key = dims ? `${name}#${dims.join('x')}` : name;
    const known = this.registered.get(key);
    if (known) return known;
    const ref = this.resolve(name);
    if (!ref) throw new Error(`weight '${name}' is not part of this model`);
    const shape = dims ?? this.shape(name);
    const value = this.g.initializer(key, {
      dtype: 'float32',
      dims: shape,
      data: { kind: 'external', blob: this.blob, offset: ref.offset, length: ref.length },
    });
    this.registered.set(key, value);
    return value;
  }

  /** A conv weight [out, in, k] in this layout's rank. */
  convWeight(name: string): Value {
    const [out, inCh, k] = this.shape(name) as [number, number, number];
    return this.layout === '2d' ? this.param(name, [out, inCh, 1, k]) : this.param(name, [out, inCh, k]);
  }

  /**
   * Builds a full-mixing convolution: its float32 form, here. A subclass may build another form of
   * `site` instead (src/bench/int8-trunk.ts: int8 convolutions, calibration taps).
   */
  convolution(_site: ConvSite, float32: () => Value): Value {
    return float32();
  }
}

export type Gelu = 'sigmoid' | 'tanh';

/**
 * Enformer's x·σ(1.702x) or Keras' tanh approximation used by Borzoi. Both are written in the node
 * pattern ONNX Runtime fuses into one kernel (QuickGelu; FastGelu, whose pattern wants x³ as Pow(x, 3))
 * where a value inside is not needed elsewhere, e.g. in every forward session: one pass instead of 6–8.
 */
export function gelu(c: LayerContext, x: Value, kind: Gelu): Value {
  const g = c.g;
  if (kind === 'sigmoid') return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, g.scalar(1.702)])])]);
  const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [g.op('Pow', [x, g.scalar(3)]), g.scalar(0.044715)])]), g.scalar(Math.sqrt(2 / Math.PI))]);
  return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.op('Tanh', [inner]), g.scalar(1)])]);
}

/** Inference batch norm on channels-first activations; PyTorch names weight/bias/running_mean/running_var. */
export function batchNorm(c: LayerContext, x: Value, prefix: string, eps: number): Value {
  const params = ['weight', 'bias', 'running_mean', 'running_var'].map((p) => c.param(`${prefix}.${p}`));
  return c.g.op('BatchNormalization', [x, ...params], { epsilon: { float: eps } });
}

/** Batch norm over the last axis of [B, n, C] activations: y = x·s + t with s, t folded in the graph. */
export function batchNormChannelsLast(c: LayerContext, x: Value, prefix: string, eps: number): Value {
  const g = c.g;
  const scale = g.op('Div', [c.param(`${prefix}.weight`), g.op('Sqrt', [g.op('Add', [c.param(`${prefix}.running_var`), g.scalar(eps)])])]);
  const shift = g.op('Sub', [c.param(`${prefix}.bias`), g.op('Mul', [c.param(`${prefix}.running_mean`), scale])]);
  return g.op('Add', [g.op('Mul', [x, scale]), shift]);
}

/** 1-D convolution with 'same' padding (odd kernel), PyTorch weight [out, in, k]. */
export function conv(c: LayerContext, x: Value, prefix: string, opts: { bias?: boolean; dilation?: number; group?: number } = {}): Value {
  const [, , k] = c.shape(`${prefix}.weight`) as [number, number, number];
  const dilation = opts.dilation ?? 1;
  const pad = (dilation * (k - 1)) / 2;
  const is2d = c.layout === '2d';
  const attrs = {
    kernel_shape: is2d ? [1, k] : [k],
    pads: is2d ? [0, pad, 0, pad] : [pad, pad],
    dilations: is2d ? [1, dilation] : [dilation],
    group: opts.group ?? 1,
  };
  const float32 = () => {
    const inputs = [x, c.convWeight(`${prefix}.weight`), opts.bias === false ? null : c.param(`${prefix}.bias`)];
    return c.g.op('Conv', opts.bias === false ? inputs.slice(0, 2) : inputs, attrs);
  };
  if ((opts.group ?? 1) !== 1) return float32();
  const [out, inCh] = c.shape(`${prefix}.weight`) as [number, number, number];
  const weightDims = is2d ? [out, inCh, 1, k] : [out, inCh, k];
  return c.convolution({ x, weight: `${prefix}.weight`, weightDims, bias: opts.bias === false ? undefined : `${prefix}.bias`, attrs }, float32);
}

/**
 * y = x Wᵀ + b over the last axis, PyTorch Linear weight [out, in]. Runs as Gemm with transB on a
 * 2-D view, so ORT packs the weight in place instead of folding a transposed copy of it.
 */
export function linear(c: LayerContext, x: Value, prefix: string, opts: { bias?: boolean; weightDims?: [number, number] } = {}): Value {
  const g = c.g;
  const w = c.param(`${prefix}.weight`, opts.weightDims);
  const [out, inCh] = opts.weightDims ?? (c.shape(`${prefix}.weight`) as [number, number]);
  const leading = g.op('Shape', [x], { start: 0, end: -1 });
  const flat = g.op('Reshape', [x, g.ints([-1, inCh])]);
  const y = g.op('Gemm', [flat, w, opts.bias === false ? null : c.param(`${prefix}.bias`)].filter((v): v is Value => v !== null), { transB: 1 });
  return g.op('Reshape', [y, g.op('Concat', [leading, g.ints([out])], { axis: 0 })]);
}

export function layerNorm(c: LayerContext, x: Value, prefix: string, eps: number): Value {
  return c.g.op('LayerNormalization', [x, c.param(`${prefix}.weight`), c.param(`${prefix}.bias`)], { axis: -1, epsilon: { float: eps } });
}

/**
 * Enformer's softmax (attention) pooling by 2: logits = W x (1x1, no bias, full channel mixing),
 * softmax over each pair of positions per channel, weighted sum. Computed in the equivalent form
 *   pooled = x₁ + d·σ(W d),  d = x₀ − x₁   (x₀, x₁ the even and odd positions of a pair),
 * since the softmax of two logits is σ(a₀ − a₁) and a₀ − a₁ = W d. This needs the 1×1 product at
 * half the positions (half its FLOPs), no softmax over a size-2 axis (slow in ONNX Runtime), and
 * only convolutions (d and x₁ as stride-2 depthwise ones) and elementwise ops, so the tensors can stay
 * in ORT's blocked NCHWc layout between the tower's convolutions. d is one rounding of x₀ − x₁ and x₁
 * is copied exactly (kernels [1, −1] and [0, 1]).
 */
export function attentionPool(c: LayerContext, x: Value, prefix: string): Value {
  const g = c.g;
  const [out, inCh] = c.shape(`${prefix}.to_attn_logits.weight`) as [number, number];
  const is2d = c.layout === '2d';
  const weightDims = is2d ? [out, inCh, 1, 1] : [out, inCh, 1];
  const attrs = is2d ? { kernel_shape: [1, 1] } : { kernel_shape: [1] };
  const pairKernel = (a: number, b: number) => g.floats('pair_kernel', is2d ? [inCh, 1, 1, 2] : [inCh, 1, 2], Float32Array.from({ length: 2 * inCh }, (_, i) => (i % 2 === 0 ? a : b)));
  const pairAttrs = { kernel_shape: is2d ? [1, 2] : [2], strides: is2d ? [1, 2] : [2], group: inCh };
  const d = g.op('Conv', [x, pairKernel(1, -1)], pairAttrs);
  const odd = g.op('Conv', [x, pairKernel(0, 1)], pairAttrs);
  const float32 = () => g.op('Conv', [d, c.param(`${prefix}.to_attn_logits.weight`, weightDims)], attrs);
  const logits = c.convolution({ x: d, weight: `${prefix}.to_attn_logits.weight`, weightDims, attrs }, float32);
  return g.op('Add', [odd, g.op('Mul', [d, g.op('Sigmoid', [logits])])]);
}

export function maxPool(c: LayerContext, x: Value): Value {
  const is2d = c.layout === '2d';
  return c.g.op('MaxPool', [x], { kernel_shape: is2d ? [1, 2] : [2], strides: is2d ? [1, 2] : [2] });
}

/** [B, L, 4] one-hot to this layout's channels-first tensor. */
export function toChannelsFirst(c: LayerContext, x: Value): Value {
  const t = c.g.op('Transpose', [x], { perm: [0, 2, 1] });
  return c.layout === '2d' ? c.g.op('Unsqueeze', [t, c.g.ints([2])]) : t;
}

/** Channels-first back to [B, L, C]. */
export function toChannelsLast(c: LayerContext, x: Value): Value {
  const flat = c.layout === '2d' ? c.g.op('Squeeze', [x, c.g.ints([2])]) : x;
  return c.g.op('Transpose', [flat], { perm: [0, 2, 1] });
}

/** Nearest-neighbour upsampling by 2 along the length axis (each position repeated twice). */
export function upsampleNearest2(c: LayerContext, x: Value): Value {
  const g = c.g;
  const axis = c.layout === '2d' ? 4 : 3;
  const u = g.op('Unsqueeze', [x, g.ints([axis])]);
  const twice = g.op('Concat', [u, u], { axis });
  return g.op('Reshape', [twice, g.ints(c.layout === '2d' ? [0, 0, 0, -1] : [0, 0, -1])]);
}
