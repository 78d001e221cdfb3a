/**
 * An int8 trunk, for measurement only (issue 15, part 4; not a model option: it failed the agreement
 * gate, see BENCHMARKS.md "Reduced precision"). Every full-mixing convolution of the trunk runs as ONNX
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
import type { Engine } from '../engine/engine.js';
import type { SessionRunner } from '../engine/runner.js';
import type { BlobFeeds, BlobSpec, RunStash, SessionOpts, TensorData } from '../engine/protocol.js';
import type { StashTotals } from '../engine/tensor-store.js';
import { LayerContext, type ConvLayout, type ConvSite, type WeightRef } from '../models/layers.js';
import { Model, type ModelOptions, type OneHotBatch } from '../models/model.js';
import { trunkGrid, type Architecture } from '../models/architecture.js';
import type { WeightSet } from '../weights/weight-set.js';
import { readSync, openSync, closeSync } from 'node:fs';
import { xorshift32 } from './xorshift.js';

/** Below this many input channels a convolution is memory-bound: quantizing it saves nothing. */
export const MIN_CHANNELS = 16;

export interface QuantizedWeights {
  /** int8 weights in the float weights' layout (output channel first). */
  q: Int8Array;
  /** One scale per output channel. */
  scales: Float32Array;
}

/**
 * Symmetric per-output-channel int8 in [-maxLevel, maxLevel]. `maxLevel` 63 (7 bits) is ORT's
 * "reduce_range": on AVX2 without VNNI, MLAS multiplies u8 × s8 with VPMADDUBSW, which adds two
 * products in int16 with saturation; 255 · 64 · 2 < 32,768, so 7-bit weights never saturate.
 */
export function quantizeWeights(w: Float32Array, outChannels: number, maxLevel = 127): QuantizedWeights {
  const per = w.length / outChannels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let m = 0;
    for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(w[o * per + i]!));
    const s = m > 0 ? m / maxLevel : 1;
    scales[o] = s;
    for (let i = 0; i < per; i++) q[o * per + i] = Math.max(-maxLevel, Math.min(maxLevel, Math.round(w[o * per + i]! / s)));
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

/** Another form of a full-mixing convolution than float32 (reduced precision, calibration taps). */
interface ConvRewriter {
  conv(c: LayerContext, site: ConvSite, float32: () => Value): Value;
}

/** A layer context whose full-mixing convolutions `rewriter` builds. */
class RewritingContext extends LayerContext {
  constructor(
    g: Graph,
    resolve: (name: string) => WeightRef | undefined,
    shapes: Map<string, number[]>,
    layout: ConvLayout,
    blob: string | undefined,
    private readonly rewriter: ConvRewriter,
  ) {
    super(g, resolve, shapes, layout, blob);
  }

