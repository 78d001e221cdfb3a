/**
 * Enformer (Avsec et al. 2021), as in DeepMind's Sonnet code and the enformer-pytorch port:
 *
 *   one-hot DNA ─► stem: conv15 ─ residual(BN-GELU-conv1) ─ softmax-pool/2
 *               ─► conv tower × (num_downsamples-1): BN-GELU-conv5 ─ residual(BN-GELU-conv1) ─ pool/2
 *               ─► transformer × depth: residual(LN-relative MHA) ─ residual(LN-Linear-ReLU-Linear)
 *               ─► centre crop to target_length ─► BN-GELU-conv1 (2·dim) ─ GELU ─► softplus heads
 *
 * The convolutional part (stem + tower) is local and runs as its own graph, possibly on tiles; the
 * transformer and heads form a second graph that takes the whole sequence.
 */
import type { Value } from '../engine/graph.js';
import type { ExpectedTensor } from '../weights/weight-set.js';
import { WeightList } from './weight-list.js';
import { relativeAttention, transformerBlock } from './attention.js';
import { attentionPool, batchNorm, batchNormChannelsLast, conv, gelu, linear, maxPool, toChannelsFirst, toChannelsLast, type LayerContext } from './layers.js';
import { softplusHeads } from './output-heads.js';
import { enformerPositionalFeatures, GAMMA_NORMALISATIONS, type GammaNormalisation } from './positional.js';
import { ConfigError, optionalBool, optionalInt, optionalString, readHeads, requireInt } from './config.js';
import { exponentialLinspaceInt } from './schedule.js';
import { type Architecture, type FlopCount, type GammaTable, type HeadExtras, type HeadParameters, type HeadSegments, type TrunkOutput } from './architecture.js';
import type { TransformerShape } from './attention-maps.js';
import { buildSegmentedHead } from './segmented-head.js';
import type { TensorData } from '../engine/protocol.js';

const EPS = 1e-5;
/** Transformer length of the published TF gamma table (196,608 bp / 128). */
const TF_GAMMA_POSITIONS = 1536;

/**
 * Index in enformer-pytorch's `_trunk` Sequential -> the module registered under its own name (the
 * Rearranges at 0 and 3 and the crop at 5 hold no parameters).
 *
 * Why files with only these names exist: a PyTorch state dict lists a tensor shared by two modules
 * under both names, and safetensors cannot store shared tensors, so its `save_model` drops all names
 * of a shared group but one. huggingface/safetensors@24b0b28, bindings/python/py_src/safetensors/torch.py:
 * `_find_shared_tensors` groups names by (device, storage pointer, storage size); both names of an
 * alias pair are the same tensor (parameter or BN buffer), so they fall in one group and both cover
 * their whole storage (`_is_complete`); `_remove_duplicate_names` then keeps `sorted(complete_names)[0]`
 * (save_model passes no preferred or discarded names), a code-point sort in which '_' (0x5F) precedes
 * every lower-case letter, so `_trunk.1.*` beats `stem.*`, `_trunk.2.*` beats `conv_tower.*`,
 * `_trunk.4.*` beats `transformer.*` and `_trunk.6.*` beats `final_pointwise.*`; the heads are not
 * aliased and stay `_heads.*`. The hub's .bin -> safetensors script (bindings/python/convert.py, same
 * commit) selects the same way: its discard names come from the transformers class named in
 * config.json, and transformers has no `Enformer` class, so there are none. Both record each dropped
 * name in the header metadata, but other writers need not, so the names alone are relied on.
 */
const TRUNK_ALIASES: Record<string, string> = { '1': 'stem', '2': 'conv_tower', '4': 'transformer', '6': 'final_pointwise' };

