/**
 * Borzoi (Linder et al. 2025) and Flashzoi (Hingerl et al. 2024), as in johahi/borzoi-pytorch:
 *
 *   one-hot DNA ─► conv_dna: conv15 (bias, no norm) ─ max-pool/2                           L/2
 *               ─► res_tower: 5 × BN-GELU-conv5, max-pool/2 between them           ─► x_unet0  L/32
 *               ─► unet1: max-pool/2 ─ BN-GELU-conv5 (→ dim)                         ─► x_unet1  L/64
 *               ─► max-pool/2 ─► transformer × depth                                          L/128
 *                    residual(LN ─ attention) ─ residual(LN ─ Linear ─ ReLU ─ Linear)
 *                    attention: Borzoi = relative (Transformer-XL, central-mask basis);
 *                               Flashzoi = grouped-query attention with rotary embedding
 *               ─► upsampling_unet1: BN-GELU-conv1 ─ nearest ×2 ─ + horizontal_conv1(x_unet1) ─ separable1
 *               ─► upsampling_unet0: BN-GELU-conv1 ─ nearest ×2 ─ + horizontal_conv0(x_unet0) ─ separable0
 *               ─► centre crop ─► final_joined_convs: BN-GELU-conv1 ─ GELU ─► softplus heads (conv1)
 *
 * Every GELU is the tanh approximation; BatchNorm and LayerNorm use eps 1e-3. The encoder up to the
 * last max-pool is local and forms the (tileable) trunk graph with three outputs, x_unet0, x_unet1
 * and transformer_in; the transformer and the U-Net decoder form the head graph.
 *
 * The reference decodes the whole window and then crops (6,144 of 16,384 bins at full size). Every
 * decoder op is local (pointwise convs, nearest upsampling, separable convs whose depthwise kernel
 * reaches one position each side), so the head graph decodes only the kept bins plus that reach:
 * see `decoderWindow`. The kept bins see the same values through the same ops (equal to float32
 * rounding: ONNX Runtime's convs round a shorter span a few ulp differently); `fullDecoder` builds
 * the reference's order for checks and benchmarks.
 */
import type { Graph, Value } from '../engine/graph.js';
import type { TensorData } from '../engine/protocol.js';
import type { ExpectedTensor } from '../weights/weight-set.js';
import { WeightList } from './weight-list.js';
import { relativeAttention, rotaryAttention, transformerBlock } from './attention.js';
import { batchNorm, batchNormChannelsLast, conv, gelu, linear, maxPool, toChannelsFirst, toChannelsLast, upsampleNearest2, type LayerContext } from './layers.js';
import { softplusHeads } from './output-heads.js';
import { borzoiPositionalFeatures, rotaryTables } from './positional.js';
import { ConfigError, optionalBool, optionalIntArray, readHeads, requireInt } from './config.js';
import { type Architecture, type FlopCount, type HeadExtras, type HeadParameters, type HeadSegments, type TailStage, type TrunkOutput } from './architecture.js';
import type { TransformerShape } from './attention-maps.js';
import { buildSegmentedHead } from './segmented-head.js';

const EPS = 1e-3;
const GELU = 'tanh' as const;
/** Relative-position features of Borzoi's attention (hard-coded in the reference). */
const REL_POS_FEATURES = 32;
/** Flashzoi's rotary embedding (hard-coded in the reference's FlashAttention). */
const ROTARY_DIM = 128;
const ROTARY_BASE = 20_000;
/** Bins dropped at each end when `return_center_bins_only` is false (the reference's 16384 - 32). */
const FULL_OUTPUT_MARGIN = 16;
/** Depthwise kernel of the separable convs (hard-coded in the reference): it reaches one position each side. */
const SEPARABLE_KERNEL = 3;
const SEPARABLE_REACH = (SEPARABLE_KERNEL - 1) / 2;

/** Positions [lo, hi) along one axis. */
export interface Span {
  lo: number;
  hi: number;
}

