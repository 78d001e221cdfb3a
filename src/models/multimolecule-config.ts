/**
 * MultiMolecule model folders (hub `multimolecule/enformer`, `multimolecule/borzoi-human`, `-mouse`):
 * their config.json is what MultiMolecule's `EnformerConfig` / `BorzoiConfig` (a transformers
 * `PretrainedConfig`) writes — `hidden_size`, `num_hidden_layers`, `num_attention_heads`, …, one species
 * head sized by `id2label` — not the reference ports' `dim`, `depth`, `heads`, …. This maps such a config
 * onto the reference-port keys our parsers read, so a converted folder carries an ordinary config.
 *
 * Read from DLS5-Omics/multimolecule @ cb097904a459ed0f865551ee0dd1b10599a9fabe: configuration_enformer.py,
 * configuration_borzoi.py (keys, defaults, the checks their constructors make), modeling_enformer.py and
 * modeling_borzoi.py (what each key changes in the network) and modules/heads/config.py (the `head` dict).
 * Every key that changes the forward pass either maps onto ours or must hold the one value our
 * architecture builds (the published kernel sizes, activations and eps); anything else is refused with
 * a ConfigError naming the file and the field. Dropouts and the batch-norm momentum change training
 * only: they are carried over (dropouts) or ignored (momentum, `output_contexts`, token ids, …), as the
 * reference-port configs' dropout keys are.
 */
import { ConfigError } from './config.js';

export type MultiMoleculeKind = 'enformer' | 'borzoi';

export interface MultiMoleculeConfig {
  kind: MultiMoleculeKind;
  /** The same model under the reference port's config keys (what `architectureFromConfig` reads). */
  hub: Record<string, unknown>;
  /** The species head the checkpoint's `token_head` is. */
  species: string;
  tracks: number;
  /** Input channels of the stem conv: the size of the tokenizer alphabet (A, C, G, T, N by default). */
  vocabSize: number;
}

/** Keys only MultiMolecule's configs have (the reference ports' configs never do). */
const MULTIMOLECULE_KEYS = ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'attention_head_size'];
/** Reference-port keys that would contradict the MultiMolecule ones if both were present. */
const REFERENCE_KEYS = ['dim', 'depth', 'heads', 'attn_dim_key', 'attn_dim_value', 'output_heads', 'num_tracks_human', 'num_tracks_mouse', 'enable_human_head', 'enable_mouse_head', 'conv_dna_channels', 'res_tower_channels', 'final_joined_channels', 'bins_to_return', 'extra_heads'];
/** Our own keys a caller may lay over a MultiMolecule config (`--full-output`, `--gamma`, `weights convert` overrides). */
const OVERRIDES = ['positional_gamma', 'use_tf_gamma', 'return_center_bins_only', 'pool_type'];

/** Transformer blocks at most: the expected-weights list grows with them, and published models have 8 or 11. */
const MAX_LAYERS = 1024;

/** MultiMolecule's per-species track counts (`species_num_tracks` of each config class). */
const SPECIES_TRACKS: Record<MultiMoleculeKind, Record<string, number>> = {
  enformer: { human: 5313, mouse: 1643 },
  borzoi: { human: 7611, mouse: 2608 },
};

function modelKind(json: Record<string, unknown>): MultiMoleculeKind | undefined {
  const arch = Array.isArray(json.architectures) ? json.architectures[0] : undefined;
  const type = String(json.model_type ?? arch ?? '').toLowerCase();
  if (type.includes('flashzoi')) return undefined;
  if (type.includes('enformer')) return 'enformer';
  if (type.includes('borzoi')) return 'borzoi';
  return undefined;
}

/** Whether a config.json is MultiMolecule's: an Enformer/Borzoi `model_type` with MultiMolecule's own keys. */
export function isMultiMoleculeConfig(json: Record<string, unknown>): boolean {
  return modelKind(json) !== undefined && MULTIMOLECULE_KEYS.some((k) => k in json);
}

/**
 * Typed reads with MultiMolecule's defaults. A missing key takes the default; `null` (Python's None)
 * does only where their constructor replaces None by the default (`nullDefaults`) — elsewhere None
 * reaches the network (`output_act: null` means no output activation) and is judged as a value.
 */
class Fields {
  constructor(
    private readonly json: Record<string, unknown>,
    private readonly source: string,
    private readonly nullDefaults: Set<string>,
  ) {}

  private get(key: string, fallback: unknown): unknown {
    const v = this.json[key];
    return v === undefined || (v === null && this.nullDefaults.has(key)) ? fallback : v;
  }

