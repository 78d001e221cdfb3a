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
 * One graph computes everything for any input length that is a multiple of 2,048 bp (no position
 * tables are fed: the graph forms them from the length).
 */
import type { Value } from '../../engine/graph.js';
import type { LayerContext } from '../layers.js';
import { trackOutputs, type AlphaGenomeConfig } from './config.js';
import { sequenceEncoder } from './encoder.js';
import { transformerTower } from './tower.js';
import { sequenceDecoder } from './decoder.js';
import { embed1, embed128, embedPair } from './embeddings.js';
import { contactMaps, genomeTracks, spliceJunctions, spliceSitePositions, spliceSites, spliceSiteUsage } from './heads.js';
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

/** Builds the whole model in `c`'s graph: inputs `dna` [B, L, 4] float32 and `organism_index` [B] int64. */
export function buildAlphaGenome(c: LayerContext, cfg: AlphaGenomeConfig, opts: { intermediates?: boolean; queryChunks?: number; embeddings1bp?: boolean } = {}): void {
  const g = c.g;
  const tap = outputTap(c, opts.intermediates === true);
  const dna = g.input(DNA_INPUT, 'float32', ['batch', 'length', 4]);
  const organism = g.input(ORGANISM_INPUT, 'int64', ['batch']);

  const { trunk, skips } = sequenceEncoder(c, cfg, g.op('Transpose', [dna], { perm: [0, 2, 1] }), tap);
  const towerInput = g.op('Add', [g.op('Transpose', [trunk], { perm: [0, 2, 1] }), g.op('Unsqueeze', [perOrganism(c, 'organism_embed.weight', organism), g.ints([1])])]);
  tap('tower_input', towerInput, 'as-is');
  const tower = transformerTower(c, cfg, towerInput, tap, { queryChunks: opts.queryChunks });
  const towerNcl = g.op('Transpose', [tower.x], { perm: [0, 2, 1] });

  const emb128Ncl = embed128(c, cfg, towerNcl, organism);
  tap('embeddings_128bp', emb128Ncl, 'ncl');
  const pairEmb = embedPair(c, cfg, tower.pair, organism);
  tap('embeddings_pair', pairEmb, 'as-is');
  const decoded = sequenceDecoder(c, cfg, towerNcl, skips, tap);
  const emb1Ncl = embed1(c, cfg, decoded, emb128Ncl, organism);
  tap('embeddings_1bp', emb1Ncl, 'ncl');

  const emb128 = g.op('Transpose', [emb128Ncl], { perm: [0, 2, 1] });
  const emb1 = g.op('Transpose', [emb1Ncl], { perm: [0, 2, 1] });
  const out = (v: Value, name: string, rank: number, dtype: 'float32' | 'int64' = 'float32') => g.output(v, name, dtype, ['batch', ...Array.from({ length: rank - 1 }, (_, i) => `${name}_${i + 1}`)]);
  for (const t of trackOutputs(cfg)) out(genomeTracks(c, cfg, t.resolution === 1 ? emb1 : emb128, t.head, t.resolution, organism), t.name, 3);
  out(contactMaps(c, cfg, pairEmb, organism), 'contact_maps', 4);
  const sites = spliceSites(c, emb1, organism);
  out(sites.logits, 'splice_sites_logits', 3);
  out(sites.probs, 'splice_sites_probs', 3);
  const usage = spliceSiteUsage(c, cfg, emb1, organism);
  out(usage.logits, 'splice_site_usage_logits', 3);
  out(usage.predictions, 'splice_site_usage_predictions', 3);
  out(usage.trackMask, 'splice_site_usage_track_mask', 3);
  const positions = spliceSitePositions(c, cfg, sites.probs);
  out(positions, 'splice_junctions_splice_site_positions', 3, 'int64');
  const junctions = spliceJunctions(c, cfg, emb1, positions, organism);
  out(junctions.counts, 'splice_junctions_pred_counts', 4);
  out(junctions.mask, 'splice_junctions_mask', 4);
  // The junction head run again on given splice sites (variant scoring) needs the 1-bp embeddings.
  if (opts.embeddings1bp && !opts.intermediates) out(emb1, 'embeddings_1bp', 3);
}

/** The junction head alone: inputs `embeddings_1bp` [B, L, E1], `splice_site_positions` [B, 4, K] int64, `organism_index` [B]. */
export function buildJunctionHead(c: LayerContext, cfg: AlphaGenomeConfig): void {
  const g = c.g;
  const emb1 = g.input('embeddings_1bp', 'float32', ['batch', 'length', cfg.embeddings1Dim]);
  const positions = g.input('splice_site_positions', 'int64', ['batch', 4, cfg.numSpliceSites]);
  const organism = g.input(ORGANISM_INPUT, 'int64', ['batch']);
  const { counts, mask } = spliceJunctions(c, cfg, emb1, positions, organism);
  g.output(counts, 'splice_junctions_pred_counts', 'float32', ['batch', 'k', 'k', 'tissues']);
  g.output(mask, 'splice_junctions_mask', 'float32', ['batch', 'k', 'k', 'tissues']);
}