/**
 * What the cropped decoder computes for kept output bins [start, end) of n 32-bp bins: the spans of
 * the transformer output (128 bp) and of x_unet1 (64 bp) and x_unet0 (32 bp) it reads, and `exact1`,
 * the 64-bp positions whose separable1 output it passes on. Walking back from the output, level by
 * level: a separable conv's output is exact on [lo, hi) when its input is exact on
 * [lo - reach, hi + reach); that input is upsampled ×2 by nearest neighbour from the coarser level,
 * so it is taken on the coarse grid, coarse [⌊(lo - reach)/2⌋, ⌈(hi + reach)/2⌉), fine = twice that,
 * and the upsampled positions line up with the full decoder's. Spans stop at the sequence ends, where
 * the full decoder's convs see the same zero padding; at a span end inside the sequence the edge
 * positions are wrong (artificial padding) but lie in the margin, never in [start, end).
 * The head graph does this arithmetic on its `crop` input (Borzoi.buildHead); this is its host-side
 * twin, for FLOP counts and tests.
 */
export function decoderWindow(start: number, end: number, n: number): { transformer: Span; unet1: Span; exact1: Span; unet0: Span } {
  const coarser = (s: Span, len: number): Span => ({ lo: Math.floor(Math.max(s.lo - SEPARABLE_REACH, 0) / 2), hi: Math.min(Math.ceil((s.hi + SEPARABLE_REACH) / 2), len / 2) });
  const exact1 = coarser({ lo: start, hi: end }, n);
  const transformer = coarser(exact1, n / 2);
  const twice = (s: Span): Span => ({ lo: 2 * s.lo, hi: 2 * s.hi });
  return { transformer, unet1: twice(transformer), exact1, unet0: twice(exact1) };
}

/**
 * The inputs Borzoi's decoder reads besides the transformer output (x_unet0, x_unet1, crop) and the
 * spans of `decoderWindow`, computed from `crop` at run time (int64 [1] values; a span's end may pass
 * the sequence end, where Slice stops it as decoderWindow's min does; no spans with `fullDecoder`:
 * the whole window). Each is declared in the graph when a tail stage first reads it, so a stage's
 * own graph declares only its inputs and the whole head shares one of each.
 */
class DecoderInputs {
  private memo = new Map<string, unknown>();

  constructor(
    private readonly c: LayerContext,
    private readonly unet0Channels: number,
    private readonly dim: number,
    private readonly fullDecoder: boolean,
  ) {}

  private once<T>(key: string, make: () => T): T {
    if (!this.memo.has(key)) this.memo.set(key, make());
    return this.memo.get(key) as T;
  }

  get unet0(): Value {
    return this.once('unet0', () => this.c.g.input('x_unet0', 'float32', ['batch', 'bins', this.unet0Channels]));
  }

  get unet1(): Value {
    return this.once('unet1', () => this.c.g.input('x_unet1', 'float32', ['batch', 'half_bins', this.dim]));
  }

  /** The kept bins [start, end) as int64 [1] values. */
  get crop(): { start: Value; end: Value } {
    return this.once('crop', () => {
      const g = this.c.g;
      const crop = g.input('crop', 'int64', [2]);
      return { start: g.op('Slice', [crop, g.ints([0]), g.ints([1])]), end: g.op('Slice', [crop, g.ints([1]), g.ints([2])]) };
    });
  }

  get spans(): DecoderSpans | undefined {
    return this.once('spans', () => {
      if (this.fullDecoder) return undefined;
      const g = this.c.g;
      const [reach, two] = [g.ints([SEPARABLE_REACH]), g.ints([2])];
      const coarser = ([lo, hi]: Value[]) => [
        g.op('Div', [g.op('Max', [g.op('Sub', [lo!, reach]), g.ints([0])]), two]),
        g.op('Div', [g.op('Add', [hi!, g.ints([SEPARABLE_REACH + 1])]), two]),
      ];
      const twice = (s: Value[]) => s.map((v) => g.op('Mul', [v, two]));
      const exact1 = coarser([this.crop.start, this.crop.end]);
      const transformer = coarser(exact1);
      return { transformer, unet1: twice(transformer), exact1, unet0: twice(exact1) };
    });
  }