  raw(key: string): unknown {
    return this.get(key, undefined);
  }

  fail(key: string, why: string): never {
    throw new ConfigError(`${this.source}: field "${key}" ${why}`);
  }

  /** Sizes are capped at 2^31 - 1 (as torch's int32 shapes would be); `max` caps counts that lists are built from. */
  int(key: string, fallback: number, min = 1, max = 2 ** 31 - 1): number {
    const v = this.get(key, fallback);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) this.fail(key, `must be an integer from ${min} to ${max}, found ${JSON.stringify(v)}`);
    return v;
  }

  number(key: string, fallback: number): number {
    const v = this.get(key, fallback);
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a number, found ${JSON.stringify(v)}`);
    return v;
  }

  probability(key: string, fallback: number): number {
    const v = this.number(key, fallback);
    if (v < 0 || v > 1) this.fail(key, `must be a probability in [0, 1], found ${v}`);
    return v;
  }

  string(key: string, fallback: string): string {
    const v = this.get(key, fallback);
    if (typeof v !== 'string') this.fail(key, `must be a string, found ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.get(key, fallback);
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, found ${JSON.stringify(v)}`);
    return v;
  }

  /** A key whose every value but `only` changes the network in a way our architecture does not build. */
  fixed(key: string, only: number | string, why: string, also: (number | string)[] = []): void {
    const v = this.get(key, only);
    if (v === only || also.includes(v as number | string)) return;
    this.fail(key, `is ${JSON.stringify(v)}; seq2track supports only ${JSON.stringify(only)} (${why})`);
  }

  /** `target_length`: a positive bin count, or -1 for no crop (MultiMolecule's TargetLengthCrop). */
  targetLength(fallback: number): number {
    if (this.get('target_length', fallback) === -1) return -1;
    return this.int('target_length', fallback);
  }

  /**
   * Tracks of the one species head: `num_labels` (a PretrainedConfig argument, serialised as
   * `id2label`), else the species' count; `head.num_labels` must agree where set.
   */
  tracks(kind: MultiMoleculeKind, species: string): number {
    let n: number | undefined;
    const id2label = this.json.id2label;
    if (id2label !== undefined && id2label !== null) {
      if (typeof id2label !== 'object' || Array.isArray(id2label)) this.fail('id2label', 'must be an object of track index -> label');
      const count = Object.keys(id2label).length;
      if (count === 0) this.fail('id2label', 'names no tracks');
      n = count;
    }
    const explicit = this.json.num_labels;
    if (explicit !== undefined && explicit !== null) {
      const v = this.int('num_labels', 1);
      if (n !== undefined && v !== n) this.fail('num_labels', `is ${v} but id2label names ${n} tracks`);
      n = v;
    }
    if (n === undefined) {
      n = SPECIES_TRACKS[kind][species];
      if (n === undefined) this.fail('species', `is ${JSON.stringify(species)}: give num_labels (or id2label) for a species other than ${Object.keys(SPECIES_TRACKS[kind]).join(' or ')}`);
    }
    return n;
  }

  /**
   * The `head` dict (MultiMolecule's HeadConfig) of the token head: dropout → transform → decoder
   * Linear → act. We build decoder (with bias) then softplus, so only the identity transform, no `act`
   * and a biased decoder reading the head's hidden size and predicting `tracks` can be honoured.
   */
  head(hiddenSize: number, tracks: number): void {
    const h = this.json.head;
    if (h === undefined || h === null) return;
    if (typeof h !== 'object' || Array.isArray(h)) this.fail('head', 'must be an object (MultiMolecule HeadConfig)');
    const head = h as Record<string, unknown>;
    const sub = (key: string, ok: boolean, why: string) => {
      if (!ok) this.fail(`head.${key}`, `is ${JSON.stringify(head[key])}; ${why}`);
    };
    const unset = (key: string) => head[key] === undefined || head[key] === null;
    sub('transform', unset('transform') || head.transform === 'identity', 'seq2track supports only the identity transform (no layers between the trunk and the track projection)');
    sub('act', unset('act'), 'an activation on the logits before softplus is not supported');
    // nn.Linear(bias=None) has no bias: only a missing key means HeadConfig's default (true).
    sub('bias', head.bias === undefined || head.bias === true, 'the track projection must have a bias');
    sub('hidden_size', unset('hidden_size') || head.hidden_size === hiddenSize, `the track projection reads the ${hiddenSize} channels of the model's last block`);
    sub('num_labels', unset('num_labels') || head.num_labels === tracks, `the model has ${tracks} tracks (num_labels / id2label)`);
    sub('output_name', unset('output_name') || head.output_name === 'last_hidden_state', 'the track projection reads last_hidden_state');
  }

  species(override: string | undefined): string {
    const s = override ?? this.string('species', 'human');
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(s)) this.fail('species', `must be a head name (letters, digits, _), found ${JSON.stringify(s)}`);
    return s;
  }
}

