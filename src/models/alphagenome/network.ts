/**
 * AlphaGenome (Avsec et al., Nature 2025/2026) as in the PyTorch port genomicsxai/alphagenome-pytorch,
 * top to bottom as the paper's architecture figure draws it:
 *
 *   one-hot DNA [B, L, 4], organism index [B]
 *     ─► encoder: DNA embedder (1 bp) ─ 6 × (down-res block, max-pool/2)      ─► trunk 128 bp   encoder.ts
 *     ─► + organism embedding
 *     ─► transformer tower × 9, pair representation (2,048 bp) every other block  tower.ts
 *     ─► output embeddings: 128 bp (tower) and pair                            embeddings.ts
 *     ─► decoder: 7 × up-res block with the encoder's U-Net skips ─► 1 bp         decoder.ts
 *     ─► output embedding 1 bp (decoder + 128-bp embedding)                    embeddings.ts
 *     ─► heads: genome tracks (1 bp, 128 bp), contact maps (pair), splice sites,
 *               splice-site usage, splice junctions (top-K sites)                heads.ts
 *
 * Numerics follow the port in float32: sigmoid GELU x·σ(1.702x) everywhere except the erf GELU of the
 * attention-bias block and the sequence-to-pair y branches; exact top-K; RoPE angles formed in float64
 * from the port's float32 frequency denominators (see layers.ts `ropeTables`).
 *
 * The graphs come in four stages, so that the local ones can run on overlapping tiles (model.ts):
 *   encoder   (local)  one-hot → U-Net skips and the 128-bp trunk
 *   tower     (global) trunk → tower, 128-bp and pair embeddings, 128-bp heads, contact maps
 *   decoder   (local)  tower, 128-bp embedding, skips → 1-bp embedding and heads, splice sites, usage
 *   junctions          the top-K splice sites over the whole window (chosen in splice-site-selection.ts)
 *                      → junction counts
 * Each takes any input length that is a multiple of 2,048 bp (no position tables are fed: the tower
 * forms them from the length). tracks-architecture.ts builds the same blocks as the model runner's
 * trunk and head.
 */
import type { Value } from '../../engine/graph.js';
import type { LayerContext } from '../layers.js';
import { trackOutputs, type AlphaGenomeConfig } from './config.js';
import { sequenceEncoder } from './encoder.js';
import { transformerTower } from './tower.js';
import { sequenceDecoder } from './decoder.js';
import { embed1, embed128, embedPair } from './embeddings.js';
import { contactMaps, genomeTracks, junctionsAtSites, spliceSites, spliceSiteUsage } from './heads.js';
import { noTap, type Tap } from './taps.js';
import { perOrganism } from './layers.js';

/** Graph inputs. */
export const DNA_INPUT = 'dna';
export const ORGANISM_INPUT = 'organism_index';

/** The head outputs every forward writes (names as in the port's outputs and the parity fixture). */
export function headOutputNames(cfg: AlphaGenomeConfig): string[] {
  return [
    ...trackOutputs(cfg).map((t) => t.name),
    'contact_maps',
    'splice_sites_logits',
    'splice_sites_probs',
    'splice_site_usage_logits',
    'splice_site_usage_predictions',
    'splice_site_usage_track_mask',
    'splice_junctions_splice_site_positions',
    'splice_junctions_pred_counts',
    'splice_junctions_mask',
  ];
}

/** The intermediates a graph built with `intermediates` also outputs (fixture names; [B, positions, C] or pair [B, P, P, F]). */
export function intermediateNames(cfg: AlphaGenomeConfig): string[] {
  const tower = Array.from({ length: cfg.transformerBlocks }, (_, i) => [
    ...(i % cfg.pairUpdateEvery === 0 ? [`tower_block_${i}_pair`] : []),
    ...['attention_bias', 'mha_out', 'after_mha', 'out'].map((s) => `tower_block_${i}_${s}`),
  ]).flat();
  return [
    'encoder_dna_embedder',
    ...Array.from({ length: 6 }, (_, i) => `encoder_down_block_${i}`),
    'encoder_output',
    'tower_input',
    ...tower,
    'tower_output',
    'tower_pair_output',
    ...Array.from({ length: 5 }, (_, i) => `decoder_up_block_${i}`),
    'decoder_output',
    'embeddings_128bp',
    'embeddings_pair',
    'embeddings_1bp',
  ];
}

