/**
 * One transformer block of a full-size model's head, its forward three ways, alternating in one engine:
 *   npm run bench -- block [borzoi|flashzoi|enformer] [--runs 5] [--threads N] [--profile PREFIX]
 * - prediction: the block's weights as initializers (the prediction head's form);
 * - weight inputs: the shared block graph of the checkpointed gradient, weights fed from a blob;
 * - gradient forward: the forward half of the split block backward (weight inputs), its saved values
 *   kept in the stash as a gradient keeps them (and dropped after each run);
 * - gradient backward: the backward half on those saved values and a random cotangent (timed alone),
 *   with the gradient's session options for it (`blockBackwardSessionOpts`: the memory arena where
 *   memory allows).
 * The benches' random weights (1/√fan-in), one random block input at the published length. Prints
 * each way's median with its runs, the saved values by the op that makes them, and peak RSS: what
 * the gradient's block forward costs beyond the prediction's, and why.
 */
import { Engine } from '../engine/engine.js';
import { Graph } from '../engine/graph.js';
import type { TensorData } from '../engine/protocol.js';
import { splitForwardBackward } from '../engine/split.js';
import { PositionFeeds } from '../models/architecture.js';
import { blockBackwardSessionOpts, blockWeightInput, buildBlockBackward, buildBlockForward, gradName, SEGMENT_IN, SEGMENT_OUT, WeightInputs } from '../models/gradients.js';
import { LayerContext } from '../models/layers.js';
import { MODELS } from './models.js';
import { ProfilingEngine } from './profiling-engine.js';
import { median } from './steady.js';
import { xorshift32 } from './xorshift.js';

