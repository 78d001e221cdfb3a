/**
 * A loaded AlphaGenome with every output: its configuration, its weights inside a session runner, and
 * one session per stage (network.ts). The local stages run on overlapping tiles (trunk-tiler.ts: each
 * tile's core exact, its halo covering the stage's receptive field), so a 1-Mb window never holds its
 * 1-bp activations whole:
 *
 *   encoder tiles  → U-Net skips (1 … 64 bp) and the 128-bp trunk, kept for the whole window
 *   tower          → 128-bp heads, contact maps, the tower output and 128-bp embedding (global)
 *   decoder tiles  → 1-bp heads, splice sites and usage, each tile's core handed to the sink as it
 *                    is made; the splice-site top-K kept across tiles (splice-site-selection.ts)
 *   junctions      → the junction head on the window's top-K sites
 *
 * Outputs go to a sink (`AlphaGenomeSink`): the default one assembles whole tensors; predict --fasta
 * streams them to disk instead (tasks/predict/alphagenome-fasta.ts).
 */
import { Graph } from '../../engine/graph.js';
import type { EngineOptions, TensorData } from '../../engine/protocol.js';
import type { SessionRunner } from '../../engine/runner.js';
import { checkWeights, type WeightSet } from '../../weights/weight-set.js';
import { LayerContext } from '../layers.js';
import { LengthError, type OneHotBatch } from '../model-types.js';
import { DEFAULT_TILE, TrunkTiler } from '../trunk-tiler.js';
import type { TrunkOutput } from '../architecture.js';
import { alphaGenomeLengthProblem, expectedAlphaGenomeWeights, ORGANISMS, trackOutputs, type AlphaGenomeConfig } from './config.js';
import { buildDecoderStage, buildEncoderStage, buildJunctionStage, buildTowerStage, DNA_INPUT, EMBEDDINGS_128, headOutputNames, intermediateNames, ORGANISM_INPUT, skipName, TOWER_OUT, TRUNK } from './network.js';
import { SpliceSiteSelection } from './splice-site-selection.js';
import { SkipStore } from './skip-store.js';
import type { SpillFile } from '../../engine/tensor-store.js';

export type Organism = (typeof ORGANISMS)[number];

export interface AlphaGenomeOptions extends EngineOptions {
  /** Also output every intermediate of `intermediateNames` (layer-by-layer checks; the window then runs as one tile). */
  intermediates?: boolean;
  /**
   * Attend in this many query chunks (on pair-row boundaries; default 8; 1: the whole [B, 8, S, S]
   * logits at once): bounds the attention's memory to 1/chunks of it (at 1 Mb one logits tensor is
   * 2 GiB). Each query row's softmax is computed the same way whichever chunk holds it; chunks beyond
   * a short window's pair rows are empty.
   */
  queryChunks?: number;
  /** Core length in bp of the encoder's and decoder's tiles (0: the whole window as one tile); default 32,768. */
  tileLength?: number;
  /**
   * Bytes of U-Net skips (≈ 6 KB per bp of a batch item) kept in memory between the encoder and the
   * decoder tiles; a window with more spills them to `openSpill`'s file (default 1 GiB). Without
   * `openSpill` they always stay in memory.
   */
  skipMemory?: number;
  /** Opens the spill file for skips over `skipMemory` (Node: engine/spill-file.ts `openSpillFile`, set by load.ts). */
  openSpill?: () => SpillFile;
  /** `predict` also gives `embeddings_1bp` [B, L, E1] (for `junctionHead` on other splice sites: variant-outputs.ts). */
  embeddings1bp?: boolean;
}

/** Where a forward's outputs go, per batch item: position ranges of the per-position outputs as tiles finish, the rest whole. */
export interface AlphaGenomeSink {
  /** Output `name` of batch item `item` at positions [first, first + rows) of its own resolution: `data` [rows, channels]. */
  rows(name: string, item: number, first: number, data: Float32Array): void | Promise<void>;
  /** A whole output of batch item `item` (contact maps, junctions, positions, masks, intermediates), `dims` without the batch axis. */
  whole(name: string, item: number, data: Float32Array | BigInt64Array, dims: number[]): void | Promise<void>;
}

