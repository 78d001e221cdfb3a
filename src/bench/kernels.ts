/**
 * The machine's ceilings, measured in one run (`npm run bench -- kernels [--runs 3] [--threads-list 1,2]`):
 * the FP32 FMA peak (fma-peak.ts, 1 thread and all threads, with the effective clock), and ONNX
 * Runtime's own kernels on the shapes full-size Enformer runs (per 32,768-bp trunk tile plus halo,
 * and the transformer at 1,536 positions), each at 1 and at 2 intra-op threads, and two 1-thread
 * sessions side by side (whether two cores give twice one core). Each kernel is one ORT session
 * whose input is expanded in the graph from a small row (so no large tensor crosses to the worker)
 * and whose output is summed to a scalar; Expand and ReduceSum are a few % of the time and counted.
 */
import { Graph, type Value } from '../engine/graph.js';
import { Engine } from '../engine/engine.js';
import { describeMachine, machineInfo } from './machine.js';
import { fmaPeakTool, fmaWidth, measureFmaPeak, type FmaPeak } from './fma-peak.js';
import { loadavg } from 'node:os';

export interface Kernel {
  label: string;
  flops: number;
  /** Builds op(input) from the expanded input; returns the output. */
  build(g: Graph, x: Value): Value;
  /** Input shape and the row fed to Expand (its last axis or second). */
  input: number[];
}

function weights(g: Graph, name: string, dims: number[], fanIn: number): Value {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((((i + 1) * 2654435761) >>> 0) / 4294967296 - 0.5) / Math.sqrt(fanIn);
  return g.floats(name, dims, data);
}

/** 1-D convolution of width k as a 2-D one of height 1 (the model's '2d' layout), C → D channels at L positions. */
export function convKernel(c: number, d: number, l: number, k: number): Kernel {
  return {
    label: `Conv k=${k} ${c}→${d}, L ${l}`,
    flops: 2 * c * d * k * l,
    input: [1, c, 1, l],
    build: (g, x) => g.op('Conv', [x, weights(g, 'w', [d, c, 1, k], c * k), weights(g, 'b', [d], c)], { kernel_shape: [1, k], pads: [0, (k - 1) / 2, 0, (k - 1) / 2] }),
  };
}

/** A 1×1 convolution as MatMul on the channels-first view: W [D, C] × x [1, C, L]. */
export function pointwiseMatMulKernel(c: number, d: number, l: number): Kernel {
  return {
    label: `MatMul W[${d},${c}]·x[${c},${l}] (1×1 conv, channels first)`,
    flops: 2 * c * d * l,
    input: [1, c, l],
    build: (g, x) => g.op('MatMul', [weights(g, 'w', [d, c], c), x]),
  };
}

/** x [m, k] · Wᵀ with W [n, k], as the model's `linear` (Gemm transB). */
export function gemmKernel(m: number, k: number, n: number): Kernel {
  return {
    label: `Gemm x[${m},${k}]·Wᵀ, W[${n},${k}]`,
    flops: 2 * m * k * n,
    input: [m, k],
    build: (g, x) => g.op('Gemm', [x, weights(g, 'w', [n, k], k)], { transB: 1 }),
  };
}

export function matMulKernel(n: number): Kernel {
  return {
    label: `MatMul ${n}³`,
    flops: 2 * n * n * n,
    input: [n, n],
    build: (g, x) => g.op('MatMul', [x, weights(g, 'b', [n, n], n)]),
  };
}

function kernelModel(k: Kernel): { model: Uint8Array; feeds: Record<string, { dtype: 'float32'; dims: number[]; data: Float32Array }> } {
  const g = new Graph('kernel');
  const rowDims = k.input.map((d, i) => (i === k.input.length - 1 ? d : 1));
  const row = g.input('row', 'float32', rowDims);
  const x = g.op('Expand', [row, g.ints(k.input)]);
  g.output(g.op('ReduceSum', [k.build(g, x)], { keepdims: 0 }), 'y', 'float32', []);
  const n = rowDims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i) * 0.5;
  return { model: g.toModel(), feeds: { row: { dtype: 'float32', dims: rowDims, data } } };
}

