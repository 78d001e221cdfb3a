/**
 * Whole-model training (`finetune --train-trunk`): the loss of one head on whole windows and its
 * gradient w.r.t. every trainable weight (BatchNorm's running statistics aside), on the machinery of
 * the input gradients (backward-passes.ts), with the graphs of training-graphs.ts:
 * - the trunk on the tiles of `TrunkTiler` (the same tiles forward and backward): each tile's
 *   forward saves its activations in the engine worker, its backward, seeded with the core's
 *   cotangent only, gives the core's share of each trunk weight's gradient; the shares add up to the
 *   untiled gradient, while the activations held are those of one tile;
 * - the head checkpointed by transformer block: the blocks' forward one by one, then the tail's
 *   backward (tail, heads, loss), then each block's backward in reverse, which also gives the block's
 *   weights' gradients; all blocks share one split graph whose weights are inputs;
 * - the weights in the worker: the trainable ones in one blob, sent once per optimiser step (after
 *   `weightsChanged()`), which every run reads in place (`BlobFeeds`); the frozen ones built into the
 *   sessions once.
 * Gradients come back per tile, block and tail, and are added into the caller's accumulator (its
 * batch of windows), so the main thread holds one gradient per weight.
 */
import { Graph } from '../engine/graph.js';
import { Engine, type EngineOptions, type TensorData } from '../engine/engine.js';
import type { BlobFeeds } from '../engine/protocol.js';
import { PositionFeeds, type Architecture, type GammaTable } from './architecture.js';
import { headChainBackward, trunkBackwardTiles, trunkForwardSaving, withStash } from './backward-passes.js';
import { blockBackwardSessionOpts, blockForwardSessionOpts, trunkGradientSessionOpts, blockWeightInput, BlockWeightTable, gradName, SEGMENT_IN, SEGMENT_OUT, WeightInputs } from './gradients.js';
import type { ConvLayout, WeightRef } from './layers.js';
import type { OneHotBatch } from './model-types.js';
import { SessionSet } from './session-set.js';
import { buildBlockTraining, buildTailTraining, buildTrunkTraining, FROZEN_BLOB, isTrainable, paramGrad, paramInput, TrainingWeights, type LossBuilder } from './training-graphs.js';
import { DEFAULT_TILE, TrunkTiler } from './trunk-tiler.js';

export { isTrainable, paramGrad, paramInput, type LossBuilder } from './training-graphs.js';

/** The blob holding the trainable weights (replaced whenever they change). */
const PARAMS_BLOB = 'params';
const TRUNK = 'train_trunk';
const BLOCK = 'train_block';
const TAIL = 'train_tail';
const TRUNK_FORWARD = 'predict_trunk';
const HEAD_FORWARD = 'predict_head';

/**
 * `EngineOptions.stashMemory` when not set: the step's memory peak is the head's tail (Borzoi's U-Net
 * decoder, heads and loss at full resolution in one session), while the main thread holds four
 * times the weights, so saved activations beyond this go to the spill file (read back, prefetched,
 * during the trunk backward).
 */
export const TRAINING_STASH_MEMORY = 512 * 2 ** 20;

export interface TrainerOptions extends EngineOptions {
  layout?: ConvLayout;
  /** Core length in bp of a trunk tile (as `ModelOptions.tileLength`); 0 runs the trunk untiled. */
  tileLength?: number;
  /** Enformer `use_tf_gamma`: the TF gamma table, used at its own length as `Model` does. */
  gammaTable?: GammaTable;
  /** As `ModelOptions.backwardArena`. */
  backwardArena?: boolean;
}

/** Where `lossAndGradients` adds the gradients: `grads` (per weight; missing ones are made) += scale · gradient. */
export interface GradientSink {
  grads: Map<string, Float32Array>;
  scale?: number;
}

export interface StepResult {
  loss: number;
  grads: Map<string, Float32Array>;
  /** Bytes of forward activations saved for the backward, and how many of them went to the temporary file. */
  savedActivations?: { bytes: number; spilledBytes: number };
}

/** The parts of a training step, in order (`lossAndGradients`' `onPhase` is called as each starts). */
export type StepPhase = 'trunk forward' | 'head' | 'trunk backward';

/** Where named float32 arrays lie in a blob: byte offsets, 64-byte aligned as `WeightSet.pack` places them. */
interface BlobLayout {
  names: string[];
  offsets: Map<string, number>;
  size: number;
}

function blobLayout(names: string[], arrays: Map<string, Float32Array>): BlobLayout {
  const offsets = new Map<string, number>();
  let size = 0;
  for (const n of names) {
    offsets.set(n, size);
    size += Math.ceil(arrays.get(n)!.byteLength / 64) * 64;
  }
  return { names, offsets, size };
}

