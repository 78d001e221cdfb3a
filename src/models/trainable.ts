/**
 * Whole-model training (`finetune --train-trunk`): the model's own trunk and head graphs rebuilt with
 * every weight as a graph input instead of an initializer, so one set of sessions serves every step
 * while the optimiser updates the weights, plus their reverse-mode backward:
 *   trunk forward   dna, params                         -> trunk outputs
 *   head training   trunk outputs, params, targets      -> loss, d loss / d head params, d loss / d trunk outputs
 *   trunk backward  dna, params, trunk-output cotangents -> d loss / d trunk params
 *   head forward    trunk outputs, params               -> predictions (validation)
 * BatchNorm runs in inference form (running statistics), as for fine-tuning; the running statistics
 * are inputs but not trained.
 *
 * The trunk runs on the same overlapping tiles as `Model` (`tileLength`, halo = the receptive field):
 * the forward keeps each tile's core positions, and the backward of a tile, seeded with the core's
 * cotangent only (zero on the halo), gives that core's share of every trunk weight's gradient; the
 * shares add up to the untiled gradient (a core's outputs are the untiled ones as functions of the
 * weights), while the activations held for one backward are those of one tile. The head graph (global
 * attention) runs on the whole window.
 */
import { Graph, type Value } from '../engine/graph.js';
import { Engine, type EngineOptions, type TensorData } from '../engine/engine.js';
import { backward } from '../engine/autodiff.js';
import { LayerContext, type ConvLayout } from './layers.js';
import { trunkGrid, type Architecture } from './architecture.js';
import type { OneHotBatch } from './model.js';

/** Core length of a trunk tile in bp (as Model's default); 0 runs the trunk untiled. */
const DEFAULT_TILE = 32_768;

export const paramInput = (name: string) => `param/${name}`;
export const paramGrad = (name: string) => `grad/${name}`;
const cotangent = (output: string) => `cotangent/${output}`;

/** A layer context that reads each weight from a graph input of the weight's own shape. */
class ParameterInputs extends LayerContext {
  private readonly values = new Map<string, Value>();
  readonly used: string[] = [];

  constructor(g: Graph, shapes: Map<string, number[]>, layout: ConvLayout) {
    super(g, () => undefined, shapes, layout);
  }

  override param(name: string, dims?: number[]): Value {
    let v = this.values.get(name);
    if (!v) {
      v = this.g.input(paramInput(name), 'float32', this.shape(name));
      this.values.set(name, v);
      this.used.push(name);
    }
    return dims ? this.g.op('Reshape', [v, this.g.ints(dims)]) : v;
  }
}

/** Weights the optimiser updates: all but BatchNorm's running statistics. */
export function isTrainable(name: string): boolean {
  return !/\.running_(mean|var)$/.test(name);
}

export interface LossBuilder {
  (g: Graph, pred: Value, target: Value, bins: number): Value;
}

export interface StepResult {
  loss: number;
  grads: Map<string, Float32Array>;
}

/** Sessions and parameter bookkeeping for training every weight of a model on whole windows. */
export class WholeModelTrainer {
  private constructor(
    readonly arch: Architecture,
    readonly params: Map<string, Float32Array>,
    private readonly engine: Engine,
    private readonly trunkParams: string[],
    private readonly headParams: string[],
    readonly head: string,
    private readonly tileLength: number,
  ) {}

