/**
 * Steady benchmark figures (issue 22, item 3), shared by the forward bench (main.ts) and the
 * gradients bench (gradients.ts): each figure is the median of several timed runs after a warm-up,
 * printed with its min and max; the machine's FMA peak is probed before the first run and after every
 * run, and a bench whose probes disagree by more than 10 % (highest / lowest probe > 1.10) was
 * disturbed — something else had the cores for part of it — and says so (`disturbed=1` in its RESULT
 * line). Only the statistics and the probe bookkeeping live here; what is timed is the bench's.
 */
import { machineFmaPeak, type FmaPeak } from './fma-peak.js';

/** Timed runs after the warm-up unless `--runs` says otherwise. */
export const STEADY_RUNS = 5;
/** Highest / lowest FMA probe above this: the bench was disturbed. */
export const DISTURBED_RATIO = 1.1;
/** Seconds of each probe after a run (the first probe, before the runs, takes 1 s). */
export const PROBE_SECONDS = 0.5;
/** Pause before a probe after a run: ORT's intra-op threads busy-wait for a while after a run and would take half the probe's cores. */
export const PROBE_PAUSE_MS = 1000;

export interface Spread {
  count: number;
  median: number;
  min: number;
  max: number;
}

/** The median: the middle value of an odd count, the mean of the two middle values of an even one. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** Median, min and max of timed runs. */
export function spread(xs: readonly number[]): Spread {
  if (xs.length === 0) throw new Error('spread of no values');
  for (const x of xs) if (!Number.isFinite(x)) throw new Error(`not a finite time: ${x}`);
  return { count: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** `22.98 s (min 22.51, max 24.06, median of 5)` */
export function spreadText(s: Spread, digits = 2): string {
  return `${s.median.toFixed(digits)} s (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)}, median of ${s.count})`;
}

/** RESULT fields of a spread: `seconds_min=… seconds_max=…` for prefix `seconds` (the median keeps the bench's own field name). */
export function spreadFields(prefix: string, s: Spread): string {
  return `${prefix}_min=${s.min.toFixed(3)} ${prefix}_max=${s.max.toFixed(3)}`;
}

export interface ProbeVerdict {
  /** How many probes were taken. */
  count: number;
  min?: number;
  max?: number;
  /** Highest / lowest probe (undefined with fewer than two probes). */
  ratio?: number;
  /** Whether the probes disagree by more than the limit; undefined when fewer than two probes were taken. */
  disturbed?: boolean;
}

/** The disturbed verdict: the probes (GFLOP/s) disagree by more than `limit` (highest / lowest). */
export function probeVerdict(probes: readonly number[], limit = DISTURBED_RATIO): ProbeVerdict {
  const good = probes.filter((p) => Number.isFinite(p) && p > 0);
  if (good.length < 2) return { count: good.length, min: good[0], max: good[0] };
  const min = Math.min(...good);
  const max = Math.max(...good);
  const ratio = max / min;
  return { count: good.length, min, max, ratio, disturbed: ratio > limit };
}

/** RESULT fields of the verdict: `disturbed=0|1 probe_ratio=…` (`disturbed=unknown` without two probes). */
export function verdictFields(v: ProbeVerdict): string {
  if (v.disturbed === undefined) return 'disturbed=unknown';
  return `disturbed=${v.disturbed ? 1 : 0} probe_ratio=${v.ratio!.toFixed(3)}`;
}

/** A line for the log: steady, or disturbed and why. */
export function verdictLine(v: ProbeVerdict, limit = DISTURBED_RATIO): string {
  if (v.disturbed === undefined) return `steadiness: unknown (${v.count} FMA probe${v.count === 1 ? '' : 's'}; two or more are needed)`;
  const range = `${v.count} FMA probes ${v.min!.toFixed(1)}–${v.max!.toFixed(1)} GFLOP/s, highest / lowest ${v.ratio!.toFixed(3)}`;
  if (v.disturbed) return `DISTURBED: ${range} > ${limit.toFixed(2)}: something else had the cores during this bench, its figures are not steady`;
  return `steady: ${range} ≤ ${limit.toFixed(2)}`;
}

/** Fewer timed runs than a steady figure needs: a note for the log, or null. */
export function runsNote(runs: number): string | null {
  return runs < STEADY_RUNS ? `note: ${runs} timed run${runs === 1 ? '' : 's'}, fewer than the ${STEADY_RUNS} of a steady figure` : null;
}

type Measure = (seconds: number) => FmaPeak | { problem: string };

/**
 * The FMA probes of one bench: `first()` before the first run (1 s), `after()` after every run
 * (a pause, then 0.5 s). `peak` is the highest probe (the hardware's peak: a lower probe means
 * something else had the cores then, and the model is set against the highest so its fraction is
 * never inflated); `verdict()` says whether the bench was disturbed.
 */
export class FmaProbes {
  readonly values: number[] = [];
  /** Why no probe was measured (no x86-64, no AVX2, no C compiler, …), once one failed. */
  problem: string | undefined;

  constructor(
    private readonly measure: Measure,
    private readonly pauseMs = PROBE_PAUSE_MS,
  ) {}

  /** The probe before the first run; the whole measurement (threads, clock), or why there is none. */
  first(seconds = 1): FmaPeak | { problem: string } {
    const r = this.measure(seconds);
    if ('problem' in r) this.problem = r.problem;
    else this.values.push(r.gflops);
    return r;
  }

  /** The probe after a run, in GFLOP/s; undefined when probes cannot be measured here. */
  async after(): Promise<number | undefined> {
    if (this.problem !== undefined) return undefined;
    if (this.pauseMs > 0) await new Promise((r) => setTimeout(r, this.pauseMs));
    const r = this.measure(PROBE_SECONDS);
    if ('problem' in r) {
      this.problem = r.problem;
      return undefined;
    }
    this.values.push(r.gflops);
    return r.gflops;
  }

  /** The latest probe (the one before the next run), if any. */
  get last(): number | undefined {
    return this.values.at(-1);
  }

  /** The highest probe: the hardware's peak. */
  get peak(): number | undefined {
    return this.values.length > 0 ? Math.max(...this.values) : undefined;
  }

  verdict(limit = DISTURBED_RATIO): ProbeVerdict {
    return probeVerdict(this.values, limit);
  }
}

/** Probes of this machine's FMA peak (src/bench/native/fma-peak.c) with `threads` threads. */
export function machineProbes(vectorWidth: string, threads: number): FmaProbes {
  return new FmaProbes((seconds) => machineFmaPeak(vectorWidth, threads, seconds));
}

/** `, FMA probe after it 195.3 GFLOP/s` and, when it and the probe before the run disagree by more than the limit, that the run was disturbed. */
export function probeNote(before: number | undefined, after: number | undefined, limit = DISTURBED_RATIO): string {
  if (after === undefined) return '';
  let s = `, FMA probe after it ${after.toFixed(1)} GFLOP/s`;
  if (before !== undefined) {
    const v = probeVerdict([before, after], limit);
    if (v.disturbed) s += ` (disturbed: ${before.toFixed(1)} before it, ${v.ratio!.toFixed(2)}×)`;
  }
  return s;
}
