/**
 * Input gradients of a loaded model (`Model.inputGradients` / `cotangentGradients` delegate here):
 * the trunk forward on tiles, the head's backward on the whole window, the trunk backward on the same
 * tiles. The backward sessions are made on the first request, their weights re-packed from the
 * model's weight set (the forward's blobs were dropped once its sessions existed).
 * - Head backward, checkpointed (default): the transformer blocks' and the tail stages' forward one
 *   by one, the last stage's backward, each stage's (its forward recomputed inside) and block's
 *   backward in reverse; all blocks share one forward and one backward graph
 *   whose weights are inputs, read for each run from the weight set into a blob in the worker and
 *   dropped after it, so these sessions hold no second copy of the blocks' weights. Or 'whole': one
 *   session for the whole head (every layer's activations at once).
 * - Activations, saved (default): each backward graph is split into a forward that also outputs the
 *   expensive layers' results, kept in the engine worker's stash until their tile's or block's
 *   backward, which recomputes only the cheap layers; or 'recompute': each backward recomputes its
 *   tile's or block's whole forward inside its session.
 */
import { Graph } from '../engine/graph.js';
import type { RunStash, SessionOpts, TensorData } from '../engine/protocol.js';
import type { SessionRunner } from '../engine/runner.js';
import type { WeightSet } from '../weights/weight-set.js';
import type { Architecture } from './architecture.js';
import { headChainBackward, trunkBackwardTiles, trunkForwardSaving, withStash } from './backward-passes.js';
import {
  BLOCK_BACKWARD_ID,
  BLOCK_FORWARD_ID,
  blockBackwardSessionOpts,
  blockForwardSessionOpts,
  trunkGradientSessionOpts,
  blockWeightInput,
  BlockWeightTable,
  buildBlockBackward,
  buildBlockForward,
  buildHeadObjectiveBackward,
  buildTailBackward,
  buildTailStageBackward,
  buildTailStageForward,
  buildTrunkBackward,
  gradName,
  objectiveSessionId,
  SEGMENT_IN,
  SEGMENT_OUT,
  tailStageGradId,
  tailStageId,
  tailStages,
  WeightInputs,
  type ObjectiveForm,
} from './gradients.js';
import { LayerContext } from './layers.js';
import type { InputGradients, ModelOptions, OneHotBatch } from './model-types.js';
import { SessionSet } from './session-set.js';
import type { TrunkTiler } from './trunk-tiler.js';

/** Id of the trunk's backward session(s): one graph, or `${TRUNK_GRAD}_forward` and `_backward` when split. */
const TRUNK_GRAD = 'trunk_grad';

/** What the gradients need of their model. */
export interface GradientHost {
  arch: Architecture;
  /** Where the weights came from (named in errors). */
  source: string;
  engine: SessionRunner;
  options: ModelOptions;
  /** Kept to re-pack weights for the backward sessions and the blocks' runs (file ranges are re-read then). */
  weights: WeightSet;
  tiler: TrunkTiler;
  positionFeeds(length: number): Record<string, TensorData>;
  /** The forward trunk (the recomputing path's features). */
  trunk(input: OneHotBatch): Promise<Record<string, TensorData>>;
}

export class GradientRunner {
  private readonly sessions: SessionSet;
  /** Numbers each gradient call's stash group (its saved activations in the worker). */
  private calls = 0;
  private blockWeightTable?: BlockWeightTable;

  constructor(private readonly m: GradientHost) {
    this.sessions = new SessionSet(m.engine);
  }

  private get engine(): SessionRunner {
    return this.m.engine;
  }

  private get savesActivations(): boolean {
    return (this.m.options.backwardActivations ?? 'saved') === 'saved';
  }

  private get wholeHeadBackward(): boolean {
    return (this.m.options.headBackward ?? this.m.arch.defaultHeadBackward ?? 'checkpointed') === 'whole';
  }

