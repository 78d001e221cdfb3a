/**
 * AlphaGenome as an `Architecture` of the model runner (model-core.ts): one organism's per-position
 * outputs at one resolution, concatenated into one head named after the organism. Every job of the
 * run core (predict over regions, FASTA and genomes, variants and their scorers, ISM, attribution,
 * attention maps) then runs AlphaGenome as it runs Enformer and Borzoi, and the trunk tiler runs its
 * encoder on overlapping tiles.
 *
 *   trunk  the encoder (convolutions and pools only): one-hot [B, L, 4] → the 128-bp trunk
 *          [B, L/128, D]; at 1 bp also the U-Net skips at 1, 2, …, 64 bp;
 *   head   + organism embedding → transformer tower (with its pair stack) → 128-bp embedding →
 *          128 bp: the track heads with a 128-bp output, in the port's head order;
 *          1 bp:   decoder → 1-bp embedding → the 1-bp track heads, then the splice-site
 *                  probabilities (5 classes) and the splice-site usage tracks.
 *
 * Contact maps and splice junctions are not per-position tracks; they come from the whole model
 * (model.ts, `predict --fasta … --out X.safetensors`). The organism is fixed when the graphs are
 * built (its embedding is added before the tower, so each organism is a tower pass of its own).
 */
import type { Value } from '../../engine/graph.js';
import type { TensorData } from '../../engine/protocol.js';
import type { ExpectedTensor } from '../../weights/weight-set.js';
import type { TargetsTable } from '../../formats/track-selection.js';
import type { Architecture, FlopCount, HeadExtras, HeadParameters, HeadSegments, TrunkOutput } from '../architecture.js';
import { AttentionMaps, type TransformerShape } from '../attention-maps.js';
import type { LayerContext } from '../layers.js';
import { alphaGenomeLengthProblem, expectedAlphaGenomeWeights, ORGANISMS, trackOutputs, type AlphaGenomeConfig } from './config.js';
import { buildEncoderStage, skipName, towerOf, TRUNK } from './network.js';
import { sequenceDecoder } from './decoder.js';
import { embed1, embed128 } from './embeddings.js';
import { genomeTracks, spliceSites, spliceSiteUsage } from './heads.js';
import { alphaGenomeFlops } from './flops.js';
import { noTap } from './taps.js';

/** Resolutions AlphaGenome has per-position outputs at. */
export type AlphaGenomeResolution = 1 | 128;

/** Where one of AlphaGenome's outputs lies among the head's tracks: tracks [start, start + count). */
export interface TrackGroup {
  /** The output's name in the whole model's outputs (e.g. `atac_128bp`, `splice_sites_probs`). */
  output: string;
  start: number;
  count: number;
}

export interface AlphaGenomeTracksOptions {
  organism?: string;
  resolution?: AlphaGenomeResolution;
  /** Query chunks of the tower's attention (memory only; default 8, see model.ts `queryChunks`). */
  queryChunks?: number;
}


/** Wraps the per-organism weight gathers in the organism's constant index (a graph built for one organism). */
export class AlphaGenomeTracks implements Architecture {
  readonly kind = 'alphagenome';
  readonly organism: string;
  readonly organismIndex: number;
  readonly binSize: AlphaGenomeResolution;
  readonly queryChunks: number;

  constructor(
    readonly config: AlphaGenomeConfig,
    options: AlphaGenomeTracksOptions = {},
  ) {
    const organisms = ORGANISMS.slice(0, config.numOrganisms) as readonly string[];
    this.organism = options.organism ?? 'human';
    this.organismIndex = organisms.indexOf(this.organism);
    if (this.organismIndex < 0) throw new Error(`unknown organism '${this.organism}' (this AlphaGenome has: ${organisms.join(', ')})`);
    const resolution = options.resolution ?? 128;
    if (resolution !== 1 && resolution !== 128) throw new Error(`AlphaGenome has per-position outputs at 1 bp and 128 bp, not ${String(resolution)} bp`);
    this.binSize = resolution;
    this.queryChunks = options.queryChunks ?? 8;
  }

  /** The outputs the head concatenates, in track order. */
  get trackGroups(): TrackGroup[] {
    const groups: TrackGroup[] = [];
    let start = 0;
    const add = (output: string, count: number) => {
      groups.push({ output, start, count });
      start += count;
    };
    for (const t of trackOutputs(this.config)) if (t.resolution === this.binSize) add(t.name, this.config.tracks[t.head]);
    if (this.binSize === 1) {
      add('splice_sites_probs', this.config.spliceClasses);
      add('splice_site_usage_predictions', Math.max(...this.config.spliceUsageTracks));
    }
    return groups;
  }

