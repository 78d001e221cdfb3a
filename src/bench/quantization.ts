/**
 * Layer-level benchmark of reduced precision (issue 15, part 4): the model's dominant shapes run as
 * float32 and as ONNX Runtime's quantized forms, timed alternately in one process (so machine load
 * hits every form alike), with their error against float32 on the same random data.
 *   npm run bench -- quantization [--rounds 3] [--threads N] [--scale 1]
 * Forms:
 *   float32   Conv / Gemm, as the models build them.
 *   dynamic   DynamicQuantizeLinear(x) → ConvInteger / MatMulInteger (u8 × s8, per-output-channel
 *             weight scales) → Cast → Mul(x scale × weight scale) → Add(bias): every quantize and
 *             dequantize pass is in the time.
 *   static    QuantizeLinear(x) with a calibrated scale → QLinearConv / QLinearMatMul (per-channel
 *             weight scales, calibrated output scale) → DequantizeLinear.
 *   float16   the same op on float16 tensors (Cast in and out), where ORT's CPU provider has a kernel.
 * Calibration here is ideal (min/max of the very input and float32 output being measured), so the
 * static form's error is a lower bound of what a calibration set would give. Weights are 7-bit where
 * the input's uint8 zero point is high (see int8-trunk.ts `quantizeWeights`: AVX2 saturation).
 */
import { cpus, loadavg } from 'node:os';
import { Graph, type Value } from '../engine/graph.js';
import { Engine } from '../engine/engine.js';
import { describeMachine, machineInfo } from './machine.js';
import { activationScale, quantizeWeights } from './int8-trunk.js';
import { xorshift32 } from './xorshift.js';

export interface LayerShape {
  label: string;
  /** 'conv': [1, cin, 1, length] channels-first, kernel [1, k], 'same' padding; 'linear': [length, cin] × Wᵀ. */
  kind: 'conv' | 'linear';
  cin: number;
  cout: number;
  k: number;
  length: number;
}

export type Form = 'float32' | 'dynamic' | 'static' | 'float16';
export const FORMS: readonly Form[] = ['float32', 'dynamic', 'static', 'float16'];

/** Full-size Enformer's dominant products (conv tower, its pointwise convs, transformer linears). */
export const MODEL_SHAPES: readonly LayerShape[] = [
  { label: 'tower conv k=5, 768→896, L 16,384', kind: 'conv', cin: 768, cout: 896, k: 5, length: 16_384 },
  { label: 'tower conv k=5, 1,280→1,536, L 4,096', kind: 'conv', cin: 1280, cout: 1536, k: 5, length: 4096 },
  { label: 'pointwise conv 1×1, 768→768, L 32,768', kind: 'conv', cin: 768, cout: 768, k: 1, length: 32_768 },
  { label: 'transformer Linear 1,536→1,536, 1,536 rows', kind: 'linear', cin: 1536, cout: 1536, k: 1, length: 1536 },
];

export function layerFlops(s: LayerShape): number {
  return 2 * s.cin * s.cout * s.k * s.length;
}

/** Deterministic standard normals (xorshift32 + Box–Muller). */
function normals(count: number, seed: number): Float32Array {
  const next = xorshift32(seed);
  const uniform = () => (next() + 0.5) / 4294967296;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const t = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(t);
    if (i + 1 < count) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

export interface LayerData {
  x: Float32Array;
  /** PyTorch layout: conv [cout, cin, k], linear [cout, cin]. */
  w: Float32Array;
  bias: Float32Array;
}

/**
 * Inputs like the model's: conv inputs follow BatchNorm → GELU (x·σ(1.702x) of a normal: skewed,
 * bounded below), linear inputs follow LayerNorm (normal). Weights scaled by 1/√fan-in.
 */
export function layerData(s: LayerShape, seed = 7): LayerData {
  const x = normals(s.cin * s.length, seed);
  if (s.kind === 'conv') for (let i = 0; i < x.length; i++) x[i] = x[i]! / (1 + Math.exp(-1.702 * x[i]!));
  const fanIn = s.cin * s.k;
  const w = normals(s.cout * fanIn, seed + 1).map((v) => v / Math.sqrt(fanIn));
  const bias = normals(s.cout, seed + 2).map((v) => 0.1 * v);
  return { x, w, bias };
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/** float32 → IEEE half (round to nearest even), for float16 initializers. */
export function toHalf(values: Float32Array): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let h = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && h & 1)) h++;
      out[i] = sign | h;
    } else {
      let h = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
      out[i] = sign | h;
    }
  }
  return out;
}