  /** Trunk forward (saving activations unless they are recomputed), head backward, trunk backward. */
  async run(batch: OneHotBatch, form: ObjectiveForm, objective: Record<string, TensorData>, onProgress?: (tilesDone: number, tiles: number) => void): Promise<InputGradients> {
    await this.prepare(form);
    const stash = `gradients${this.calls++}`;
    return withStash(this.engine, stash, async (): Promise<InputGradients> => {
      const features = this.savesActivations
        ? await trunkForwardSaving(this.engine, this.m.tiler, { forwardId: `${TRUNK_GRAD}_forward`, saved: this.sessions.split(TRUNK_GRAD).saved, stash, outputs: this.m.arch.trunkOutputs.map((o) => o.name) }, batch)
        : await this.m.trunk(batch);
      const headOut = await this.headBackward(form, features, batch.length, objective, stash);
      const grad = await this.trunkBackward(batch, headOut, stash, onProgress);
      return { objective: headOut.objective!.data as Float32Array, grad };
    });
  }

  /**
   * The head's backward on trunk features: `objective` [B] and, for every trunk output o,
   * `gradName(o)` = d objective / d o. Whole: one session. Checkpointed: see `headChainBackward`; a
   * block's weights are loaded into a blob for its run and dropped after it; the tail stages' sessions
   * hold their own (small) weights.
   */
  private async headBackward(
    form: ObjectiveForm,
    features: Record<string, TensorData>,
    length: number,
    objective: Record<string, TensorData>,
    stash: string,
  ): Promise<Record<string, TensorData>> {
    const arch = this.m.arch;
    const { start, end } = arch.cropRange(length);
    const crop: TensorData = { dtype: 'int64', dims: [2], data: BigInt64Array.from([BigInt(start), BigInt(end)]) };
    const outputs = arch.trunkOutputs;
    const fetches = ['objective', ...outputs.map((o) => gradName(o.name))];
    const positions = this.m.positionFeeds(length);
    if (this.wholeHeadBackward) {
      return this.engine.run(objectiveSessionId('head', form), { ...features, ...positions, crop, ...objective }, fetches);
    }
    const segments = arch.headSegments;
    // Saved activations: the blocks' forward is the split block backward's, keeping each block's
    // saved values in the worker for its backward; else a plain block forward (recomputed later).
    const saved = this.savesActivations ? { names: this.sessions.split(BLOCK_BACKWARD_ID).saved, stash } : undefined;
    const tailId = objectiveSessionId('tail', form);
    const tailFeeds = { ...features, crop };
    // d objective / d each skip (trunk output read by the tail), summed over the stages that read it.
    const skipGrads: Record<string, TensorData> = {};
    const addSkipGrads = (out: Record<string, TensorData>) => {
      for (const o of outputs) {
        const g = out[gradName(o.name)];
        if (!g || o.name === segments.input) continue;
        const sum = skipGrads[o.name];
        if (!sum) skipGrads[o.name] = g;
        else (sum.data as Float32Array).forEach((v, i, a) => (a[i] = v + (g.data as Float32Array)[i]!));
      }
    };
    const fetchesOf = (feeds: Record<string, TensorData>) => [gradName(SEGMENT_IN), ...outputs.filter((o) => o.name !== segments.input && feeds[o.name]).map((o) => gradName(o.name))];
    let objectiveValue: TensorData | undefined;
    const grad = await headChainBackward(
      {
        sessions: this.sessions,
        forwardId: saved ? `${BLOCK_BACKWARD_ID}_forward` : BLOCK_FORWARD_ID,
        backwardId: saved ? `${BLOCK_BACKWARD_ID}_backward` : BLOCK_BACKWARD_ID,
        saved,
        runBlock: (id, j, feeds, blockFetches, keep) => this.runBlock(id, j, feeds, blockFetches, keep),
      },
      arch.transformer.layers,
      features[segments.input]!,
      positions,
      async (x) => {
        const feeds = this.sessions.feeds(tailId, { ...tailFeeds, ...positions, ...objective, [SEGMENT_IN]: x });
        const out = await this.engine.run(tailId, feeds, ['objective', ...fetchesOf(feeds)]);
        objectiveValue = out.objective;
        addSkipGrads(out);
        return out[gradName(SEGMENT_IN)]!;
      },
      // The tail's stages before its last: forward keeping only their inputs here, backward with
      // each stage's forward recomputed inside its session.
      Array.from({ length: tailStages(arch).length - 1 }, (_, s) => ({
        forward: async (x) => (await this.engine.run(tailStageId(s), this.sessions.feeds(tailStageId(s), { ...tailFeeds, [SEGMENT_IN]: x }), [SEGMENT_OUT]))[SEGMENT_OUT]!,
        backward: async (x, g) => {
          const feeds = this.sessions.feeds(tailStageGradId(s), { ...tailFeeds, [SEGMENT_IN]: x, [gradName(SEGMENT_OUT)]: g });
          const out = await this.engine.run(tailStageGradId(s), feeds, fetchesOf(feeds));
          addSkipGrads(out);
          return out[gradName(SEGMENT_IN)]!;
        },
      })),
    );
    const result: Record<string, TensorData> = { objective: objectiveValue! };
    for (const o of outputs) {
      const t = features[o.name]!;
      // A trunk output that neither enters the blocks nor the tail does not affect the objective.
      result[gradName(o.name)] = o.name === segments.input ? grad : (skipGrads[o.name] ?? { dtype: 'float32', dims: [...t.dims], data: new Float32Array(t.data.length) });
    }
    return result;
  }