  /**
   * Positions [lo, hi) of span `which` of a channels-last [B, positions, C] input, or of a
   * channels-first value (positions last in both layouts) relative to its first position `from`.
   */
  take(v: Value, which: keyof DecoderSpans, axis: number, from?: Value): Value {
    const span = this.spans?.[which];
    if (!span) return v;
    const g = this.c.g;
    const [lo, hi] = from ? span.map((s) => g.op('Sub', [s, from])) : span;
    return g.op('Slice', [v, lo!, hi!, g.ints([axis])]);
  }
}

/** `decoderWindow`'s spans as int64 [1] graph values [lo, hi). */
type DecoderSpans = Record<'transformer' | 'unet1' | 'exact1' | 'unet0', Value[]>;

export interface BorzoiConfig {
  dim: number;
  depth: number;
  heads: number;
  attnDimKey: number;
  /** Value size per head (relative attention). */
  attnDimValue: number;
  /** Flashzoi: rotary grouped-query attention instead of relative attention. */
  flashed: boolean;
  sequenceLength: number;
  convDnaChannels: number;
  resTowerChannels: number[];
  finalJoinedChannels: number;
  /** Track counts of the heads the config enables (human, mouse). */
  outputHeads: Record<string, number>;
  /** Track counts of both heads (`num_tracks_human`, `num_tracks_mouse`), enabled or not. */
  tracks: { human: number; mouse: number };
  /** Our extension key `extra_heads` (name -> tracks): heads trained with `seq2track finetune`, stored as `<name>_head`. */
  extraHeads: Record<string, number>;
  returnCenterBinsOnly: boolean;
  binsToReturn: number;
}

/**
 * Reads the borzoi-pytorch hub `config.json` (BorzoiConfig keys, defaults as there) plus the extension
 * keys for the widths the reference hard-codes (full-size defaults).
 */
export function parseBorzoiConfig(json: Record<string, unknown>, source: string): BorzoiConfig {
  const dim = requireInt(json, 'dim', source, 1536);
  const heads = requireInt(json, 'heads', source, 8);
  const flashed = optionalBool(json, 'flashed', source) ?? false;
  if (flashed) {
    if (dim % heads !== 0) throw new ConfigError(`${source}: dim (${dim}) must be divisible by heads (${heads}) for flashed attention`);
    if (heads % 2 !== 0) throw new ConfigError(`${source}: heads (${heads}) must be even for flashed attention (heads/2 key-value heads)`);
    if (dim / heads < ROTARY_DIM) throw new ConfigError(`${source}: head size dim/heads (${dim / heads}) must be at least ${ROTARY_DIM} (rotary dims)`);
  }
  const tracks = { human: requireInt(json, 'num_tracks_human', source, 7611), mouse: requireInt(json, 'num_tracks_mouse', source, 2608) };
  const outputHeads: Record<string, number> = {};
  if (optionalBool(json, 'enable_human_head', source) ?? true) outputHeads.human = tracks.human;
  if (optionalBool(json, 'enable_mouse_head', source) ?? false) outputHeads.mouse = tracks.mouse;
  const extraHeads = readHeads(json, 'extra_heads', source, {});
  for (const name of Object.keys(extraHeads)) {
    if (name === 'human' || name === 'mouse') throw new ConfigError(`${source}: extra_heads may not be named ${name}`);
  }
  Object.assign(outputHeads, extraHeads);
  return {
    dim,
    depth: requireInt(json, 'depth', source, 8),
    heads,
    attnDimKey: requireInt(json, 'attn_dim_key', source, 64),
    attnDimValue: requireInt(json, 'attn_dim_value', source, 192),
    flashed,
    sequenceLength: requireInt(json, 'sequence_length', source, 524_288),
    convDnaChannels: requireInt(json, 'conv_dna_channels', source, 512),
    resTowerChannels: optionalIntArray(json, 'res_tower_channels', source, 5) ?? [608, 736, 896, 1056, 1280],
    finalJoinedChannels: requireInt(json, 'final_joined_channels', source, 1920),
    outputHeads,
    tracks,
    extraHeads,
    returnCenterBinsOnly: optionalBool(json, 'return_center_bins_only', source) ?? true,
    binsToReturn: requireInt(json, 'bins_to_return', source, 6144),
  };
}

