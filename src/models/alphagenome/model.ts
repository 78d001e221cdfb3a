/**
 * A loaded AlphaGenome: its configuration, its weights inside a session runner, and one session for
 * the whole forward (every head in one run). Unlike Enformer and Borzoi it is not split into a
 * tileable trunk and a head: tiling (issue 24, item 2) is still to come, so a window is run whole.
 */
import { Graph } from '../../engine/graph.js';
import type { EngineOptions, TensorData } from '../../engine/protocol.js';
import type { SessionRunner } from '../../engine/runner.js';
import { checkWeights, type WeightSet } from '../../weights/weight-set.js';
import { LayerContext } from '../layers.js';
import { LengthError, type OneHotBatch } from '../model-types.js';
import { alphaGenomeLengthProblem, expectedAlphaGenomeWeights, ORGANISMS, type AlphaGenomeConfig } from './config.js';
import { buildAlphaGenome, buildJunctionHead, DNA_INPUT, headOutputNames, intermediateNames, ORGANISM_INPUT } from './network.js';

export type Organism = (typeof ORGANISMS)[number];

export interface AlphaGenomeOptions extends EngineOptions {
  /** Also output every intermediate of `intermediateNames` (layer-by-layer checks). */
  intermediates?: boolean;
  /** Also make a session of the junction head alone (`junctionHead`). */
  junctionHead?: boolean;
  /** `predict` also returns `embeddings_1bp` [B, L, E1] (for `junctionHead` on other splice sites). */
  embeddings1bp?: boolean;
  /**
   * Attend in this many query chunks (on pair-row boundaries; default 1, the whole [B, 8, S, S] logits
   * at once): bounds the attention's memory to 1/chunks of it (at 1 Mb one logits tensor is 2 GiB).
   * Each query row's softmax is computed the same way whichever chunk holds it. At most the window's
   * pair positions (length / 2,048).
   */
  queryChunks?: number;
}

/** An organism name or index → its index, or an error naming the choices. */
export function organismIndex(organism: Organism | number | string, cfg: AlphaGenomeConfig): number {
  const i = typeof organism === 'number' ? organism : (ORGANISMS as readonly string[]).indexOf(organism);
  if (!Number.isInteger(i) || i < 0 || i >= cfg.numOrganisms) {
    throw new Error(`unknown organism ${JSON.stringify(organism)} (this AlphaGenome has: ${ORGANISMS.slice(0, cfg.numOrganisms).join(', ')})`);
  }
  return i;
}

export class AlphaGenomeModel {
  static defaultRunner?: (options: EngineOptions) => SessionRunner;

  private constructor(
    readonly config: AlphaGenomeConfig,
    readonly source: string,
    private readonly engine: SessionRunner,
    private readonly ownsEngine: boolean,
    private readonly options: AlphaGenomeOptions,
  ) {}

  /** Checks the weights (every missing, mis-shaped or unexpected name is listed), then makes the session(s). */
  static async create(config: AlphaGenomeConfig, weights: WeightSet, source: string, options: AlphaGenomeOptions = {}, engine?: SessionRunner): Promise<AlphaGenomeModel> {
    const expected = expectedAlphaGenomeWeights(config);
    checkWeights(weights, expected, source);
    const start = AlphaGenomeModel.defaultRunner;
    if (!engine && !start) throw new Error('no session runner: pass one to AlphaGenomeModel.create');
    const eng = engine ?? start!(options);
    try {
      const shapes = new Map(expected.map((t) => [t.name, t.shape]));
      const { spec, offsets } = weights.pack(expected.map((t) => t.name));
      await eng.loadBlob('weights', spec);
      const graph = new Graph('alphagenome');
      buildAlphaGenome(new LayerContext(graph, (n) => offsets.get(n), shapes, '1d'), config, { intermediates: options.intermediates, queryChunks: options.queryChunks, embeddings1bp: options.embeddings1bp });
      await eng.createSession('alphagenome', graph.toModel(), ['weights']);
      if (options.junctionHead) {
        const junction = new Graph('alphagenome_junctions');
        buildJunctionHead(new LayerContext(junction, (n) => offsets.get(n), shapes, '1d'), config);
        await eng.createSession('junctions', junction.toModel(), ['weights']);
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
   * (`organism` per batch item). With `intermediates` (a model made with that option) the
   * intermediates are returned too.
   */
  async predict(batch: OneHotBatch, organism: Organism | number | (Organism | number)[] = 'human', opts: { intermediates?: boolean } = {}): Promise<Record<string, TensorData>> {
    this.checkLength(batch.length);
    const chunks = this.options.queryChunks ?? 1;
    if (chunks > batch.length / this.config.pairResolution) throw new LengthError(`sequence has length ${batch.length} bp: fewer pair positions (${batch.length / this.config.pairResolution}) than the model's ${chunks} query chunks`);
    const organisms = Array.isArray(organism) ? organism : Array.from({ length: batch.batch }, () => organism);
    if (organisms.length !== batch.batch) throw new Error(`${organisms.length} organisms for a batch of ${batch.batch}`);
    if (opts.intermediates && !this.options.intermediates) throw new Error('intermediates need a model made with the `intermediates` option');
    const feeds: Record<string, TensorData> = {
      [DNA_INPUT]: { dtype: 'float32', dims: [batch.batch, batch.length, 4], data: batch.data },
      [ORGANISM_INPUT]: { dtype: 'int64', dims: [batch.batch], data: BigInt64Array.from(organisms.map((o) => BigInt(organismIndex(o, this.config)))) },
    };
    const embeddings = this.options.embeddings1bp && !opts.intermediates ? ['embeddings_1bp'] : [];
    const fetches = [...this.outputNames, ...embeddings, ...(opts.intermediates ? intermediateNames(this.config) : [])];
    return this.engine.run('alphagenome', feeds, fetches);
  }

  /** The junction head alone on given 1-bp embeddings [B, L, E1] and splice-site positions [B, 4, K] (a model made with `junctionHead`). */
  async junctionHead(embeddings1bp: TensorData, positions: TensorData, organism: Organism | number = 'human'): Promise<Record<string, TensorData>> {
    if (!this.options.junctionHead) throw new Error('the junction head alone needs a model made with the `junctionHead` option');
    const batch = embeddings1bp.dims[0]!;
    const index = BigInt(organismIndex(organism, this.config));
    return this.engine.run(
      'junctions',
      { embeddings_1bp: embeddings1bp, splice_site_positions: positions, [ORGANISM_INPUT]: { dtype: 'int64', dims: [batch], data: BigInt64Array.from({ length: batch }, () => index) } },
      ['splice_junctions_pred_counts', 'splice_junctions_mask'],
    );
  }

  async close(): Promise<void> {
    if (this.ownsEngine) await this.engine.close();
  }
}