  /** d <head-backward cotangents, trunk outputs> / d input, tile by tile (halo overlaps summed). */
  private async trunkBackward(
    batch: OneHotBatch,
    headOut: Record<string, TensorData>,
    stash: string,
    onProgress?: (tilesDone: number, tiles: number) => void,
  ): Promise<Float32Array> {
    const split = this.savesActivations ? this.sessions.split(TRUNK_GRAD) : undefined;
    const grad = new Float32Array(batch.batch * batch.length * 4);
    await trunkBackwardTiles(
      this.engine,
      this.m.tiler,
      split ? { id: `${TRUNK_GRAD}_backward`, fetches: ['grad_dna'], dna: split.backwardInputs.includes('dna'), stash } : { id: TRUNK_GRAD, fetches: ['grad_dna'], dna: true },
      batch,
      (output) => headOut[gradName(output)]!.data as Float32Array,
      (tile, out, index, tiles) => {
        this.m.tiler.addInputGradient(grad, out.grad_dna!.data as Float32Array, batch.batch, batch.length, tile);
        onProgress?.(index + 1, tiles);
      },
      (tiles) => onProgress?.(0, tiles),
    );
    return grad;
  }

  /** The backward sessions for an objective form: the head's (whole, or the tail stages and the two block graphs) and the trunk's; returns the head (or last tail stage's) session's id. */
  async prepare(form: ObjectiveForm): Promise<string> {
    const arch = this.m.arch;
    arch.tracks(form.head);
    let id: string;
    if (this.wholeHeadBackward) {
      id = objectiveSessionId('head', form);
      await this.backwardSession(id, (c) => buildHeadObjectiveBackward(arch, c, form));
    } else {
      id = objectiveSessionId('tail', form);
      const stages = tailStages(arch).length;
      await this.backwardSession(id, (c) => buildTailBackward(arch, c, form, stages - 1));
      for (let s = 0; s < stages - 1; s++) {
        await this.backwardSession(tailStageId(s), (c) => buildTailStageForward(arch, c, s));
        await this.backwardSession(tailStageGradId(s), (c) => buildTailStageBackward(arch, c, s));
      }
      if (this.savesActivations) {
        const seeds = [gradName(SEGMENT_OUT)];
        await this.backwardSession(BLOCK_BACKWARD_ID, (c) => buildBlockBackward(arch, c, { withOutput: true }), { weightInputs: true, splitAt: seeds, backwardOpts: blockBackwardSessionOpts(arch, this.m.options.backwardArena), forwardOpts: blockForwardSessionOpts(arch, this.m.options.backwardArena) });
      } else {
        await this.backwardSession(BLOCK_FORWARD_ID, (c) => buildBlockForward(arch, c), { weightInputs: true });
        await this.backwardSession(BLOCK_BACKWARD_ID, (c) => buildBlockBackward(arch, c), { weightInputs: true });
      }
    }
    const seeds = arch.trunkOutputs.map((o) => gradName(o.name));
    const trunkOpts = trunkGradientSessionOpts(arch, this.m.options.tileLength, this.m.options.backwardArena);
    await this.backwardSession(TRUNK_GRAD, (c) => buildTrunkBackward(arch, c), { ...(this.savesActivations ? { splitAt: seeds } : {}), backwardOpts: trunkOpts, forwardOpts: trunkOpts });
    return id;
  }