export class Borzoi implements Architecture {
  readonly kind: 'borzoi' | 'flashzoi';
  /** bp per output bin (the resolution of x_unet0 and of the decoder output). */
  readonly binSize = 32;
  /** Flashzoi's key/value heads (each shared by heads/kvHeads query heads); published: 8 / 4. */
  kvHeads: number;
  /** Attention runs over this many chunks of query rows: at 4,096 positions one [8, n, 2n] logit tensor is 1 GB. */
  queryChunks = 8;
  /** bp per transformer position. */
  readonly transformerResolution = 128;
  readonly defaultSequenceLength: number;
  /**
   * Decode the whole window and then crop, as the reference does, instead of only the kept bins and
   * their reach (`decoderWindow`); the same kept bins, for checks and benchmarks. Read when graphs are built.
   */
  fullDecoder = false;
  /**
   * Run the checkpointed backward's tail as its stages (`tailStages`: one stage's activations in
   * memory at a time) rather than as one session; the same gradients, for checks and benchmarks.
   * Read when the backward graphs are built.
   */
  stagedTail = true;
  /** How relative attention forms its positional logits (attention.ts `positionalProduct`); read when graphs are built. */
  positionalProduct: 'auto' | 'keys' | 'features' = 'auto';
  private outputHeads: Record<string, number>;
  /** Per graph being built: the decoder inputs its tail stages share. */
  private readonly decoders = new WeakMap<Graph, DecoderInputs>();

  constructor(readonly config: BorzoiConfig) {
    this.kind = config.flashed ? 'flashzoi' : 'borzoi';
    this.defaultSequenceLength = config.sequenceLength;
    this.outputHeads = { ...config.outputHeads };
    this.kvHeads = config.heads / 2;
  }

  get headNames(): string[] {
    return Object.keys(this.outputHeads);
  }

  get transformer(): TransformerShape {
    return { layers: this.config.depth, heads: this.config.heads, resolution: this.transformerResolution };
  }

  tracks(head: string): number {
    const n = this.outputHeads[head];
    if (n === undefined) throw new Error(`no head named '${head}' (heads: ${this.headNames.join(', ')})`);
    return n;
  }

  get embeddingSize(): number {
    return this.config.finalJoinedChannels;
  }

  /** Output channels of the encoder: conv_dna, then the five res-tower blocks. */
  get channels(): number[] {
    return [this.config.convDnaChannels, ...this.config.resTowerChannels];
  }

  readonly trunkStages = ['stem', 'res_tower', 'unet1'];

  headParameters(head: string, tracks: number): HeadParameters {
    return { weight: `${head}_head.weight`, weightShape: [tracks, this.config.finalJoinedChannels, 1], bias: `${head}_head.bias` };
  }

  /** The human and mouse heads are the reference's; any other is listed under `extra_heads`. */
  configWithHead(json: Record<string, unknown>, head: string, tracks: number): Record<string, unknown> {
    if (head === 'human' || head === 'mouse') return { ...json, [`num_tracks_${head}`]: tracks, [`enable_${head}_head`]: true };
    return { ...json, extra_heads: { ...this.config.extraHeads, [head]: tracks } };
  }

  get trunkOutputs(): TrunkOutput[] {
    const { dim } = this.config;
    return [
      { name: 'x_unet0', resolution: 32, channels: this.channels[5]! },
      { name: 'x_unet1', resolution: 64, channels: dim },
      { name: 'transformer_in', resolution: this.transformerResolution, channels: dim },
    ];
  }