function outputTap(c: LayerContext, enabled: boolean): Tap {
  if (!enabled) return noTap;
  return (name, value, form) => {
    const v = form === 'ncl' ? c.g.op('Transpose', [value], { perm: [0, 2, 1] }) : value;
    c.g.output(v, name, 'float32', ['batch', 'd1', 'd2', ...(name.includes('pair') || name.includes('attention_bias') ? ['d3'] : [])]);
  };
}

/** Names of the encoder stage's outputs: the U-Net skips at 1 … 64 bp (finest first), then the 128-bp trunk. */
export const skipName = (level: number) => `skip_${2 ** level}bp`;
export const TRUNK = 'trunk';
/** The tower stage's outputs the decoder stage reads (channels-last, 128 bp). */
export const TOWER_OUT = 'tower_out';
export const EMBEDDINGS_128 = 'embeddings_128bp';

/** The encoder (local: convolutions and pools): `dna` [B, L, 4] → the skips and the trunk, channels-last [B, positions, C]. */
export function buildEncoderStage(c: LayerContext, cfg: AlphaGenomeConfig, opts: { skips: boolean; intermediates?: boolean }): void {
  const g = c.g;
  const dna = g.input(DNA_INPUT, 'float32', ['batch', 'length', 4]);
  const { trunk, skips } = sequenceEncoder(c, cfg, g.op('Transpose', [dna], { perm: [0, 2, 1] }), outputTap(c, opts.intermediates === true));
  const channelsLast = (v: Value) => g.op('Transpose', [v], { perm: [0, 2, 1] });
  if (opts.skips) skips.forEach((v, level) => g.output(channelsLast(v), skipName(level), 'float32', ['batch', `positions_${level}`, cfg.encoderChannels[level]!]));
  g.output(channelsLast(trunk), TRUNK, 'float32', ['batch', 'positions', cfg.trunkDim]);
}

/** The trunk [B, S, D] plus the organism's embedding, through the tower. */
export function towerOf(c: LayerContext, cfg: AlphaGenomeConfig, trunk: Value, organism: Value, tap: Tap, opts: Parameters<typeof transformerTower>[4] = {}): { x: Value; pair: Value } {
  const g = c.g;
  const towerInput = g.op('Add', [trunk, g.op('Unsqueeze', [perOrganism(c, 'organism_embed.weight', organism), g.ints([1])])]);
  tap('tower_input', towerInput, 'as-is');
  return transformerTower(c, cfg, towerInput, tap, opts);
}

/**
 * Everything at 128 bp and coarser (global: the whole window at once): `trunk` [B, S, D] and
 * `organism_index` → the 128-bp track heads, contact maps, and what the decoder stage reads: the
 * tower output and the 128-bp embedding (channels-last).
 */
export function buildTowerStage(c: LayerContext, cfg: AlphaGenomeConfig, opts: { intermediates?: boolean; queryChunks?: number } = {}): void {
  const g = c.g;
  const tap = outputTap(c, opts.intermediates === true);
  const trunk = g.input(TRUNK, 'float32', ['batch', 'positions', cfg.trunkDim]);
  const organism = g.input(ORGANISM_INPUT, 'int64', ['batch']);
  const tower = towerOf(c, cfg, trunk, organism, tap, { queryChunks: opts.queryChunks });
  // The 128-bp embedding is an output of this stage under its intermediate's name (no tap of it).
  const emb128Ncl = embed128(c, cfg, g.op('Transpose', [tower.x], { perm: [0, 2, 1] }), organism);
  const pairEmb = embedPair(c, cfg, tower.pair, organism);
  tap('embeddings_pair', pairEmb, 'as-is');
  const emb128 = g.op('Transpose', [emb128Ncl], { perm: [0, 2, 1] });
  g.output(tower.x, TOWER_OUT, 'float32', ['batch', 'positions', cfg.trunkDim]);
  g.output(emb128, EMBEDDINGS_128, 'float32', ['batch', 'positions', cfg.embeddings128Dim]);
  const out = (v: Value, name: string, rank: number) => g.output(v, name, 'float32', ['batch', ...Array.from({ length: rank - 1 }, (_, i) => `${name}_${i + 1}`)]);
  for (const t of trackOutputs(cfg)) if (t.resolution === 128) out(genomeTracks(c, cfg, emb128, t.head, 128, organism), t.name, 3);
  out(contactMaps(c, cfg, pairEmb, organism), 'contact_maps', 4);
}