  /** Runs a shared block graph on block j: its weights are read into a blob for this run only. */
  private async runBlock(id: string, j: number, feeds: Record<string, TensorData>, fetches: string[], stash?: RunStash): Promise<Record<string, TensorData>> {
    const all = this.blockWeights(j);
    // A backward reads only the weights its products need (no biases, say): feed those.
    const names = all.filter((_, i) => this.sessions.takes(id, blockWeightInput(i)) ?? true);
    const indices = new Map(all.map((n, i) => [n, i]));
    const weights = this.m.weights;
    const { spec, offsets } = weights.pack(names);
    const blob = `${id}_${j}`;
    await this.engine.loadBlob(blob, spec);
    try {
      const tensors = Object.fromEntries(names.map((n) => [blockWeightInput(indices.get(n)!), { offset: offsets.get(n)!.offset, dims: weights.shape(n) }]));
      return await this.engine.run(id, feeds, fetches, { blob, tensors }, stash);
    } finally {
      await this.engine.dropBlob(blob, { reuse: true });
    }
  }

  /** Block j's weights in the order of the shared block graphs' weight inputs, readable again. */
  private blockWeights(j: number): string[] {
    this.blockWeightTable ??= new BlockWeightTable(this.m.arch, this.m.weights.shapes(), this.m.options.layout ?? '2d', "use headBackward 'whole'");
    const names = this.blockWeightTable.names(j);
    this.checkReadable(names);
    return names;
  }

  /** Weights that were handed to the engine (in-memory blobs transferred) cannot be packed again. */
  private checkReadable(names: string[]): void {
    const weights = this.m.weights;
    const handedOver = names.find((n) => {
      const src = weights.entries.get(n)?.source;
      return src?.kind === 'bytes' && src.bytes.byteLength === 0 && weights.shape(n).every((d) => d > 0);
    });
    if (handedOver) throw new Error(`${this.m.source}: in-memory weights were handed to the engine; gradients need weights it can read again (a file, or unpacked arrays)`);
  }

  /**
   * Makes a backward session once. Its weights are those a dry build of the graph reads, packed again
   * into their own blob, dropped once the session exists. With `weightInputs` the graph reads its
   * weights from inputs (`WeightInputs`) and the session holds none.
   */
  private backwardSession(id: string, build: (c: LayerContext) => void, opts: { weightInputs?: boolean; splitAt?: string[]; backwardOpts?: SessionOpts; forwardOpts?: SessionOpts } = {}): Promise<void> {
    return this.sessions.once(id, async () => {
      const { arch, weights } = this.m;
      const layout = this.m.options.layout ?? '2d';
      const shapes = weights.shapes();
      const graph = new Graph(`${arch.kind}_${id}`);
      if (opts.weightInputs) {
        build(new WeightInputs(graph, shapes, layout));
        await this.sessions.create(id, graph, [], opts.splitAt, opts.backwardOpts, opts.forwardOpts);
        return;
      }
      const names: string[] = [];
      const record = (n: string) => {
        if (!shapes.has(n)) return undefined;
        if (!names.includes(n)) names.push(n);
        return { offset: 0, length: shapes.get(n)!.reduce((a, b) => a * b, 1) * 4 };
      };
      build(new LayerContext(new Graph(id), record, shapes, layout, id));
      this.checkReadable(names);
      const { spec, offsets } = weights.pack(names);
      build(new LayerContext(graph, (n) => offsets.get(n), shapes, layout, id));
      await this.engine.loadBlob(id, spec);
      try {
        await this.sessions.create(id, graph, [id], opts.splitAt, opts.backwardOpts, opts.forwardOpts);
      } finally {
        await this.engine.dropBlob(id);
      }
    });
  }
}