  /** `params` holds every weight of `arch` (float32, updated in place by the caller's optimiser). */
  static async create(
    arch: Architecture,
    params: Map<string, Float32Array>,
    head: string,
    loss: LossBuilder,
    bins: number,
    options: EngineOptions & { layout?: ConvLayout; tileLength?: number } = {},
  ): Promise<WholeModelTrainer> {
    const layout = options.layout ?? '2d';
    const shapes = new Map(arch.expectedWeights().map((t) => [t.name, t.shape]));
    for (const [name, shape] of shapes) {
      const p = params.get(name);
      const n = shape.reduce((a, b) => a * b, 1);
      if (!p || p.length !== n) throw new Error(`${arch.kind}: parameter '${name}' ${p ? `has ${p.length} values, expected ${n}` : 'is missing'}`);
    }
    const engine = Engine.start(options);
    try {
      const outputs = arch.trunkOutputs;
      // Trunk forward.
      let g = new Graph(`${arch.kind}_trunk_forward`);
      let c = new ParameterInputs(g, shapes, layout);
      arch.buildTrunk(c);
      const trunkParams = c.used;
      await engine.createSession('trunk_forward', g.toModel(), []);
      // Trunk backward.
      g = new Graph(`${arch.kind}_trunk_backward`);
      c = new ParameterInputs(g, shapes, layout);
      arch.buildTrunk(c);
      const seeds = outputs.map((o) => g.input(cotangent(o.name), 'float32', ['batch', `${o.name}_positions`, o.channels]));
      const trunkTrainable = trunkParams.filter(isTrainable);
      const trunkGrads = backward(g, outputs.map((o) => ({ name: o.name })), trunkTrainable.map((n) => ({ name: paramInput(n) })), { seed: seeds });
      trunkTrainable.forEach((n, i) => g.output(trunkGrads[i]!, paramGrad(n), 'float32', shapes.get(n)!));
      await engine.createSession('trunk_backward', g.toModel(), []);
      // Head forward.
      g = new Graph(`${arch.kind}_head_forward`);
      c = new ParameterInputs(g, shapes, layout);
      arch.buildHead(c);
      const headParams = c.used;
      await engine.createSession('head_forward', g.toModel(), []);
      // Head training: loss on one head, gradients of the head's parameters and of the trunk outputs.
      g = new Graph(`${arch.kind}_head_training`);
      c = new ParameterInputs(g, shapes, layout);
      arch.buildHead(c);
      const target = g.input('targets', 'float32', ['batch', bins, arch.tracks(head)]);
      const l = loss(g, { name: head }, target, bins);
      g.output(l, 'loss', 'float32', []);
      const headTrainable = headParams.filter(isTrainable);
      const grads = backward(g, l, [...headTrainable.map((n) => ({ name: paramInput(n) })), ...outputs.map((o) => ({ name: o.name }))]);
      headTrainable.forEach((n, i) => g.output(grads[i]!, paramGrad(n), 'float32', shapes.get(n)!));
      outputs.forEach((o, i) => g.output(grads[headTrainable.length + i]!, cotangent(`out/${o.name}`), 'float32', ['batch', `${o.name}_positions`, o.channels]));
      await engine.createSession('head_training', g.toModel(), []);
      return new WholeModelTrainer(arch, params, engine, trunkParams, headParams, head, options.tileLength ?? DEFAULT_TILE);
    } catch (e) {
      await engine.close();
      throw e;
    }
  }

  /** Names of the weights the optimiser updates. */
  get trainable(): string[] {
    return [...new Set([...this.trunkParams, ...this.headParams])].filter(isTrainable);
  }

  private feeds(names: string[]): Record<string, TensorData> {
    const shapes = new Map(this.arch.expectedWeights().map((t) => [t.name, t.shape]));
    return Object.fromEntries(names.map((n) => [paramInput(n), { dtype: 'float32', dims: shapes.get(n)!, data: this.params.get(n)! } satisfies TensorData]));
  }

  private headFeeds(length: number): Record<string, TensorData> {
    const { start, end } = this.arch.cropRange(length);
    return { ...this.arch.positionFeeds(length), crop: { dtype: 'int64', dims: [2], data: BigInt64Array.from([BigInt(start), BigInt(end)]) } };
  }

  /** Tile cores [s, e) on the trunk grid and their extents [ts, te) widened by the halo. */
  private tiles(length: number): { s: number; e: number; ts: number; te: number }[] {
    const grid = trunkGrid(this.arch.trunkOutputs);
    const core = this.tileLength <= 0 ? length : Math.max(grid, Math.floor(this.tileLength / grid) * grid);
    const halo = this.arch.trunkHaloBp;
    const out: { s: number; e: number; ts: number; te: number }[] = [];
    for (let s = 0; s < length; s += core) {
      const e = Math.min(length, s + core);
      out.push(core >= length ? { s: 0, e: length, ts: 0, te: length } : { s, e, ts: Math.max(0, s - halo), te: Math.min(length, e + halo) });
    }
    return out;
  }

  private tileInput(batch: OneHotBatch, ts: number, te: number): TensorData {
    const n = te - ts;
    const data = new Float32Array(batch.batch * n * 4);
    for (let b = 0; b < batch.batch; b++) data.set(batch.data.subarray((b * batch.length + ts) * 4, (b * batch.length + te) * 4), b * n * 4);
    return { dtype: 'float32', dims: [batch.batch, n, 4], data };
  }