/** A new buffer holding the arrays as `layout` places them (to be transferred to the engine, not copied). */
function packed(layout: BlobLayout, arrays: Map<string, Float32Array>): ArrayBuffer {
  const buffer = new ArrayBuffer(layout.size);
  for (const n of layout.names) new Float32Array(buffer, layout.offsets.get(n)!, arrays.get(n)!.length).set(arrays.get(n)!);
  return buffer;
}

/** Sessions and weight bookkeeping for training every weight of a model on whole windows. */
export class WholeModelTrainer {
  private readonly sessions: SessionSet;
  private readonly tiler: TrunkTiler;
  private readonly blockWeights: BlockWeightTable;
  /** Where each trainable weight lies in the params blob. */
  private readonly blob: BlobLayout;
  private readonly shapes: Map<string, number[]>;
  private readonly blobFeedCache = new Map<string, BlobFeeds>();
  private readonly positions: PositionFeeds;
  /** Whether the params blob is out of date (nothing sent yet, or `weightsChanged`). */
  private stale = true;
  private calls = 0;

  private constructor(
    readonly arch: Architecture,
    readonly params: Map<string, Float32Array>,
    private readonly engine: Engine,
    readonly head: string,
    /** Trainable weights of the trunk and of the tail, in the order of their graphs' inputs. */
    private readonly trunkParams: string[],
    private readonly tailParams: string[],
    /** Names of the weights the optimiser updates. */
    readonly trainable: string[],
    private readonly options: TrainerOptions,
    /** Where each frozen weight lies in the frozen blob (kept loaded for sessions made later). */
    private readonly frozenOffsets: Map<string, WeightRef>,
  ) {
    this.sessions = new SessionSet(engine);
    this.tiler = new TrunkTiler(arch, options.tileLength ?? DEFAULT_TILE);
    this.shapes = new Map(arch.expectedWeights().map((t) => [t.name, t.shape]));
    this.blockWeights = new BlockWeightTable(arch, this.shapes, options.layout ?? '2d');
    this.blob = blobLayout(trainable, params);
    this.positions = new PositionFeeds(arch, options.gammaTable);
  }

  /**
   * `params` holds every weight of `arch` (float32); the optimiser updates the trainable ones in place
   * and then calls `weightsChanged()`. `bins`: output bins of the windows (the loss graph's shape).
   */
  static async create(arch: Architecture, params: Map<string, Float32Array>, head: string, loss: LossBuilder, bins: number, options: TrainerOptions = {}): Promise<WholeModelTrainer> {
    const layout = options.layout ?? '2d';
    const shapes = new Map(arch.expectedWeights().map((t) => [t.name, t.shape]));
    for (const [name, shape] of shapes) {
      const p = params.get(name);
      const n = shape.reduce((a, b) => a * b, 1);
      if (!p || p.length !== n) throw new Error(`${arch.kind}: parameter '${name}' ${p ? `has ${p.length} values, expected ${n}` : 'is missing'}`);
    }
    arch.tracks(head);
    const frozen = [...shapes.keys()].filter((n) => !isTrainable(n));
    const frozenLayout = blobLayout(frozen, params);
    const offsets = new Map(frozen.map((n) => [n, { offset: frozenLayout.offsets.get(n)!, length: params.get(n)!.byteLength }]));
    const context = (name: string) => new TrainingWeights(new Graph(`${arch.kind}_${name}`), shapes, layout, (n) => offsets.get(n));
    const { layout: _l, tileLength: _t, gammaTable: _g, backwardArena: _a, ...engineOptions } = options;
    const engine = Engine.start({ ...engineOptions, stashMemory: engineOptions.stashMemory ?? TRAINING_STASH_MEMORY });
    try {
      await engine.loadBlob(FROZEN_BLOB, { size: frozenLayout.size, pieces: [], buffer: packed(frozenLayout, params) });
      const trunk = context(TRUNK);
      buildTrunkTraining(arch, trunk);
      const tail = context(TAIL);
      buildTailTraining(arch, tail, head, loss, bins);
      const blockGraph = new Graph(`${arch.kind}_${BLOCK}`);
      buildBlockTraining(arch, new WeightInputs(blockGraph, shapes, layout));

      const table = new BlockWeightTable(arch, shapes, layout);
      const blocks = Array.from({ length: arch.transformer.layers }, (_, j) => table.names(j)).flat();
      const frozenInBlocks = blocks.filter((n) => !isTrainable(n));
      if (frozenInBlocks.length) throw new Error(`${arch.kind}: transformer blocks with frozen weights (${frozenInBlocks.join(', ')}) are not supported in training`);
      const read = new Set([...trunk.used, ...blocks, ...tail.used]);
      const trainable = [...shapes.keys()].filter(isTrainable);
      const unread = trainable.filter((n) => !read.has(n));
      if (unread.length) throw new Error(`${arch.kind}: weights read by no training graph: ${unread.join(', ')}`);

      const trainer = new WholeModelTrainer(arch, params, engine, head, trunk.used, tail.used, trainable, options, offsets);
      const seeds = arch.trunkOutputs.map((o) => gradName(o.name));
      const trunkOpts = trunkGradientSessionOpts(arch, options.tileLength, options.backwardArena);
      await trainer.sessions.create(TRUNK, trunk.g, [FROZEN_BLOB], seeds, trunkOpts, trunkOpts);
      await trainer.sessions.create(TAIL, tail.g, [FROZEN_BLOB]);
      await trainer.sessions.create(BLOCK, blockGraph, [], [gradName(SEGMENT_OUT)], blockBackwardSessionOpts(arch, options.backwardArena), blockForwardSessionOpts(arch, options.backwardArena));
      return trainer;
    } catch (e) {
      await engine.close();
      throw e;
    }
  }

