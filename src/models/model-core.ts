/**
 * A loaded model, the forward runner: an architecture, its weights inside a session runner's worker,
 * and the two sessions (trunk, head). The runner is onnxruntime-node on Node (model.ts sets that
 * default) or onnxruntime-web in the browser; nothing here depends on which. `predict` runs the trunk
 * on overlapping tiles when the input is longer than `tileLength` (trunk-tiler.ts), which bounds
 * memory and gives exactly the untiled result. Input gradients are delegated to a gradient runner
 * (gradient-runner.ts) that makes its own sessions on the first request.
 */
import { Graph } from '../engine/graph.js';
import type { EngineOptions, TensorData } from '../engine/protocol.js';
import type { SessionRunner } from '../engine/runner.js';
import { checkWeights, type WeightSet } from '../weights/weight-set.js';
import { LayerContext, type ConvLayout } from './layers.js';
import { logitsOutputName, PositionFeeds, trunkGrid, type Architecture, type HeadExtras } from './architecture.js';
import { ATTENTION_ROWS, attentionOutputName, checkAttentionRows, checkAttentionSpec, writtenHeads, type AttentionMapSpec } from './attention-maps.js';
import { oneHotInto } from '../genome/one-hot.js';
import { checkObjective, objectiveFeeds, type Objective, type ObjectiveForm } from './gradients.js';
import { GradientRunner } from './gradient-runner.js';
import { DEFAULT_TILE, TrunkTiler, type Tile } from './trunk-tiler.js';
import { StretchTrunk } from './stretch-trunk.js';
import { SessionSet } from './session-set.js';
import { LengthError, type AttentionMap, type InputGradients, type KnownTrunk, type ModelOptions, type OneHotBatch, type Prediction, type PredictOptions, type Track3D } from './model-types.js';

export type { Objective } from './gradients.js';
export * from './model-types.js';

type SessionPart = 'trunk' | 'head';
const SESSION_PARTS: SessionPart[] = ['trunk', 'head'];

function buildPart(arch: Architecture, part: SessionPart, c: LayerContext, extras?: HeadExtras): void {
  if (part === 'trunk') arch.buildTrunk(c);
  else arch.buildHead(c, extras);
}

export class Model {
  /** The runner a model starts when `create` is given none (Node: an onnxruntime-node worker thread). */
  static defaultRunner?: (options: EngineOptions) => SessionRunner;

  private positions: PositionFeeds | undefined;
  private readonly tiler: TrunkTiler;
  private readonly gradientRunner: GradientRunner;
  /** The prediction sessions, trunk and head: made at load, or with `gradientsOnly` on first need. */
  private readonly forwardSessions: SessionSet;
  private partWeights?: Map<SessionPart, string[]>;