export interface EnformerConfig {
  dim: number;
  depth: number;
  heads: number;
  outputHeads: Record<string, number>;
  targetLength: number;
  attnDimKey: number;
  numDownsamples: number;
  dimDivisibleBy: number;
  useTfGamma: boolean;
  /**
   * Normalisation of the gamma positional features (seq2track's `positional_gamma` key): 'tf' (the
   * TensorFlow original's; default), 'torch' (enformer-pytorch's run-time formula since 2022-05-31,
   * for checkpoints trained from scratch in that port with use_tf_gamma off) or 'torch-global-max'
   * (that port's formula before 2022-05-31, for EleutherAI's early checkpoints). Not read from
   * `use_tf_gamma`: configs with `use_tf_gamma: false` exist whose weights expect the TF
   * normalisation (the fixtures).
   */
  gamma: GammaNormalisation;
  poolType: 'attention' | 'max';
  /**
   * The input window the model was made for (our extension key `sequence_length`; MultiMolecule
   * configs carry one): the default length of genome-wide jobs. Absent: the published 196,608 bp.
   */
  sequenceLength?: number;
}

/** Reads the enformer-pytorch `config.json` keys (defaults as in its EnformerConfig). */
export function parseEnformerConfig(json: Record<string, unknown>, source: string): EnformerConfig {
  const dim = requireInt(json, 'dim', source, 1536);
  const heads = requireInt(json, 'heads', source, 8);
  if (dim % heads !== 0) throw new ConfigError(`${source}: dim (${dim}) must be divisible by heads (${heads})`);
  if ((dim / heads) % 6 !== 0) throw new ConfigError(`${source}: dim/heads (${dim / heads}) must be divisible by 6 (relative position features)`);
  if (dim % 2 !== 0) throw new ConfigError(`${source}: dim (${dim}) must be even`);
  const poolType = optionalString(json, 'pool_type', source) ?? 'attention';
  if (poolType !== 'attention' && poolType !== 'max') throw new ConfigError(`${source}: pool_type must be "attention" or "max", not "${poolType}"`);
  const gamma = parseGamma(optionalString(json, 'positional_gamma', source) ?? 'tf', source);
  // enformer-pytorch 0.3-0.5 had ConvNeXt blocks in place of the BatchNorm conv blocks: other tensors
  // and another computation, which nothing here builds (every published config says false).
  if (optionalBool(json, 'use_convnext', source)) throw new ConfigError(`${source}: use_convnext: true (enformer-pytorch's ConvNeXt conv blocks) is not supported`);
  const numDownsamples = requireInt(json, 'num_downsamples', source, 7);
  if (numDownsamples < 2) throw new ConfigError(`${source}: num_downsamples must be at least 2`);
  const sequenceLength = json.sequence_length === undefined ? undefined : requireInt(json, 'sequence_length', source);
  if (sequenceLength !== undefined && sequenceLength % 2 ** numDownsamples !== 0) {
    throw new ConfigError(`${source}: sequence_length (${sequenceLength}) must be a multiple of 2^num_downsamples (${2 ** numDownsamples})`);
  }
  return {
    dim,
    depth: requireInt(json, 'depth', source, 11),
    heads,
    outputHeads: readHeads(json, 'output_heads', source, { human: 5313, mouse: 1643 }),
    targetLength: optionalInt(json, 'target_length', source) ?? 896,
    attnDimKey: requireInt(json, 'attn_dim_key', source, 64),
    numDownsamples,
    dimDivisibleBy: requireInt(json, 'dim_divisible_by', source, 128),
    useTfGamma: optionalBool(json, 'use_tf_gamma', source) ?? false,
    gamma,
    poolType,
    sequenceLength,
  };
}

function parseGamma(value: string, source: string): GammaNormalisation {
  const known = GAMMA_NORMALISATIONS as readonly string[];
  if (known.includes(value)) return value as GammaNormalisation;
  const choices = GAMMA_NORMALISATIONS.map((g) => `"${g}"`);
  throw new ConfigError(`${source}: positional_gamma must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, not "${value}"`);
}

export class Enformer implements Architecture {
  readonly kind = 'enformer';
  readonly binSize: number;
  readonly trunkResolution: number;
  readonly channels: number[];
  readonly gelu = 'sigmoid' as const;
  /** Attention runs over this many chunks of query rows: bounds the logits' memory, not the result. */
  queryChunks = 2;
  /** Length of the sequence the model was trained on (the published model's unless the config says). */
  readonly defaultSequenceLength: number;

