/**
 * A loaded model: an architecture, its weights inside a session runner's worker, and the two sessions
 * (trunk, head). The runner is onnxruntime-node on Node (model.ts sets that default) or
 * onnxruntime-web in the browser; nothing here depends on which. `predict` runs the trunk on overlapping tiles when the input is longer than `tileLength`,
 * which bounds memory and gives exactly the untiled result (tiles align with the pooling grid and
 * their halos cover the receptive field).
 */
import { Graph } from '../engine/graph.js';
import type { EngineOptions, RunStash, TensorData } from '../engine/protocol.js';
import type { SessionRunner } from '../engine/runner.js';
import { splitForwardBackward } from '../engine/split.js';
import { checkWeights, type WeightSet } from '../weights/weight-set.js';
import { LayerContext, type ConvLayout } from './layers.js';
import { logitsOutputName, trunkGrid, type Architecture, type GammaTable, type HeadExtras } from './architecture.js';
import { ATTENTION_ROWS, attentionOutputName, checkAttentionRows, checkAttentionSpec, writtenHeads, type AttentionMapSpec } from './attention-maps.js';
import { oneHotInto } from '../genome/one-hot.js';
import {
  BLOCK_BACKWARD_ID,
  BLOCK_FORWARD_ID,
  blockWeightInput,
  blockWeightNames,
  buildBlockBackward,
  buildBlockForward,
  buildHeadObjectiveBackward,
  buildTailBackward,
  buildTrunkBackward,
  checkObjective,
  gradName,
  objectiveFeeds,
  objectiveSessionId,
  SEGMENT_IN,
  SEGMENT_OUT,
  WeightInputs,
  type Objective,
  type ObjectiveForm,
} from './gradients.js';

export type { Objective } from './gradients.js';

/** Result of `Model.inputGradients`: objective [B] and d objective[b] / d input[b] as [B, L, 4]. */
export interface InputGradients {
  objective: Float32Array;
  grad: Float32Array;
  /** Bytes of forward activations saved for the backward, and how many of them went to the temporary file. */
  savedActivations?: { bytes: number; spilledBytes: number };
}

export interface ModelOptions extends EngineOptions {
  /** Core length in bp of a trunk tile (rounded to the trunk grid); 0 disables tiling. */
  tileLength?: number;
  /** Convolution layout: '2d' (height-1 NCHW, default) or '1d'. */
  layout?: ConvLayout;
  /** Gamma positional table to use at the length it was made for (Enformer `use_tf_gamma`). */
  gammaTable?: GammaTable;
  /**
   * Build the head graph with attention-map outputs for these layers/heads (rows are chosen per run
   * with `PredictOptions.attentionRows`). Without it the head graph has no such outputs.
   */
  attention?: AttentionMapSpec;
  /**
   * Give the head graph the heads' pre-softplus values as extra outputs (`PredictOptions.output:
   * 'logits'`). Off by default: ONNX Runtime runs every node of a graph whatever is fetched, so
   * extra outputs are built only when asked for.
   */
  logits?: boolean;
  /**
   * How the head's backward runs: 'checkpointed' (default) segment by segment, each transformer
   * block's forward recomputed inside its backward, so memory holds one block's activations (and no
   * second copy of the blocks' weights); 'whole': one session for the whole head, one head forward
   * less but every layer's activations at once (~0.5 GB per layer for full-size Enformer).
   */
  headBackward?: 'checkpointed' | 'whole';
  /**
   * How the backward gets the forward's activations (trunk tiles, and transformer blocks when the
   * head is checkpointed): 'saved' (default) the gradient's forward also outputs the expensive
   * layers' results (convolutions and matrix products with a long reduction), kept until their
   * tile's or block's backward, which recomputes only the cheap layers (normalisation, activations,
   * pooling, attention logits) from them; 'recompute' each tile's and block's whole forward is
   * recomputed inside its backward (one forward more, nothing kept). Saved activations stay in the
   * engine worker, beyond `stashMemory` bytes in a temporary file: about 1.5 GB for a full-size
   * Enformer window.
   */
  backwardActivations?: 'saved' | 'recompute';
  /** Testing aid: overwrite the weight blob after the sessions are made (proves ORT holds its own copy). */
  poisonWeightBlob?: boolean;
}

export interface Track3D {
  data: Float32Array;
  shape: [number, number, number];
}

/** Attention weights [batch, layers, heads (or 1: their mean), rows, positions] row-major. */
export interface AttentionMap {
  data: Float32Array;
  shape: [number, number, number, number, number];
  layers: number[];
  heads: number[] | 'mean';
  rows: number[];
}

export interface Prediction {
  heads: Record<string, Track3D>;
  embeddings?: Track3D;
  attention?: AttentionMap;
}

/** What the heads return: coverage after the softplus (default), or the pre-softplus values. */
export type HeadOutput = 'softplus' | 'logits';