  private async trunk(batch: OneHotBatch): Promise<Record<string, TensorData>> {
    const { length } = batch;
    const result: Record<string, TensorData> = {};
    for (const { name, resolution, channels } of this.arch.trunkOutputs) {
      result[name] = { dtype: 'float32', dims: [batch.batch, length / resolution, channels], data: new Float32Array((batch.batch * length * channels) / resolution) };
    }
    const weights = this.feeds(this.trunkParams);
    for (const { s, e, ts, te } of this.tiles(length)) {
      const out = await this.engine.run('trunk_forward', { dna: this.tileInput(batch, ts, te), ...weights }, this.arch.trunkOutputs.map((o) => o.name));
      for (const { name, resolution, channels } of this.arch.trunkOutputs) {
        const src = out[name]!.data as Float32Array;
        const dst = result[name]!.data as Float32Array;
        const [tilePositions, positions] = [(te - ts) / resolution, length / resolution];
        for (let b = 0; b < batch.batch; b++) {
          const from = (b * tilePositions + (s - ts) / resolution) * channels;
          dst.set(src.subarray(from, from + ((e - s) / resolution) * channels), (b * positions + s / resolution) * channels);
        }
      }
    }
    return result;
  }

  /** Gradients of the trunk's trainable weights from the trunk outputs' cotangents, tile by tile. */
  private async trunkBackward(batch: OneHotBatch, cotangents: Record<string, Float32Array>, add: (name: string, g: Float32Array) => void): Promise<void> {
    const { length } = batch;
    const trainable = this.trunkParams.filter(isTrainable);
    const weights = this.feeds(this.trunkParams);
    for (const { s, e, ts, te } of this.tiles(length)) {
      const feeds: Record<string, TensorData> = { dna: this.tileInput(batch, ts, te), ...weights };
      for (const { name, resolution, channels } of this.arch.trunkOutputs) {
        const [tilePositions, positions] = [(te - ts) / resolution, length / resolution];
        const seed = new Float32Array(batch.batch * tilePositions * channels);
        const keep = ((e - s) / resolution) * channels;
        for (let b = 0; b < batch.batch; b++) {
          const from = (b * positions + s / resolution) * channels;
          seed.set(cotangents[name]!.subarray(from, from + keep), (b * tilePositions + (s - ts) / resolution) * channels);
        }
        feeds[cotangent(name)] = { dtype: 'float32', dims: [batch.batch, tilePositions, channels], data: seed };
      }
      const out = await this.engine.run('trunk_backward', feeds, trainable.map(paramGrad));
      for (const n of trainable) add(n, out[paramGrad(n)]!.data as Float32Array);
    }
  }

  /** Predictions of the trained head, [B, bins, tracks]. */
  async predict(batch: OneHotBatch): Promise<Float32Array> {
    const out = await this.engine.run('head_forward', { ...(await this.trunk(batch)), ...this.headFeeds(batch.length), ...this.feeds(this.headParams) }, [this.head]);
    return out[this.head]!.data as Float32Array;
  }

  /** Loss of a batch and its gradient w.r.t. every trainable weight. */
  async lossAndGradients(batch: OneHotBatch, targets: Float32Array): Promise<StepResult> {
    const outputs = this.arch.trunkOutputs;
    const features = await this.trunk(batch);
    const bins = targets.length / batch.batch / this.arch.tracks(this.head);
    const headTrainable = this.headParams.filter(isTrainable);
    const head = await this.engine.run(
      'head_training',
      {
        ...features,
        ...this.headFeeds(batch.length),
        ...this.feeds(this.headParams),
        targets: { dtype: 'float32', dims: [batch.batch, bins, this.arch.tracks(this.head)], data: targets },
      },
      ['loss', ...headTrainable.map(paramGrad), ...outputs.map((o) => cotangent(`out/${o.name}`))],
    );
    const grads = new Map<string, Float32Array>();
    const add = (name: string, g: Float32Array) => {
      const known = grads.get(name);
      if (!known) grads.set(name, g);
      else for (let i = 0; i < g.length; i++) known[i]! += g[i]!;
    };
    const cotangents = Object.fromEntries(outputs.map((o) => [o.name, head[cotangent(`out/${o.name}`)]!.data as Float32Array]));
    await this.trunkBackward(batch, cotangents, add);
    for (const n of headTrainable) add(n, head[paramGrad(n)]!.data as Float32Array);
    return { loss: (head.loss!.data as Float32Array)[0]!, grads };
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}