/** Shape of each output for one sequence of `length` bp (without the batch axis), and its element type. */
export function alphaGenomeOutputShapes(cfg: AlphaGenomeConfig, length: number): Map<string, { dims: number[]; dtype: 'float32' | 'int64' }> {
  const shapes = new Map<string, { dims: number[]; dtype: 'float32' | 'int64' }>();
  const f = (name: string, ...dims: number[]) => shapes.set(name, { dims, dtype: 'float32' });
  const P = length / cfg.pairResolution;
  const K = cfg.numSpliceSites;
  const usage = Math.max(...cfg.spliceUsageTracks);
  for (const t of trackOutputs(cfg)) f(t.name, length / t.resolution, cfg.tracks[t.head]);
  f('contact_maps', P, P, cfg.contactMapTracks);
  f('splice_sites_logits', length, cfg.spliceClasses);
  f('splice_sites_probs', length, cfg.spliceClasses);
  f('splice_site_usage_logits', length, usage);
  f('splice_site_usage_predictions', length, usage);
  f('splice_site_usage_track_mask', 1, usage);
  shapes.set('splice_junctions_splice_site_positions', { dims: [4, K], dtype: 'int64' });
  f('splice_junctions_pred_counts', K, K, 2 * Math.max(...cfg.junctionTissues));
  f('splice_junctions_mask', K, K, 2 * Math.max(...cfg.junctionTissues));
  f('embeddings_1bp', length, cfg.embeddings1Dim);
  return shapes;
}

/** An organism name or index → its index, or an error naming the choices. */
export function organismIndex(organism: Organism | number | string, cfg: AlphaGenomeConfig): number {
  const i = typeof organism === 'number' ? organism : (ORGANISMS as readonly string[]).indexOf(organism);
  if (!Number.isInteger(i) || i < 0 || i >= cfg.numOrganisms) {
    throw new Error(`unknown organism ${JSON.stringify(organism)} (this AlphaGenome has: ${ORGANISMS.slice(0, cfg.numOrganisms).join(', ')})`);
  }
  return i;
}

/**
 * 768 bp: the decoder's k5 convolutions, conv_out at 1 … 64 bp and conv_in at 2 … 128 bp (2
 * positions each side), rounded up to the 128-bp grid its tiles start on; the up-sampling repeats and
 * the per-position heads widen nothing.
 */
function decoderHaloBp(): number {
  let radius = 0;
  for (let r = 1; r <= 64; r *= 2) radius += 2 * r + 2 * (2 * r);
  return Math.ceil(radius / 128) * 128;
}

/** 640 bp: the encoder's 513-bp receptive field (tracks-architecture.ts `trunkRadiusBp`) on the 128-bp grid. */
const ENCODER_HALO = 640;

/** Assembles whole [B, …] tensors (what `predict` returns without a sink). */
class WholeTensors implements AlphaGenomeSink {
  readonly tensors: Record<string, TensorData> = {};

  constructor(
    private readonly batch: number,
    private readonly shapes: Map<string, { dims: number[]; dtype: 'float32' | 'int64' }>,
  ) {}

  private tensor(name: string, itemDims?: number[]): TensorData {
    let t = this.tensors[name];
    if (!t) {
      const shape = this.shapes.get(name);
      const dims = [this.batch, ...(shape?.dims ?? itemDims!)];
      const n = dims.reduce((a, b) => a * b, 1);
      t = this.tensors[name] = shape?.dtype === 'int64' ? { dtype: 'int64', dims, data: new BigInt64Array(n) } : { dtype: 'float32', dims, data: new Float32Array(n) };
    }
    return t;
  }

  rows(name: string, item: number, first: number, data: Float32Array): void {
    const t = this.tensor(name);
    const per = t.data.length / this.batch;
    const channels = t.dims.at(-1)!;
    (t.data as Float32Array).set(data, item * per + first * channels);
  }

  whole(name: string, item: number, data: Float32Array | BigInt64Array, dims: number[]): void {
    const t = this.tensor(name, dims);
    (t.data as Float32Array).set(data as Float32Array, item * (t.data.length / this.batch));
  }
}

export class AlphaGenomeModel {
  static defaultRunner?: (options: EngineOptions) => SessionRunner;

  private readonly encoderTiler: TrunkTiler;
  /** Tiles of the decoder (its grid and halo), and the slicing of its 128-bp inputs (tower output, 128-bp embedding) into them. */
  private readonly decoderTiler: TrunkTiler;
  private readonly skips: TrunkOutput[];
  private readonly decoderOutputs: string[];

