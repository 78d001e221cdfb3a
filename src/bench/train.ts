/**
 * Training step benchmark, full-size Enformer with random weights (nothing downloaded):
 *   npm run bench -- train [--runs 3] [--threads N] [--whole-length BP]
 * 1. Head only, as `finetune` runs it on cached embeddings: one step = the head graph with its
 *    backward on a batch of 4 windows of [896, 3072] embeddings, new head of 5,313 tracks, plus the
 *    Adam update.
 * 2. Whole model, as `finetune --train-trunk` runs it: one window's forward + backward through every
 *    weight (trunk on tiles) and the Adam update of all 251 M weights. The window is `--whole-length`
 *    bp (default 4,096; the config's target_length is set to its bins so the crop keeps them all), so
 *    that the run fits beside other jobs; at the published 196,608 bp a step takes tens of minutes on
 *    this machine class. The same run times the forward pass at that length, so the step/forward
 *    ratio is measured under the same load.
 * Peak RSS is the process maximum (engine worker and ONNX Runtime included) after each part.
 */
import { Enformer, parseEnformerConfig } from '../models/enformer.js';
import { Engine } from '../engine/engine.js';
import { Model } from '../models/model.js';
import { WholeModelTrainer } from '../models/trainable.js';
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const a = performance.now();
  const r = await f();
  return [(performance.now() - a) / 1000, r];
}

export async function benchTrain(opts: { runs: number; threads?: number; wholeLength: number }, h: TrainBenchHelpers): Promise<void> {
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

  // 2. Whole model on one window of `wholeLength` bp.
  {
    const length = opts.wholeLength;
    const bins = length / 128;
    const arch = new Enformer(parseEnformerConfig({ ...ENFORMER, target_length: bins }, 'enformer full size'));
    const fill = h.randomFiller(1234);
    const params = new Map<string, Float32Array>();
    let count = 0;
    for (const t of arch.expectedWeights()) {
      const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
      fill(t.name, t.shape, data);
      params.set(t.name, data);
      count += data.length;
    }
    const [tCreate, trainer] = await timed(() => WholeModelTrainer.create(arch, params, 'human', poissonLossGraph, bins, { threads: opts.threads }));
    try {
      const trainable = trainer.trainable;
      const adam = new Adam(new Map(trainable.map((n) => [n, params.get(n)!])), { lr: 1e-5 });
      const window = Model.encode([h.randomSequence(length, 7)]);
      const targets = Float32Array.from({ length: bins * 5313 }, () => Math.floor(rng.next() * 4));
      console.log(`whole model: ${(count / 1e6).toFixed(1)} M weights (${trainable.length} trainable tensors), ${length} bp window; sessions in ${tCreate.toFixed(1)} s, peak RSS ${h.peakRssMb().toFixed(0)} MB`);
      const forward: number[] = [];
      const steps: number[] = [];
      for (let i = 0; i <= opts.runs; i++) {
        const [tf] = await timed(() => trainer.predict(window));
        const [ts] = await timed(async () => adam.update((await trainer.lossAndGradients(window, targets)).grads));
        console.log(`${i === 0 ? 'warm-up' : `run ${i}`}: forward ${tf.toFixed(2)} s, training step ${ts.toFixed(2)} s, peak RSS ${h.peakRssMb().toFixed(0)} MB`);
        if (i > 0) {
          forward.push(tf);
          steps.push(ts);
        }
      }
      const ratio = median(steps) / median(forward);
      console.log(`whole-model step / forward at ${length} bp: ${ratio.toFixed(2)}`);
      fields.push(`whole_length=${length} whole_step_s=${median(steps).toFixed(2)} whole_forward_s=${median(forward).toFixed(2)} step_over_forward=${ratio.toFixed(2)}`);
    } finally {
      await trainer.close();
    }
  }
  console.log(`peak RSS: ${h.peakRssMb().toFixed(0)} MB`);
  console.log(`RESULT mode=train ${fields.join(' ')} peak_rss_mb=${h.peakRssMb().toFixed(0)}`);
}
