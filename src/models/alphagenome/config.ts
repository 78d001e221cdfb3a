/**
 * AlphaGenome's dimensions, read from a `config.json` with `model_type: "alphagenome"` (the keys of the
 * shrunk parity fixture `alphagenome-small`; every key absent takes the published model's value), and
 * the weight names and shapes they imply (the PyTorch port's `state_dict` names).
 */
import { ConfigError, requireInt } from '../config.js';
import type { ExpectedTensor } from '../../weights/weight-set.js';

/** The seven genome-track heads, in the port's order. */
export const TRACK_HEADS = ['atac', 'dnase', 'procap', 'cage', 'rna_seq', 'chip_tf', 'chip_histone'] as const;
export type TrackHead = (typeof TRACK_HEADS)[number];

/** Organisms by index: the organism embeddings and every per-organism head weight use this order. */
export const ORGANISMS = ['human', 'mouse'] as const;

export interface AlphaGenomeConfig {
  numOrganisms: number;
  /** Default input length in bp (any multiple of 2,048 runs). */
  sequenceLength: number;
  /** Widths at 1, 2, 4, …, 64 bp (the encoder's skips); the last is the trunk width. */
  encoderChannels: number[];
  trunkDim: number;
  decoderDim: number;
  embeddings128Dim: number;
  embeddings1Dim: number;
  transformerBlocks: number;
  /** A pair update runs before block i when i % pairUpdateEvery === 0. */
  pairUpdateEvery: number;
  mhaHeads: number;
  mhaQkDim: number;
  mhaVDim: number;
  logitsSoftCap: number;
  mlpExpansion: number;
  pairDim: number;
  /** bp per pair position. */
  pairResolution: number;
  /** 128-bp tokens mean-pooled into one pair position (pairResolution / 128). */
  seq2pairPool: number;
  seq2pairHeads: number;
  seq2pairHeadDim: number;
  /** The `seq_length` argument of the central-mask features (the port's 8192 // 16). */
  centralMaskSeqLength: number;
  pairMlpExpansion: number;
  ropeMaxPosition: number;
  normEps: number;
  tracks: Record<TrackHead, number>;
  trackResolutions: Record<TrackHead, number[]>;
  squashing: Record<TrackHead, boolean>;
  softClip: number;
  contactMapTracks: number;
  spliceClasses: number;
  /** Valid usage tracks per organism; the output has max of them, the rest masked. */
  spliceUsageTracks: number[];
  /** Valid junction tissues per organism; pred_counts has 2·max of them. */
  junctionTissues: number[];
  junctionHiddenDim: number;
  junctionRopeMaxPosition: number;
  /** K: top-k splice sites per class handed to the junction head. */
  numSpliceSites: number;
  spliceThreshold: number;
}

/** The published model (genomicsxai/alphagenome-pytorch's literals; Avsec et al. 2025). */
const FULL = {
  dna_embedder_channels: 768,
  channel_increment: 128,
  num_transformer_blocks: 9,
  mha_num_heads: 8,
  mha_qk_dim: 128,
  mha_v_dim: 192,
  pair_dim: 128,
  seq2pair_num_heads: 32,
  seq2pair_head_dim: 128,
  contact_maps_tracks: 28,
  splice_usage_tracks_per_organism: [734, 180],
  splice_junction_tissues_per_organism: [367, 367],
  splice_junction_hidden_dim: 768,
  num_splice_sites: 512,
  sequence_length: 1_048_576,
  tracks: { atac: 256, dnase: 384, procap: 128, cage: 640, rna_seq: 768, chip_tf: 1664, chip_histone: 1152 },
};

const RESOLUTIONS: Record<TrackHead, number[]> = { atac: [1, 128], dnase: [1, 128], procap: [1, 128], cage: [1, 128], rna_seq: [1, 128], chip_tf: [128], chip_histone: [128] };

function number(json: Record<string, unknown>, key: string, source: string, fallback: number): number {
  const v = json[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ConfigError(`${source}: field "${key}" must be a positive number, found ${JSON.stringify(v)}`);
  return v;
}

function intList(json: Record<string, unknown>, key: string, source: string, fallback: number[], length: number): number[] {
  const v = json[key] ?? fallback;
  if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
    throw new ConfigError(`${source}: field "${key}" must be a list of ${length} non-negative integers, found ${JSON.stringify(v)}`);
  }
  return v as number[];
}

