/**
 * Gradient benchmark: full-size model with random weights, one window; forward and input-gradient
 * times in the same run (their ratio is the figure that survives a loaded machine), peak RSS.
 *   npm run bench -- gradients [--threads N] [--tile-length BP] [--length BP] [--head-backward whole|checkpointed]
 *     [--activations saved|recompute]
 * The forward runs before and after the gradient and the ratio is to their mean, which brackets a
 * load that changes during the run (shared machines); CPU seconds (all threads) and the load average
 * are printed per phase as well.
 * The random weights are streamed to a temporary safetensors file first (deleted at the end): the
 * backward sessions re-read their part's weights when first needed, as they do for a real model, so
 * the main thread never holds the weights.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Architecture } from '../models/architecture.js';
import type { ConvLayout } from '../models/layers.js';
import { Model, type Objective } from '../models/model.js';
import { encodeSafetensorsHeader, SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';

export interface GradientBenchOptions {
  name: string;
  arch: Architecture;
  fill: (name: string, shape: number[], data: Float32Array) => void;
  sequence: string;
  threads?: number;
  tileLength?: number;
  layout: ConvLayout;
  headBackward?: 'whole' | 'checkpointed';
  activations?: 'saved' | 'recompute';
  /** Write ONNX Runtime's JSON profile of every session with this file prefix. */
  profilePrefix?: string;
}

async function writeRandomWeights(path: string, arch: Architecture, fill: GradientBenchOptions['fill']): Promise<void> {
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
    const model = await Model.create(o.arch, weights, `${o.name} (random weights)`, { threads: o.threads, tileLength: o.tileLength, layout: o.layout, headBackward: o.headBackward, backwardActivations: o.activations, profilePrefix: o.profilePrefix });
    console.log(`forward sessions ready in ${seconds(t).toFixed(1)} s, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);

    const batch = Model.encode([o.sequence]);
    const length = batch.length;
    const bins = model.outputBins(length);
    const head = model.headNames[0]!;
    const objective: Objective = { head, tracks: [0], bins: [bins / 2 - 2, bins / 2 - 1, bins / 2, bins / 2 + 1], aggregate: 'mean' };

    // The first forward and the gradient are the first runs on their sessions (the forward bench's
    // warm-up effect, first-touch allocation, applies to both alike); the backward sessions are made
    // before the timing. A second forward after the gradient brackets a changing load.
    const timeForward = async (which: string) => {
      const c = process.cpuUsage();
      const t0 = performance.now();
      await model.predict(batch);
      const r = { wall: seconds(t0), cpu: cpuSeconds(c) };
      console.log(`forward ${which}: ${r.wall.toFixed(2)} s (${r.cpu.toFixed(1)} CPU s), load ${load()}, peak RSS ${peakRssMb().toFixed(0)} MB`);
      return r;
    };
    const first = await timeForward('(before)');
    t = performance.now();
    await model.prepareGradients(head);
    console.log(`backward sessions ready in ${seconds(t).toFixed(1)} s, peak RSS ${peakRssMb().toFixed(0)} MB`);
    const cpu = process.cpuUsage();
    t = performance.now();
    const r = await model.inputGradients(batch, objective, {
      onProgress: (done, tiles) =>
        console.log(`  ${done === 0 ? 'head backward done' : `trunk tile ${done}/${tiles} done`} at ${seconds(t).toFixed(1)} s (${cpuSeconds(cpu).toFixed(1)} CPU s), load ${load()}, peak RSS ${peakRssMb().toFixed(0)} MB`),
    });
    const gradient = seconds(t);
    const gradientCpu = cpuSeconds(cpu);
    const second = await timeForward('(after)');
    await model.close();
    const forward = (first.wall + second.wall) / 2;
    const forwardCpu = (first.cpu + second.cpu) / 2;
    let nonzero = 0;
    for (const v of r.grad) if (v !== 0) nonzero++;
    console.log(
      `gradient (head backward ${o.headBackward ?? 'checkpointed'}, activations ${o.activations ?? 'saved'}): ${gradient.toFixed(2)} s, ${(gradient / forward).toFixed(2)}× the mean forward ` +
        `(${gradientCpu.toFixed(1)} CPU s: ${(gradientCpu / forwardCpu).toFixed(2)}×), objective ${r.objective[0]!.toPrecision(6)}, ${nonzero} nonzero gradient entries of ${r.grad.length}`,
    );
    const saved = r.savedActivations;
    if (saved) console.log(`saved activations: ${(saved.bytes / 2 ** 20).toFixed(0)} MB, ${(saved.spilledBytes / 2 ** 20).toFixed(0)} MB of them spilled to a temporary file`);
    console.log(`peak RSS: ${peakRssMb().toFixed(0)} MB`);
    console.log(`RESULT model=${o.name} task=gradients seconds_per_seq=${gradient.toFixed(3)} forward_seconds=${forward.toFixed(3)} peak_rss_mb=${peakRssMb().toFixed(0)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