  private constructor(
    readonly config: AlphaGenomeConfig,
    readonly source: string,
    private readonly engine: SessionRunner,
    private readonly ownsEngine: boolean,
    private readonly options: AlphaGenomeOptions,
  ) {
    const cfg = config;
    const skips: TrunkOutput[] = cfg.encoderChannels.map((channels, level) => ({ name: skipName(level), resolution: 2 ** level, channels }));
    const tile = options.intermediates ? 0 : (options.tileLength ?? DEFAULT_TILE);
    // The tiler places the 128-bp trunk; the skips go to a SkipStore (in memory or spilled).
    this.encoderTiler = new TrunkTiler({ kind: 'alphagenome encoder', trunkOutputs: [{ name: TRUNK, resolution: 128, channels: cfg.trunkDim }], trunkHaloBp: ENCODER_HALO }, tile);
    this.skips = skips;
    const coarse: TrunkOutput[] = [{ name: TOWER_OUT, resolution: 128, channels: cfg.trunkDim }, { name: EMBEDDINGS_128, resolution: 128, channels: cfg.embeddings128Dim }];
    this.decoderTiler = new TrunkTiler({ kind: 'alphagenome decoder', trunkOutputs: coarse, trunkHaloBp: decoderHaloBp() }, tile);
    this.decoderOutputs = [...trackOutputs(cfg).filter((t) => t.resolution === 1).map((t) => t.name), 'splice_sites_logits', 'splice_sites_probs', 'splice_site_usage_logits', 'splice_site_usage_predictions'];
  }

  /** Checks the weights (every missing, mis-shaped or unexpected name is listed), then makes the stages' sessions. */
  static async create(config: AlphaGenomeConfig, weights: WeightSet, source: string, options: AlphaGenomeOptions = {}, engine?: SessionRunner): Promise<AlphaGenomeModel> {
    const expected = expectedAlphaGenomeWeights(config);
    checkWeights(weights, expected, source);
    const start = AlphaGenomeModel.defaultRunner;
    if (!engine && !start) throw new Error('no session runner: pass one to AlphaGenomeModel.create');
    // A function cannot cross into the engine's worker: the runner gets the plain options only.
    const { openSpill: _spill, ...engineOptions } = options;
    const eng = engine ?? start!(engineOptions);
    try {
      const shapes = new Map(expected.map((t) => [t.name, t.shape]));
      const { spec, offsets } = weights.pack(expected.map((t) => t.name));
      await eng.loadBlob('weights', spec);
      const intermediates = options.intermediates === true;
      const stages: [string, (c: LayerContext) => void][] = [
        ['encoder', (c) => buildEncoderStage(c, config, { skips: true, intermediates })],
        ['tower', (c) => buildTowerStage(c, config, { intermediates, queryChunks: options.queryChunks ?? 8 })],
        ['decoder', (c) => buildDecoderStage(c, config, { intermediates })],
        ['junctions', (c) => buildJunctionStage(c, config)],
      ];
      for (const [id, build] of stages) {
        const graph = new Graph(`alphagenome_${id}`);
        build(new LayerContext(graph, (n) => offsets.get(n), shapes, '1d'));
        await eng.createSession(id, graph.toModel(), ['weights']);
      }
      await eng.dropBlob('weights');
    } catch (e) {
      if (!engine) await eng.close();
      throw e;
    }
    return new AlphaGenomeModel(config, source, eng, !engine, options);
  }

  /** Throws a LengthError unless `length` bp can be run. */
  checkLength(length: number, what = 'sequence'): void {
    const problem = alphaGenomeLengthProblem(this.config, length);
    if (problem) throw new LengthError(`${what} has length ${length} bp; ${problem}`);
  }

  /** Names of the head outputs of `predict`. */
  get outputNames(): string[] {
    return headOutputNames(this.config);
  }

