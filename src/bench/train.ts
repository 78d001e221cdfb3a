/**
 * Training step benchmark, full-size models with random weights (nothing downloaded):
 *   npm run bench -- train [--runs 3] [--threads N] [--models enformer,borzoi] [--whole-runs 1] [--whole-length BP]
 * 1. Head only, as `finetune` runs it on cached embeddings: one step = the head graph with its
 *    backward on a batch of 4 windows of [896, 3072] embeddings, new head of 5,313 tracks, plus the
 *    Adam update.
 * 2. Whole model, as `finetune --train-trunk` runs it, per model (Enformer at 196,608 bp, Borzoi at
 *    524,288 bp, the published lengths; `--whole-length` for a shorter check): one window's loss and
 *    gradient w.r.t. every trainable weight (WholeModelTrainer: trunk on tiles, head block by block,
 *    saved activations), the Adam update of all weights and the weights sent to the engine for the
 *    next step. Each model runs in a process of its own (`train-whole MODEL`), so its peak RSS is its
 *    own; that process times the forward pass of the same model at the same length (`Model`: the
 *    prediction sessions, weights as initializers, same threads) before and after the training
 *    step, each after a warm-up, so the step/forward ratio is measured under the same load.
 * Peak RSS is the process maximum (`maxRSS`: engine worker and ONNX Runtime included).
 */
import { spawn } from 'node:child_process';
import { Borzoi, parseBorzoiConfig } from '../models/borzoi.js';
import { Enformer, parseEnformerConfig } from '../models/enformer.js';
import type { Architecture } from '../models/architecture.js';
import { Engine } from '../engine/engine.js';
import { Model } from '../models/model.js';
import { WholeModelTrainer } from '../models/trainable.js';
import { WeightSet } from '../weights/weight-set.js';
import { headTrainingGraph } from '../train/head-graph.js';
import { poissonLossGraph } from '../train/losses.js';
import { Adam } from '../train/optimizer.js';
import { Rng } from '../train/rng.js';

export interface TrainBenchHelpers {
  randomFiller: (seed: number) => (name: string, shape: number[], data: Float32Array) => void;
  randomSequence: (length: number, seed: number) => string;
  peakRssMb: () => number;
}

const ENFORMER = { dim: 1536, depth: 11, heads: 8, output_heads: { human: 5313, mouse: 1643 }, attn_dim_key: 64, num_downsamples: 7, dim_divisible_by: 128 };

/** The whole-model benchmark's models at their published lengths (or `length`), trained on the human head. */
export const WHOLE_MODELS: Record<string, (length?: number) => { arch: Architecture; length: number }> = {
  // target_length 896 needs 114,688 bp at least; a shorter check keeps every bin.
  enformer: (length = 196_608) => ({ arch: new Enformer(parseEnformerConfig({ ...ENFORMER, target_length: Math.min(896, length / 128) }, 'enformer full size')), length }),
  borzoi: (length = 524_288) => ({ arch: new Borzoi(parseBorzoiConfig({}, 'borzoi full size')), length }),
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const a = performance.now();
  const r = await f();
  return [(performance.now() - a) / 1000, r];
}