  constructor(readonly config: EnformerConfig) {
    this.defaultSequenceLength = config.sequenceLength ?? 196_608;
    this.binSize = 2 ** config.numDownsamples;
    this.trunkResolution = this.binSize;
    const half = config.dim / 2;
    this.channels = [half, ...exponentialLinspaceInt(half, config.dim, config.numDownsamples - 1, config.dimDivisibleBy)];
  }

  tracks(head: string): number {
    const n = this.config.outputHeads[head];
    if (n === undefined) throw new Error(`no head named '${head}' (heads: ${this.headNames.join(', ')})`);
    return n;
  }

  readonly trunkStages = ['stem', 'conv_tower'];

  headParameters(head: string, tracks: number): HeadParameters {
    return { weight: `_heads.${head}.0.weight`, weightShape: [tracks, 2 * this.config.dim], bias: `_heads.${head}.0.bias` };
  }

  /** enformer-pytorch's `output_heads` takes any head. */
  configWithHead(json: Record<string, unknown>, head: string, tracks: number): Record<string, unknown> {
    return { ...json, output_heads: { ...this.config.outputHeads, [head]: tracks } };
  }

  get trunkOutputs(): TrunkOutput[] {
    return [{ name: 'trunk', resolution: this.trunkResolution, channels: this.config.dim }];
  }

  get headNames(): string[] {
    return Object.keys(this.config.outputHeads);
  }

  get transformer(): TransformerShape {
    return { layers: this.config.depth, heads: this.config.heads, resolution: this.binSize };
  }

  get embeddingSize(): number {
    return 2 * this.config.dim;
  }

  get positionFeatures(): number {
    return this.config.dim / this.config.heads;
  }

  /** Half-width in bp of the convolutional stack's receptive field (259 bp at 7 downsamples). */
  get trunkRadiusBp(): number {
    let radius = 7; // stem conv k15
    for (let i = 0; i < this.channels.length - 1; i++) radius += 2 * 2 ** (i + 1); // k5 at resolution 2^(i+1)
    return radius;
  }

  /** The radius rounded up to whole bins (the trunk grid): 384 bp at 7 downsamples. */
  get trunkHaloBp(): number {
    return Math.ceil(this.trunkRadiusBp / this.binSize) * this.binSize;
  }

  expectedWeights(): ExpectedTensor[] {
    const { dim, depth, heads, attnDimKey } = this.config;
    const w = new WeightList();
    const pool = (p: string, c: number) => {
      if (this.config.poolType === 'attention') w.add(`${p}.to_attn_logits.weight`, [c, c, 1, 1]);
    };
    const half = this.channels[0]!;
    w.conv('stem.0', half, 4, 15).batchNorm('stem.1.fn.0', half).conv('stem.1.fn.2', half, half, 1);
    pool('stem.2', half);
    for (let i = 0; i + 1 < this.channels.length; i++) {
      const [inCh, out] = [this.channels[i]!, this.channels[i + 1]!];
      w.batchNorm(`conv_tower.${i}.0.0`, inCh).conv(`conv_tower.${i}.0.2`, out, inCh, 5);
      w.batchNorm(`conv_tower.${i}.1.fn.0`, out).conv(`conv_tower.${i}.1.fn.2`, out, out, 1);
      pool(`conv_tower.${i}.2`, out);
    }
    for (let j = 0; j < depth; j++) {
      const a = `transformer.${j}.0.fn`;
      w.layerNorm(`${a}.0`, dim).relativeProjections(`${a}.1`, dim, heads, attnDimKey, dim / heads, this.positionFeatures).relativeBiases(`${a}.1`, heads, attnDimKey);
      w.feedForward(`transformer.${j}.1.fn`, dim);
    }
    w.batchNorm('final_pointwise.1.0', dim).conv('final_pointwise.1.2', 2 * dim, dim, 1);
    for (const [head, tracks] of Object.entries(this.config.outputHeads)) w.linear(`_heads.${head}.0`, tracks, 2 * dim);
    return w.tensors;
  }