export interface PredictOptions {
  heads?: string[];
  embeddings?: boolean;
  /** 'logits': the heads' pre-softplus values, a separate output of the same graph (not inverted); needs a model loaded with `logits`. */
  output?: HeadOutput;
  /**
   * Query positions (0-based, ascending) of the transformer whose attention weights to return; needs
   * a model loaded with `attention`.
   */
  attentionRows?: number[];
  /** Called after each trunk tile with tiles done and their total (progress of long windows). */
  onTile?: (done: number, total: number) => void;
}

/** A batch of one-hot sequences, [batch, length, 4] row-major. */
export interface OneHotBatch {
  data: Float32Array;
  batch: number;
  length: number;
}

export class LengthError extends Error {}

type SessionPart = 'trunk' | 'head';
const SESSION_PARTS: SessionPart[] = ['trunk', 'head'];

function buildPart(arch: Architecture, part: SessionPart, c: LayerContext, extras?: HeadExtras): void {
  if (part === 'trunk') arch.buildTrunk(c);
  else arch.buildHead(c, extras);
}

const DEFAULT_TILE = 32_768;

/** Id of the trunk's backward session(s): one graph, or `${TRUNK_GRAD}_forward` and `_backward` when split. */
const TRUNK_GRAD = 'trunk_grad';

export class Model {
  /** The runner a model starts when `create` is given none (Node: an onnxruntime-node worker thread). */
  static defaultRunner?: (options: EngineOptions) => SessionRunner;

  private positionsCache = new Map<number, Record<string, TensorData>>();
  /** Backward sessions made so far (lazily, on the first gradient request), by session id. */
  private backwardSessions = new Map<string, Promise<void>>();
  /** Graph input names of the backward sessions, by session id. */
  private sessionInputs = new Map<string, Set<string>>();
  /** Split backward sessions (`${id}_forward`, `${id}_backward`): the values the forward saves and the inputs the backward re-reads. */
  private splits = new Map<string, { saved: string[]; backwardInputs: string[] }>();
  /** Numbers each gradient call's stash group (its saved activations in the worker). */
  private gradientCalls = 0;
  /** Each transformer block's weight names in the order of the shared block graphs' weight inputs. */
  private blockWeightCache = new Map<number, string[]>();

  private constructor(
    readonly arch: Architecture,
    readonly source: string,
    private readonly engine: SessionRunner,
    private readonly ownsEngine: boolean,
    private readonly options: ModelOptions,
    /** Kept to re-pack a part's weights for its backward session (file ranges are re-read then). */
    private readonly weights: WeightSet,
  ) {}

  /**
   * The weights each session uses, in blob order: a dry build of each graph records what it reads.
   * Every expected weight must be read by some graph.
   */
  static weightParts(arch: Architecture, layout: ConvLayout = '2d'): { id: SessionPart; names: string[] }[] {
    const shapes = new Map(arch.expectedWeights().map((t) => [t.name, t.shape]));
    const parts = SESSION_PARTS.map((id) => {
      const names: string[] = [];
      const record = (name: string) => {
        const shape = shapes.get(name);
        if (!shape) return undefined;
        if (!names.includes(name)) names.push(name);
        return { offset: 0, length: shape.reduce((a, b) => a * b, 1) * 4 };
      };
      buildPart(arch, id, new LayerContext(new Graph(id), record, shapes, layout));
      return { id, names };
    });
    const used = new Set(parts.flatMap((p) => p.names));
    const unused = [...shapes.keys()].filter((n) => !used.has(n));
    if (unused.length) throw new Error(`${arch.kind}: weights expected but used by no graph: ${unused.join(', ')}`);
    return parts;
  }

  /**
   * Checks the weights against the architecture, then makes the two sessions inside a session runner
   * (`engine`, else a new default runner that the model owns and closes).
   * Each session gets its own weight blob, dropped once ONNX Runtime has copied it, so peak memory
   * holds at most one part twice.
   */
  static async create(arch: Architecture, weights: WeightSet, source: string, options: ModelOptions = {}, engine?: SessionRunner): Promise<Model> {
    arch.adaptToWeights?.(weights.shapes());
    const expected = arch.expectedWeights();
    checkWeights(weights, expected, source);
    const shapes = new Map(expected.map((t) => [t.name, t.shape]));
    const layout = options.layout ?? '2d';
    if (options.attention) checkAttentionSpec(options.attention, arch.transformer);
    const start = Model.defaultRunner;
    if (!engine && !start) throw new Error('no session runner: pass one to Model.create');
    const eng = engine ?? start!(options);
    try {
      for (const { id, names } of Model.weightParts(arch, layout)) {
        const { spec, offsets } = weights.pack(names);
        const graph = new Graph(`${arch.kind}_${id}`);
        buildPart(arch, id, new LayerContext(graph, (n) => offsets.get(n), shapes, layout, id), { attention: options.attention, logits: options.logits });
        await eng.loadBlob(id, spec);
        await eng.createSession(id, graph.toModel(), [id]);
        await eng.dropBlob(id, { poison: options.poisonWeightBlob });
      }
    } catch (e) {
      if (!engine) await eng.close();
      throw e;
    }
    return new Model(arch, source, eng, !engine, options, weights);
  }

