/**
 * Gradient benchmark: full-size model with random weights, one window; forward and input-gradient
 * times in the same run (their ratio is the figure that survives a loaded machine), peak RSS.
 *   npm run bench -- gradients [enformer|borzoi|flashzoi] [--runs 5] [--threads N] [--tile-length BP] [--length BP]
 *     [--head-backward whole|checkpointed] [--activations saved|recompute] [--stash-mb MB]
 * One cold round of forward + gradient (the first runs of their sessions: the warm-up), then `--runs`
 * warm rounds (default 5), then a closing forward; the RESULT line gives the warm medians with their
 * min and max (`seconds_min/max`, `forward_seconds_min/max`; the cold round's ratio, to the mean of
 * the forwards around it, is printed too). The FMA peak is probed before the first run and after every
 * run, and a bench whose probes disagree by more than 10 % says it was disturbed (`disturbed=1`;
 * src/bench/steady.ts). CPU seconds (all threads) and the load average are printed per run.
 * The random weights are streamed to a temporary safetensors file first (deleted at the end): the
 * backward sessions re-read their part's weights when first needed, as they do for a real model, so
 * the main thread never holds the weights. The gradients run on a gradients-only model (no prediction
 * sessions: `attribute`'s load) and the forwards in a child process that loads the same file
 * (forward-child.ts), so `peak_rss_mb` is the gradient job's own and `forward_peak_rss_mb` the
 * prediction's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Architecture } from '../models/architecture.js';
import type { ConvLayout } from '../models/layers.js';
import { Model, type ModelOptions, type Objective } from '../models/model.js';
import { encodeSafetensorsHeader, SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';
import { ProfilingEngine } from './profiling-engine.js';
import { ForwardChild } from './forward-child.js';
import { describeMachine, machineInfo } from './machine.js';
import { machineProbes, probeNote, runsNote, spread, spreadFields, spreadText, verdictFields, verdictLine } from './steady.js';

export interface GradientBenchOptions {
  /** The bench's model name (main.ts `MODELS`): the forward child builds its architecture from it. */
  name: string;
  arch: Architecture;
  fill: (name: string, shape: number[], data: Float32Array) => void;
  sequence: string;
  threads?: number;
  tileLength?: number;
  layout: ConvLayout;
  headBackward?: 'whole' | 'checkpointed';
  activations?: 'saved' | 'recompute';
  /** Timed (warm) rounds after the cold one; the RESULT line reports their medians, mins and maxes. */
  runs: number;
  /** Write ONNX Runtime's JSON profile of every session with this file prefix. */
  profilePrefix?: string;
  /** Bytes of saved activations held in memory (`EngineOptions.stashMemory`; the engine's default when unset). */
  stashMemory?: number;
  /** `ModelOptions.backwardArena` (unset: by available memory). */
  backwardArena?: boolean;
}

/** Streams random weights for `arch` into a safetensors file (the main thread holds one tensor at a time). */
export async function writeRandomWeights(path: string, arch: Architecture, fill: GradientBenchOptions['fill']): Promise<void> {
  const tensors = arch.expectedWeights();
  const header = encodeSafetensorsHeader(tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, length: t.shape.reduce((a, b) => a * b, 1) * 4 })));
  const out = await open(path, 'w');
  try {
    await out.write(header);
    for (const t of tensors) {
      const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
      fill(t.name, t.shape, data);
      await out.write(new Uint8Array(data.buffer));
    }
  } finally {
    await out.close();
  }
}

/** The gradient benches' objective: track 0 of `head`, the mean of the 4 central output bins. */
export function benchObjective(head: string, bins: number): Objective {
  return { head, tracks: [0], bins: [bins / 2 - 2, bins / 2 - 1, bins / 2, bins / 2 + 1], aggregate: 'mean' };
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;
const seconds = (t0: number) => (performance.now() - t0) / 1000;
/** CPU seconds of the whole process (every thread: ONNX Runtime's pool included) since `from`. */
const cpuSeconds = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
};
const load = () => loadavg()[0]!.toFixed(1);