  /** Says that the trainable weights in `params` changed: the next run sends them to the engine first. */
  weightsChanged(): void {
    this.stale = true;
  }

  /**
   * Replaces the params blob with the current weights: the old blob is freed first, the new one packed
   * here and transferred (not copied) to the worker, so the weights exist at most twice meanwhile.
   */
  private async sendWeights(): Promise<void> {
    if (!this.stale) return;
    await this.engine.dropBlob(PARAMS_BLOB);
    await this.engine.loadBlob(PARAMS_BLOB, { size: this.blob.size, pieces: [], buffer: packed(this.blob, this.params) });
    this.stale = false;
  }

  /** The params blob's inputs of a session whose trainable weights are inputs `paramInput(name)`. */
  private paramFeeds(id: string): BlobFeeds {
    let feeds = this.blobFeedCache.get(id);
    if (!feeds) {
      const tensors: BlobFeeds['tensors'] = {};
      for (const n of this.trainable) if (this.sessions.takes(id, paramInput(n))) tensors[paramInput(n)] = { offset: this.blob.offsets.get(n)!, dims: this.shapes.get(n)! };
      feeds = { blob: PARAMS_BLOB, tensors };
      this.blobFeedCache.set(id, feeds);
    }
    return feeds;
  }

  /** The params blob's inputs of a shared block session for block j's weights. */
  private blockFeeds(id: string, j: number): BlobFeeds {
    const key = `${id}#${j}`;
    let feeds = this.blobFeedCache.get(key);
    if (!feeds) {
      const tensors: BlobFeeds['tensors'] = {};
      this.blockWeights.names(j).forEach((n, i) => {
        if (this.sessions.takes(id, blockWeightInput(i))) tensors[blockWeightInput(i)] = { offset: this.blob.offsets.get(n)!, dims: this.shapes.get(n)! };
      });
      feeds = { blob: PARAMS_BLOB, tensors };
      this.blobFeedCache.set(key, feeds);
    }
    return feeds;
  }

  private positionFeeds(length: number): Record<string, TensorData> {
    return this.positions.feeds(length);
  }

  private headFeeds(length: number): Record<string, TensorData> {
    const { start, end } = this.arch.cropRange(length);
    return { ...this.positionFeeds(length), crop: { dtype: 'int64', dims: [2], data: BigInt64Array.from([BigInt(start), BigInt(end)]) } };
  }

  private checkLength(length: number): void {
    const problem = this.arch.lengthProblem(length);
    if (problem) throw new Error(`window has length ${length} bp; ${problem}`);
  }

  /** Predictions of the trained head, [B, bins, tracks] (plain forward sessions, made on first use). */
  async predict(batch: OneHotBatch): Promise<Float32Array> {
    this.checkLength(batch.length);
    await this.sessions.once('predict', async () => {
      const context = (id: string) => new TrainingWeights(new Graph(`${this.arch.kind}_${id}`), this.shapes, this.options.layout ?? '2d', (n) => this.frozenOffsets.get(n));
      const trunk = context(TRUNK_FORWARD);
      this.arch.buildTrunk(trunk);
      await this.sessions.create(TRUNK_FORWARD, trunk.g, [FROZEN_BLOB]);
      const head = context(HEAD_FORWARD);
      this.arch.buildHead(head);
      await this.sessions.create(HEAD_FORWARD, head.g, [FROZEN_BLOB]);
    });
    await this.sendWeights();
    const { batch: b, length } = batch;
    const names = this.arch.trunkOutputs.map((o) => o.name);
    const features = this.tiler.empty(b, length);
    for (const tile of this.tiler.tiles(length)) {
      const dna: TensorData = { dtype: 'float32', dims: [b, tile.te - tile.ts, 4], data: this.tiler.input(batch, tile) };
      this.tiler.place(await this.engine.run(TRUNK_FORWARD, { dna }, names, this.paramFeeds(TRUNK_FORWARD)), b, length, tile, features);
    }
    const feeds = this.sessions.feeds(HEAD_FORWARD, { ...features, ...this.headFeeds(length) });
    const out = await this.engine.run(HEAD_FORWARD, feeds, [this.head], this.paramFeeds(HEAD_FORWARD));
    return out[this.head]!.data as Float32Array;
  }