  get headNames(): string[] {
    return this.arch.headNames;
  }

  get binSize(): number {
    return this.arch.binSize;
  }

  /** Throws a LengthError unless `length` bp is a valid input length. */
  checkLength(length: number, what = 'sequence'): void {
    const problem = this.arch.lengthProblem(length);
    if (problem) throw new LengthError(`${what} has length ${length} bp; ${problem}`);
  }

  /** Number of output bins for an input of `length` bp. */
  outputBins(length: number): number {
    const { start, end } = this.arch.cropRange(length);
    return end - start;
  }

  /** Number of transformer positions (attention rows and columns) for an input of `length` bp. */
  transformerPositions(length: number): number {
    return length / this.arch.transformer.resolution;
  }

  /** The attention maps this model was loaded for, if any. */
  get attentionSpec(): AttentionMapSpec | undefined {
    return this.options.attention;
  }

  /**
   * Default attention rows: the transformer positions holding the central output bin(s) (two when
   * the number of bins is even), so a map covers what the window's centre draws on.
   */
  centralRows(length: number): number[] {
    const { start, end } = this.arch.cropRange(length);
    const bins = end - start;
    const centre = bins % 2 === 1 ? [start + (bins - 1) / 2] : [start + bins / 2 - 1, start + bins / 2];
    const res = this.arch.transformer.resolution;
    return [...new Set(centre.map((b) => Math.floor((b * this.arch.binSize) / res)))];
  }

  /** Offset in bp from the input start to the first output bin. */
  outputOffset(length: number): number {
    return this.arch.cropRange(length).start * this.arch.binSize;
  }

  private positionFeeds(length: number): Record<string, TensorData> {
    let p = this.positionsCache.get(length);
    if (!p) {
      p = this.arch.positionFeeds(length, this.options.gammaTable);
      this.positionsCache.set(length, p);
    }
    return p;
  }