function mixedKeys(json: Record<string, unknown>, source: string): void {
  const ours = REFERENCE_KEYS.filter((k) => k in json);
  if (ours.length === 0) return;
  const theirs = MULTIMOLECULE_KEYS.filter((k) => k in json);
  throw new ConfigError(`${source}: mixes MultiMolecule keys (${theirs.join(', ')}) with reference-port keys (${ours.join(', ')}); give one kind of config`);
}

function enformer(f: Fields, species: string): Omit<MultiMoleculeConfig, 'kind' | 'species'> {
  const dim = f.int('hidden_size', 1536);
  const heads = f.int('num_attention_heads', 8);
  const numDownsamples = f.int('num_downsamples', 7, 2);
  const sequenceLength = f.int('sequence_length', 196_608);
  const targetLength = f.targetLength(896);
  // The checks EnformerConfig.__init__ makes, so a config it would refuse is refused here too.
  if (dim % 2 !== 0) f.fail('hidden_size', `must be even, found ${dim}`);
  if (dim % heads !== 0) f.fail('hidden_size', `(${dim}) must be divisible by num_attention_heads (${heads})`);
  if ((dim / heads) % 6 !== 0) f.fail('hidden_size', `/ num_attention_heads (${dim / heads}) must be divisible by 6 (relative position features)`);
  const bin = 2 ** numDownsamples;
  if (sequenceLength % bin !== 0) f.fail('sequence_length', `(${sequenceLength}) must be divisible by 2^num_downsamples (${bin})`);
  if (targetLength > sequenceLength / bin) f.fail('target_length', `(${targetLength}) exceeds the ${sequenceLength / bin} bins of sequence_length ${sequenceLength}`);
  f.fixed('stem_kernel_size', 15, 'the published stem convolution');
  f.fixed('conv_tower_kernel_size', 5, 'the published conv tower');
  f.fixed('head_hidden_size', 2 * dim, 'the pointwise head is 2 × hidden_size wide, as published');
  f.fixed('hidden_act', 'quick_gelu', "Enformer's sigmoid GELU, x·sigmoid(1.702x)");
  f.fixed('output_act', 'softplus', 'the heads end in softplus');
  f.fixed('batch_norm_eps', 1e-5, "Enformer's BatchNorm eps");
  const vocabSize = f.int('vocab_size', 5, 4);
  const tracks = f.tracks('enformer', species);
  f.head(2 * dim, tracks);
  // The precomputed basis is the TF gamma table MultiMolecule's converter stores in every layer
  // (tf_gammas of enformer-pytorch); without it MultiMolecule computes enformer-pytorch's run-time
  // formula (amax over the basis functions at each distance), our 'torch' normalisation.
  const precomputed = f.bool('use_precomputed_gamma_basis', false);
  return {
    hub: {
      architectures: ['Enformer'],
      model_type: 'enformer',
      dim,
      depth: f.int('num_hidden_layers', 11, 1, MAX_LAYERS),
      heads,
      output_heads: { [species]: tracks },
      target_length: targetLength,
      attn_dim_key: f.int('attention_head_size', 64),
      dropout_rate: f.probability('hidden_dropout', 0.4),
      attn_dropout: f.probability('attention_dropout', 0.05),
      pos_dropout: f.probability('position_dropout', 0.01),
      num_downsamples: numDownsamples,
      dim_divisible_by: f.int('dim_divisible_by', 128),
      use_tf_gamma: precomputed,
      positional_gamma: precomputed ? 'tf' : 'torch',
      sequence_length: sequenceLength,
    },
    tracks,
    vocabSize,
  };
}