export async function benchBlock(model: string, o: { runs: number; threads?: number; profilePrefix?: string; fill: (name: string, shape: number[], data: Float32Array) => void }): Promise<void> {
  const make = MODELS[model];
  if (!make) throw new Error(`block: unknown model '${model}' (${Object.keys(MODELS).join(', ')})`);
  const { arch, length } = make();
  const shapes = new Map(arch.expectedWeights().map((t) => [t.name, t.shape]));
  const dry = new WeightInputs(new Graph('dry'), shapes, '2d');
  buildBlockForward(arch, dry, 0);
  const names = dry.used;
  const offsets = new Map<string, { offset: number; length: number }>();
  let size = 0;
  for (const n of names) {
    const bytes = shapes.get(n)!.reduce((a, b) => a * b, 1) * 4;
    offsets.set(n, { offset: size, length: bytes });
    size += Math.ceil(bytes / 64) * 64;
  }
  const weightBuffer = () => {
    const buffer = new ArrayBuffer(size);
    for (const n of names) o.fill(n, shapes.get(n)!, new Float32Array(buffer, offsets.get(n)!.offset, offsets.get(n)!.length / 4));
    return buffer;
  };
  const next = xorshift32(99);
  // The block's input: uniform with unit variance.
  const random = () => (next() / 2 ** 32 - 0.5) * 2 * Math.sqrt(3);

  const engine = o.profilePrefix !== undefined ? new ProfilingEngine({ threads: o.threads }, o.profilePrefix) : Engine.start({ threads: o.threads });
  try {
    await engine.loadBlob('block', { size, pieces: [], buffer: weightBuffer() });
    const prediction = new Graph('prediction');
    buildBlockForward(arch, new LayerContext(prediction, (n) => offsets.get(n), shapes, '2d', 'block'), 0);
    const predictionInputs = (await engine.createSession('prediction', prediction.toModel(), ['block'])).inputs;
    await engine.dropBlob('block');
    const shared = new Graph('weight_inputs');
    buildBlockForward(arch, new WeightInputs(shared, shapes, '2d'), 0);
    const sharedInputs = (await engine.createSession('weight_inputs', shared.toModel(), [])).inputs;
    const whole = new Graph('block_grad');
    buildBlockBackward(arch, new WeightInputs(whole, shapes, '2d'), { withOutput: true });
    const split = splitForwardBackward(whole, { seeds: [gradName(SEGMENT_OUT)] });
    const splitInputs = (await engine.createSession('gradient_forward', split.forward.toModel(), [])).inputs;
    const backwardInputs = (await engine.createSession('gradient_backward', split.backward.toModel(), [], blockBackwardSessionOpts(arch))).inputs;
    const saved = split.saved.map((s) => s.name);
    await engine.loadBlob('weights', { size, pieces: [], buffer: weightBuffer() });
    // A session takes only the weights its graph reads (a backward reads no biases, say).
    const blobFeeds = (inputs: string[]) => ({ blob: 'weights', tensors: Object.fromEntries(names.map((n, i) => [blockWeightInput(i), { offset: offsets.get(n)!.offset, dims: shapes.get(n)! }]).filter(([input]) => inputs.includes(input as string))) });

    const positions = length / arch.transformer.resolution;
    const channels = arch.headSegments.channels;
    const block = (): TensorData => ({ dtype: 'float32', dims: [1, positions, channels], data: Float32Array.from({ length: positions * channels }, random) });
    const all: Record<string, TensorData> = { ...new PositionFeeds(arch).feeds(length), [SEGMENT_IN]: block(), [gradName(SEGMENT_OUT)]: block() };
    const feeds = (inputs: string[]) => Object.fromEntries(Object.entries(all).filter(([k]) => inputs.includes(k)));
    let call = 0;
    const ways: Record<string, () => Promise<unknown>> = {
      prediction: () => engine.run('prediction', feeds(predictionInputs), [SEGMENT_OUT]),
      'weight inputs': () => engine.run('weight_inputs', feeds(sharedInputs), [SEGMENT_OUT], blobFeeds(sharedInputs)),
      'gradient forward': async () => {
        const group = `block${call++}`;
        await engine.run('gradient_forward', feeds(splitInputs), [SEGMENT_OUT], blobFeeds(splitInputs), { keep: { key: `${group}/0`, names: saved } });
        await engine.dropStash(group);
      },
      // Times the backward alone: its forward (untimed) saves what it reads.
      'gradient backward': async () => {
        const group = `block${call++}`;
        await engine.run('gradient_forward', feeds(splitInputs), [SEGMENT_OUT], blobFeeds(splitInputs), { keep: { key: `${group}/0`, names: saved } });
        const t0 = performance.now();
        await engine.run('gradient_backward', feeds(backwardInputs), [gradName(SEGMENT_IN)], blobFeeds(backwardInputs), { take: [`${group}/0`] });
        const seconds = (performance.now() - t0) / 1000;
        await engine.dropStash(group);
        return seconds;
      },
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
    for (const run of Object.values(ways)) await run();
    for (let r = 0; r < o.runs; r++) {
      for (const [way, run] of Object.entries(ways)) {
        const t0 = performance.now();
        const timed = await run();
        times[way]!.push(typeof timed === 'number' ? timed : (performance.now() - t0) / 1000);
      }
    }
    console.log(`${model}: one transformer block at ${positions} positions × ${channels} channels, ${o.threads ?? 'all'} threads`);
    for (const [way, t] of Object.entries(times)) console.log(`${way}: median ${median(t).toFixed(2)} s (${t.map((s) => s.toFixed(2)).join(', ')})`);
    const producer = new Map<string, string>();
    for (const n of whole.nodeList) for (const out of n.outputs) producer.set(out, n.opType);
    const byOp = new Map<string, number>();
    for (const s of saved) {
      const op = producer.get(s.replace(/^saved:/, '')) ?? '?';
      byOp.set(op, (byOp.get(op) ?? 0) + 1);
    }
    console.log(`gradient forward saves ${saved.length} values: ${[...byOp].map(([op, n]) => `${n} ${op}`).join(', ')}`);
    console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
    const m = (k: string) => median(times[k]!);
    console.log(`RESULT mode=block model=${model} prediction_s=${m('prediction').toFixed(3)} weight_inputs_s=${m('weight inputs').toFixed(3)} gradient_forward_s=${m('gradient forward').toFixed(3)} gradient_backward_s=${m('gradient backward').toFixed(3)} saved=${saved.length}`);
  } finally {
    await engine.close();
  }
}