  /**
   * Receptive-field radius in bp of the encoder: conv15 at 1 bp, conv5 at 2..32 bp, unet1's conv5 at
   * 64 bp (259 bp; the max-pools align with tile boundaries on the 128-bp grid).
   */
  get trunkRadiusBp(): number {
    let radius = 7;
    for (let i = 0; i < 5; i++) radius += 2 * 2 ** (i + 1);
    return radius + 2 * 64;
  }

  /** The radius rounded up to the 128-bp grid: 384 bp. */
  get trunkHaloBp(): number {
    return Math.ceil(this.trunkRadiusBp / this.transformerResolution) * this.transformerResolution;
  }

  /**
   * Heads present in the weights decide which heads run (human-only checkpoints lack mouse_head);
   * Flashzoi's key/value head count is read off the fused qkv projection (the config has no key).
   */
  adaptToWeights(shapes: ReadonlyMap<string, number[]>): void {
    const present = (['human', 'mouse'] as const).filter((h) => shapes.has(`${h}_head.weight`));
    if (present.length > 0) this.outputHeads = { ...Object.fromEntries(present.map((h) => [h, this.config.tracks[h]])), ...this.config.extraHeads };
    const qkv = shapes.get('transformer.0.0.fn.1.mha.Wqkv.weight');
    if (this.config.flashed && qkv) {
      const { dim, heads } = this.config;
      const kv = (qkv[0]! / (dim / heads) - heads) / 2;
      if (Number.isInteger(kv) && kv > 0 && heads % kv === 0) this.kvHeads = kv;
    }
  }

  /** BatchNorm step counters are not used in inference; a rotary `inv_freq` buffer is recomputed. */
  canonicalName(name: string): string | null {
    if (name.endsWith('.num_batches_tracked') || name.endsWith('.rotary_emb.inv_freq')) return null;
    return name;
  }

  expectedWeights(): ExpectedTensor[] {
    const { dim, depth, heads, attnDimKey, attnDimValue, finalJoinedChannels: joined } = this.config;
    const w = new WeightList();
    const block = (p: string, inCh: number, out: number, k: number) => w.batchNorm(`${p}.norm`, inCh).conv(`${p}.conv_layer`, out, inCh, k);
    const ch = this.channels;
    w.conv('conv_dna.conv_layer', ch[0]!, 4, 15);
    for (let i = 0; i < 5; i++) block(`res_tower.${2 * i}`, ch[i]!, ch[i + 1]!, 5);
    block('unet1.1', ch[5]!, dim, 5);
    block('horizontal_conv0', ch[5]!, dim, 1);
    block('horizontal_conv1', dim, dim, 1);
    for (let j = 0; j < depth; j++) {
      const a = `transformer.${j}.0.fn`;
      w.layerNorm(`${a}.0`, dim);
      if (this.config.flashed) {
        const d = dim / heads;
        w.linear(`${a}.1.mha.Wqkv`, d * (heads + 2 * this.kvHeads), dim).linear(`${a}.1.mha.out_proj`, dim, dim);
      } else w.relativeBiases(`${a}.1`, heads, attnDimKey).relativeProjections(`${a}.1`, dim, heads, attnDimKey, attnDimValue, REL_POS_FEATURES);
      w.feedForward(`transformer.${j}.1.fn`, dim);
    }
    for (const u of ['upsampling_unet1', 'upsampling_unet0']) block(`${u}.0`, dim, dim, 1);
    for (const s of ['separable1', 'separable0']) w.conv(`${s}.conv_layer.0`, dim, 1, SEPARABLE_KERNEL, false).conv(`${s}.conv_layer.1`, dim, dim, 1);
    block('final_joined_convs.0', dim, joined, 1);
    for (const [head, tracks] of Object.entries(this.outputHeads)) w.conv(`${head}_head`, tracks, joined, 1);
    return w.tensors;
  }