export async function benchGradients(o: GradientBenchOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'seq2track-bench-'));
  try {
    const path = join(dir, 'weights.safetensors');
    let t = performance.now();
    await writeRandomWeights(path, o.arch, o.fill);
    console.log(`${o.name}: random weights written in ${seconds(t).toFixed(1)} s`);
    const weights = WeightSet.fromSafetensors(await SafetensorsFile.open(path), (n) => o.arch.canonicalName(n));
    t = performance.now();
    const forwardProcess = await ForwardChild.start({ model: o.name, weightsPath: path, length: o.sequence.length, threads: o.threads, tileLength: o.tileLength, layout: o.layout });
    console.log(`forward process: sessions ready in ${seconds(t).toFixed(1)} s, its RSS ${forwardProcess.readyRssMb.toFixed(0)} MB`);
    t = performance.now();
    const options: ModelOptions = { threads: o.threads, tileLength: o.tileLength, layout: o.layout, headBackward: o.headBackward, backwardActivations: o.activations, stashMemory: o.stashMemory, backwardArena: o.backwardArena, gradientsOnly: true };
    const profiling = o.profilePrefix !== undefined ? new ProfilingEngine(options, o.profilePrefix) : undefined;
    const model = await Model.create(o.arch, weights, `${o.name} (random weights)`, options, profiling);
    console.log(`gradients-only model loaded in ${seconds(t).toFixed(1)} s, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);

    const batch = Model.encode([o.sequence]);
    const length = batch.length;
    const bins = model.outputBins(length);
    const head = model.headNames[0]!;
    const objective = benchObjective(head, bins);

    // Round 1 is cold: the first runs of the forward and of the backward sessions (first-touch
    // allocation: the forward bench's warm-up effect applies to both alike); the backward sessions
    // are made before the timing. Later rounds are warm: forward, gradient, …, then a closing
    // forward, and the ratio is the median gradient over the median forward of the warm runs
    // (the forwards bracket each gradient, so a load that changes during the run shows in both).
    // The FMA peak is probed before the first run and after every run (src/bench/steady.ts).
    const machine = machineInfo();
    const probes = machineProbes(machine.vectorWidth, o.threads ?? machine.cpus);
    console.log(describeMachine(machine));
    const peak = probes.first();
    if ('problem' in peak) console.log(`FMA peak: not measured (${peak.problem})`);
    else console.log(`FMA peak (measured, ${peak.width}-wide FP32 FMA, ${peak.threads} threads): ${peak.gflops.toFixed(1)} GFLOP/s`);
    let forwardPeakMb = 0;
    const timeForward = async (which: string) => {
      const before = probes.last;
      const r = await forwardProcess.forward();
      forwardPeakMb = Math.max(forwardPeakMb, r.peakRssMb);
      const around = probeNote(before, await probes.after());
      console.log(`forward ${which}: ${r.wall.toFixed(2)} s (${r.cpu.toFixed(1)} CPU s), load ${load()}, forward process peak RSS ${r.peakRssMb.toFixed(0)} MB${around}`);
      return r;
    };
    const timeGradient = async (which: string) => {
      const before = probes.last;
      const c = process.cpuUsage();
      const t0 = performance.now();
      const r = await model.inputGradients(batch, objective, {
        onProgress: (done, tiles) =>
          console.log(`  ${done === 0 ? 'head backward done' : `trunk tile ${done}/${tiles} done`} at ${seconds(t0).toFixed(1)} s (${cpuSeconds(c).toFixed(1)} CPU s), load ${load()}, peak RSS ${peakRssMb().toFixed(0)} MB`),
      });
      const out = { wall: seconds(t0), cpu: cpuSeconds(c), result: r };
      const around = probeNote(before, await probes.after());
      console.log(`gradient ${which}: ${out.wall.toFixed(2)} s (${out.cpu.toFixed(1)} CPU s), load ${load()}, peak RSS ${peakRssMb().toFixed(0)} MB${around}`);
      return out;
    };
    const forwards = [await timeForward('1 (cold)')];
    t = performance.now();
    await model.prepareGradients(head);
    console.log(`backward sessions ready in ${seconds(t).toFixed(1)} s, peak RSS ${peakRssMb().toFixed(0)} MB`);
    const gradients = [await timeGradient('1 (cold)')];
    for (let round = 2; round <= o.runs + 1; round++) {
      forwards.push(await timeForward(`${round} (warm)`));
      gradients.push(await timeGradient(`${round} (warm)`));
    }
    forwards.push(await timeForward('closing'));
    await forwardProcess.close();
    await model.close();
    // A model closes only an engine it started itself; this one writes the profiles as it closes.
    await profiling?.close();

    const r = gradients.at(-1)!.result;
    let nonzero = 0;
    for (const v of r.grad) if (v !== 0) nonzero++;
    const variant = `head backward ${o.headBackward ?? 'checkpointed'}, activations ${o.activations ?? 'saved'}${o.backwardArena === undefined ? '' : `, backward arenas ${o.backwardArena ? 'on' : 'off'}`}`;
    console.log(`objective ${r.objective[0]!.toPrecision(6)}, ${nonzero} nonzero gradient entries of ${r.grad.length}`);
    // Cold: the first gradient against the mean of the forwards around it (the earlier sessions' method).
    const cold = { gradient: gradients[0]!, forward: (forwards[0]!.wall + forwards[1]!.wall) / 2, forwardCpu: (forwards[0]!.cpu + forwards[1]!.cpu) / 2 };
    console.log(`cold (${variant}): gradient ${cold.gradient.wall.toFixed(2)} s, ${(cold.gradient.wall / cold.forward).toFixed(2)}× the mean forward (CPU ${(cold.gradient.cpu / cold.forwardCpu).toFixed(2)}×)`);
    // Warm: the gradients after the cold one, and the forwards after the cold one (the closing one included).
    const warmG = gradients.slice(1);
    const warmF = forwards.slice(1);
    const g = spread(warmG.map((x) => x.wall));
    const f = spread(warmF.map((x) => x.wall));
    const cpuRatio = spread(warmG.map((x) => x.cpu)).median / spread(warmF.map((x) => x.cpu)).median;
    console.log(`warm (${variant}): gradient ${spreadText(g)}, forward ${spreadText(f)}: ${(g.median / f.median).toFixed(2)}× (CPU ${cpuRatio.toFixed(2)}×)`);
    const note = runsNote(o.runs);
    if (note) console.log(note);
    const verdict = probes.verdict();
    console.log(verdictLine(verdict));
    const saved = r.savedActivations;
    if (saved) console.log(`saved activations: ${(saved.bytes / 2 ** 20).toFixed(0)} MB, ${(saved.spilledBytes / 2 ** 20).toFixed(0)} MB of them spilled to a temporary file`);
    console.log(`peak RSS: ${peakRssMb().toFixed(0)} MB (gradients-only process); forward process ${forwardPeakMb.toFixed(0)} MB`);
    const peakField = probes.peak === undefined ? '' : ` fma_peak_gflops=${probes.peak.toFixed(1)}`;
    console.log(
      `RESULT model=${o.name} task=gradients seconds_per_seq=${g.median.toFixed(3)} forward_seconds=${f.median.toFixed(3)} peak_rss_mb=${peakRssMb().toFixed(0)} forward_peak_rss_mb=${forwardPeakMb.toFixed(0)} ` +
        `runs=${g.count} ${spreadFields('seconds', g)} forward_runs=${f.count} ${spreadFields('forward_seconds', f)} gradient_over_forward=${(g.median / f.median).toFixed(3)} ` +
        `cold_seconds=${cold.gradient.wall.toFixed(3)} cold_over_forward=${(cold.gradient.wall / cold.forward).toFixed(3)}${peakField} ${verdictFields(verdict)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