  /**
   * Loss of a batch against `targets` [B, bins, tracks] and its gradient w.r.t. every trainable weight,
   * added into `into` (scaled) when given, else into a new map.
   */
  async lossAndGradients(batch: OneHotBatch, targets: Float32Array, into?: GradientSink, onPhase?: (phase: StepPhase) => void): Promise<StepResult> {
    const { length } = batch;
    this.checkLength(length);
    const { start, end } = this.arch.cropRange(length);
    const tracks = this.arch.tracks(this.head);
    if (targets.length !== batch.batch * (end - start) * tracks) throw new Error(`targets have ${targets.length} values, expected ${batch.batch} × ${end - start} bins × ${tracks} tracks`);
    await this.sendWeights();
    const grads = into?.grads ?? new Map<string, Float32Array>();
    const scale = into?.scale ?? 1;
    const add = (name: string, g: Float32Array) => {
      const acc = grads.get(name);
      if (!acc && scale === 1) return void grads.set(name, g);
      const sum = acc ?? grads.set(name, new Float32Array(g.length)).get(name)!;
      if (sum.length !== g.length) throw new Error(`gradient of '${name}': ${g.length} values, the accumulator has ${sum.length}`);
      for (let i = 0; i < g.length; i++) sum[i]! += scale * g[i]!;
    };

    const stash = `train${this.calls++}`;
    const outputs = this.arch.trunkOutputs;
    const segments = this.arch.headSegments;
    return withStash(this.engine, stash, async (): Promise<StepResult> => {
      onPhase?.('trunk forward');
      const trunkSplit = this.sessions.split(TRUNK);
      const forwardId = `${TRUNK}_forward`;
      const features = await trunkForwardSaving(this.engine, this.tiler, { forwardId, saved: trunkSplit.saved, stash, blobFeeds: this.paramFeeds(forwardId), outputs: outputs.map((o) => o.name) }, batch);

      onPhase?.('head');
      const positions = this.positionFeeds(length);
      const blockNames = (j: number) => this.blockWeights.names(j);
      let tail: Record<string, TensorData> = {};
      const segmentGrad = await headChainBackward(
        {
          sessions: this.sessions,
          forwardId: `${BLOCK}_forward`,
          backwardId: `${BLOCK}_backward`,
          saved: { names: this.sessions.split(BLOCK).saved, stash },
          runBlock: (id, j, feeds, fetches, st) => this.engine.run(id, feeds, fetches, this.blockFeeds(id, j), st),
          blockFetches: blockNames(0).map((_, i) => gradName(blockWeightInput(i))),
          onBlock: (j, out) => blockNames(j).forEach((n, i) => add(n, out[gradName(blockWeightInput(i))]!.data as Float32Array)),
        },
        this.arch.transformer.layers,
        features[segments.input]!,
        positions,
        async (x) => {
          const feeds = this.sessions.feeds(TAIL, {
            ...features,
            ...this.headFeeds(length),
            targets: { dtype: 'float32', dims: [batch.batch, end - start, tracks], data: targets },
            [SEGMENT_IN]: x,
          });
          const skips = outputs.filter((o) => o.name !== segments.input && feeds[o.name]);
          tail = await this.engine.run(TAIL, feeds, ['loss', gradName(SEGMENT_IN), ...skips.map((o) => gradName(o.name)), ...this.tailParams.map(paramGrad)], this.paramFeeds(TAIL));
          for (const n of this.tailParams) add(n, tail[paramGrad(n)]!.data as Float32Array);
          return tail[gradName(SEGMENT_IN)]!;
        },
      );

      const cotangent = (output: string): Float32Array => {
        if (output === segments.input) return segmentGrad.data as Float32Array;
        // A trunk output that neither enters the blocks nor the tail does not affect the loss.
        return (tail[gradName(output)]?.data as Float32Array | undefined) ?? new Float32Array(features[output]!.data.length);
      };
      onPhase?.('trunk backward');
      const backwardId = `${TRUNK}_backward`;
      await trunkBackwardTiles(
        this.engine,
        this.tiler,
        { id: backwardId, fetches: this.trunkParams.map(paramGrad), dna: trunkSplit.backwardInputs.includes('dna'), blobFeeds: this.paramFeeds(backwardId), stash },
        batch,
        cotangent,
        (_tile, out) => {
          for (const n of this.trunkParams) add(n, out[paramGrad(n)]!.data as Float32Array);
        },
      );
      return { loss: (tail.loss!.data as Float32Array)[0]!, grads };
    });
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}