  /**
   * Every head for a batch of equal-length one-hot sequences, all of one organism or one each
   * (`organism` per batch item): into `sink` when one is given (returns {}), else as whole tensors.
   * With `intermediates` (a model made with that option) the intermediates are returned too.
   */
  async predict(batch: OneHotBatch, organism: Organism | number | (Organism | number)[] = 'human', opts: { intermediates?: boolean; sink?: AlphaGenomeSink } = {}): Promise<Record<string, TensorData>> {
    const { length, batch: B } = batch;
    this.checkLength(length);
    const organisms = Array.isArray(organism) ? organism : Array.from({ length: B }, () => organism);
    if (organisms.length !== B) throw new Error(`${organisms.length} organisms for a batch of ${B}`);
    if (opts.intermediates && !this.options.intermediates) throw new Error('intermediates need a model made with the `intermediates` option');
    const org: TensorData = { dtype: 'int64', dims: [B], data: BigInt64Array.from(organisms.map((o) => BigInt(organismIndex(o, this.config)))) };
    const whole = opts.sink ? undefined : new WholeTensors(B, alphaGenomeOutputShapes(this.config, length));
    const sink = opts.sink ?? whole!;
    const taps = opts.intermediates ? intermediateNames(this.config) : [];
    const emitWhole = async (name: string, t: TensorData) => {
      const per = t.data.length / B;
      for (let b = 0; b < B; b++) await sink.whole(name, b, t.data.subarray(b * per, (b + 1) * per) as Float32Array | BigInt64Array, t.dims.slice(1));
    };

    const encoded = await this.encode(batch, taps, emitWhole);
    const selections = Array.from({ length: B }, () => SpliceSiteSelection.of(this.config));
    try {
      const towerFetches = [TOWER_OUT, EMBEDDINGS_128, ...trackOutputs(this.config).filter((t) => t.resolution === 128).map((t) => t.name), 'contact_maps'];
      const tower = await this.engine.run('tower', { [TRUNK]: encoded.trunk, [ORGANISM_INPUT]: org }, [...towerFetches, ...taps.filter((n) => n.startsWith('tower_') || n === 'embeddings_pair')]);
      for (const [name, t] of Object.entries(tower)) if (name !== TOWER_OUT) await emitWhole(name, t);
      await this.decode(batch, encoded.skips, { [TOWER_OUT]: tower[TOWER_OUT]!, [EMBEDDINGS_128]: tower[EMBEDDINGS_128]! }, org, taps, selections, sink, emitWhole);
    } finally {
      encoded.skips.close();
    }

    const chosen = selections.map((s) => s.result());
    const K = this.config.numSpliceSites;
    const E = this.config.embeddings1Dim;
    const siteEmbeddings = new Float32Array(B * 4 * K * E);
    const positions = new BigInt64Array(B * 4 * K);
    chosen.forEach((c, b) => {
      siteEmbeddings.set(c.embeddings, b * 4 * K * E);
      positions.set(c.positions, b * 4 * K);
    });
    const positionsTensor: TensorData = { dtype: 'int64', dims: [B, 4, K], data: positions };
    await emitWhole('splice_junctions_splice_site_positions', positionsTensor);
    const junctions = await this.engine.run('junctions', { site_embeddings: { dtype: 'float32', dims: [B, 4 * K, E], data: siteEmbeddings }, splice_site_positions: positionsTensor, [ORGANISM_INPUT]: org }, ['splice_junctions_pred_counts', 'splice_junctions_mask']);
    for (const [name, t] of Object.entries(junctions)) await emitWhole(name, t);
    return whole ? orderOutputs(whole.tensors, [...this.outputNames, ...taps]) : {};
  }

  /** The encoder on its tiles: the trunk of the whole window and its skips in a store (and its intermediates when run as one tile). */
  private async encode(batch: OneHotBatch, taps: string[], emitWhole: (name: string, t: TensorData) => Promise<void>): Promise<{ trunk: TensorData; skips: SkipStore }> {
    const { length, batch: B } = batch;
    const tiler = this.encoderTiler;
    const names = [...this.skips.map((s) => s.name), TRUNK];
    const tiles = tiler.tiles(length);
    const spill = this.options.openSpill && SkipStore.bytes(this.skips, B, length) > (this.options.skipMemory ?? 2 ** 30) ? this.options.openSpill() : undefined;
    const skips = new SkipStore(this.skips, B, length, spill);
    const trunk = tiler.empty(B, length);
    for (const tile of tiles) {
      const extra = tiles.length === 1 ? taps.filter((n) => n.startsWith('encoder_')) : [];
      const out = await this.engine.run('encoder', { [DNA_INPUT]: { dtype: 'float32', dims: [B, tile.te - tile.ts, 4], data: tiler.input(batch, tile) } }, [...names, ...extra]);
      skips.put(out, tile.ts, tile.te - tile.ts, tile.s, tile.e);
      tiler.place(out, B, length, tile, trunk);
      for (const n of extra) await emitWhole(n, out[n]!);
    }
    return { trunk: trunk[TRUNK]!, skips };
  }