/** Weight [cout, cin, k] as [K = cin·k, N = cout] for MatMul-shaped ops (linear: k = 1). */
function transposed<T extends Float32Array | Int8Array>(w: T, cout: number, make: (n: number) => T): T {
  const kdim = w.length / cout;
  const t = make(w.length);
  for (let o = 0; o < cout; o++) for (let i = 0; i < kdim; i++) t[i * cout + o] = w[o * kdim + i]!;
  return t;
}

export interface Calibration {
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

export function range(a: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of a) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/**
 * One layer in one form as an ONNX graph: input 'x', outputs 'y' (the layer's float32 result) and
 * 'sum' (a scalar the timed runs fetch instead, so result copies do not enter the timing).
 */
export function layerGraph(s: LayerShape, form: Form, d: LayerData, cal?: Calibration): Uint8Array {
  const g = new Graph(`layer_${form}`);
  const conv = s.kind === 'conv';
  const xShape = conv ? [1, s.cin, 1, s.length] : [s.length, s.cin];
  const x = g.input('x', 'float32', xShape);
  const convAttrs = { kernel_shape: [1, s.k], pads: [0, (s.k - 1) / 2, 0, (s.k - 1) / 2] };
  const wDims = conv ? [s.cout, s.cin, 1, s.k] : [s.cout, s.cin];
  const init = (name: string, dtype: 'float32' | 'int8' | 'uint8' | 'int32' | 'float16', dims: number[], data: ArrayBufferView) =>
    g.initializer(name, { dtype, dims, data: { kind: 'inline', bytes: bytesOf(data) } });
  const bias = () => init('bias', 'float32', [s.cout], d.bias);
  // Per-output-channel vectors shaped to broadcast over the output ([1, C, 1, L] or [M, N]).
  const channelDims = conv ? [1, s.cout, 1, 1] : [s.cout];

  // Weights as the int8 trunk makes them: 7-bit where the input's u8 zero point is high (see
  // quantizeWeights: VPMADDUBSW saturation on AVX2), else 8-bit.
  const xr = range(d.x);
  const maxLevel = activationScale(xr.min, xr.max).zeroPoint > 64 ? 63 : 127;
  let y: Value;
  if (form === 'float32') {
    const w = init('w', 'float32', wDims, d.w);
    y = conv ? g.op('Conv', [x, w, bias()], convAttrs) : g.op('Gemm', [x, w, bias()], { transB: 1 });
  } else if (form === 'dynamic') {
    const wq = quantizeWeights(d.w, s.cout, maxLevel);
    const [xq, xs, xzp] = g.opMulti('DynamicQuantizeLinear', [x], 3);
    let acc: Value;
    if (conv) {
      acc = g.op('ConvInteger', [xq!, init('wq', 'int8', wDims, wq.q), xzp!], convAttrs);
    } else {
      acc = g.op('MatMulInteger', [xq!, init('wq', 'int8', [s.cin, s.cout], transposed(wq.q, s.cout, (n) => new Int8Array(n))), xzp!]);
    }
    const scale = g.op('Mul', [xs!, init('ws', 'float32', channelDims, wq.scales)]);
    y = g.op('Add', [g.op('Mul', [g.op('Cast', [acc], { to: 1 }), scale]), init('bias', 'float32', channelDims, d.bias)]);
  } else if (form === 'static') {
    if (!cal) throw new Error('static quantization needs a calibration');
    const wq = quantizeWeights(d.w, s.cout, maxLevel);
    const xa = activationScale(cal.xMin, cal.xMax);
    // QLinearMatMul has no bias input: the bias is added in float32 after dequantization, so its
    // output range is the product's, i.e. the layer's widened by the largest |bias|.
    const widen = conv ? 0 : d.bias.reduce((m, b) => Math.max(m, Math.abs(b)), 0);
    const ya = activationScale(cal.yMin - widen, cal.yMax + widen);
    const xs = init('xs', 'float32', [], Float32Array.of(xa.scale));
    const xzp = init('xzp', 'uint8', [], Uint8Array.of(xa.zeroPoint));
    const ys = init('ys', 'float32', [], Float32Array.of(ya.scale));
    const yzp = init('yzp', 'uint8', [], Uint8Array.of(ya.zeroPoint));
    const ws = init('ws', 'float32', [s.cout], wq.scales);
    const wzp = init('wzp', 'int8', [s.cout], new Int8Array(s.cout));
    const xq = g.op('QuantizeLinear', [x, xs, xzp]);
    if (conv) {
      const b32 = Int32Array.from(d.bias, (b, o) => Math.round(b / (xa.scale * wq.scales[o]!)));
      const yq = g.op('QLinearConv', [xq, xs, xzp, init('wq', 'int8', wDims, wq.q), ws, wzp, ys, yzp, init('bq', 'int32', [s.cout], b32)], convAttrs);
      y = g.op('DequantizeLinear', [yq, ys, yzp]);
    } else {
      const wT = init('wq', 'int8', [s.cin, s.cout], transposed(wq.q, s.cout, (n) => new Int8Array(n)));
      const yq = g.op('QLinearMatMul', [xq, xs, xzp, wT, ws, wzp, ys, yzp]);
      y = g.op('Add', [g.op('DequantizeLinear', [yq, ys, yzp]), bias()]);
    }
  } else {
    const half = (name: string, dims: number[], v: Float32Array) => init(name, 'float16', dims, toHalf(v));
    const xh = g.op('Cast', [x], { to: 10 });
    const yh = conv
      ? g.op('Conv', [xh, half('wh', wDims, d.w), half('bh', [s.cout], d.bias)], convAttrs)
      : g.op('Gemm', [xh, half('wh', wDims, d.w), half('bh', [s.cout], d.bias)], { transB: 1 });
    y = g.op('Cast', [yh], { to: 1 });
  }
  const yShape = conv ? [1, s.cout, 1, s.length] : [s.length, s.cout];
  g.output(y, 'y', 'float32', yShape);
  g.output(g.op('ReduceSum', [y], { keepdims: 0 }), 'sum', 'float32', []);
  return g.toModel();
}

export interface Agreement {
  maxAbsError: number;
  /** max abs error / max |float32 output|. */
  relativeMaxError: number;
  pearson: number;
}

export function agreement(reference: Float32Array, other: Float32Array): Agreement {
  let maxErr = 0;
  let maxRef = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < reference.length; i++) {
    sa += reference[i]!;
    sb += other[i]!;
  }
  const ma = sa / reference.length;
  const mb = sb / reference.length;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < reference.length; i++) {
    const a = reference[i]!;
    const b = other[i]!;
    maxErr = Math.max(maxErr, Math.abs(a - b));
    maxRef = Math.max(maxRef, Math.abs(a));
    cov += (a - ma) * (b - mb);
    va += (a - ma) ** 2;
    vb += (b - mb) ** 2;
  }
  return { maxAbsError: maxErr, relativeMaxError: maxErr / (maxRef || 1), pearson: cov / Math.sqrt(va * vb) };
}

