/**
 * Genome-job throughput with and without trunk reuse (issue 20):
 *   npm run bench -- genome-throughput [enformer|borzoi|flashzoi] [--windows 8] [--threads N] [--tile-length BP]
 * The full-size model with random weights (as the forward bench makes it) runs the region job
 * (`predictRegionsOn`, the genome job's core) over one region of N consecutive windows of a random
 * chromosome, once per window in full (`--no-trunk-reuse`) and once with trunk reuse, each in a
 * process of its own (so each peak RSS is its own), one after the other in this run. Each process
 * first runs one untimed forward pass (first-touch allocation), then times the job.
 *
 * Prints windows per second both ways (over all N windows, and in the steady state: windows 2..N,
 * where a long stretch such as a chromosome spends nearly all its time), the speedup, the largest
 * absolute difference between the two outputs (every 64th track of the head, kept in memory) beside
 * the outputs' scale, each peak RSS, and what the FLOP count predicts: the trunk bp each way (tile
 * halos and window margins included) weighted by the trunk's share of the FLOPs. Last line:
 * `RESULT model=… windows=… windows_per_s=… windows_per_s_full=… speedup=… max_abs_diff=… peak_rss_mb=…`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Architecture } from '../models/architecture.js';
import { trunkGrid } from '../models/architecture.js';
import { Model } from '../models/model.js';
import { DEFAULT_TILE, TrunkTiler } from '../models/trunk-tiler.js';
import { WeightSet } from '../weights/weight-set.js';
import type { Reference } from '../genome/reference-type.js';
import { unnamedTracks } from '../formats/track-selection.js';
import { predictRegionsOn } from '../tasks/predict/regions-in-memory.js';
import { loadedModels } from '../tasks/job/run-core.js';
import { describeMachine, machineInfo } from './machine.js';
import { randomChromosome } from './xorshift.js';

export interface ThroughputOptions {
  name: string;
  arch: () => { arch: Architecture; length: number };
  windows: number;
  threads?: number;
  tileLength?: number;
}

type Filler = (name: string, shape: number[], data: Float32Array) => void;

/** What a child process reports (one JSON line on stdout, prefixed). */
interface ChildReport {
  mode: 'reuse' | 'full';
  seconds: number;
  /** Seconds from the end of the first window to the end of the last. */
  steadySeconds: number;
  windows: number;
  peakRssMb: number;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const REPORT = 'GENOME_THROUGHPUT ';
/** Every 64th track is kept: the head computes them all, memory holds N windows of these. */
const TRACK_STEP = 64;

/** bp between consecutive windows: their output bins laid end to end. */
function strideOf(arch: Architecture, length: number): number {
  const { start, end } = arch.cropRange(length);
  return (end - start) * arch.binSize;
}

/** The bench genome: one random chromosome holding a region of exactly `windows` windows, a window of slack each side. */
function layout(arch: Architecture, length: number, windows: number) {
  const stride = strideOf(arch, length);
  const start = length;
  return { size: start + windows * stride + length, region: { chrom: 'chrR', start, end: start + windows * stride, label: `chrR:${start + 1}-${start + windows * stride}` } };
}

/** One mode in this process: build the model, warm up, time the region job, write the kept tracks to `out`. */
export async function genomeThroughputChild(o: ThroughputOptions & { mode: 'reuse' | 'full'; out: string }, fill: Filler): Promise<void> {
  const { arch, length } = o.arch();
  const expected = arch.expectedWeights();
  const shapes = new Map(expected.map((t) => [t.name, t.shape]));
  const groups = Model.weightParts(arch).map((p) => p.names.map((n) => ({ name: n, shape: shapes.get(n)! })));
  const model = await Model.create(arch, WeightSet.allocatePacked(groups, fill), `${o.name} (random weights)`, { threads: o.threads, tileLength: o.tileLength });
  try {
    const { size, region } = layout(arch, length, o.windows);
    const seq = randomChromosome(size, 7);
    const genome: Reference = {
      source: 'random',
      location: 'random',
      kind: 'fasta',
      getSequenceNames: async () => ['chrR'],
      getSequenceSize: async () => size,
      getSequenceSizes: async () => new Map([['chrR', size]]),
      getSequence: async (_c, s, e) => (s >= 0 && e <= size ? seq.slice(s, e) : Array.from({ length: e - s }, (_, i) => seq[s + i] ?? 'N').join('')),
    };
    const head = arch.headNames[0]!;
    await model.predict(Model.encode([seq.slice(0, length)]), { heads: [head] });
    const tracks = Array.from({ length: Math.ceil(arch.tracks(head) / TRACK_STEP) }, (_, i) => i * TRACK_STEP).join(',');
    const marks: number[] = [];
    const t0 = performance.now();
    const result = await predictRegionsOn(loadedModels([model]), async (setup) => unnamedTracks(setup.head, setup.headTracks), {
      genome,
      regions: [region],
      head,
      tracks,
      trunkReuse: o.mode === 'reuse',
      onProgress: (done) => {
        if (done > 0) marks.push(performance.now());
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    const values = result.results[0]!.values;
    writeFileSync(o.out, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    const report: ChildReport = { mode: o.mode, seconds, steadySeconds: (marks.at(-1)! - marks[0]!) / 1000, windows: result.windows, peakRssMb: process.resourceUsage().maxRSS / 1024 };
    console.log(REPORT + JSON.stringify(report));
  } finally {
    await model.close();
  }
}

/** Trunk bp per mode for N windows (tile halos included), from the tiler's geometry. */
function trunkWork(arch: Architecture, length: number, stride: number, windows: number, tileLength: number) {
  const tiler = new TrunkTiler(arch, tileLength);
  const bp = (tiles: { ts: number; te: number }[]) => tiles.reduce((a, t) => a + t.te - t.ts, 0);
  const grid = trunkGrid(arch.trunkOutputs);
  const margin = Math.ceil(arch.trunkRadiusBp / grid) * grid;
  const size = (windows - 1) * stride + length;
  const stretch = tiler.tilesOf(size, tiler.coreLength(length)).filter((t) => t.e > margin && t.s < size - margin);
  return { full: windows * bp(tiler.tiles(length)), reuse: bp(stretch) + windows * bp(tiler.around(length, margin, length - margin)), margin };
}

/** Both modes, each in its own process, then the comparison. */
export async function benchGenomeThroughput(o: ThroughputOptions): Promise<void> {
  const { arch, length } = o.arch();
  console.log(describeMachine(machineInfo()));
  const dir = mkdtempSync(join(tmpdir(), 'seq2track-throughput-'));
  try {
    const reports: Record<string, ChildReport> = {};
    const outputs: Record<string, Float32Array> = {};
    for (const mode of ['full', 'reuse'] as const) {
      const out = join(dir, `${mode}.f32`);
      const args = [MAIN, 'genome-throughput-run', o.name, '--mode', mode, '--windows', String(o.windows), '--out', out];
      if (o.threads !== undefined) args.push('--threads', String(o.threads));
      if (o.tileLength !== undefined) args.push('--tile-length', String(o.tileLength));
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
      const line = r.stdout.split('\n').find((l) => l.startsWith(REPORT));
      if (r.status !== 0 || !line) throw new Error(`the ${mode} run failed (exit ${r.status}): ${r.stdout.slice(-2000)}`);
      const report = (reports[mode] = JSON.parse(line.slice(REPORT.length)) as ChildReport);
      const bytes = readFileSync(out);
      outputs[mode] = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const w = report.windows;
      console.log(`${mode === 'full' ? 'per window (--no-trunk-reuse)' : 'trunk reuse'}: ${w} windows in ${report.seconds.toFixed(1)} s = ${(w / report.seconds).toFixed(4)} windows/s (steady state, windows 2..${w}: ${((w - 1) / report.steadySeconds).toFixed(4)} windows/s), peak RSS ${report.peakRssMb.toFixed(0)} MB`);
    }
    const [full, reuse] = [outputs.full!, outputs.reuse!];
    let maxAbs = 0;
    let scale = 0;
    for (let i = 0; i < full.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(full[i]! - reuse[i]!));
      scale = Math.max(scale, Math.abs(full[i]!));
    }
    const f = reports.full!;
    const u = reports.reuse!;
    const speedup = f.seconds / u.seconds;
    const steady = f.steadySeconds / u.steadySeconds;
    console.log(`max |reuse - full| = ${maxAbs.toExponential(3)} over ${full.length} values (every ${TRACK_STEP}th track); output scale (max |full|) ${scale.toPrecision(4)}: ${(maxAbs / scale).toExponential(2)} of it`);

    // What the FLOP count predicts: the trunk's FLOPs scale with the bp it runs on, the head's do not change.
    const flops = arch.flops(length);
    const trunkFlops = arch.trunkStages.reduce((a, s) => a + (flops.stages[s] ?? 0), 0);
    const headFlops = flops.total - trunkFlops;
    const stride = strideOf(arch, length);
    const work = trunkWork(arch, length, stride, o.windows, o.tileLength ?? DEFAULT_TILE);
    const cost = (bp: number, n: number) => n * headFlops + (bp / length) * trunkFlops;
    const added = trunkWork(arch, length, stride, o.windows + 1, o.tileLength ?? DEFAULT_TILE).reuse - work.reuse;
    console.log(
      `trunk work: ${(work.full / 1e6).toFixed(2)} Mbp per window run vs ${(work.reuse / 1e6).toFixed(2)} Mbp with reuse (window margins ${work.margin} bp, the receptive field ${arch.trunkRadiusBp} bp on the trunk grid); ` +
        `trunk ${((100 * trunkFlops) / flops.total).toFixed(0)} % of the FLOPs: predicted speedup ${(cost(work.full, o.windows) / cost(work.reuse, o.windows)).toFixed(3)} over ${o.windows} windows, ` +
        `${(cost(work.full / o.windows, 1) / cost(added, 1)).toFixed(3)} per added window (steady state)`,
    );
    console.log(`speedup: ${speedup.toFixed(3)} over all ${o.windows} windows, ${steady.toFixed(3)} in the steady state; peak RSS ${u.peakRssMb.toFixed(0)} MB with reuse vs ${f.peakRssMb.toFixed(0)} MB per window`);
    console.log(
      `RESULT model=${o.name} windows=${o.windows} windows_per_s=${(u.windows / u.seconds).toFixed(5)} windows_per_s_full=${(f.windows / f.seconds).toFixed(5)} speedup=${speedup.toFixed(3)} steady_speedup=${steady.toFixed(3)} max_abs_diff=${maxAbs.toExponential(3)} output_scale=${scale.toPrecision(4)} peak_rss_mb=${u.peakRssMb.toFixed(0)} peak_rss_mb_full=${f.peakRssMb.toFixed(0)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