  /** Encodes equal-length sequences into a one-hot batch. */
  static encode(sequences: string[], names?: string[]): OneHotBatch {
    const length = sequences[0]?.length ?? 0;
    const data = new Float32Array(sequences.length * length * 4);
    sequences.forEach((s, i) => {
      if (s.length !== length) throw new LengthError(`all sequences of a batch must have one length (${names?.[i] ?? `#${i + 1}`} has ${s.length}, the first ${length})`);
      oneHotInto(s, data, i * length * 4, names?.[i] ?? `sequence ${i + 1}`);
    });
    return { data, batch: sequences.length, length };
  }

  /**
   * Trunk features for a one-hot batch: one [B, L/resolution, C] tensor per trunk output (Enformer:
   * `trunk`; Borzoi: `x_unet0`, `x_unet1`, `transformer_in`). Runs tile by tile when the input is
   * longer than the tile length; each output is concatenated along its position axis.
   */
  async trunk(input: OneHotBatch, onTile?: (done: number, total: number) => void): Promise<Record<string, TensorData>> {
    const { length } = input;
    const tiles = this.tiles(length);
    if (tiles.length === 1) {
      const result = await this.runTrunk(input.data, input.batch, length);
      onTile?.(1, 1);
      return result;
    }
    const result = this.emptyTrunk(input.batch, length);
    for (const [i, { s, e }] of tiles.entries()) {
      await this.trunkTile(input, s, e, result);
      onTile?.(i + 1, tiles.length);
    }
    return result;
  }

  /** The trunk's tile cores [s, e) for `length` bp: one tile when tiling is off or the input is short. */
  private tiles(length: number): { s: number; e: number }[] {
    const grid = this.trunkGrid(length);
    const requested = this.options.tileLength ?? DEFAULT_TILE;
    const core = requested <= 0 ? length : Math.max(grid, Math.floor(requested / grid) * grid);
    if (core >= length) return [{ s: 0, e: length }];
    const tiles: { s: number; e: number }[] = [];
    for (let s = 0; s < length; s += core) tiles.push({ s, e: Math.min(length, s + core) });
    return tiles;
  }

  /** A tile's extent: its core widened by the halo on interior sides (the sequence ends stay ends). */
  private tileExtent(s: number, e: number, length: number): { ts: number; te: number } {
    const halo = this.arch.trunkHaloBp;
    return { ts: Math.max(0, s - halo), te: Math.min(length, e + halo) };
  }

  private tileInput(input: OneHotBatch, ts: number, te: number): Float32Array {
    const { batch, length } = input;
    const tileLen = te - ts;
    if (tileLen === length) return input.data;
    const tile = new Float32Array(batch * tileLen * 4);
    for (let b = 0; b < batch; b++) tile.set(input.data.subarray((b * length + ts) * 4, (b * length + te) * 4), b * tileLen * 4);
    return tile;
  }

  /**
   * Exact trunk features of `alt`, a batch that equals the one `ref` was computed from except at
   * bases [start, end): only the trunk positions those bases reach (the receptive field) are
   * recomputed, on one tile, and spliced into a copy of `ref`. For a SNV that is ~1 % of the trunk.
   */
  async trunkPatch(ref: Record<string, TensorData>, alt: OneHotBatch, start: number, end: number): Promise<Record<string, TensorData>> {
    const { length } = alt;
    const grid = this.trunkGrid(length);
    const halo = this.arch.trunkHaloBp;
    const cs = Math.max(0, Math.floor((start - halo) / grid) * grid);
    const ce = Math.min(length, Math.ceil((end + halo) / grid) * grid);
    const result: Record<string, TensorData> = {};
    for (const [name, t] of Object.entries(ref)) result[name] = { ...t, dims: [...t.dims], data: (t.data as Float32Array).slice() };
    await this.trunkTile(alt, cs, ce, result);
    return result;
  }

  /** Trunk FLOPs for `length` bp of input (they scale with the length). */
  trunkFlops(length: number): number {
    const stages = this.arch.flops(length).stages;
    return this.arch.trunkStages.reduce((a, s) => a + (stages[s] ?? 0), 0);
  }

  private trunkGrid(length: number): number {
    const grid = trunkGrid(this.arch.trunkOutputs);
    if (length % grid !== 0) throw new LengthError(`sequence has length ${length} bp; the trunk needs a multiple of ${grid} bp`);
    const halo = this.arch.trunkHaloBp;
    if (halo % grid !== 0) throw new Error(`${this.arch.kind}: trunk halo ${halo} bp is not a multiple of the trunk grid ${grid} bp`);
    return grid;
  }

  private runTrunk(data: Float32Array, batch: number, length: number): Promise<Record<string, TensorData>> {
    const names = this.arch.trunkOutputs.map((o) => o.name);
    return this.engine.run('trunk', { dna: { dtype: 'float32', dims: [batch, length, 4], data } }, names);
  }

  private emptyTrunk(batch: number, length: number): Record<string, TensorData> {
    const result: Record<string, TensorData> = {};
    for (const { name, resolution, channels } of this.arch.trunkOutputs) {
      const positions = length / resolution;
      result[name] = { dtype: 'float32', dims: [batch, positions, channels], data: new Float32Array(batch * positions * channels) };
    }
    return result;
  }

  /**
   * Computes trunk positions of bases [s, e) (on the trunk grid) from a tile widened by the halo on
   * interior sides, and writes them into `result`. At the sequence ends the tile ends where the
   * sequence does, so every layer pads exactly as in the untiled run.
   */
  private async trunkTile(input: OneHotBatch, s: number, e: number, result: Record<string, TensorData>): Promise<void> {
    const { batch, length } = input;
    const { ts, te } = this.tileExtent(s, e, length);
    this.placeTile(await this.runTrunk(this.tileInput(input, ts, te), batch, te - ts), batch, length, s, e, result);
  }

  /** Writes the core [s, e) of a tile's trunk outputs `r` into `result` (the whole sequence's). */
  private placeTile(r: Record<string, TensorData>, batch: number, length: number, s: number, e: number, result: Record<string, TensorData>): void {
    const { ts, te } = this.tileExtent(s, e, length);
    const tileLen = te - ts;
    for (const { name, resolution } of this.arch.trunkOutputs) {
      const t = r[name]!;
      const channels = t.dims[2]!;
      const positions = length / resolution;
      const out = result[name]!.data as Float32Array;
      const tilePositions = tileLen / resolution;
      const skip = (s - ts) / resolution;
      const keep = (e - s) / resolution;
      const data = t.data as Float32Array;
      for (let b = 0; b < batch; b++) {
        const src = data.subarray((b * tilePositions + skip) * channels, (b * tilePositions + skip + keep) * channels);
        out.set(src, (b * positions + s / resolution) * channels);
      }
    }
  }

  /**
   * Head outputs from trunk features of a sequence of `length` bp. `trunk` is the record from
   * `trunk()`, or a single tensor for architectures with a single trunk output.
   */
  async head(trunk: Record<string, TensorData> | TensorData, length: number, opts: PredictOptions = {}): Promise<Prediction> {
    const heads = opts.heads ?? this.arch.headNames;
    for (const h of heads) this.arch.tracks(h);
    const features = isTensor(trunk) ? singleOutput(this.arch.trunkOutputs.map((o) => o.name), trunk) : trunk;
    const { start, end } = this.arch.cropRange(length);
    const spec = this.options.attention;
    const rows = opts.attentionRows;
    if (rows !== undefined) {
      if (!spec) throw new Error('attention maps need a model loaded with the `attention` option (layers and heads)');
      checkAttentionRows(rows, this.transformerPositions(length));
    }
    if (opts.output === 'logits' && !this.options.logits) throw new Error('pre-softplus outputs need a model loaded with the `logits` option');
    const headOutput = (h: string) => (opts.output === 'logits' ? logitsOutputName(h) : h);
    const mapNames = rows && spec ? spec.layers.map(attentionOutputName) : [];
    const fetches = [...heads.map(headOutput), ...(opts.embeddings ? ['embeddings'] : []), ...mapNames];
    const feeds: Record<string, TensorData> = {
      ...features,
      ...this.positionFeeds(length),
      crop: { dtype: 'int64', dims: [2], data: BigInt64Array.from([BigInt(start), BigInt(end)]) },
    };
    // A head graph with attention outputs always takes rows; none selected costs nothing.
    if (spec) feeds[ATTENTION_ROWS] = { dtype: 'int64', dims: [rows?.length ?? 0], data: BigInt64Array.from((rows ?? []).map(BigInt)) };
    const out = await this.engine.run('head', feeds, fetches);
    const asTrack = (t: TensorData): Track3D => ({ data: t.data as Float32Array, shape: t.dims as [number, number, number] });
    const result: Prediction = { heads: {} };
    for (const h of heads) result.heads[h] = asTrack(out[headOutput(h)]!);
    if (opts.embeddings) result.embeddings = asTrack(out.embeddings!);
    if (rows && spec) result.attention = stackLayers(mapNames.map((n) => out[n]!), spec, rows);
    return result;
  }

  /** Predicts a batch of equal-length sequences (strings or one-hot). */
  async predict(input: string[] | OneHotBatch, opts: PredictOptions = {}): Promise<Prediction> {
    const batch = Array.isArray(input) ? Model.encode(input) : input;
    this.checkLength(batch.length);
    return this.head(await this.trunk(batch, opts.onTile), batch.length, opts);
  }

  /**
   * Input gradients of an objective on one head's predictions (see `Objective`): per sequence the
   * objective's value and d objective[b] / d input[b, position, base] as [B, L, 4] (sequences do not
   * interact, so this is also the gradient of the batch sum). The head's backward runs once on the
   * whole window (checkpointed by transformer block unless `headBackward` is 'whole'); the trunk's
   * backward runs on the forward's tiles, each tile's core cotangent giving
   * its input gradient, halo overlaps summed, so memory stays that of one tile. The backward sessions
   * are made on the first call (forward-only use never builds them).
   */
  async inputGradients(batch: OneHotBatch, objective: Objective, opts: { onProgress?: (tilesDone: number, tiles: number) => void } = {}): Promise<InputGradients> {
    const { length } = batch;
    this.checkLength(length);
    const bins = this.outputBins(length);
    checkObjective(this.arch, objective, bins);
    const form: ObjectiveForm = { kind: 'selection', head: objective.head, log: objective.logPseudocount !== undefined };
    return this.gradients(batch, form, objectiveFeeds(objective, this.arch.tracks(objective.head), bins), opts.onProgress);
  }

  /**
   * Input gradients of Σ cotangent · head output, per sequence: `cotangent` is [B, bins, tracks] of
   * the head (d f / d prediction for any f computed outside from a forward pass), so the result is
   * d f / d input by the chain rule. Same backward path as `inputGradients`.
   */
  async cotangentGradients(batch: OneHotBatch, head: string, cotangent: Float32Array): Promise<InputGradients> {
    const { length } = batch;
    this.checkLength(length);
    const bins = this.outputBins(length);
    const tracks = this.arch.tracks(head);
    if (cotangent.length !== batch.batch * bins * tracks) throw new Error(`cotangent has ${cotangent.length} values, expected ${batch.batch} × ${bins} bins × ${tracks} tracks`);
    const form: ObjectiveForm = { kind: 'cotangent', head };
    return this.gradients(batch, form, { objective_cotangent: { dtype: 'float32', dims: [batch.batch, bins, tracks], data: cotangent } });
  }

  /** Trunk forward (saving activations unless they are recomputed), head backward, trunk backward. */
  private async gradients(
    batch: OneHotBatch,
    form: ObjectiveForm,
    objective: Record<string, TensorData>,
    onProgress?: (tilesDone: number, tiles: number) => void,
  ): Promise<InputGradients> {
    await this.prepareBackward(form);
    const stash = `gradients${this.gradientCalls++}`;
    let result: InputGradients | undefined;
    try {
      const features = this.savesActivations ? await this.trunkSaving(batch, stash) : await this.trunk(batch);
      const headOut = await this.headBackward(form, features, batch.length, objective, stash);
      const grad = await this.trunkBackward(batch, headOut, stash, onProgress);
      result = { objective: headOut.objective!.data as Float32Array, grad };
    } finally {
      // On an error path a failing drop (a dead engine) must not hide the error that got us here.
      const totals = await this.engine.dropStash(stash).catch((e: unknown) => {
        if (result) throw e;
        return undefined;
      });
      if (result && totals) result.savedActivations = totals;
    }
    return result;
  }

  private get savesActivations(): boolean {
    return (this.options.backwardActivations ?? 'saved') === 'saved';
  }

  /**
   * Trunk features as `trunk()` computes them, from the split trunk backward's forward half, whose
   * saved activations stay in the engine worker under `${stash}/tile_${i}` for the tile's backward.
   */
  private async trunkSaving(input: OneHotBatch, stash: string): Promise<Record<string, TensorData>> {
    const { batch, length } = input;
    const { saved } = this.splits.get(TRUNK_GRAD)!;
    const names = this.arch.trunkOutputs.map((o) => o.name);
    const result = this.emptyTrunk(batch, length);
    for (const [i, { s, e }] of this.tiles(length).entries()) {
      const { ts, te } = this.tileExtent(s, e, length);
      const dna: TensorData = { dtype: 'float32', dims: [batch, te - ts, 4], data: this.tileInput(input, ts, te) };
      const r = await this.engine.run(`${TRUNK_GRAD}_forward`, { dna }, names, undefined, { keep: { key: `${stash}/tile_${i}`, names: saved } });
      this.placeTile(r, batch, length, s, e, result);
    }
    return result;
  }

  /**
   * The head's backward on trunk features: `objective` [B] and, for every trunk output o,
   * `gradName(o)` = d objective / d o. Whole: one session. Checkpointed: the blocks' forward one by
   * one (their inputs are kept, [B, n, C] each, and with saved activations the values their
   * backward reads, in the worker), the tail's backward, then each block's backward in reverse; a
   * block's weights are loaded into a blob for its run and dropped after it.
   */
  private async headBackward(
    form: ObjectiveForm,
    features: Record<string, TensorData>,
    length: number,
    objective: Record<string, TensorData>,
    stash: string,
  ): Promise<Record<string, TensorData>> {
    const { start, end } = this.arch.cropRange(length);
    const crop: TensorData = { dtype: 'int64', dims: [2], data: BigInt64Array.from([BigInt(start), BigInt(end)]) };
    const outputs = this.arch.trunkOutputs;
    const fetches = ['objective', ...outputs.map((o) => gradName(o.name))];
    const positions = this.positionFeeds(length);
    if (this.wholeHeadBackward) {
      return this.engine.run(objectiveSessionId('head', form), { ...features, ...positions, crop, ...objective }, fetches);
    }
    const segments = this.arch.headSegments;
    const depth = this.arch.transformer.layers;
    // Saved activations: the blocks' forward is the split block backward's, keeping each block's
    // saved values in the worker for its backward; else a plain block forward (recomputed later).
    const saved = this.savesActivations ? this.splits.get(BLOCK_BACKWARD_ID)!.saved : undefined;
    const forwardId = saved ? `${BLOCK_BACKWARD_ID}_forward` : BLOCK_FORWARD_ID;
    const backwardId = saved ? `${BLOCK_BACKWARD_ID}_backward` : BLOCK_BACKWARD_ID;
    const blockFeeds = this.sessionFeeds(forwardId, positions);
    const inputs: TensorData[] = [features[segments.input]!];
    for (let j = 0; j < depth; j++) {
      const keep = saved && { keep: { key: `${stash}/block_${j}`, names: saved } };
      inputs.push((await this.runBlock(forwardId, j, { ...blockFeeds, [SEGMENT_IN]: inputs[j]! }, [SEGMENT_OUT], keep))[SEGMENT_OUT]!);
    }

    const tailId = objectiveSessionId('tail', form);
    const tailFeeds = this.sessionFeeds(tailId, { ...features, ...positions, crop, ...objective, [SEGMENT_IN]: inputs[depth]! });
    const skips = outputs.filter((o) => o.name !== segments.input && tailFeeds[o.name]);
    const tail = await this.engine.run(tailId, tailFeeds, ['objective', gradName(SEGMENT_IN), ...skips.map((o) => gradName(o.name))]);
    inputs.pop();

    let grad = tail[gradName(SEGMENT_IN)]!;
    for (let j = depth - 1; j >= 0; j--) {
      const feeds = this.sessionFeeds(backwardId, { ...positions, [SEGMENT_IN]: inputs.pop()!, [gradName(SEGMENT_OUT)]: grad });
      const take = saved && { take: [`${stash}/block_${j}`], prefetch: j > 0 ? [`${stash}/block_${j - 1}`] : [] };
      grad = (await this.runBlock(backwardId, j, feeds, [gradName(SEGMENT_IN)], take))[gradName(SEGMENT_IN)]!;
    }
    const result: Record<string, TensorData> = { objective: tail.objective! };
    for (const o of outputs) {
      const t = features[o.name]!;
      // A trunk output that neither enters the blocks nor the tail does not affect the objective.
      result[gradName(o.name)] = o.name === segments.input ? grad : (tail[gradName(o.name)] ?? { dtype: 'float32', dims: [...t.dims], data: new Float32Array(t.data.length) });
    }
    return result;
  }

  private get wholeHeadBackward(): boolean {
    return (this.options.headBackward ?? 'checkpointed') === 'whole';
  }

  /** d <head-backward cotangents, trunk outputs> / d input, tile by tile (halo overlaps summed). */
  private async trunkBackward(
    batch: OneHotBatch,
    headOut: Record<string, TensorData>,
    stash: string,
    onProgress?: (tilesDone: number, tiles: number) => void,
  ): Promise<Float32Array> {
    const split = this.savesActivations ? this.splits.get(TRUNK_GRAD)! : undefined;
    const { length } = batch;
    const outputs = this.arch.trunkOutputs;
    const grad = new Float32Array(batch.batch * length * 4);
    const tiles = this.tiles(length);
    onProgress?.(0, tiles.length);
    for (const [index, { s, e }] of tiles.entries()) {
      const { ts, te } = this.tileExtent(s, e, length);
      const tileLen = te - ts;
      const feeds: Record<string, TensorData> = {};
      if (!split || split.backwardInputs.includes('dna')) feeds.dna = { dtype: 'float32', dims: [batch.batch, tileLen, 4], data: this.tileInput(batch, ts, te) };
      for (const { name, resolution, channels } of outputs) {
        const full = headOut[gradName(name)]!.data as Float32Array;
        const positions = length / resolution;
        const tilePositions = tileLen / resolution;
        const cotangent = new Float32Array(batch.batch * tilePositions * channels);
        const skip = (s - ts) / resolution;
        const keep = (e - s) / resolution;
        for (let b = 0; b < batch.batch; b++) {
          const from = (b * positions + s / resolution) * channels;
          cotangent.set(full.subarray(from, from + keep * channels), (b * tilePositions + skip) * channels);
        }
        feeds[gradName(name)] = { dtype: 'float32', dims: [batch.batch, tilePositions, channels], data: cotangent };
      }
      const next = index + 1 < tiles.length ? [`${stash}/tile_${index + 1}`] : [];
      const run = split
        ? this.engine.run(`${TRUNK_GRAD}_backward`, feeds, ['grad_dna'], undefined, { take: [`${stash}/tile_${index}`], prefetch: next })
        : this.engine.run(TRUNK_GRAD, feeds, ['grad_dna']);
      const tileGrad = (await run).grad_dna!.data as Float32Array;
      for (let b = 0; b < batch.batch; b++) {
        const into = (b * length + ts) * 4;
        const from = b * tileLen * 4;
        for (let i = 0; i < tileLen * 4; i++) grad[into + i]! += tileGrad[from + i]!;
      }
      onProgress?.(index + 1, tiles.length);
    }
    return grad;
  }

  /**
   * Makes the backward sessions `inputGradients` needs for a head (with or without the log
   * transform) now rather than on the first call; returns the head (or checkpointed tail) session's id.
   */
  prepareGradients(head: string, log = false): Promise<string> {
    return this.prepareBackward({ kind: 'selection', head, log });
  }

  /** The backward sessions for an objective form: the head's (whole, or the tail and the two block graphs) and the trunk's. */
  private async prepareBackward(form: ObjectiveForm): Promise<string> {
    this.arch.tracks(form.head);
    let id: string;
    if (this.wholeHeadBackward) {
      id = objectiveSessionId('head', form);
      await this.backwardSession(id, (c) => buildHeadObjectiveBackward(this.arch, c, form));
    } else {
      id = objectiveSessionId('tail', form);
      await this.backwardSession(id, (c) => buildTailBackward(this.arch, c, form));
      if (this.savesActivations) {
        const seeds = [gradName(SEGMENT_OUT)];
        await this.backwardSession(BLOCK_BACKWARD_ID, (c) => buildBlockBackward(this.arch, c, { withOutput: true }), { weightInputs: true, splitAt: seeds });
      } else {
        await this.backwardSession(BLOCK_FORWARD_ID, (c) => buildBlockForward(this.arch, c), { weightInputs: true });
        await this.backwardSession(BLOCK_BACKWARD_ID, (c) => buildBlockBackward(this.arch, c), { weightInputs: true });
      }
    }
    const seeds = this.arch.trunkOutputs.map((o) => gradName(o.name));
    await this.backwardSession(TRUNK_GRAD, (c) => buildTrunkBackward(this.arch, c), this.savesActivations ? { splitAt: seeds } : {});
    return id;
  }

  /** `feeds` restricted to a session's graph inputs (ONNX Runtime rejects any other name). */
  private sessionFeeds(id: string, feeds: Record<string, TensorData>): Record<string, TensorData> {
    const inputs = this.sessionInputs.get(id);
    if (!inputs) throw new Error(`no session ${id}`);
    return Object.fromEntries(Object.entries(feeds).filter(([name]) => inputs.has(name)));
  }

  /** Runs a shared block graph on block j: its weights are read into a blob for this run only. */
  private async runBlock(id: string, j: number, feeds: Record<string, TensorData>, fetches: string[], stash?: RunStash): Promise<Record<string, TensorData>> {
    const inputs = this.sessionInputs.get(id);
    // A backward reads only the weights its products need (no biases, say): feed those.
    const names = this.blockWeights(j).filter((_, i) => inputs?.has(blockWeightInput(i)) ?? true);
    const indices = new Map(this.blockWeights(j).map((n, i) => [n, i]));
    const { spec, offsets } = this.weights.pack(names);
    const blob = `${id}_${j}`;
    await this.engine.loadBlob(blob, spec);
    try {
      const tensors = Object.fromEntries(names.map((n) => [blockWeightInput(indices.get(n)!), { offset: offsets.get(n)!.offset, dims: this.weights.shape(n) }]));
      return await this.engine.run(id, feeds, fetches, { blob, tensors }, stash);
    } finally {
      await this.engine.dropBlob(blob, { reuse: true });
    }
  }

  /** Block j's weights in the order of the shared block graph's weight inputs (checked against block 0's shapes). */
  private blockWeights(j: number): string[] {
    let names = this.blockWeightCache.get(j);
    if (!names) {
      const layout = this.options.layout ?? '2d';
      const shapes = this.weights.shapes();
      names = blockWeightNames(this.arch, j, shapes, layout);
      const first = j === 0 ? names : this.blockWeights(0);
      const same = names.length === first.length && names.every((n, i) => shapes.get(n)!.join() === shapes.get(first[i]!)!.join());
      if (!same) throw new Error(`${this.arch.kind}: transformer block ${j} differs from block 0 in its weights' shapes; use headBackward 'whole'`);
      this.checkReadable(names);
      this.blockWeightCache.set(j, names);
    }
    return names;
  }

  /** Weights that were handed to the engine (in-memory blobs transferred) cannot be packed again. */
  private checkReadable(names: string[]): void {
    const handedOver = names.find((n) => {
      const src = this.weights.entries.get(n)?.source;
      return src?.kind === 'bytes' && src.bytes.byteLength === 0 && this.weights.shape(n).every((d) => d > 0);
    });
    if (handedOver) throw new Error(`${this.source}: in-memory weights were handed to the engine; gradients need weights it can read again (a file, or unpacked arrays)`);
  }

  /**
   * Makes a backward session once. Its weights are those a dry build of the graph reads, packed again
   * into their own blob (the forward's blobs were dropped after their sessions were made), dropped
   * once the session exists. With `weightInputs` the graph reads its weights from inputs
   * (`WeightInputs`) and the session holds none.
   */
  private backwardSession(id: string, build: (c: LayerContext) => void, opts: { weightInputs?: boolean; splitAt?: string[] } = {}): Promise<void> {
    let made = this.backwardSessions.get(id);
    if (!made) {
      made = (async () => {
        const layout = this.options.layout ?? '2d';
        const shapes = this.weights.shapes();
        const graph = new Graph(`${this.arch.kind}_${id}`);
        if (opts.weightInputs) {
          build(new WeightInputs(graph, shapes, layout));
          await this.createSessions(id, graph, [], opts.splitAt);
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
        const { spec, offsets } = this.weights.pack(names);
        build(new LayerContext(graph, (n) => offsets.get(n), shapes, layout, id));
        await this.engine.loadBlob(id, spec);
        try {
          await this.createSessions(id, graph, [id], opts.splitAt);
        } finally {
          await this.engine.dropBlob(id);
        }
      })();
      made.catch(() => this.backwardSessions.delete(id));
      this.backwardSessions.set(id, made);
    }
    return made;
  }

  /**
   * The session `id` for a backward graph, or with `splitAt` (its seeds) the two sessions of its
   * split: `${id}_forward` (saves activations) and `${id}_backward` (reads them).
   */
  private async createSessions(id: string, graph: Graph, blobs: string[], splitAt?: string[]): Promise<void> {
    const make = async (sessionId: string, g: Graph) => this.sessionInputs.set(sessionId, new Set((await this.engine.createSession(sessionId, g.toModel(), blobs)).inputs));
    if (!splitAt) return void (await make(id, graph));
    const parts = splitForwardBackward(graph, { seeds: splitAt });
    await make(`${id}_forward`, parts.forward);
    await make(`${id}_backward`, parts.backward);
    this.splits.set(id, { saved: parts.saved.map((v) => v.name), backwardInputs: parts.backwardInputs });
  }

  async close(): Promise<void> {
    if (this.ownsEngine) await this.engine.close();
  }
}

/** Per-layer maps [B, h, r, n] -> one [B, layers, h, r, n] tensor. */
function stackLayers(maps: TensorData[], spec: AttentionMapSpec, rows: number[]): AttentionMap {
  const [batch, heads, r, n] = maps[0]!.dims as [number, number, number, number];
  if (heads !== writtenHeads(spec) || r !== rows.length) throw new Error(`attention output has shape [${maps[0]!.dims}], expected ${writtenHeads(spec)} heads × ${rows.length} rows`);
  const per = heads * r * n;
  const L = maps.length;
  const data = new Float32Array(batch * L * per);
  maps.forEach((m, l) => {
    const src = m.data as Float32Array;
    for (let b = 0; b < batch; b++) data.set(src.subarray(b * per, (b + 1) * per), (b * L + l) * per);
  });
  return { data, shape: [batch, L, heads, r, n], layers: spec.layers, heads: spec.heads, rows };
}

function isTensor(x: Record<string, TensorData> | TensorData): x is TensorData {
  return Array.isArray((x as Partial<TensorData>).dims);
}

function singleOutput(names: string[], t: TensorData): Record<string, TensorData> {
  if (names.length !== 1) throw new Error(`this model's trunk has several outputs (${names.join(', ')}); pass the record from trunk()`);
  return { [names[0]!]: t };
}