/**
 * Everything at 1 bp (local: the decoder's convolutions, per-position heads), so it may run on
 * overlapping tiles: the tower output and the 128-bp embedding [B, S, C], the skips (channels-last)
 * and `organism_index` → the 1-bp track heads, splice-site logits/probabilities, splice-site usage and
 * the 1-bp embedding (the junction head's input).
 */
export function buildDecoderStage(c: LayerContext, cfg: AlphaGenomeConfig, opts: { intermediates?: boolean } = {}): void {
  const g = c.g;
  const tap = outputTap(c, opts.intermediates === true);
  const channelsFirst = (v: Value) => g.op('Transpose', [v], { perm: [0, 2, 1] });
  const tower = channelsFirst(g.input(TOWER_OUT, 'float32', ['batch', 'positions', cfg.trunkDim]));
  const emb128 = channelsFirst(g.input(EMBEDDINGS_128, 'float32', ['batch', 'positions', cfg.embeddings128Dim]));
  const skips = cfg.encoderChannels.map((ch, level) => channelsFirst(g.input(skipName(level), 'float32', ['batch', `positions_${level}`, ch])));
  const organism = g.input(ORGANISM_INPUT, 'int64', ['batch']);
  const emb1Ncl = embed1(c, cfg, sequenceDecoder(c, cfg, tower, skips, tap), emb128, organism);
  const emb1 = g.op('Transpose', [emb1Ncl], { perm: [0, 2, 1] });
  const out = (v: Value, name: string, rank: number) => g.output(v, name, 'float32', ['batch', ...Array.from({ length: rank - 1 }, (_, i) => `${name}_${i + 1}`)]);
  g.output(emb1, 'embeddings_1bp', 'float32', ['batch', 'length', cfg.embeddings1Dim]);
  for (const t of trackOutputs(cfg)) if (t.resolution === 1) out(genomeTracks(c, cfg, emb1, t.head, 1, organism), t.name, 3);
  const sites = spliceSites(c, emb1, organism);
  out(sites.logits, 'splice_sites_logits', 3);
  out(sites.probs, 'splice_sites_probs', 3);
  const usage = spliceSiteUsage(c, cfg, emb1, organism);
  out(usage.logits, 'splice_site_usage_logits', 3);
  out(usage.predictions, 'splice_site_usage_predictions', 3);
  out(usage.trackMask, 'splice_site_usage_track_mask', 3);
}

/**
 * The junction head on the splice sites chosen over the whole window: their 1-bp embeddings
 * `site_embeddings` [B, 4·K, E1] (class-major, K per class, any row for a -1 position),
 * `splice_site_positions` [B, 4, K] int64 (absolute, for RoPE) and `organism_index`.
 */
export function buildJunctionStage(c: LayerContext, cfg: AlphaGenomeConfig): void {
  const g = c.g;
  const sites = g.input('site_embeddings', 'float32', ['batch', 4 * cfg.numSpliceSites, cfg.embeddings1Dim]);
  const positions = g.input('splice_site_positions', 'int64', ['batch', 4, cfg.numSpliceSites]);
  const organism = g.input(ORGANISM_INPUT, 'int64', ['batch']);
  const { counts, mask } = junctionsAtSites(c, cfg, sites, positions, organism);
  g.output(counts, 'splice_junctions_pred_counts', 'float32', ['batch', 'k', 'k', 'tissues']);
  g.output(mask, 'splice_junctions_mask', 'float32', ['batch', 'k', 'k', 'tissues']);
}