  /** The decoder on its tiles: each tile's 1-bp outputs (its core) to the sink, its splice-site probabilities and embeddings to the selections. */
  private async decode(
    batch: OneHotBatch,
    skips: SkipStore,
    coarse: Record<string, TensorData>,
    org: TensorData,
    taps: string[],
    selections: SpliceSiteSelection[],
    sink: AlphaGenomeSink,
    emitWhole: (name: string, t: TensorData) => Promise<void>,
  ): Promise<void> {
    const { length, batch: B } = batch;
    const tiler = this.decoderTiler;
    const E = this.config.embeddings1Dim;
    const tiles = tiler.tiles(length);
    for (const [i, tile] of tiles.entries()) {
      const tileLength = tile.te - tile.ts;
      let feeds: Record<string, TensorData> = coarse;
      if (tiles.length > 1) {
        feeds = tiler.empty(B, tileLength);
        for (let b = 0; b < B; b++) tiler.copy({ outputs: coarse, length, item: b, at: tile.ts }, { outputs: feeds, length: tileLength, item: b, at: 0 }, tileLength);
      }
      const skipFeeds = skips.whole && tiles.length === 1 ? skips.whole : await this.skipTile(skips, B, tile.ts, tile.te);
      const extra = tiles.length === 1 ? taps.filter((n) => n.startsWith('decoder_')) : [];
      const out = await this.engine.run('decoder', { ...feeds, ...skipFeeds, [ORGANISM_INPUT]: org }, [...this.decoderOutputs, 'splice_site_usage_track_mask', 'embeddings_1bp', ...extra]);
      const skip = tile.s - tile.ts;
      const rows = tile.e - tile.s;
      for (const name of this.decoderOutputs) {
        const t = out[name]!;
        const C = t.dims[2]!;
        for (let b = 0; b < B; b++) await sink.rows(name, b, tile.s, (t.data as Float32Array).subarray((b * tileLength + skip) * C, (b * tileLength + skip + rows) * C));
      }
      const probs = out.splice_sites_probs!.data as Float32Array;
      const emb = out.embeddings_1bp!.data as Float32Array;
      for (let b = 0; b < B; b++) {
        const from = b * tileLength + skip;
        selections[b]!.offer(tile.s, rows, probs.subarray(from * 5, (from + rows) * 5), emb.subarray(from * E, (from + rows) * E));
      }
      if (i === 0) await emitWhole('splice_site_usage_track_mask', out.splice_site_usage_track_mask!);
      if (taps.includes('embeddings_1bp')) await emitWhole('embeddings_1bp', out.embeddings_1bp!);
      else if (this.options.embeddings1bp) for (let b = 0; b < B; b++) await sink.rows('embeddings_1bp', b, tile.s, emb.subarray((b * tileLength + skip) * E, (b * tileLength + skip + rows) * E));
      for (const n of extra) await emitWhole(n, out[n]!);
    }
  }

  /** The skips of bp [ts, te) of every batch item, as decoder feeds. */
  private async skipTile(skips: SkipStore, B: number, ts: number, te: number): Promise<Record<string, TensorData>> {
    const feeds: Record<string, TensorData> = {};
    for (const { name, resolution, channels } of this.skips) {
      const rows = (te - ts) / resolution;
      const data = new Float32Array(B * rows * channels);
      for (let b = 0; b < B; b++) await skips.read(name, b, ts / resolution, te / resolution, data, b * rows * channels);
      feeds[name] = { dtype: 'float32', dims: [B, rows, channels], data };
    }
    return feeds;
  }

  /** The junction head alone on given 1-bp embeddings [B, L, E1] and splice-site positions [B, 4, K] (-1: none). */
  async junctionHead(embeddings1bp: TensorData, positions: TensorData, organism: Organism | number = 'human'): Promise<Record<string, TensorData>> {
    const [B, L, E] = embeddings1bp.dims as [number, number, number];
    const K = this.config.numSpliceSites;
    const emb = embeddings1bp.data as Float32Array;
    const pos = positions.data as BigInt64Array;
    const sites = new Float32Array(B * 4 * K * E);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < 4 * K; j++) {
        const p = Number(pos[b * 4 * K + j]!);
        if (p >= 0) sites.set(emb.subarray((b * L + p) * E, (b * L + p + 1) * E), (b * 4 * K + j) * E);
      }
    }
    const index = BigInt(organismIndex(organism, this.config));
    return this.engine.run(
      'junctions',
      { site_embeddings: { dtype: 'float32', dims: [B, 4 * K, E], data: sites }, splice_site_positions: positions, [ORGANISM_INPUT]: { dtype: 'int64', dims: [B], data: BigInt64Array.from({ length: B }, () => index) } },
      ['splice_junctions_pred_counts', 'splice_junctions_mask'],
    );
  }

  async close(): Promise<void> {
    if (this.ownsEngine) await this.engine.close();
  }
}

/** The outputs in `order` (the port's), then any others. */
function orderOutputs(tensors: Record<string, TensorData>, order: string[]): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const n of order) if (tensors[n]) out[n] = tensors[n]!;
  for (const [n, t] of Object.entries(tensors)) out[n] ??= t;
  return out;
}