  get trunkOutputs(): TrunkOutput[] {
    const ch = this.config.encoderChannels;
    const skips = this.binSize === 1 ? Array.from({ length: 7 }, (_, level) => ({ name: skipName(level), resolution: 2 ** level, channels: ch[level]! })) : [];
    return [...skips, { name: TRUNK, resolution: 128, channels: this.config.trunkDim }];
  }

  readonly trunkStages = ['encoder'];

  /**
   * 513 bp: the DNA embedder's k15 and k5 convolutions at 1 bp (7 + 2), then each down block's two k5
   * convolutions at 2 … 64 bp (2 · 2 positions each); the max pools lie on the grid and widen nothing.
   */
  get trunkRadiusBp(): number {
    let radius = 7 + 2;
    for (let i = 0; i < 6; i++) radius += 2 * 2 * 2 ** (i + 1);
    return radius;
  }

  get trunkHaloBp(): number {
    return Math.ceil(this.trunkRadiusBp / 128) * 128;
  }

  get defaultSequenceLength(): number {
    return this.config.sequenceLength;
  }

  get headNames(): string[] {
    return [this.organism];
  }

  get embeddingSize(): number {
    return this.binSize === 1 ? this.config.embeddings1Dim : this.config.embeddings128Dim;
  }

  tracks(head: string): number {
    if (head !== this.organism) throw new Error(`unknown head '${head}' (this AlphaGenome model was loaded for ${this.organism}: heads ${this.organism})`);
    return this.trackGroups.reduce((a, g) => a + g.count, 0);
  }

  /** `<output>:<i>` (e.g. `atac_128bp:3`), so that `--tracks atac_128bp` or an index range picks an output's tracks. */
  defaultTrackTable(head: string): TargetsTable {
    this.tracks(head);
    const tracks = this.trackGroups.flatMap((g) => Array.from({ length: g.count }, (_, i) => ({ index: g.start + i, identifier: `${g.output}:${i}`, description: `${g.output} track ${i}`, strandPair: g.start + i })));
    return { source: `AlphaGenome ${head} outputs at ${this.binSize} bp (no targets table: tracks named by output)`, stranded: false, tracks };
  }

  headParameters(): HeadParameters {
    throw new Error('AlphaGenome: training new output heads is not supported');
  }

  configWithHead(): Record<string, unknown> {
    throw new Error('AlphaGenome: training new output heads is not supported');
  }

  /** Every tensor of the checkpoint (files are checked whole); `unusedWeight` names those this view's graphs leave out. */
  expectedWeights(): ExpectedTensor[] {
    return expectedAlphaGenomeWeights(this.config);
  }

  /** The decoder, 1-bp, pair, contact-map and junction weights at 128 bp; the pair embedding, contact maps, 128-bp heads and junctions at 1 bp. */
  unusedWeight(name: string): boolean {
    const always = /^(embedder_pair\.|contact_maps_head\.|splice_sites_junction_head\.)/.test(name);
    if (this.binSize === 128) return always || /^(decoder\.|embedder_1bp\.|splice_sites_)/.test(name) || /^heads\.[^.]+\.(convs|residual_scales)\.1(\.|$)/.test(name);
    return always || /^heads\.(chip_tf|chip_histone)\./.test(name) || /^heads\.[^.]+\.(convs|residual_scales)\.128(\.|$)/.test(name);
  }

  canonicalName(name: string): string | null {
    return name;
  }

  buildTrunk(c: LayerContext): void {
    buildEncoderStage(c, this.config, { skips: this.binSize === 1 });
  }

  get transformer(): TransformerShape {
    return { layers: this.config.transformerBlocks, heads: this.config.mhaHeads, resolution: 128 };
  }