export async function benchTrain(opts: { runs: number; threads?: number; models: string[]; wholeRuns: number; wholeLength?: number }, h: TrainBenchHelpers): Promise<void> {
  const rng = new Rng(1);
  const fields: string[] = [];

  // 1. Head only.
  {
    const shape = { embedding: 2 * ENFORMER.dim, tracks: 5313, bins: 896 };
    const batch = 4;
    const engine = Engine.start({ threads: opts.threads });
    try {
      await engine.createSession('head', headTrainingGraph(shape, 'poisson'), []);
      const emb = Float32Array.from({ length: batch * shape.bins * shape.embedding }, () => rng.next() * 0.5);
      const targets = Float32Array.from({ length: batch * shape.bins * shape.tracks }, () => Math.floor(rng.next() * 4));
      const bound = 1 / Math.sqrt(shape.embedding);
      const params = new Map([
        ['weight', Float32Array.from({ length: shape.tracks * shape.embedding }, () => rng.uniform(-bound, bound))],
        ['bias', new Float32Array(shape.tracks)],
      ]);
      const adam = new Adam(params, { lr: 1e-3 });
      const step = async () => {
        const out = await engine.run(
          'head',
          {
            embeddings: { dtype: 'float32', dims: [batch, shape.bins, shape.embedding], data: emb },
            targets: { dtype: 'float32', dims: [batch, shape.bins, shape.tracks], data: targets },
            weight: { dtype: 'float32', dims: [shape.tracks, shape.embedding], data: params.get('weight')! },
            bias: { dtype: 'float32', dims: [shape.tracks], data: params.get('bias')! },
          },
          ['loss', 'grad_weight', 'grad_bias'],
        );
        adam.update(new Map([['weight', out.grad_weight!.data as Float32Array], ['bias', out.grad_bias!.data as Float32Array]]));
      };
      await step(); // warm-up
      const times: number[] = [];
      for (let i = 0; i < opts.runs; i++) times.push((await timed(step))[0]);
      const flops = 3 * 2 * batch * shape.bins * shape.embedding * shape.tracks; // forward Gemm + two backward Gemms
      console.log(`head only (batch ${batch} windows × ${shape.bins} bins, ${shape.embedding} → ${shape.tracks}): ${times.map((t) => t.toFixed(3)).join(', ')} s per step; ${(flops / 1e9).toFixed(1)} GFLOP, peak RSS ${h.peakRssMb().toFixed(0)} MB`);
      fields.push(`head_step_s=${median(times).toFixed(3)} head_windows_per_step=${batch} head_peak_rss_mb=${h.peakRssMb().toFixed(0)}`);
    } finally {
      await engine.close();
    }
  }

  console.log(`RESULT mode=train ${fields.join(' ')} peak_rss_mb=${h.peakRssMb().toFixed(0)}`);

  // 2. Whole model, one process per model.
  for (const model of opts.models) {
    const args = [process.argv[1]!, 'train-whole', model, '--whole-runs', String(opts.wholeRuns)];
    if (opts.threads !== undefined) args.push('--threads', String(opts.threads));
    if (opts.wholeLength !== undefined) args.push('--whole-length', String(opts.wholeLength));
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: 'inherit' });
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`train-whole ${model} exited with code ${code}`);
  }
}

/** CPU seconds of the whole process so far (every thread: the engine worker's and ORT's too). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function timedCpu<T>(f: () => Promise<T>): Promise<[number, number, T]> {
  const c = cpuSeconds();
  const [t, r] = await timed(f);
  return [t, cpuSeconds() - c, r];
}

/**
 * One model's whole-model training step and its forward pass at the same length, in this process:
 * forward passes (one warm-up, then `runs` timed), training steps (one warm-up, then `runs` timed),
 * then forward passes again (a warm-up and one timed), each part's sessions closed before the next
 * starts so that the peak RSS is the step's. The step is set against the mean of the forwards
 * before and after it, which brackets a load that changes during the run.
 */
