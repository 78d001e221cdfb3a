/**
 * What machine a benchmark ran on, and the engine's practical ceiling there: ONNX Runtime's own large
 * SGEMM measured in the same run. Benchmarks report model speed as a fraction of that ceiling, so
 * figures from machines with different vector widths or loads can be compared.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Graph } from '../engine/graph.js';
import { Engine } from '../engine/engine.js';

export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  /** Widest float vector unit the CPU reports: 'AVX-512', 'AVX2+FMA', 'AVX', 'SSE' (x86) or the architecture. */
  vectorWidth: string;
  load1: number;
}

function cpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line?.split(':')[1] ?? '').trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

export function machineInfo(): MachineInfo {
  const flags = cpuFlags();
  let vectorWidth: string = process.arch;
  if (flags.has('avx512f')) vectorWidth = 'AVX-512';
  else if (flags.has('avx2') && flags.has('fma')) vectorWidth = 'AVX2+FMA';
  else if (flags.has('avx')) vectorWidth = 'AVX';
  else if (flags.has('sse2')) vectorWidth = 'SSE';
  return { cpuModel: cpus()[0]?.model?.trim() || 'unknown CPU', cpus: cpus().length, vectorWidth, load1: loadavg()[0] ?? 0 };
}

export function describeMachine(m: MachineInfo): string {
  return `machine: ${m.cpuModel}, ${m.cpus} CPUs, ${m.vectorWidth}, load average ${m.load1.toFixed(2)}`;
}

export interface GemmCeiling {
  n: number;
  seconds: number;
  gflops: number;
}

/**
 * ORT's float32 MatMul of two n × n matrices (default 4096³, 137 GFLOP), median of `runs` after a
 * warm-up, with the same thread count as the model run.
 */
export async function measureGemmCeiling(opts: { threads?: number; n?: number; runs?: number } = {}): Promise<GemmCeiling> {
  const n = opts.n ?? 4096;
  const runs = Math.max(1, opts.runs ?? 3);
  // Only a row of A crosses to the worker (Expand fills the matrix, ~1 % of the time) and only a scalar
  // comes back, so the timing is the GEMM's, not message copies'. B is a constant that ORT cannot fold
  // away because A depends on an input.
  const g = new Graph('sgemm');
  const row = g.input('row', 'float32', [1, n]);
  const a = g.op('Expand', [row, g.ints([n, n])]);
  const values = new Float32Array(n * n);
  for (let i = 0; i < values.length; i++) values[i] = (((i * 2654435761) >>> 0) / 4294967296 - 0.5) * 0.1;
  const b = g.floats('b', [n, n], values);
  g.output(g.op('ReduceSum', [g.op('MatMul', [a, b])], { keepdims: 0 }), 'c', 'float32', []);
  const engine = Engine.start({ threads: opts.threads });
  try {
    await engine.createSession('sgemm', g.toModel(), []);
    const feeds = { row: { dtype: 'float32' as const, dims: [1, n], data: new Float32Array(n).fill(0.01) } };
    await engine.run('sgemm', feeds, ['c']);
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await engine.run('sgemm', feeds, ['c']);
      times.push((performance.now() - t0) / 1000);
    }
    times.sort((x, y) => x - y);
    const seconds = times[Math.floor(times.length / 2)]!;
    return { n, seconds, gflops: (2 * n * n * n) / seconds / 1e9 };
  } finally {
    await engine.close();
  }
}
