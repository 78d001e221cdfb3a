/**
 * Opt-in int8 trunk (issue 15, part 4): every full-mixing convolution of the trunk runs as ONNX
 * Runtime's QLinearConv (u8 activations × s8 weights, MLAS's integer kernels), with a QuantizeLinear
 * before and a DequantizeLinear after, so BatchNorm, GELU, residual adds and pooling stay float32.
 *   weights:      symmetric int8 per output channel (scale = max |w| / 127 over that channel).
 *   activations:  asymmetric uint8 per tensor, the range (min, max, widened to include 0) of each
 *                 convolution's input and output in a float32 calibration pass over a calibration
 *                 batch (default: one deterministic pseudo-random sequence); deterministic.
 *   bias:         int32 in units of (input scale × weight scale), as QLinearConv requires.
 * Convolutions with fewer than MIN_CHANNELS input channels (the one-hot stem) stay float32.
 */
import { Graph, type Value } from '../engine/graph.js';
import type { LayerContext, ConvRewriter, ConvSite } from './layers.js';

/** Below this many input channels a convolution is memory-bound: quantizing it saves nothing. */
export const MIN_CHANNELS = 16;

export interface QuantizedWeights {
  /** int8 weights in the float weights' layout (output channel first). */
  q: Int8Array;
  /** One scale per output channel. */
  scales: Float32Array;
}

/** Symmetric per-output-channel int8 in [-127, 127] (no -128, so the range is symmetric). */
export function quantizeWeights(w: Float32Array, outChannels: number): QuantizedWeights {
  const per = w.length / outChannels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let m = 0;
    for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(w[o * per + i]!));
    const s = m > 0 ? m / 127 : 1;
    scales[o] = s;
    for (let i = 0; i < per; i++) q[o * per + i] = Math.max(-127, Math.min(127, Math.round(w[o * per + i]! / s)));
  }
  return { q, scales };
}

/** Asymmetric uint8 scale and zero point covering [min, max] and 0 (ONNX needs 0 to be exact). */
export function activationScale(min: number, max: number): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-lo / scale))) };
}

export interface ActivationRange {
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

const tapName = (weight: string, which: 'x' | 'y') => `range_${which}:${weight}`;

function quantizable(c: LayerContext, site: ConvSite): boolean {
  return c.shape(site.weight)[1]! >= MIN_CHANNELS;
}

/** Float32 convolutions plus, for each quantizable one, graph outputs with its input and output [min, max]. */
export class CalibrationTaps implements ConvRewriter {
  readonly sites: ConvSite[] = [];

  conv(c: LayerContext, site: ConvSite, float32: () => Value): Value {
    const y = float32();
    if (!quantizable(c, site)) return y;
    this.sites.push(site);
    const g = c.g;
    const minMax = (v: Value) =>
      g.op('Concat', [g.op('ReduceMin', [v], { keepdims: 0 }), g.op('ReduceMax', [v], { keepdims: 0 })].map((s) => g.op('Unsqueeze', [s, g.ints([0])])), { axis: 0 });
    g.output(minMax(site.x), tapName(site.weight, 'x'), 'float32', [2]);
    g.output(minMax(y), tapName(site.weight, 'y'), 'float32', [2]);
    return y;
  }

  /** The output names of the taps, in site order. */
  get outputNames(): string[] {
    return this.sites.flatMap((s) => [tapName(s.weight, 'x'), tapName(s.weight, 'y')]);
  }

  /** Folds one calibration run's tap outputs into `ranges` (min of minima, max of maxima). */
  collect(outputs: Record<string, { data: Float32Array | BigInt64Array }>, ranges: Map<string, ActivationRange>): void {
    for (const s of this.sites) {
      const x = outputs[tapName(s.weight, 'x')]!.data as Float32Array;
      const y = outputs[tapName(s.weight, 'y')]!.data as Float32Array;
      const r = ranges.get(s.weight);
      ranges.set(s.weight, {
        xMin: Math.min(r?.xMin ?? Infinity, x[0]!),
        xMax: Math.max(r?.xMax ?? -Infinity, x[1]!),
        yMin: Math.min(r?.yMin ?? Infinity, y[0]!),
        yMax: Math.max(r?.yMax ?? -Infinity, y[1]!),
      });
    }
  }
}

function inline(g: Graph, name: string, dtype: 'float32' | 'int8' | 'uint8' | 'int32', dims: number[], data: ArrayBufferView): Value {
  const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return g.initializer(name, { dtype, dims, data: { kind: 'inline', bytes } });
}

/**
 * QuantizeLinear → QLinearConv → DequantizeLinear for every calibrated convolution; `values` gives a
 * weight's float32 values (read before the weight blob goes to the engine).
 */
export class Int8Convs implements ConvRewriter {
  constructor(
    private readonly ranges: Map<string, ActivationRange>,
    private readonly values: (name: string) => Float32Array,
  ) {}

  conv(c: LayerContext, site: ConvSite, float32: () => Value): Value {
    const range = this.ranges.get(site.weight);
    if (!range || !quantizable(c, site)) return float32();
    const g = c.g;
    const out = site.weightDims[0]!;
    const w = quantizeWeights(this.values(site.weight), out);
    const xa = activationScale(range.xMin, range.xMax);
    const ya = activationScale(range.yMin, range.yMax);
    const n = site.weight;
    const xs = inline(g, `${n}#xs`, 'float32', [], Float32Array.of(xa.scale));
    const xzp = inline(g, `${n}#xzp`, 'uint8', [], Uint8Array.of(xa.zeroPoint));
    const ys = inline(g, `${n}#ys`, 'float32', [], Float32Array.of(ya.scale));
    const yzp = inline(g, `${n}#yzp`, 'uint8', [], Uint8Array.of(ya.zeroPoint));
    const inputs = [
      g.op('QuantizeLinear', [site.x, xs, xzp]),
      xs,
      xzp,
      inline(g, `${n}#int8`, 'int8', site.weightDims, w.q),
      inline(g, `${n}#ws`, 'float32', [out], w.scales),
      inline(g, `${n}#wzp`, 'int8', [out], new Int8Array(out)),
      ys,
      yzp,
    ];
    if (site.bias) {
      const b = this.values(site.bias);
      inputs.push(inline(g, `${n}#bias`, 'int32', [out], Int32Array.from(b, (v, o) => Math.round(v / (xa.scale * w.scales[o]!)))));
    }
    return g.op('DequantizeLinear', [g.op('QLinearConv', inputs, site.attrs), ys, yzp]);
  }
}

/** Deterministic pseudo-random one-hot DNA [1, length, 4]: the default calibration batch. */
export function calibrationBatch(length: number, seed = 20_251): { data: Float32Array; batch: number; length: number } {
  let s = seed >>> 0 || 1;
  const data = new Float32Array(length * 4);
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    data[i * 4 + (s >>> 30)] = 1;
  }
  return { data, batch: 1, length };
}