  /**
   * enformer-pytorch keeps BN step counters (unused here) and registers the trunk twice: `_trunk` is
   * Sequential(Rearrange, stem, conv_tower, Rearrange, transformer, crop, final_pointwise), so every
   * trunk parameter also appears as `_trunk.{1,2,4,6}.*` (lucidrains/enformer-pytorch@5a5974d
   * modeling_enformer.py, `Enformer.__init__`; this layout dates from 0dc46e4, 2022-06-01). The alias
   * is mapped to its canonical name because some files hold only the alias (see TRUNK_ALIASES); when
   * a file holds both, `resolveTensorNames` keeps the canonical one. Other `_trunk.*` names are left
   * as they are, so a file of another layout fails with them named as unexpected tensors. The port's
   * layout from before 0.5 reuses these indices for other modules; `weights convert` recognises it
   * from the whole set of names and maps it instead (weights/enformer-legacy-names.ts).
   */
  canonicalName(name: string): string | null {
    if (name.endsWith('.num_batches_tracked')) return null;
    const alias = /^_trunk\.(\d+)\.(.+)$/.exec(name);
    const module = alias ? TRUNK_ALIASES[alias[1]!] : undefined;
    return module ? `${module}.${alias![2]}` : name;
  }

  /** Stem and conv tower: dna [B, L, 4] -> trunk [B, L/binSize, dim]. */
  buildTrunk(c: LayerContext): void {
    const g = c.g;
    const dna = g.input('dna', 'float32', ['batch', 'length', 4]);
    const pool = (x: Value, p: string) => (this.config.poolType === 'attention' ? attentionPool(c, x, p) : maxPool(c, x));
    const block = (x: Value, p: string) => conv(c, gelu(c, batchNorm(c, x, `${p}.0`, EPS), this.gelu), `${p}.2`);

    let x = conv(c, toChannelsFirst(c, dna), 'stem.0');
    x = g.op('Add', [x, block(x, 'stem.1.fn')]);
    x = pool(x, 'stem.2');
    for (let i = 0; i + 1 < this.channels.length; i++) {
      x = block(x, `conv_tower.${i}.0`);
      x = g.op('Add', [x, block(x, `conv_tower.${i}.1.fn`)]);
      x = pool(x, `conv_tower.${i}.2`);
    }
    g.output(toChannelsLast(c, x), 'trunk', 'float32', ['batch', 'bins', this.config.dim]);
  }

  /** Transformer, crop, final pointwise and heads: trunk [B, n, dim] -> heads [B, T, tracks]. */
  buildHead(c: LayerContext, extras: HeadExtras = {}): void {
    buildSegmentedHead(c, this.headSegments, this.config.depth, 'bins', extras);
  }

  get headSegments(): HeadSegments {
    const { dim, heads, attnDimKey } = this.config;
    return {
      input: 'trunk',
      channels: dim,
      // Transformer block j: relative attention on the [2n-1, F] distance basis, then the MLP.
      blocks: (c, maps) => {
        const positions = c.g.input('positions', 'float32', ['distances', this.positionFeatures]);
        const shape = { heads, keySize: attnDimKey, valueSize: dim / heads, queryChunks: this.queryChunks };
        return (x, j) => transformerBlock(c, x, j, EPS, (v, prefix) => relativeAttention(c, v, positions, prefix, shape, maps?.tap(j)));
      },
      // Centre crop, final pointwise and the heads.
      tail: (c, transformed, extras = {}) => {
        const g = c.g;
        const crop = g.input('crop', 'int64', [2]);
        const start = g.op('Slice', [crop, g.ints([0]), g.ints([1])]);
        const end = g.op('Slice', [crop, g.ints([1]), g.ints([2])]);
        const x = g.op('Slice', [transformed, start, end, g.ints([1])]);

        const pointwise = 'final_pointwise.1';
        let e = gelu(c, batchNormChannelsLast(c, x, `${pointwise}.0`, EPS), this.gelu);
        e = gelu(c, linear(c, e, `${pointwise}.2`, { weightDims: [2 * dim, dim] }), this.gelu);
        softplusHeads(c, e, 2 * dim, Object.entries(this.config.outputHeads).map(([name, tracks]) => ({ name, tracks, prefix: `_heads.${name}.0` })), extras);
      },
    };
  }

