/**
 * The option and result types of `Model` (forward runner, model-core.ts) and of its gradients
 * (gradient-runner.ts), apart from the classes so that every module of the model can name them.
 */
import type { EngineOptions, TensorData } from '../engine/protocol.js';
import type { ConvLayout } from './layers.js';
import type { GammaTable } from './architecture.js';
import type { AttentionMapSpec } from './attention-maps.js';

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
   * less but every layer's activations at once (~0.5 GB per layer for full-size Enformer). Unset:
   * the architecture's `defaultHeadBackward` (AlphaGenome: 'whole'), else 'checkpointed'.
   */
  headBackward?: 'checkpointed' | 'whole';
  /**
   * How the backward gets the forward's activations (trunk tiles, and transformer blocks when the
   * head is checkpointed): 'saved' (default) the gradient's forward also outputs the expensive
   * layers' results (convolutions and matrix products with a long reduction), kept until their
   * tile's or block's backward, which recomputes only the cheap layers (normalisation, activations,
   * pooling, attention logits) from them; 'recompute' each tile's and block's whole forward is
   * recomputed inside its backward (one forward more, nothing kept). Saved activations stay in the
   * engine worker, beyond `stashMemory` bytes in a temporary file: about 2.5 GB for a full-size
   * Enformer window.
   */
  backwardActivations?: 'saved' | 'recompute';
  /**
   * Whether the backward sessions that run once per transformer block and both halves of the trunk's
   * (once per tile) keep ONNX Runtime's memory arena, the trunk's forward also writing its saved
   * activations into buffers reused from tile to tile, and the blocks' forward where a block's
   * attention is small (faster: Borzoi's input gradient ≈ 0.83× the time with the blocks' backward
   * arena, Enformer's trunk backward ≈ 0.7× with the trunk's, its blocks' forward ≈ 0.7–0.86×; more
   * memory: the arenas keep their high-water marks, ≈ 3 GB at Borzoi's blocks, ≈ 0.5 GB at Enformer's
   * trunk backward and ≈ 0.9 GB at its forward with those buffers). Unset: each is kept where the
   * system reports enough memory available when it is made (`blockBackwardSessionOpts`,
   * `blockForwardSessionOpts`, `trunkGradientSessionOpts`); `true` also gives Borzoi's blocks'
   * forward one; set `false` where that figure overstates what the process may use (a container's
   * memory limit).
   */
  backwardArena?: boolean;
  /**
   * Make the prediction sessions (trunk, head) only when a prediction first needs them, not at load.
   * For jobs that only take input gradients (`attribute`): their path never runs those sessions, which
   * otherwise stay resident beside the gradient's own (~1.8 GB of ONNX Runtime memory at full-size
   * Borzoi, ~1 GB at Enformer). The weights are still checked at load.
   */
  gradientsOnly?: boolean;
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
  /** Trunk outputs the caller already has for part of every sequence (see `KnownTrunk`). */
  knownTrunk?: KnownTrunk;
}

/**
 * Trunk outputs a caller already has for bp [start, end) of every sequence of a batch (the genome
 * job takes them from the tiles of a stretch of overlapping windows: stretch-trunk.ts): the trunk
 * then runs only on tiles whose cores cover the rest, tiles of the sequence itself, so positions
 * near its ends see its own padding. `start` and `end` lie on the trunk grid, and the positions
 * they bound must be exactly what the sequence's own trunk would give (to float32 rounding).
 */
export interface KnownTrunk {
  start: number;
  end: number;
  /** Writes positions [start, end) of every batch item into `result` ([B, length / resolution, C] per trunk output). */
  fill(result: Record<string, TensorData>): Promise<void>;
  /**
   * Outputs of the batch's shape to assemble the result in instead of fresh ones (the previous
   * window's, which `fill` moves its overlap within): every position is overwritten.
   */
  result?: Record<string, TensorData>;
}

/** A batch of one-hot sequences, [batch, length, 4] row-major. */
export interface OneHotBatch {
  data: Float32Array;
  batch: number;
  length: number;
}

export class LengthError extends Error {}

