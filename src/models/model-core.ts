/**
 * A loaded model: an architecture, its weights inside a session runner's worker, and the two sessions
 * (trunk, head). The runner is onnxruntime-node on Node (model.ts sets that default) or
 * onnxruntime-web in the browser; nothing here depends on which. `predict` runs the trunk on overlapping tiles when the input is longer than `tileLength`,
 * which bounds memory and gives exactly the untiled result (tiles align with the pooling grid and
 * their halos cover the receptive field).
 */
import { Graph } from '../engine/graph.js';
import type { EngineOptions, TensorData } from '../engine/protocol.js';
import type { SessionRunner } from '../engine/runner.js';
import { checkWeights, type WeightSet } from '../weights/weight-set.js';
import { LayerContext, type ConvLayout } from './layers.js';
import { trunkGrid, type Architecture, type GammaTable } from './architecture.js';
import { oneHotInto } from '../genome/one-hot.js';

export interface ModelOptions extends EngineOptions {
  /** Core length in bp of a trunk tile (rounded to the trunk grid); 0 disables tiling. */
  tileLength?: number;
  /** Convolution layout: '2d' (height-1 NCHW, default) or '1d'. */
  layout?: ConvLayout;
  /** Gamma positional table to use at the length it was made for (Enformer `use_tf_gamma`). */
  gammaTable?: GammaTable;
  /** Testing aid: overwrite the weight blob after the sessions are made (proves ORT holds its own copy). */
  poisonWeightBlob?: boolean;
}

export interface Track3D {
  data: Float32Array;
  shape: [number, number, number];
}

export interface Prediction {
  heads: Record<string, Track3D>;
  embeddings?: Track3D;
}

export interface PredictOptions {
  heads?: string[];
  embeddings?: boolean;
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

function buildPart(arch: Architecture, part: SessionPart, c: LayerContext): void {
  if (part === 'trunk') arch.buildTrunk(c);
  else arch.buildHead(c);
}

const DEFAULT_TILE = 32_768;

export class Model {
  /** The runner a model starts when `create` is given none (Node: an onnxruntime-node worker thread). */
  static defaultRunner?: (options: EngineOptions) => SessionRunner;

  private positionsCache = new Map<number, Record<string, TensorData>>();

  private constructor(
    readonly arch: Architecture,
    readonly source: string,
    private readonly engine: SessionRunner,
    private readonly ownsEngine: boolean,
    private readonly options: ModelOptions,
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
    const start = Model.defaultRunner;
    if (!engine && !start) throw new Error('no session runner: pass one to Model.create');
    const eng = engine ?? start!(options);
    try {
      for (const { id, names } of Model.weightParts(arch, layout)) {
        const { spec, offsets } = weights.pack(names);
        const graph = new Graph(`${arch.kind}_${id}`);
        buildPart(arch, id, new LayerContext(graph, (n) => offsets.get(n), shapes, layout, id));
        await eng.loadBlob(id, spec);
        await eng.createSession(id, graph.toModel(), [id]);
        await eng.dropBlob(id, { poison: options.poisonWeightBlob });
      }
    } catch (e) {
      if (!engine) await eng.close();
      throw e;
    }
    return new Model(arch, source, eng, !engine, options);
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
    const grid = this.trunkGrid(length);
    const requested = this.options.tileLength ?? DEFAULT_TILE;
    const core = requested <= 0 ? length : Math.max(grid, Math.floor(requested / grid) * grid);
    if (core >= length) {
      const result = await this.runTrunk(input.data, input.batch, length);
      onTile?.(1, 1);
      return result;
    }
    const result = this.emptyTrunk(input.batch, length);
    const tiles = Math.ceil(length / core);
    for (let s = 0, i = 1; s < length; s += core, i++) {
      await this.trunkTile(input, s, Math.min(length, s + core), result);
      onTile?.(i, tiles);
    }
    return result;
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
    const halo = this.arch.trunkHaloBp;
    const ts = Math.max(0, s - halo);
    const te = Math.min(length, e + halo);
    const tileLen = te - ts;
    const tile = new Float32Array(batch * tileLen * 4);
    for (let b = 0; b < batch; b++) tile.set(input.data.subarray((b * length + ts) * 4, (b * length + te) * 4), b * tileLen * 4);
    const r = await this.runTrunk(tile, batch, tileLen);
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
    const fetches = [...heads, ...(opts.embeddings ? ['embeddings'] : [])];
    const out = await this.engine.run(
      'head',
      {
        ...features,
        ...this.positionFeeds(length),
        crop: { dtype: 'int64', dims: [2], data: BigInt64Array.from([BigInt(start), BigInt(end)]) },
      },
      fetches,
    );
    const asTrack = (t: TensorData): Track3D => ({ data: t.data as Float32Array, shape: t.dims as [number, number, number] });
    const result: Prediction = { heads: {} };
    for (const h of heads) result.heads[h] = asTrack(out[h]!);
    if (opts.embeddings) result.embeddings = asTrack(out.embeddings!);
    return result;
  }

  /** Predicts a batch of equal-length sequences (strings or one-hot). */
  async predict(input: string[] | OneHotBatch, opts: PredictOptions = {}): Promise<Prediction> {
    const batch = Array.isArray(input) ? Model.encode(input) : input;
    this.checkLength(batch.length);
    return this.head(await this.trunk(batch, opts.onTile), batch.length, opts);
  }

  async close(): Promise<void> {
    if (this.ownsEngine) await this.engine.close();
  }
}

function isTensor(x: Record<string, TensorData> | TensorData): x is TensorData {
  return Array.isArray((x as Partial<TensorData>).dims);
}

function singleOutput(names: string[], t: TensorData): Record<string, TensorData> {
  if (names.length !== 1) throw new Error(`this model's trunk has several outputs (${names.join(', ')}); pass the record from trunk()`);
  return { [names[0]!]: t };
}