/** Median seconds of `runs` runs after a warm-up, in `sessions` engines run side by side (each `threads` threads). */
export async function timeKernel(k: Kernel, opts: { threads: number; runs: number; sessions?: number; spinning?: boolean }): Promise<number> {
  const { model, feeds } = kernelModel(k);
  const engines = Array.from({ length: opts.sessions ?? 1 }, () => Engine.start({ threads: opts.threads }));
  try {
    for (const e of engines) await e.createSession('k', model, []);
    await Promise.all(engines.map((e) => e.run('k', feeds, ['y'])));
    const times: number[] = [];
    for (let r = 0; r < opts.runs; r++) {
      const t0 = performance.now();
      await Promise.all(engines.map((e) => e.run('k', feeds, ['y'])));
      times.push((performance.now() - t0) / 1000);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  } finally {
    for (const e of engines) await e.close();
  }
}

/** Full-size Enformer's GEMM-shaped work per 32,768-bp trunk tile (33,536 bp with the halo) and in the head. */
export function enformerKernels(): Kernel[] {
  return [
    matMulKernel(4096),
    convKernel(768, 768, 33_536, 1),
    pointwiseMatMulKernel(768, 768, 33_536),
    convKernel(768, 896, 16_768, 5),
    convKernel(1152, 1152, 4_192, 1),
    pointwiseMatMulKernel(1152, 1152, 4_192),
    convKernel(1280, 1536, 1_048, 5),
    convKernel(1536, 1536, 524, 1),
    pointwiseMatMulKernel(1536, 1536, 524),
    gemmKernel(1536, 1536, 1536),
    gemmKernel(1536, 1536, 3072),
  ];
}

export async function benchKernels(opts: { runs: number; threadsList: number[] }): Promise<void> {
  const m = machineInfo();
  console.log(describeMachine(m));
  const tool = m.vectorWidth === 'AVX2+FMA' || m.vectorWidth === 'AVX-512' ? fmaPeakTool() : { problem: `no AVX2+FMA (${m.vectorWidth}): the FMA microbenchmark needs it` };
  if ('problem' in tool) console.log(`FMA peak: not measured (${tool.problem})`);
  // Other work on the machine changes what a core delivers from one second to the next, so the FMA
  // peak is measured again right before each kernel, with the kernel's thread count, and each
  // kernel's fraction is of that figure.
  const peakNow = (threads: number): FmaPeak | undefined => ('path' in tool ? measureFmaPeak(tool.path, threads, 0.5, fmaWidth(m.vectorWidth)) : undefined);
  for (const t of opts.threadsList) {
    const p = peakNow(t);
    if (p) console.log(`FMA peak (${p.width}-wide FP32, 12 chains/thread), ${t} thread${t > 1 ? 's' : ''}: ${p.gflops.toFixed(1)} GFLOP/s; one thread got ${p.clockGhz.toFixed(2)} G cycles/s (the core clock when nothing else runs)`);
  }
  const n = opts.threadsList.length;
  const header = ['kernel', 'GFLOP', ...opts.threadsList.map((t) => `${t} thr: GFLOP/s (of FMA peak just before)`), ...(n > 1 ? [`${n} sessions × 1 thr side by side`] : [])];
  console.log(`\n| ${header.join(' | ')} |\n| ${header.map(() => '---').join(' | ')} |`);
  for (const k of enformerKernels()) {
    const cells = [k.label, (k.flops / 1e9).toFixed(1)];
    for (const t of opts.threadsList) {
      const peak = peakNow(t);
      const s = await timeKernel(k, { threads: t, runs: opts.runs });
      const gf = k.flops / s / 1e9;
      cells.push(`${gf.toFixed(1)}${peak ? ` (${(gf / peak.gflops).toFixed(2)} of ${peak.gflops.toFixed(0)})` : ''}`);
    }
    if (n > 1) {
      const peak = peakNow(n);
      const s = await timeKernel(k, { threads: 1, runs: opts.runs, sessions: n });
      const gf = (n * k.flops) / s / 1e9;
      cells.push(`${gf.toFixed(1)}${peak ? ` (${(gf / peak.gflops).toFixed(2)} of ${peak.gflops.toFixed(0)})` : ''}`);
    }
    console.log(`| ${cells.join(' | ')} |`);
  }
  console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(', ')}`);
}