export interface FormResult {
  form: Form;
  /** Median seconds per run, or undefined when ORT has no kernel for the form (`unsupported` says why). */
  seconds?: number;
  gflops?: number;
  speedup?: number;
  agreement?: Agreement;
  unsupported?: string;
}

/**
 * Builds every form of `s`, checks each against float32 once, then times them alternately:
 * `rounds` rounds, each running every form once (after one warm-up run each).
 */
export async function benchLayer(engine: Engine, s: LayerShape, opts: { rounds: number; forms?: readonly Form[] }): Promise<FormResult[]> {
  const forms = opts.forms ?? FORMS;
  const d = layerData(s);
  const feeds = { x: { dtype: 'float32' as const, dims: s.kind === 'conv' ? [1, s.cin, 1, s.length] : [s.length, s.cin], data: d.x } };
  const id = (f: Form) => `q_${f}`;
  await engine.createSession(id('float32'), layerGraph(s, 'float32', d), []);
  const reference = (await engine.run(id('float32'), feeds, ['y'])).y!.data as Float32Array;
  const xr = range(d.x);
  const yr = range(reference);
  const cal = { xMin: xr.min, xMax: xr.max, yMin: yr.min, yMax: yr.max };
  const results = new Map<Form, FormResult>();
  for (const f of forms) {
    if (f === 'float32') {
      results.set(f, { form: f, agreement: agreement(reference, reference) });
      continue;
    }
    try {
      await engine.createSession(id(f), layerGraph(s, f, d, cal), []);
      const y = (await engine.run(id(f), feeds, ['y'])).y!.data as Float32Array;
      results.set(f, { form: f, agreement: agreement(reference, y) });
    } catch (e) {
      results.set(f, { form: f, unsupported: (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 160) });
    }
  }
  const timed = forms.filter((f) => !results.get(f)!.unsupported);
  const times = new Map<Form, number[]>(timed.map((f) => [f, []]));
  for (const f of timed) await engine.run(id(f), feeds, ['sum']);
  for (let r = 0; r < opts.rounds; r++) {
    for (const f of timed) {
      const t0 = performance.now();
      await engine.run(id(f), feeds, ['sum']);
      times.get(f)!.push((performance.now() - t0) / 1000);
    }
  }
  for (const f of forms) await engine.release(id(f)).catch(() => {});
  const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  const base = median(times.get('float32') ?? [NaN]);
  return forms.map((f) => {
    const r = results.get(f)!;
    const t = times.get(f);
    if (!t) return r;
    const seconds = median(t);
    return { ...r, seconds, gflops: layerFlops(s) / seconds / 1e9, speedup: base / seconds };
  });
}