  /** Encoder: dna [B, L, 4] -> x_unet0 [B, L/32, c5], x_unet1 [B, L/64, dim], transformer_in [B, L/128, dim]. */
  buildTrunk(c: LayerContext): void {
    const g = c.g;
    const { dim } = this.config;
    const dna = g.input('dna', 'float32', ['batch', 'length', 4]);
    const block = (x: Value, p: string) => conv(c, gelu(c, batchNorm(c, x, `${p}.norm`, EPS), GELU), `${p}.conv_layer`);

    let x = maxPool(c, conv(c, toChannelsFirst(c, dna), 'conv_dna.conv_layer'));
    for (let i = 0; i < 5; i++) {
      if (i > 0) x = maxPool(c, x);
      x = block(x, `res_tower.${2 * i}`);
    }
    const unet0 = x;
    const unet1 = block(maxPool(c, unet0), 'unet1.1');
    const transformerIn = maxPool(c, unet1);

    g.output(toChannelsLast(c, unet0), 'x_unet0', 'float32', ['batch', 'bins', this.channels[5]!]);
    g.output(toChannelsLast(c, unet1), 'x_unet1', 'float32', ['batch', 'half_bins', dim]);
    g.output(toChannelsLast(c, transformerIn), 'transformer_in', 'float32', ['batch', 'positions', dim]);
  }

  /** Transformer, U-Net decoder, crop, final convs and heads -> heads [B, T, tracks], embeddings [B, T, joined]. */
  buildHead(c: LayerContext, extras: HeadExtras = {}): void {
    buildSegmentedHead(c, this.headSegments, this.config.depth, 'positions', extras);
  }

  get headSegments(): HeadSegments {
    const { dim, heads, attnDimKey, attnDimValue } = this.config;
    return {
      input: 'transformer_in',
      channels: dim,
      // Transformer block j: Borzoi's relative attention or Flashzoi's rotary attention, then the MLP.
      blocks: (c, maps) => {
        const g = c.g;
        let attention: (v: Value, prefix: string, j: number) => Value;
        if (this.config.flashed) {
          const cos = g.input('rotary_cos', 'float32', ['positions', ROTARY_DIM / 2]);
          const sin = g.input('rotary_sin', 'float32', ['positions', ROTARY_DIM / 2]);
          const shape = { heads, kvHeads: this.kvHeads, headDim: dim / heads, rotaryDim: ROTARY_DIM, queryChunks: this.queryChunks };
          attention = (v, prefix, j) => rotaryAttention(c, v, cos, sin, `${prefix}.mha`, shape, maps?.tap(j));
        } else {
          const positions = g.input('positions', 'float32', ['distances', REL_POS_FEATURES]);
          const shape = { heads, keySize: attnDimKey, valueSize: attnDimValue, queryChunks: this.queryChunks, positionalProduct: this.positionalProduct };
          attention = (v, prefix, j) => relativeAttention(c, v, positions, prefix, shape, maps?.tap(j));
        }
        return (x, j) => transformerBlock(c, x, j, EPS, (v, prefix) => attention(v, prefix, j));
      },
      // U-Net decoder on the transformer output and the trunk's skip outputs, centre crop, final convs, heads.
      tail: (c, x, extras = {}) => {
        let y: Value | undefined = x;
        for (const stage of this.tailStages) y = stage.build(c, y!, extras);
      },
      tailStages: this.stagedTail ? this.tailStages : undefined,
    };
  }