function borzoi(f: Fields, species: string): Omit<MultiMoleculeConfig, 'kind' | 'species'> {
  const towerValue = f.raw('conv_tower_channels') ?? [608, 736, 896, 1056, 1280];
  if (!Array.isArray(towerValue) || !towerValue.every((c) => typeof c === 'number' && Number.isSafeInteger(c) && c >= 1)) {
    f.fail('conv_tower_channels', `must be a list of positive integers, found ${JSON.stringify(towerValue)}`);
  }
  if (towerValue.length !== 5) f.fail('conv_tower_channels', `has ${towerValue.length} stages; seq2track's Borzoi has the published five (32 bp output bins)`);
  const sequenceLength = f.int('sequence_length', 524_288);
  // Five tower stages: 2^7 = 128 bp per transformer position, 2^5 = 32 bp per output bin.
  if (sequenceLength % 128 !== 0) f.fail('sequence_length', `(${sequenceLength}) must be divisible by 128 (the pooling down to the transformer)`);
  const targetLength = f.targetLength(6144);
  if (targetLength > sequenceLength / 32) f.fail('target_length', `(${targetLength}) exceeds the ${sequenceLength / 32} output bins of sequence_length ${sequenceLength}`);
  f.fixed('num_rel_pos_features', 32, "Borzoi's relative-position basis");
  f.fixed('stem_kernel_size', 15, 'the published stem convolution');
  f.fixed('conv_tower_kernel_size', 5, 'the published conv tower');
  f.fixed('unet_kernel_size', 3, 'the published U-Net separable convolutions');
  // gelu_pytorch_tanh is the same tanh approximation as gelu_new.
  f.fixed('hidden_act', 'gelu_new', "Borzoi's tanh-approximated GELU", ['gelu_pytorch_tanh']);
  f.fixed('output_act', 'softplus', 'the heads end in softplus');
  f.fixed('batch_norm_eps', 1e-3, "Borzoi's BatchNorm eps");
  const finalJoined = f.int('head_hidden_size', 1920);
  const vocabSize = f.int('vocab_size', 5, 4);
  const tracks = f.tracks('borzoi', species);
  f.head(finalJoined, tracks);
  const counts = { ...SPECIES_TRACKS.borzoi };
  const extra: Record<string, number> = {};
  if (species in counts) counts[species] = tracks;
  else extra[species] = tracks;
  return {
    hub: {
      architectures: ['Borzoi'],
      model_type: 'borzoi',
      dim: f.int('hidden_size', 1536),
      depth: f.int('num_hidden_layers', 8, 1, MAX_LAYERS),
      heads: f.int('num_attention_heads', 8),
      attn_dim_key: f.int('attention_head_size', 64),
      attn_dim_value: f.int('attention_value_size', 192),
      dropout_rate: f.probability('intermediate_dropout', 0.2),
      attn_dropout: f.probability('attention_dropout', 0.05),
      pos_dropout: f.probability('position_dropout', 0.01),
      enable_human_head: species === 'human',
      enable_mouse_head: species === 'mouse',
      ...(Object.keys(extra).length ? { extra_heads: extra } : {}),
      return_center_bins_only: true,
      // -1 (no crop): our crop keeps min(bins_to_return, bins there are), so a count no input reaches.
      bins_to_return: targetLength === -1 ? Number.MAX_SAFE_INTEGER : targetLength,
      flashed: false,
      sequence_length: sequenceLength,
      conv_dna_channels: f.int('stem_channels', 512),
      res_tower_channels: towerValue,
      final_joined_channels: finalJoined,
      num_tracks_human: counts.human,
      num_tracks_mouse: counts.mouse,
    },
    tracks,
    vocabSize,
  };
}

/**
 * A MultiMolecule config.json under the reference port's keys (see the file comment). `species`
 * overrides the config's own (`weights convert --species`). Throws a ConfigError naming the file and
 * the field for a value our architectures cannot honour.
 */
export function fromMultiMoleculeConfig(json: Record<string, unknown>, source: string, species?: string): MultiMoleculeConfig {
  const kind = modelKind(json);
  if (!kind) throw new ConfigError(`${source}: not a MultiMolecule Enformer or Borzoi config (model_type ${JSON.stringify(json.model_type)})`);
  mixedKeys(json, source);
  // The keys whose None each constructor replaces by its default (EnformerForTokenPrediction /
  // BorzoiForTokenPrediction fill head.num_labels and head.hidden_size the same way).
  const nullDefaults = new Set(['num_labels', 'head', 'id2label', kind === 'enformer' ? 'head_hidden_size' : 'conv_tower_channels']);
  const f = new Fields(json, source, nullDefaults);
  const s = f.species(species);
  const mapped = kind === 'enformer' ? enformer(f, s) : borzoi(f, s);
  for (const k of OVERRIDES) if (json[k] !== undefined) mapped.hub[k] = json[k];
  return { kind, species: s, ...mapped };
}

/** A config under the reference port's keys: MultiMolecule configs mapped, any other returned as it is. */
export function referenceConfig(json: Record<string, unknown>, source: string): Record<string, unknown> {
  return isMultiMoleculeConfig(json) ? fromMultiMoleculeConfig(json, source).hub : json;
}