  private constructor(
    readonly arch: Architecture,
    readonly source: string,
    private readonly engine: SessionRunner,
    private readonly ownsEngine: boolean,
    private readonly options: ModelOptions,
    /** Kept to re-pack weights for the gradients' sessions (file ranges are re-read then). */
    private readonly weights: WeightSet,
  ) {
    this.forwardSessions = new SessionSet(engine);
    this.tiler = new TrunkTiler(arch, options.tileLength ?? DEFAULT_TILE);
    this.gradientRunner = new GradientRunner({
      arch,
      source,
      engine,
      options,
      weights,
      tiler: this.tiler,
      positionFeeds: (length) => this.positionFeeds(length),
      trunk: (input) => this.trunk(input),
    });
  }

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
    const unused = [...shapes.keys()].filter((n) => !used.has(n) && !arch.unusedWeight?.(n));
    if (unused.length) throw new Error(`${arch.kind}: weights expected but used by no graph: ${unused.join(', ')}`);
    return parts;
  }

  /**
   * Checks the weights against the architecture, then makes the two sessions inside a session runner
   * (`engine`, else a new default runner that the model owns and closes); with `gradientsOnly` the
   * sessions are made when a prediction first needs them instead.
   */
  static async create(arch: Architecture, weights: WeightSet, source: string, options: ModelOptions = {}, engine?: SessionRunner): Promise<Model> {
    arch.adaptToWeights?.(weights.shapes());
    checkWeights(weights, arch.expectedWeights(), source);
    if (options.attention) checkAttentionSpec(options.attention, arch.transformer);
    const start = Model.defaultRunner;
    if (!engine && !start) throw new Error('no session runner: pass one to Model.create');
    const eng = engine ?? start!(options);
    const model = new Model(arch, source, eng, !engine, options, weights);
    try {
      // Every expected weight must be read by some graph: checked at load even when no session is made yet.
      model.sessionWeights();
      if (!options.gradientsOnly) for (const part of SESSION_PARTS) await model.predictionSession(part);
    } catch (e) {
      if (!engine) await eng.close();
      throw e;
    }
    return model;
  }

  /** The weights each prediction session reads (`weightParts`, worked out once). */
  private sessionWeights(): Map<SessionPart, string[]> {
    return (this.partWeights ??= new Map(Model.weightParts(this.arch, this.options.layout ?? '2d').map((p) => [p.id, p.names])));
  }

  /**
   * Makes a prediction session once (a failure is retried on the next call). Its weights get their own
   * blob, dropped once ONNX Runtime has copied it, so peak memory holds at most one part twice.
   */
  private predictionSession(part: SessionPart): Promise<void> {
    return this.forwardSessions.once(part, async () => {
      const { arch, weights, options } = this;
      const layout = options.layout ?? '2d';
      const shapes = new Map(arch.expectedWeights().map((t) => [t.name, t.shape]));
      const { spec, offsets } = weights.pack(this.sessionWeights().get(part)!);
      const graph = new Graph(`${arch.kind}_${part}`);
      buildPart(arch, part, new LayerContext(graph, (n) => offsets.get(n), shapes, layout, part), { attention: options.attention, logits: options.logits });
      await this.engine.loadBlob(part, spec);
      await this.engine.createSession(part, graph.toModel(), [part]);
      await this.engine.dropBlob(part, { poison: options.poisonWeightBlob });
    });
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
    return (this.positions ??= new PositionFeeds(this.arch, this.options.gammaTable)).feeds(length);
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
  async trunk(input: OneHotBatch, onTile?: (done: number, total: number) => void, known?: KnownTrunk): Promise<Record<string, TensorData>> {
    const { length } = input;
    const tiles = known ? this.tiler.around(length, known.start, known.end) : this.tiler.tiles(length);
    if (tiles.length === 1 && !known) {
      const result = await this.runTrunk(input.data, input.batch, length);
      onTile?.(1, 1);
      return result;
    }
    const result = known?.result ?? this.tiler.empty(input.batch, length);
    await known?.fill(result);
    for (const [i, tile] of tiles.entries()) {
      await this.trunkTile(input, tile, result);
      onTile?.(i + 1, tiles.length);
    }
    return result;
  }

  /**
   * Exact trunk features of `alt`, a batch that equals the one `ref` was computed from except at
   * bases [start, end): only the trunk positions those bases reach (the receptive field) are
   * recomputed, on one tile, and spliced into a copy of `ref`. For a SNV that is ~1 % of the trunk.
   */
  async trunkPatch(ref: Record<string, TensorData>, alt: OneHotBatch, start: number, end: number): Promise<Record<string, TensorData>> {
    const tile = this.tiler.patch(alt.length, start, end);
    const result: Record<string, TensorData> = {};
    for (const [name, t] of Object.entries(ref)) result[name] = { ...t, dims: [...t.dims], data: (t.data as Float32Array).slice() };
    await this.trunkTile(alt, tile, result);
    return result;
  }

  /** The trunk on the whole of `input` in one pass, untiled: for callers that cut their own tiles (stretch-trunk.ts). */
  trunkOnce(input: OneHotBatch): Promise<Record<string, TensorData>> {
    return this.runTrunk(input.data, input.batch, input.length);
  }

  /**
   * The trunk along a stretch of `length` bp of overlapping windows of `windowLength` bp, read
   * through `read` (stretch-trunk.ts): tiles of the window's core length, each computed once.
   */
  stretchTrunk(length: number, windowLength: number, read: (start: number, end: number) => Promise<OneHotBatch>): StretchTrunk {
    return new StretchTrunk(this.tiler, length, this.tiler.coreLength(windowLength), async (start, end) => this.trunkOnce(await read(start, end)));
  }

  /**
   * bp at a window end whose trunk outputs depend on the window itself (its zero padding, and
   * `vacated` bp of N fill a shifted run puts there): the receptive-field radius plus `vacated`,
   * rounded up to the trunk grid. Beyond it, every trunk position is a function of the genome alone.
   */
  trunkMargin(vacated = 0): number {
    const grid = trunkGrid(this.arch.trunkOutputs);
    return Math.ceil((this.arch.trunkRadiusBp + vacated) / grid) * grid;
  }

  /** Trunk FLOPs for `length` bp of input (they scale with the length). */
  trunkFlops(length: number): number {
    const stages = this.arch.flops(length).stages;
    return this.arch.trunkStages.reduce((a, s) => a + (stages[s] ?? 0), 0);
  }

  private async runTrunk(data: Float32Array, batch: number, length: number): Promise<Record<string, TensorData>> {
    await this.predictionSession('trunk');
    const names = this.arch.trunkOutputs.map((o) => o.name);
    return this.engine.run('trunk', { dna: { dtype: 'float32', dims: [batch, length, 4], data } }, names);
  }

  /** Computes a tile's trunk outputs and writes its core's into `result` (the whole sequence's). */
  private async trunkTile(input: OneHotBatch, tile: Tile, result: Record<string, TensorData>): Promise<void> {
    const { batch, length } = input;
    this.tiler.place(await this.runTrunk(this.tiler.input(input, tile), batch, tile.te - tile.ts), batch, length, tile, result);
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
    await this.predictionSession('head');
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
    return this.head(await this.trunk(batch, opts.onTile, opts.knownTrunk), batch.length, opts);
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
    return this.gradientRunner.run(batch, form, objectiveFeeds(objective, this.arch.tracks(objective.head), bins), opts.onProgress);
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
    return this.gradientRunner.run(batch, form, { objective_cotangent: { dtype: 'float32', dims: [batch.batch, bins, tracks], data: cotangent } });
  }

  /**
   * Makes the backward sessions `inputGradients` needs for a head (with or without the log
   * transform) now rather than on the first call; returns the head (or checkpointed tail) session's id.
   */
  prepareGradients(head: string, log = false): Promise<string> {
    return this.gradientRunner.prepare({ kind: 'selection', head, log });
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