  /**
   * The tail in three stages, cut where the values are smallest: the 64-bp U-Net level (transformer
   * output and x_unet1 -> its exact positions, channels-first), the 32-bp level (and x_unet0 -> the
   * cropped bins, channels-last), then the output layers (final convs, heads). The checkpointed
   * backward runs each as a session of its own.
   */
  private get tailStages(): TailStage[] {
    const { dim, finalJoinedChannels: joined } = this.config;
    const block = (c: LayerContext, v: Value, p: string) => conv(c, gelu(c, batchNorm(c, v, `${p}.norm`, EPS), GELU), `${p}.conv_layer`);
    const separable = (c: LayerContext, v: Value, p: string) => conv(c, conv(c, v, `${p}.conv_layer.0`, { bias: false, group: dim }), `${p}.conv_layer.1`);
    return [
      {
        input: () => ['batch', 'positions', dim],
        build: (c, x) => {
          const d = this.decoderInputs(c);
          const g = c.g;
          // U-Net decoder, channels-first: upsample the deep path, add the skip path, separable conv.
          const y = upsampleNearest2(c, block(c, toChannelsFirst(c, d.take(x, 'transformer', 1)), 'upsampling_unet1.0'));
          const y1 = separable(c, g.op('Add', [y, block(c, toChannelsFirst(c, d.take(d.unet1, 'unet1', 1)), 'horizontal_conv1')]), 'separable1');
          // Only the exact positions go on: the span's edge positions saw artificial zero padding.
          return d.take(y1, 'exact1', -1, d.spans?.unet1[0]);
        },
      },
      {
        // Channels-first, as the decoder's convs read it (height 1 in the 2-D layout).
        input: (c) => (c.layout === '2d' ? ['batch', dim, 1, 'exact_half_bins'] : ['batch', dim, 'exact_half_bins']),
        build: (c, y1) => {
          const d = this.decoderInputs(c);
          const g = c.g;
          const y = upsampleNearest2(c, block(c, y1, 'upsampling_unet0.0'));
          const y0 = separable(c, g.op('Add', [y, block(c, toChannelsFirst(c, d.take(d.unet0, 'unet0', 1)), 'horizontal_conv0')]), 'separable0');
          // Centre crop (bins [crop[0], crop[1]), counted from the decoded span's first bin), channels-last.
          const { start, end } = d.crop;
          const first = d.spans?.unet0[0];
          return g.op('Slice', [toChannelsLast(c, y0), first ? g.op('Sub', [start, first]) : start, first ? g.op('Sub', [end, first]) : end, g.ints([1])]);
        },
      },
      {
        input: () => ['batch', 'targets', dim],
        build: (c, cropped, extras = {}) => {
          // The pointwise layers, channels-last.
          const final = 'final_joined_convs.0';
          let e = gelu(c, batchNormChannelsLast(c, cropped, `${final}.norm`, EPS), GELU);
          e = gelu(c, linear(c, e, `${final}.conv_layer`, { weightDims: [joined, dim] }), GELU);
          const heads = Object.entries(this.outputHeads).map(([name, tracks]) => ({ name, tracks, prefix: `${name}_head`, weightDims: [tracks, joined] as [number, number] }));
          softplusHeads(c, e, joined, heads, extras);
          return undefined;
        },
      },
    ];
  }

  /** The decoder's skip and crop inputs of c's graph and the spans derived from them, made on first use. */
  private decoderInputs(c: LayerContext): DecoderInputs {
    let d = this.decoders.get(c.g);
    if (!d) this.decoders.set(c.g, (d = new DecoderInputs(c, this.channels[5]!, this.config.dim, this.fullDecoder)));
    return d;
  }

  /** Seven max-pools by 2 down to the transformer, and the decoder upsamples back by 2 twice. */
  lengthProblem(length: number): string | null {
    const grid = this.transformerResolution;
    if (!Number.isInteger(length) || length <= 0 || length % grid !== 0) return `the model accepts positive multiples of ${grid} bp`;
    const { start, end } = this.cropRange(length);
    if (end <= start) return `the centre crop leaves no output bins (use more than ${2 * FULL_OUTPUT_MARGIN * this.binSize} bp)`;
    return null;
  }

  /**
   * Output bins kept from the N = L/32 decoder bins. The reference crops centrally to `bins_to_return`
   * (6144 of 16384 at 524,288 bp) or, with `return_center_bins_only` false, to 16384 - 32 (16 bins off
   * each end). For any other length: the target T is `bins_to_return` capped at N (all bins when the
   * input is shorter than T·32 bp), or N - 32 without centre-only output; the crop itself is the
   * reference's TargetLengthCrop: trim = floor((T - N) / 2), bins [-trim, N + trim) — exactly T bins
   * when N - T is even (8192 bp, bins_to_return 128: bins [64, 192)).
   */
  cropRange(length: number): { start: number; end: number } {
    const n = length / this.binSize;
    const target = this.config.returnCenterBinsOnly ? Math.min(this.config.binsToReturn, n) : n - 2 * FULL_OUTPUT_MARGIN;
    const margin = Math.ceil((n - target) / 2); // = -floor((T - N) / 2)
    return { start: margin, end: n - margin };
  }