  override convolution(site: ConvSite, float32: () => Value): Value {
    return this.rewriter.conv(this, site, float32);
  }
}

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
    /** Sites whose input zero point exceeds this get 7-bit weights (256: never). */
    private readonly reducedRangeAbove = 64,
  ) {}

  conv(c: LayerContext, site: ConvSite, float32: () => Value): Value {
    const range = this.ranges.get(site.weight);
    if (!range || !quantizable(c, site)) return float32();
    const g = c.g;
    const out = site.weightDims[0]!;
    const xa = activationScale(range.xMin, range.xMax);
    // Inputs centred in the u8 range (zero point high: the residual stream before attention pooling)
    // put many large u8 values side by side, where 8-bit weights saturate VPMADDUBSW; GELU outputs
    // (zero point near 0) rarely do, and keep the finer 8-bit weights.
    const w = quantizeWeights(this.values(site.weight), out, xa.zeroPoint > this.reducedRangeAbove ? 63 : 127);
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
export function calibrationBatch(length: number, seed = 20_251): OneHotBatch {
  const next = xorshift32(seed);
  const data = new Float32Array(length * 4);
  for (let i = 0; i < length; i++) data[i * 4 + (next() >>> 30)] = 1;
  return { data, batch: 1, length };
}

/** A weight's float32 values as a copy (from memory, or read from its file range). */
function weightValues(weights: WeightSet, name: string): Float32Array {
  const e = weights.entries.get(name);
  if (!e) throw new Error(`weight '${name}' is missing`);
  const values = new Float32Array((e.source.kind === 'file' ? e.source.length : e.source.bytes.length) / 4);
  const bytes = new Uint8Array(values.buffer);
  if (e.source.kind === 'bytes') {
    bytes.set(e.source.bytes);
    return values;
  }
  const fd = openSync(e.source.path, 'r');
  try {
    for (let done = 0; done < bytes.length; ) {
      const n = readSync(fd, bytes, done, bytes.length - done, e.source.offset + done);
      if (n === 0) throw new Error(`${e.source.path}: unexpected end of file`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return values;
}

/**
 * A session runner that passes everything to `inner` except the trunk session, which it replaces by
 * the int8 trunk: a float32 calibration session (convolution ranges as extra outputs) runs on the
 * calibration batch, then the int8 graph is built from those ranges over the same weight blob.
 */
class Int8TrunkRunner implements SessionRunner {
  constructor(
    private readonly inner: Engine,
    private readonly build: (c: LayerContext) => void,
    private readonly context: (g: Graph, rewriter: ConvRewriter) => LayerContext,
    private readonly values: Map<string, Float32Array>,
    private readonly calibration: OneHotBatch,
  ) {}

  loadBlob(name: string, spec: BlobSpec): Promise<void> {
    return this.inner.loadBlob(name, spec);
  }

  dropBlob(name: string, opts?: { poison?: boolean; reuse?: boolean }): Promise<void> {
    return this.inner.dropBlob(name, opts);
  }

  run(id: string, feeds: Record<string, TensorData>, fetches: string[], blobFeeds?: BlobFeeds, stash?: RunStash): Promise<Record<string, TensorData>> {
    return this.inner.run(id, feeds, fetches, blobFeeds, stash);
  }

  dropStash(group: string): Promise<StashTotals> {
    return this.inner.dropStash(group);
  }

  release(id: string): Promise<void> {
    return this.inner.release(id);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async createSession(id: string, model: Uint8Array, blobs: string[], opts?: SessionOpts): Promise<{ inputs: string[]; outputs: string[] }> {
    if (id !== 'trunk') return this.inner.createSession(id, model, blobs, opts);
    const calibration = new Graph('trunk_calibration');
    const taps = new CalibrationTaps();
    this.build(this.context(calibration, taps));
    await this.inner.createSession('trunk_calibration', calibration.toModel(), blobs);
    const b = this.calibration;
    const ranges = new Map<string, ActivationRange>();
    taps.collect(await this.inner.run('trunk_calibration', { dna: { dtype: 'float32', dims: [b.batch, b.length, 4], data: b.data } }, taps.outputNames), ranges);
    await this.inner.release('trunk_calibration');
    const graph = new Graph('trunk_int8');
    this.build(this.context(graph, new Int8Convs(ranges, (n) => this.values.get(n)!)));
    return this.inner.createSession('trunk', graph.toModel(), blobs);
  }
}

/**
 * `Model.create` with the int8 trunk (head float32). Calibration batch: `calibration`, else one
 * pseudo-random sequence of one tile. Weight values are read first: packing may hand the weights'
 * buffer to the engine.
 */
export async function createInt8Model(
  arch: Architecture,
  weights: WeightSet,
  source: string,
  options: ModelOptions & { calibration?: OneHotBatch },
  startEngine: (options: ModelOptions) => Engine,
): Promise<{ model: Model; close: () => Promise<void> }> {
  const layout = options.layout ?? '2d';
  if (layout !== '2d') throw new Error("the int8 trunk needs the '2d' convolution layout");
  arch.adaptToWeights?.(weights.shapes());
  const shapes = weights.shapes();
  const build = (c: LayerContext) => arch.buildTrunk(c);
  const sites = new CalibrationTaps();
  build(new RewritingContext(new Graph('sites'), (n) => ({ offset: 0, length: shapes.get(n)!.reduce((a, b) => a * b, 4) }), shapes, layout, undefined, sites));
  const values = new Map<string, Float32Array>();
  for (const s of sites.sites) for (const n of [s.weight, s.bias]) if (n) values.set(n, weightValues(weights, n));
  // The offsets Model.create will use for the trunk blob (pack is deterministic; nothing moves yet).
  const names = Model.weightParts(arch, layout).find((p) => p.id === 'trunk')!.names;
  const { offsets } = weights.pack(names);
  const grid = trunkGrid(arch.trunkOutputs);
  const calibration = options.calibration ?? calibrationBatch(Math.max(1, Math.round((options.tileLength || 32_768) / grid)) * grid);
  const engine = startEngine(options);
  const runner = new Int8TrunkRunner(engine, build, (g, rewriter) => new RewritingContext(g, (n) => offsets.get(n), shapes, layout, 'trunk', rewriter), values, calibration);
  try {
    const model = await Model.create(arch, weights, source, options, runner);
    return { model, close: async () => (await model.close(), await engine.close()) };
  } catch (e) {
    await engine.close();
    throw e;
  }
}