export async function benchWholeStep(name: string, opts: { runs: number; threads?: number; length?: number }, h: TrainBenchHelpers): Promise<void> {
  const make = WHOLE_MODELS[name];
  if (!make) throw new Error(`train-whole: unknown model '${name}' (${Object.keys(WHOLE_MODELS).join(', ')})`);
  const { arch, length } = make(opts.length);
  const problem = arch.lengthProblem(length);
  if (problem) throw new Error(`train-whole ${name}: ${length} bp: ${problem}`);
  const head = 'human';
  const { start, end } = arch.cropRange(length);
  const bins = end - start;
  const fill = h.randomFiller(1234);
  const expected = arch.expectedWeights();
  const params = new Map<string, Float32Array>();
  let count = 0;
  for (const t of expected) {
    const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    fill(t.name, t.shape, data);
    params.set(t.name, data);
    count += data.length;
  }
  const window = Model.encode([h.randomSequence(length, 7)]);
  const rng = new Rng(2);
  const targets = Float32Array.from({ length: bins * arch.tracks(head) }, () => Math.floor(rng.next() * 4));
  console.log(`${name}: ${(count / 1e6).toFixed(1)} M weights, one window of ${length} bp (${bins} bins × ${arch.tracks(head)} tracks), threads ${opts.threads ?? 'all'}`);

  // The forward pass of the same model: the prediction sessions, as `predict` runs them.
  const shapes = new Map(expected.map((t) => [t.name, t.shape]));
  const forwards = async (what: string, timedRuns: number): Promise<{ wall: number[]; cpu: number[] }> => {
    const weights = WeightSet.fromArrays([...params].map(([n, data]) => [n, { shape: shapes.get(n)!, data }]));
    const model = await Model.create(arch, weights, `${name} (random weights)`, { threads: opts.threads });
    const wall: number[] = [];
    const cpu: number[] = [];
    try {
      for (let i = 0; i <= timedRuns; i++) {
        const [t, c] = await timedCpu(() => model.predict(window, { heads: [head] }));
        console.log(`forward ${what} ${i === 0 ? 'warm-up' : `run ${i}`}: ${t.toFixed(2)} s (${c.toFixed(1)} CPU s), peak RSS ${h.peakRssMb().toFixed(0)} MB`);
        if (i > 0) {
          wall.push(t);
          cpu.push(c);
        }
      }
    } finally {
      await model.close();
    }
    return { wall, cpu };
  };
  const before = await forwards('before', opts.runs);

  const [tCreate, trainer] = await timed(() => WholeModelTrainer.create(arch, params, head, poissonLossGraph, bins, { threads: opts.threads }));
  const steps: number[] = [];
  const stepsCpu: number[] = [];
  try {
    const trainable = trainer.trainable;
    const adam = new Adam(new Map(trainable.map((n) => [n, params.get(n)!])), { lr: 1e-5 });
    const sum = new Map(trainable.map((n) => [n, new Float32Array(params.get(n)!.length)]));
    console.log(`training sessions in ${tCreate.toFixed(1)} s (${trainable.length} trainable tensors), peak RSS ${h.peakRssMb().toFixed(0)} MB`);
    // A step as finetune --train-trunk makes it: the weights updated by the previous step are sent
    // first (inside lossAndGradients), then loss and gradient, then the Adam update.
    const step = async () => {
      const marks: [string, number][] = [['gradients zeroed, weights sent', performance.now()]];
      for (const g of sum.values()) g.fill(0);
      const r = await trainer.lossAndGradients(window, targets, { grads: sum }, (phase) => marks.push([phase, performance.now()]));
      marks.push(['Adam update', performance.now()]);
      adam.update(sum);
      trainer.weightsChanged();
      marks.push(['', performance.now()]);
      const parts = marks.slice(0, -1).map(([what, at], i) => `${what} ${((marks[i + 1]![1] - at) / 1000).toFixed(1)} s`);
      const saved = r.savedActivations ? `; saved activations ${(r.savedActivations.bytes / 2 ** 20).toFixed(0)} MB (${(r.savedActivations.spilledBytes / 2 ** 20).toFixed(0)} MB to the spill file)` : '';
      return { loss: r.loss, detail: `${parts.join(', ')}${saved}` };
    };
    for (let i = 0; i <= opts.runs; i++) {
      const [t, c, r] = await timedCpu(step);
      console.log(`training step ${i === 0 ? 'warm-up' : `run ${i}`}: ${t.toFixed(2)} s (${c.toFixed(1)} CPU s), loss ${r.loss.toFixed(5)}, peak RSS ${h.peakRssMb().toFixed(0)} MB`);
      console.log(`  ${r.detail}`);
      if (i > 0) {
        steps.push(t);
        stepsCpu.push(c);
      }
    }
  } finally {
    await trainer.close();
  }
  const stepPeak = h.peakRssMb();
  const after = await forwards('after', 1);
  const forward = (median(before.wall) + after.wall[0]!) / 2;
  const forwardCpu = (median(before.cpu) + after.cpu[0]!) / 2;
  console.log(`${name}: forward ${median(before.wall).toFixed(2)} s before the step, ${after.wall[0]!.toFixed(2)} s after it; mean ${forward.toFixed(2)} s (${forwardCpu.toFixed(1)} CPU s)`);
  console.log(`${name}: whole-model step / forward at ${length} bp: ${(median(steps) / forward).toFixed(2)} (CPU seconds: ${(median(stepsCpu) / forwardCpu).toFixed(2)}); peak RSS of the step ${stepPeak.toFixed(0)} MB`);
  console.log(`RESULT model=${name} whole_seconds_per_step=${median(steps).toFixed(2)} forward_seconds=${forward.toFixed(2)} whole_peak_rss_mb=${stepPeak.toFixed(0)}`);
}