  /** Borzoi: the [2n-1, 32] relative-position basis; Flashzoi: rotary cos/sin tables [n, 64]. */
  positionFeeds(length: number): Record<string, TensorData> {
    const n = length / this.transformerResolution;
    if (this.config.flashed) {
      const { cos, sin } = rotaryTables(n, ROTARY_DIM, ROTARY_BASE);
      return {
        rotary_cos: { dtype: 'float32', dims: [n, ROTARY_DIM / 2], data: cos },
        rotary_sin: { dtype: 'float32', dims: [n, ROTARY_DIM / 2], data: sin },
      };
    }
    return { positions: { dtype: 'float32', dims: [2 * n - 1, REL_POS_FEATURES], data: borzoiPositionalFeatures(n, REL_POS_FEATURES) } };
  }

  /**
   * Multiply-add FLOPs (2 per MAC) of convolutions, projections and attention products, per stage, as
   * the graphs run them: the decoder on the kept bins and their reach (the reference's counts, over
   * the whole window, with `fullDecoder`).
   */
  flops(length: number, headNames = this.headNames): FlopCount {
    const { dim, depth, heads, attnDimKey: dk, attnDimValue: dv, finalJoinedChannels: joined } = this.config;
    const ch = this.channels;
    const conv = (positions: number, inCh: number, out: number, k: number) => 2 * positions * inCh * out * k;
    const x0 = length / 32;
    const x1 = length / 64;
    const n = length / this.transformerResolution;
    let tower = 0;
    for (let i = 0; i < 5; i++) tower += conv(length / 2 ** (i + 1), ch[i]!, ch[i + 1]!, 5);
    let attention: number;
    if (this.config.flashed) {
      const d = dim / heads;
      attention = 2 * n * dim * d * (heads + 2 * this.kvHeads) + 2 * n * dim * dim + 2 * 2 * heads * n * n * d;
    } else {
      attention =
        2 * n * dim * (2 * heads * dk + 2 * heads * dv) + // q, k, v, out projections
        2 * (2 * n - 1) * REL_POS_FEATURES * heads * dk + // to_rel_k
        2 * heads * n * n * dk + // content logits
        2 * heads * n * (2 * n - 1) * dk + // positional logits before the shift
        2 * heads * n * n * dv; // attention × values
    }
    const mlp = 2 * 2 * n * dim * 2 * dim;
    const { start, end } = this.cropRange(length);
    const targets = end - start;
    // Positions the decoder runs on at 128, 64 (x_unet1, and exact1 after separable1) and 32 bp.
    const size = (s: Span) => s.hi - s.lo;
    const w = this.fullDecoder ? undefined : decoderWindow(start, end, x0);
    const [d128, d64, e64, d32] = w ? [size(w.transformer), size(w.unet1), size(w.exact1), size(w.unet0)] : [n, x1, x1, x0];
    const k = SEPARABLE_KERNEL;
    const upsampling =
      conv(d128, dim, dim, 1) + conv(d64, dim, dim, 1) + conv(d64, 1, dim, k) + conv(d64, dim, dim, 1) + // unet1 level
      conv(e64, dim, dim, 1) + conv(d32, ch[5]!, dim, 1) + conv(d32, 1, dim, k) + conv(d32, dim, dim, 1); // unet0 level
    const stages: Record<string, number> = {
      stem: conv(length, 4, ch[0]!, 15),
      res_tower: tower,
      unet1: conv(x1, ch[5]!, dim, 5),
      transformer: depth * (attention + mlp),
      upsampling,
      final_joined_convs: conv(targets, dim, joined, 1),
    };
    for (const h of headNames) stages[`heads.${h}`] = conv(targets, joined, this.tracks(h), 1);
    return { stages, total: Object.values(stages).reduce((a, b) => a + b, 0) };
  }
}