/** Seconds to feed the input and reduce it to a scalar: the part of every timing that is not the layer. */
async function feedOverhead(engine: Engine, s: LayerShape, rounds: number): Promise<number> {
  const g = new Graph('feed');
  const dims = s.kind === 'conv' ? [1, s.cin, 1, s.length] : [s.length, s.cin];
  const x = g.input('x', 'float32', dims);
  g.output(g.op('ReduceSum', [x], { keepdims: 0 }), 'sum', 'float32', []);
  await engine.createSession('feed', g.toModel(), []);
  const feeds = { x: { dtype: 'float32' as const, dims, data: new Float32Array(s.cin * s.length) } };
  await engine.run('feed', feeds, ['sum']);
  const t: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await engine.run('feed', feeds, ['sum']);
    t.push((performance.now() - t0) / 1000);
  }
  await engine.release('feed');
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!;
}

const load = () => loadavg().map((v) => v.toFixed(2)).join(', ');

export async function benchQuantization(opts: { rounds: number; threads?: number; scale: number }): Promise<void> {
  console.log(describeMachine(machineInfo()));
  console.log(`(${cpus().length} CPUs; ${opts.threads ?? 'all'} intra-op threads; ${opts.rounds} alternating rounds after a warm-up; lengths ÷ ${opts.scale})`);
  const engine = Engine.start({ threads: opts.threads });
  try {
    for (const full of MODEL_SHAPES) {
      const s = { ...full, length: Math.max(16, Math.round(full.length / opts.scale)) };
      const overhead = await feedOverhead(engine, s, opts.rounds);
      const results = await benchLayer(engine, s, { rounds: opts.rounds });
      console.log(`\n${s.label}${opts.scale !== 1 ? ` (L ${s.length})` : ''}: ${(layerFlops(s) / 1e9).toFixed(1)} GFLOP; feed + reduce overhead ${(overhead * 1000).toFixed(0)} ms; load average ${load()}`);
      for (const r of results) {
        if (r.unsupported) {
          console.log(`  ${r.form.padEnd(8)} no CPU kernel: ${r.unsupported}`);
          continue;
        }
        const a = r.agreement!;
        const net = r.seconds! - overhead;
        console.log(
          `  ${r.form.padEnd(8)} ${r.seconds!.toFixed(3)} s  ${r.gflops!.toFixed(1).padStart(6)} GFLOP/s  ×${r.speedup!.toFixed(2)} vs float32` +
            `  (net of overhead ${net.toFixed(3)} s)  max abs err ${a.maxAbsError.toExponential(2)} (${(a.relativeMaxError * 100).toFixed(2)} % of max |y|)  Pearson ${a.pearson.toFixed(6)}`,
        );
        console.log(`RESULT layer="${s.label}" form=${r.form} seconds=${r.seconds!.toFixed(4)} gflops=${r.gflops!.toFixed(1)} speedup=${r.speedup!.toFixed(3)} max_abs_err=${a.maxAbsError.toExponential(3)} pearson=${a.pearson.toFixed(7)}`);
      }
    }
  } finally {
    await engine.close();
  }
}