  /** Why a sequence length cannot be used, or null. */
  lengthProblem(length: number): string | null {
    const t = this.config.targetLength;
    const minimum = Math.max(t, 1) * this.binSize;
    if (length % this.binSize !== 0 || length < minimum) {
      return `the model accepts multiples of ${this.binSize} bp of at least ${minimum} bp (${Math.max(t, 1)} output bins)`;
    }
    return null;
  }

  /** Trunk positions kept by the centre crop, with enformer-pytorch's rounding for odd differences. */
  cropRange(length: number): { start: number; end: number } {
    const n = length / this.binSize;
    const t = this.config.targetLength;
    if (t === -1 || t === n) return { start: 0, end: n };
    const trim = Math.floor((t - n) / 2); // negative, floor division as in the port
    return { start: -trim, end: n + trim };
  }

  /** The [2n-1, F] relative-position basis for n trunk positions. */
  positions(n: number, gammaTable?: Float32Array): Float32Array {
    return Float32Array.from(enformerPositionalFeatures(n, this.positionFeatures, { gammaTable, gamma: this.config.gamma }));
  }

  /**
   * `positions` for the head graph. With `use_tf_gamma`, the published TF table replaces the gamma
   * block at the length it was made for (1,536 positions = 196,608 bp); at other lengths, where no
   * table exists, the TF-normalised formula is computed (it matches the table to ~2.5e-3).
   */
  positionFeeds(length: number, gammaTable?: GammaTable): Record<string, TensorData> {
    const n = length / this.binSize;
    // enformer-pytorch's formulas ('torch', 'torch-global-max') are computed at every length; the TF
    // table is TF-normalised, so it never stands in for them.
    if (this.config.gamma !== 'tf') gammaTable = undefined;
    if (this.config.useTfGamma && this.config.gamma === 'tf' && n === TF_GAMMA_POSITIONS) {
      if (gammaTable?.n !== n) {
        throw new ConfigError(
          `the config sets use_tf_gamma: ${length} bp needs the TF gamma table (tf_gammas.safetensors beside the weights, or gammaTablePath / --tf-gamma FILE; \`seq2track weights fetch enformer\` brings it)`,
        );
      }
      const basis = gammaTable.values.length / (2 * n - 1);
      if (basis !== this.positionFeatures / 6) {
        throw new ConfigError(`the TF gamma table has ${basis} basis functions, this model needs ${this.positionFeatures / 6} (dim/heads/6)`);
      }
    }
    const data = this.positions(n, gammaTable?.n === n ? gammaTable.values : undefined);
    return { positions: { dtype: 'float32', dims: [2 * n - 1, this.positionFeatures], data } };
  }

  flops(length: number, headNames = this.headNames): FlopCount {
    const { dim, depth, heads, attnDimKey } = this.config;
    const half = this.channels[0]!;
    const stem = 2 * length * half * (4 * 15 + half + (this.config.poolType === 'attention' ? half : 0));
    let tower = 0;
    for (let i = 0; i + 1 < this.channels.length; i++) {
      const li = length / 2 ** (i + 1);
      const [inCh, out] = [this.channels[i]!, this.channels[i + 1]!];
      tower += 2 * li * out * (inCh * 5 + out + (this.config.poolType === 'attention' ? out : 0));
    }
    const n = length / this.binSize;
    const dv = dim / heads;
    const perLayer =
      2 * n * dim * (2 * heads * attnDimKey + 2 * heads * dv) +
      2 * (2 * n - 1) * this.positionFeatures * heads * attnDimKey +
      2 * heads * n * n * attnDimKey +
      2 * heads * n * (2 * n - 1) * attnDimKey +
      2 * heads * n * n * dv +
      2 * n * dim * 2 * dim * 2;
    const { start, end } = this.cropRange(length);
    const targets = end - start;
    const stages: Record<string, number> = {
      stem,
      conv_tower: tower,
      transformer: depth * perLayer,
      final_pointwise: 2 * targets * dim * 2 * dim,
    };
    for (const h of headNames) stages[`heads.${h}`] = 2 * targets * 2 * dim * this.config.outputHeads[h]!;
    return { stages, total: Object.values(stages).reduce((a, b) => a + b, 0) };
  }
}