function perHead<T>(json: Record<string, unknown>, key: string, source: string, fallback: Record<TrackHead, T>, valid: (v: unknown) => v is T, what: string): Record<TrackHead, T> {
  const v = json[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${source}: field "${key}" must be an object keyed by head name`);
  const out = { ...fallback };
  for (const [name, x] of Object.entries(v)) {
    if (!(TRACK_HEADS as readonly string[]).includes(name)) throw new ConfigError(`${source}: field "${key}" names an unknown head '${name}' (heads: ${TRACK_HEADS.join(', ')})`);
    if (!valid(x)) throw new ConfigError(`${source}: field "${key}.${name}" must be ${what}, found ${JSON.stringify(x)}`);
    out[name as TrackHead] = x;
  }
  return out;
}

export function parseAlphaGenomeConfig(json: Record<string, unknown>, source: string): AlphaGenomeConfig {
  const int = (key: string, fallback: number) => requireInt(json, key, source, fallback);
  const numOrganisms = int('num_organisms', 2);
  const c0 = int('dna_embedder_channels', FULL.dna_embedder_channels);
  const inc = int('channel_increment', FULL.channel_increment);
  const downBlocks = int('num_down_blocks', 6);
  if (downBlocks !== 6) throw new ConfigError(`${source}: field "num_down_blocks" must be 6 (the 1..64 bp U-Net levels), found ${downBlocks}`);
  const encoderChannels = Array.from({ length: 7 }, (_, i) => c0 + i * inc);
  if (json.encoder_channels !== undefined && JSON.stringify(json.encoder_channels) !== JSON.stringify(encoderChannels)) {
    throw new ConfigError(`${source}: field "encoder_channels" ${JSON.stringify(json.encoder_channels)} disagrees with dna_embedder_channels + i·channel_increment = ${JSON.stringify(encoderChannels)}`);
  }
  const trunkDim = int('trunk_dim', encoderChannels[6]!);
  if (trunkDim !== encoderChannels[6]) throw new ConfigError(`${source}: field "trunk_dim" (${trunkDim}) must equal the last encoder width ${encoderChannels[6]}`);
  const decoderDim = int('decoder_dim', c0);
  if (decoderDim !== c0) throw new ConfigError(`${source}: field "decoder_dim" (${decoderDim}) must equal dna_embedder_channels (${c0}): the decoder ends at the 1-bp skip width`);
  const pairResolution = int('pair_resolution', 2048);
  const seq2pairPool = int('seq2pair_pool', 16);
  if (pairResolution !== 128 * seq2pairPool) throw new ConfigError(`${source}: pair_resolution (${pairResolution}) must be 128 × seq2pair_pool (${seq2pairPool})`);
  const mhaHeads = int('mha_num_heads', FULL.mha_num_heads);
  if (int('mha_num_kv_heads', 1) !== 1) throw new ConfigError(`${source}: field "mha_num_kv_heads" must be 1 (multi-query attention)`);
  const mhaQkDim = int('mha_qk_dim', FULL.mha_qk_dim);
  if (mhaQkDim % 2 !== 0) throw new ConfigError(`${source}: field "mha_qk_dim" must be even (RoPE rotates pairs)`);
  const seq2pairHeads = int('seq2pair_num_heads', FULL.seq2pair_num_heads);
  const posFeatures = int('seq2pair_pos_features', 2 * seq2pairHeads);
  if (posFeatures !== 2 * seq2pairHeads) throw new ConfigError(`${source}: field "seq2pair_pos_features" (${posFeatures}) must be 2 × seq2pair_num_heads (${seq2pairHeads})`);
  const pairDim = int('pair_dim', FULL.pair_dim);
  const rowDim = int('row_attention_dim', pairDim);
  if (rowDim !== pairDim) throw new ConfigError(`${source}: field "row_attention_dim" (${rowDim}) must equal pair_dim (${pairDim})`);
  const tracks = perHead(json, 'tracks', source, FULL.tracks, (v): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0, 'a positive integer');
  const trackResolutions = perHead(
    json,
    'track_resolutions',
    source,
    RESOLUTIONS,
    (v): v is number[] => Array.isArray(v) && v.length > 0 && v.every((r) => r === 1 || r === 128),
    'a non-empty list of 1 and/or 128',
  );
  const squashing = perHead(json, 'apply_squashing', source, { atac: false, dnase: false, procap: false, cage: false, rna_seq: true, chip_tf: false, chip_histone: false }, (v): v is boolean => typeof v === 'boolean', 'true or false');
  const spliceUsageTracks = intList(json, 'splice_usage_tracks_per_organism', source, FULL.splice_usage_tracks_per_organism, numOrganisms);
  const usageOut = int('splice_usage_num_output_tracks', Math.max(...spliceUsageTracks));
  if (usageOut !== Math.max(...spliceUsageTracks)) throw new ConfigError(`${source}: field "splice_usage_num_output_tracks" (${usageOut}) must be the largest of splice_usage_tracks_per_organism`);
  const junctionTissues = intList(json, 'splice_junction_tissues_per_organism', source, FULL.splice_junction_tissues_per_organism, numOrganisms);
  const tissues = int('splice_junction_num_tissues', Math.max(...junctionTissues));
  if (tissues !== Math.max(...junctionTissues)) throw new ConfigError(`${source}: field "splice_junction_num_tissues" (${tissues}) must be the largest of splice_junction_tissues_per_organism`);
  const junctionHiddenDim = int('splice_junction_hidden_dim', FULL.splice_junction_hidden_dim);
  if (junctionHiddenDim % 2 !== 0) throw new ConfigError(`${source}: field "splice_junction_hidden_dim" must be even (RoPE rotates pairs)`);
  const spliceClasses = int('splice_sites_classes', 5);
  if (spliceClasses !== 5) throw new ConfigError(`${source}: field "splice_sites_classes" must be 5 (donor+, acceptor+, donor-, acceptor-, none)`);
  const sequenceLength = int('sequence_length', FULL.sequence_length);
  const numSpliceSites = int('num_splice_sites', FULL.num_splice_sites);
  return {
    numOrganisms,
    sequenceLength,
    encoderChannels,
    trunkDim,
    decoderDim,
    embeddings128Dim: int('embeddings_128bp_dim', 2 * trunkDim),
    embeddings1Dim: int('embeddings_1bp_dim', trunkDim),
    transformerBlocks: int('num_transformer_blocks', FULL.num_transformer_blocks),
    pairUpdateEvery: int('pair_update_every', 2),
    mhaHeads,
    mhaQkDim,
    mhaVDim: int('mha_v_dim', FULL.mha_v_dim),
    logitsSoftCap: number(json, 'mha_logits_soft_cap', source, 5),
    mlpExpansion: int('mlp_expansion', 2),
    pairDim,
    pairResolution,
    seq2pairPool,
    seq2pairHeads,
    seq2pairHeadDim: int('seq2pair_head_dim', FULL.seq2pair_head_dim),
    centralMaskSeqLength: int('central_mask_seq_length', 512),
    pairMlpExpansion: int('pair_mlp_expansion', 2),
    ropeMaxPosition: int('rope_max_position', 8192),
    normEps: number(json, 'norm_eps', source, 1e-5),
    tracks,
    trackResolutions,
    squashing,
    softClip: number(json, 'soft_clip_value', source, 10),
    contactMapTracks: int('contact_maps_tracks', FULL.contact_maps_tracks),
    spliceClasses,
    spliceUsageTracks,
    junctionTissues,
    junctionHiddenDim,
    junctionRopeMaxPosition: int('splice_junction_rope_max_position', 2 ** 20),
    numSpliceSites,
    spliceThreshold: number(json, 'splice_site_threshold', source, 0.1),
  };
}

/** Why `length` bp cannot be run, or null: a multiple of 2,048 (seven pools by 2, then pairs of 16 tokens) holding the top-k. */
export function alphaGenomeLengthProblem(cfg: AlphaGenomeConfig, length: number): string | null {
  if (!Number.isInteger(length) || length <= 0 || length % cfg.pairResolution !== 0) return `AlphaGenome needs a multiple of ${cfg.pairResolution} bp`;
  if (length < cfg.numSpliceSites) return `AlphaGenome needs at least ${cfg.numSpliceSites} bp (the splice-site top-k)`;
  return null;
}

/** Output names of the track heads: `<head>_<resolution>bp`, in the port's order. */
export function trackOutputs(cfg: AlphaGenomeConfig): { name: string; head: TrackHead; resolution: number }[] {
  return TRACK_HEADS.flatMap((head) => [...cfg.trackResolutions[head]].sort((a, b) => a - b).map((resolution) => ({ name: `${head}_${resolution}bp`, head, resolution })));
}

/** Every tensor of the port's `state_dict` for this configuration (parameters and persistent buffers). */
export function expectedAlphaGenomeWeights(cfg: AlphaGenomeConfig): ExpectedTensor[] {
  const out: ExpectedTensor[] = [];
  const add = (name: string, shape: number[]) => out.push({ name, shape });
  const rmsBatchNorm = (p: string, c: number) => ['weight', 'bias', 'running_var'].forEach((n) => add(`${p}.${n}`, [c]));
  const norm = (p: string, c: number) => ['weight', 'bias'].forEach((n) => add(`${p}.${n}`, [c]));
  const linear = (p: string, o: number, i: number, bias = true) => {
    add(`${p}.weight`, [o, i]);
    if (bias) add(`${p}.bias`, [o]);
  };
  const convBlock = (p: string, i: number, o: number, k: number) => {
    rmsBatchNorm(`${p}.norm`, i);
    add(`${p}.conv.weight`, [o, i, k]);
    add(`${p}.conv.bias`, [o]);
    if (k > 1) add(`${p}.conv.scale`, [o, 1, 1]);
  };
  const ch = cfg.encoderChannels;
  const O = cfg.numOrganisms;
  add('encoder.dna_embedder.conv1.weight', [ch[0]!, 4, 15]);
  add('encoder.dna_embedder.conv1.bias', [ch[0]!]);
  convBlock('encoder.dna_embedder.block', ch[0]!, ch[0]!, 5);
  for (let i = 0; i < 6; i++) {
    convBlock(`encoder.down_blocks.${i}.block1`, ch[i]!, ch[i + 1]!, 5);
    convBlock(`encoder.down_blocks.${i}.block2`, ch[i + 1]!, ch[i + 1]!, 5);
  }
  add('organism_embed.weight', [O, cfg.trunkDim]);
  const D = cfg.trunkDim;
  const F = cfg.pairDim;
  const H2 = cfg.seq2pairHeads;
  const C2 = cfg.seq2pairHeadDim;
  for (let b = 0; b < cfg.transformerBlocks; b++) {
    const p = `tower.blocks.${b}`;
    if (b % cfg.pairUpdateEvery === 0) {
      const s = `${p}.pair_update.seq2pair`;
      add(`${s}.q_r_bias`, [1, 1, H2, C2]);
      add(`${s}.k_r_bias`, [1, 1, H2, C2]);
      norm(`${s}.norm_seq2pair`, D);
      linear(`${s}.linear_q`, H2 * C2, D, false);
      linear(`${s}.linear_k`, H2 * C2, D, false);
      linear(`${s}.linear_pos_features`, H2 * C2, 2 * H2);
      linear(`${s}.linear_y_q`, F, D, false);
      linear(`${s}.linear_y_k`, F, D, false);
      linear(`${s}.linear_pair`, F, H2);
      const r = `${p}.pair_update.row_attn`;
      norm(`${r}.norm`, F);
      linear(`${r}.linear_q`, F, F, false);
      linear(`${r}.linear_k`, F, F, false);
      linear(`${r}.linear_v`, F, F);
      const m = `${p}.pair_update.pair_mlp`;
      norm(`${m}.norm`, F);
      linear(`${m}.linear1`, cfg.pairMlpExpansion * F, F);
      linear(`${m}.linear2`, F, cfg.pairMlpExpansion * F);
    }
    rmsBatchNorm(`${p}.attn_bias.norm`, F);
    linear(`${p}.attn_bias.proj`, cfg.mhaHeads, F, false);
    const a = `${p}.mha`;
    rmsBatchNorm(`${a}.norm`, D);
    linear(`${a}.q_proj`, cfg.mhaHeads * cfg.mhaQkDim, D, false);
    norm(`${a}.norm_q`, cfg.mhaQkDim);
    linear(`${a}.k_proj`, cfg.mhaQkDim, D, false);
    norm(`${a}.norm_k`, cfg.mhaQkDim);
    linear(`${a}.v_proj`, cfg.mhaVDim, D, false);
    norm(`${a}.norm_v`, cfg.mhaVDim);
    rmsBatchNorm(`${a}.final_norm`, D);
    linear(`${a}.linear_embedding`, D, cfg.mhaHeads * cfg.mhaVDim);
    const l = `${p}.mlp`;
    rmsBatchNorm(`${l}.norm`, D);
    linear(`${l}.fc1`, cfg.mlpExpansion * D, D);
    linear(`${l}.fc2`, D, cfg.mlpExpansion * D);
    rmsBatchNorm(`${l}.final_norm`, D);
  }
  // Decoder: from the trunk width back down the skips 64 bp … 1 bp.
  let current = D;
  for (let i = 0; i < 7; i++) {
    const skip = ch[6 - i]!;
    const p = `decoder.up_blocks.${i}`;
    add(`${p}.residual_scale`, [1]);
    convBlock(`${p}.conv_in`, current, skip, 5);
    convBlock(`${p}.pointwise`, skip, skip, 1);
    convBlock(`${p}.conv_out`, skip, skip, 5);
    current = skip;
  }
  const E128 = cfg.embeddings128Dim;
  const E1 = cfg.embeddings1Dim;
  add('embedder_128bp.project_in.weight', [E128, D, 1]);
  add('embedder_128bp.project_in.bias', [E128]);
  add('embedder_128bp.organism_embed.weight', [O, E128]);
  rmsBatchNorm('embedder_128bp.norm', E128);
  add('embedder_1bp.project_in.weight', [E1, cfg.decoderDim, 1]);
  add('embedder_1bp.project_in.bias', [E1]);
  add('embedder_1bp.organism_embed.weight', [O, E1]);
  rmsBatchNorm('embedder_1bp.norm', E1);
  add('embedder_1bp.project_skip.weight', [E1, E128, 1]);
  add('embedder_pair.organism_embed.weight', [O, F]);
  norm('embedder_pair.norm', F);
  for (const head of TRACK_HEADS) {
    const T = cfg.tracks[head];
    add(`heads.${head}.track_means`, [O, T]);
    for (const r of cfg.trackResolutions[head]) {
      add(`heads.${head}.convs.${r}.weight`, [O, T, r === 1 ? E1 : E128]);
      add(`heads.${head}.convs.${r}.bias`, [O, T]);
      add(`heads.${head}.residual_scales.${r}`, [O, T]);
    }
  }
  add('contact_maps_head.linear.weight', [O, F, cfg.contactMapTracks]);
  add('contact_maps_head.linear.bias', [O, cfg.contactMapTracks]);
  add('splice_sites_classification_head.conv.weight', [O, cfg.spliceClasses, E1]);
  add('splice_sites_classification_head.conv.bias', [O, cfg.spliceClasses]);
  const usage = Math.max(...cfg.spliceUsageTracks);
  add('splice_sites_usage_head.conv.weight', [O, usage, E1]);
  add('splice_sites_usage_head.conv.bias', [O, usage]);
  const Hj = cfg.junctionHiddenDim;
  add('splice_sites_junction_head.conv.weight', [O, Hj, E1]);
  add('splice_sites_junction_head.conv.bias', [O, Hj]);
  const T = Math.max(...cfg.junctionTissues);
  for (const kind of JUNCTION_KINDS) add(`splice_sites_junction_head.rope_params.${kind}`, [O, 2, T, Hj]);
  return out;
}

/** The junction head's four splice-site kinds, in the order of the positions' rows. */
export const JUNCTION_KINDS = ['pos_donor', 'pos_acceptor', 'neg_donor', 'neg_acceptor'] as const;
