/**
 * What the model runner needs from a model family. Each family splits into a local trunk graph
 * (convolutions only, finite receptive field, so it may run on overlapping tiles) and a global head
 * graph (attention, U-Net decoder, crop, heads) that sees the whole sequence.
 *
 * The trunk may have several named outputs, each [B, positions, C] at its own resolution (bp per
 * position); the head graph takes them as inputs of the same names, plus the positional feeds from
 * `positionFeeds` and an int64 `crop` = [start, end) in output bins.
 */
import type { Dim, Value } from '../engine/graph.js';
import type { TensorData } from '../engine/protocol.js';
import type { ExpectedTensor } from '../weights/weight-set.js';
import type { TargetsTable } from '../formats/track-selection.js';
import type { LayerContext } from './layers.js';
import type { AttentionMapSpec, AttentionMaps, TransformerShape } from './attention-maps.js';

export interface FlopCount {
  stages: Record<string, number>;
  total: number;
}

export interface TrunkOutput {
  /** Output name of the trunk graph and input name of the head graph. */
  name: string;
  /** bp per position along axis 1 of the output [B, positions, C]. */
  resolution: number;
  channels: number;
}

/** A precomputed table for the head graph at one sequence length (e.g. Enformer's distance basis). */
export interface GammaTable {
  n: number;
  values: Float32Array;
}

/** Optional extra outputs of the head graph, built only when asked for. */
export interface HeadExtras {
  /** Softmax attention weights of these layers/heads, rows chosen per run (attention-maps.ts). */
  attention?: AttentionMapSpec;
  /** Each head's pre-softplus values as a second output, `logitsOutputName(head)`. */
  logits?: boolean;
  /**
   * The graph is built to be differentiated (a backward is appended to it): an architecture may then
   * build an equal computation that differentiates (or runs its backward) better.
   */
  differentiated?: boolean;
  /**
   * The graph reads only these tracks of one head (`select`: a [tracks, selected] matrix of 0/1
   * columns, one 1 each, as `objectiveFeeds` makes): an architecture whose heads are softplus(Linear)
   * may then output just those tracks, `selectedOutputName(head)`, and no other head or embedding
   * (output-heads.ts). The objective of an input gradient reads a few tracks of thousands.
   */
  selectTracks?: { head: string; select: Value };
}

/** The head graph's output with a head's pre-softplus values (the same Gemm the softplus reads). */
export function logitsOutputName(head: string): string {
  return `${head}.logits`;
}

/** The head graph's output with the tracks `HeadExtras.selectTracks` selects of a head. */
export function selectedOutputName(head: string): string {
  return `${head}.selected`;
}

/** A softplus output head's parameters: Linear(embedding -> tracks) stored under the family's names. */
export interface HeadParameters {
  weight: string;
  /** Stored shape ([tracks, embedding] or a conv's [tracks, embedding, 1]); memory layout is [tracks, embedding]. */
  weightShape: number[];
  bias: string;
}

/**
 * The head graph as a chain of segments: `transformer.layers` blocks, each [B, n, channels] -> the
 * same shape, on the trunk output `input`, then the tail. `buildHead` is this chain in one graph;
 * checkpointed backward passes (gradients.ts) build each segment as a graph of its own.
 */
export interface HeadSegments {
  /** The trunk output that enters the first block. */
  readonly input: string;
  /** Channels of the values between blocks. */
  readonly channels: number;
  /**
   * Declares the blocks' positional inputs in `c`'s graph and returns block j applied to x. Blocks
   * differ only in their weights (same graph with each block's weights).
   */
  blocks(c: LayerContext, maps?: AttentionMaps): (x: Value, j: number) => Value;
  /** Declares the tail's other inputs (crop, trunk skip outputs) and builds it on x, with the head graph's outputs. */
  tail(c: LayerContext, x: Value, extras?: HeadExtras): void;
  /**
   * Optional: the tail cut into stages, `tail` being their composition. The checkpointed backward
   * runs each stage's backward as a session of its own (gradients.ts), so memory holds one stage's
   * activations rather than the whole tail's (Borzoi's U-Net decoder at full resolution). Absent: the
   * tail is one stage.
   */
  readonly tailStages?: TailStage[];
}

