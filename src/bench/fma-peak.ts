/**
 * The machine's measured FP32 FMA peak: src/bench/native/fma-peak.c (12 independent FMA chains per
 * thread, 16 floats wide where the CPU has AVX-512F, else 8 with AVX2 + FMA), compiled on demand with
 * the system's C compiler into the temporary folder and run once per thread count. A bench tool
 * only: nothing in the package or the tests needs it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FmaPeak {
  threads: number;
  /** Floats per FMA in the measured loop: 16 (AVX-512F) or 8 (AVX2 + FMA). */
  width: FmaWidth;
  gflops: number;
  /** Effective core clock during the run, from a chain of dependent integer adds (1 cycle each). */
  clockGhz: number;
}

export type FmaWidth = 8 | 16;

/**
 * The vector width whose FMA rate is the machine's peak: 16 floats with AVX-512, as ONNX Runtime's
 * kernels use 512-bit FMAs there, and cores with full-width 512-bit units (Zen 5, Intel's server
 * cores) do twice the 8-wide loop's FLOPs per cycle; an 8-wide probe would put such a machine's
 * model runs above "the peak".
 */
export function fmaWidth(vectorWidth: string): FmaWidth {
  return vectorWidth === 'AVX-512' ? 16 : 8;
}

const SOURCE = fileURLToPath(new URL('../../src/bench/native/fma-peak.c', import.meta.url));

/** Path of the compiled tool, building it when missing; or why it cannot be built here. */
export function fmaPeakTool(): { path: string } | { problem: string } {
  if (process.arch !== 'x64') return { problem: `the FMA microbenchmark is x86-64 only (this is ${process.arch})` };
  if (!existsSync(SOURCE)) return { problem: `${SOURCE} not found (run from the repository)` };
  const source = readFileSync(SOURCE);
  const path = join(tmpdir(), `seq2track-fma-peak-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  if (existsSync(path)) return { path };
  try {
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-mavx2', '-mfma', '-pthread', '-o', `${path}.partial`, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(`${path}.partial`, path);
    return { path };
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim().split('\n')[0];
    return { problem: `cannot build the FMA microbenchmark (${process.env.CC ?? 'cc'}): ${stderr || (e instanceof Error ? e.message : String(e))}` };
  }
}

/** Runs the tool with `threads` threads for about `seconds` s. Needs AVX2 + FMA, and AVX-512F for width 16 (the caller checks the flags). */
export function measureFmaPeak(tool: string, threads: number, seconds = 1, width: FmaWidth = 8): FmaPeak {
  const out = execFileSync(tool, [String(threads), String(seconds), String(width)], { encoding: 'utf8' });
  const gflops = Number(/gflops=([\d.]+)/.exec(out)?.[1]);
  const clockGhz = Number(/clock_ghz=([\d.]+)/.exec(out)?.[1]);
  if (!Number.isFinite(gflops) || !Number.isFinite(clockGhz)) throw new Error(`unexpected output of ${tool}: ${out.trim()}`);
  return { threads, width, gflops, clockGhz };
}

/** The FMA peak with `threads` threads (default: every CPU), or why it was not measured. */
export function machineFmaPeak(vectorWidth: string, threads: number, seconds = 1): FmaPeak | { problem: string } {
  if (vectorWidth !== 'AVX2+FMA' && vectorWidth !== 'AVX-512') return { problem: `needs AVX2+FMA (this CPU: ${vectorWidth})` };
  const tool = fmaPeakTool();
  if ('problem' in tool) return tool;
  try {
    return measureFmaPeak(tool.path, threads, seconds, fmaWidth(vectorWidth));
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e) };
  }
}