  /**
   * Differentiated (input gradients), the tower attends with all query rows at once: the backward of
   * an empty query chunk (more chunks than pair rows, i.e. windows under 8 · 2,048 bp) has products
   * over zero rows, which ONNX Runtime 1.30 computes wrongly once its MatmulTransposeFusion has
   * fused them (garbage gradients; exact with that fusion disabled). Chunks would save no memory
   * there anyway: a whole-graph backward keeps every chunk's attention weights for its backward.
   */
  buildHead(c: LayerContext, extras: HeadExtras = {}): void {
    if (extras.logits) throw new Error('AlphaGenome: pre-softplus outputs (--output logits) are not offered');
    const g = c.g;
    const cfg = this.config;
    const organism = g.ints([this.organismIndex]);
    const trunk = g.input(TRUNK, 'float32', ['batch', 'positions', cfg.trunkDim]);
    const skips = this.binSize === 1 ? cfg.encoderChannels.map((ch, level) => g.op('Transpose', [g.input(skipName(level), 'float32', ['batch', `positions_${level}`, ch])], { perm: [0, 2, 1] })) : [];
    const crop = g.input('crop', 'int64', [2]);

    const maps = extras.attention ? new AttentionMaps(c, extras.attention) : undefined;
    // A backward's graph attends with every query row at once (see HeadExtras.differentiated).
    const tower = towerOf(c, cfg, trunk, organism, noTap, { queryChunks: extras.differentiated ? 1 : this.queryChunks, attentionTap: maps ? (j) => maps.tap(j) : undefined });
    maps?.emit();
    const towerNcl = g.op('Transpose', [tower.x], { perm: [0, 2, 1] });
    const emb128Ncl = embed128(c, cfg, towerNcl, organism);

    let embNcl = emb128Ncl;
    if (this.binSize === 1) embNcl = embed1(c, cfg, sequenceDecoder(c, cfg, towerNcl, skips, noTap), emb128Ncl, organism);
    const emb = g.op('Transpose', [embNcl], { perm: [0, 2, 1] });
    const parts = trackOutputs(cfg)
      .filter((t) => t.resolution === this.binSize)
      .map((t) => genomeTracks(c, cfg, emb, t.head, t.resolution, organism));
    if (this.binSize === 1) parts.push(spliceSites(c, emb, organism).probs, spliceSiteUsage(c, cfg, emb, organism).predictions);

    const start = g.op('Slice', [crop, g.ints([0]), g.ints([1])]);
    const end = g.op('Slice', [crop, g.ints([1]), g.ints([2])]);
    const cropped = (v: Value) => g.op('Slice', [v, start, end, g.ints([1])]);
    g.output(cropped(emb), 'embeddings', 'float32', ['batch', 'bins', this.embeddingSize]);
    g.output(cropped(parts.length === 1 ? parts[0]! : g.op('Concat', parts, { axis: 2 })), this.organism, 'float32', ['batch', 'bins', this.tracks(this.organism)]);
  }

  /** The tower carries a pair representation from block to block, which a chain of [B, n, C] segments cannot: gradients run the whole head at once. */
  readonly defaultHeadBackward = 'whole';

  get headSegments(): HeadSegments {
    throw new Error("AlphaGenome's tower passes a pair representation between blocks: its gradients need the whole-head backward (headBackward 'whole', its default)");
  }

  lengthProblem(length: number): string | null {
    return alphaGenomeLengthProblem(this.config, length);
  }

  cropRange(length: number): { start: number; end: number } {
    return { start: 0, end: length / this.binSize };
  }

  /** None: the graph forms its RoPE tables from the length. */
  positionFeeds(): Record<string, TensorData> {
    return {};
  }

  /** The whole model's count without the stages this view does not run, and the heads it does. */
  flops(length: number): FlopCount {
    const { stages } = alphaGenomeFlops(this.config, length);
    const kept: Record<string, number> = {
      encoder: stages.encoder!,
      tower_attention: stages.tower_attention!,
      tower_mlp: stages.tower_mlp!,
      pair_stack: stages.pair_stack!,
    };
    const S = length / 128;
    const E128 = this.config.embeddings128Dim;
    const tracks128 = this.binSize === 128 ? this.tracks(this.organism) : 0;
    kept.output_embeddings = 2 * S * this.config.trunkDim * E128;
    kept.heads_128bp = 2 * S * E128 * tracks128;
    if (this.binSize === 1) {
      kept.decoder = stages.decoder!;
      kept.output_embeddings = stages.output_embeddings!;
      kept.heads_1bp = 2 * length * this.config.embeddings1Dim * this.tracks(this.organism);
    }
    return { stages: kept, total: Object.values(kept).reduce((a, b) => a + b, 0) };
  }
}