/** One stage of a head's tail (`HeadSegments.tailStages`). */
export interface TailStage {
  /** Dims of the value entering the stage in c's layout (stage 0: the last block's output, [batch, positions, channels]). */
  input(c: LayerContext): Dim[];
  /**
   * Builds the stage on x in c's graph, declaring the other inputs it reads (once per graph, however
   * many stages read them); returns the value entering the next stage, or undefined from the last
   * stage, which builds the head graph's outputs.
   */
  build(c: LayerContext, x: Value, extras?: HeadExtras): Value | undefined;
}

export interface Architecture {
  readonly kind: string;
  /** bp per output bin. */
  readonly binSize: number;
  /** The trunk graph's outputs, finest first. */
  readonly trunkOutputs: TrunkOutput[];
  /** Names of the `flops()` stages computed by the trunk graph. */
  readonly trunkStages: string[];
  /**
   * Receptive-field radius in bp of the trunk, exact: a trunk output position covering bp [a, b)
   * depends on the input [a - radius, b + radius) and on nothing else (convolutions widen it by
   * (k - 1) / 2 positions of their resolution; pools of stride = size on the grid do not).
   */
  readonly trunkRadiusBp: number;
  /** Halo in bp that makes a trunk tile exact: the radius rounded up to the coarsest trunk grid (tiles start on it). */
  readonly trunkHaloBp: number;
  readonly defaultSequenceLength: number;
  readonly headNames: string[];
  readonly embeddingSize: number;
  tracks(head: string): number;
  /** Names and shapes of a head's weight and bias (existing, or to be added by `configWithHead`). */
  headParameters(head: string, tracks: number): HeadParameters;
  /** A copy of `config.json` that declares one more output head of `tracks` tracks (for trained heads). */
  configWithHead(json: Record<string, unknown>, head: string, tracks: number): Record<string, unknown>;
  expectedWeights(): ExpectedTensor[];
  /**
   * Optional: expected weights this architecture's graphs leave out on purpose (a view of a larger
   * model, e.g. AlphaGenome's 128-bp outputs without its 1-bp decoder). Any other expected weight that
   * no graph reads is a model-code error.
   */
  unusedWeight?(name: string): boolean;
  /**
   * Optional: names for a head's tracks when no targets table applies (AlphaGenome: each track named
   * by the output it belongs to). Without it tracks are `<head>_<i>`.
   */
  defaultTrackTable?(head: string): TargetsTable;
  canonicalName(name: string): string | null;
  /** Optional: adapt to the tensors present in a weights file (e.g. which output heads exist). */
  adaptToWeights?(shapes: ReadonlyMap<string, number[]>): void;
  buildTrunk(c: LayerContext): void;
  /** Transformer layers, heads per layer and bp per transformer position. */
  readonly transformer: TransformerShape;
  buildHead(c: LayerContext, extras?: HeadExtras): void;
  /** Optional: how the head's backward runs when the options do not say ('whole' for a head that has no segments to checkpoint); default 'checkpointed'. */
  readonly defaultHeadBackward?: 'checkpointed' | 'whole';
  /** The head's segments (the same computation as `buildHead`, cut at the transformer blocks). */
  readonly headSegments: HeadSegments;
  lengthProblem(length: number): string | null;
  /** Output bins kept by the centre crop, as [start, end) in bins of `binSize` bp. */
  cropRange(length: number): { start: number; end: number };
  /** The head graph's positional inputs (relative-position basis, rotary tables) for `length` bp. */
  positionFeeds(length: number, gammaTable?: GammaTable): Record<string, TensorData>;
  flops(length: number, headNames?: string[]): FlopCount;
}

/** The coarsest grid of a trunk (least common multiple of its output resolutions). */
export function trunkGrid(outputs: TrunkOutput[]): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return outputs.reduce((l, o) => (l * o.resolution) / gcd(l, o.resolution), 1);
}

/** An architecture's position tables, computed once per input length (they are graph inputs). */
export class PositionFeeds {
  private readonly cache = new Map<number, Record<string, TensorData>>();

  constructor(
    private readonly arch: Architecture,
    private readonly gammaTable?: GammaTable,
  ) {}

  feeds(length: number): Record<string, TensorData> {
    let p = this.cache.get(length);
    if (!p) this.cache.set(length, (p = this.arch.positionFeeds(length, this.gammaTable)));
    return p;
  }
}
