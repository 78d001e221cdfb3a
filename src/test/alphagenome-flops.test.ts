/**
 * The AlphaGenome FLOP counter (models/alphagenome/flops.ts) against an independent count: every
 * weight matrix of the state dict (expectedAlphaGenomeWeights) times the positions it is applied at
 * (read off its name), plus the products between activations (attention logits and values, the
 * pair stack's relative terms and row attention, the junction products) counted by hand. Needs no
 * fixture: the small configuration is the fixture's config.json values, written out here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectedAlphaGenomeWeights, parseAlphaGenomeConfig, type AlphaGenomeConfig } from '../models/alphagenome/config.js';
import { alphaGenomeFlops } from '../models/alphagenome/flops.js';

const SMALL = {
  model_type: 'alphagenome',
  dna_embedder_channels: 24,
  channel_increment: 4,
  num_transformer_blocks: 3,
  mha_num_heads: 4,
  mha_qk_dim: 16,
  mha_v_dim: 24,
  pair_dim: 16,
  seq2pair_num_heads: 4,
  seq2pair_head_dim: 8,
  tracks: { atac: 3, dnase: 4, procap: 2, cage: 3, rna_seq: 3, chip_tf: 5, chip_histone: 4 },
  contact_maps_tracks: 3,
  splice_usage_tracks_per_organism: [4, 2],
  splice_junction_tissues_per_organism: [3, 3],
  splice_junction_hidden_dim: 16,
  num_splice_sites: 32,
  sequence_length: 8192,
};

/** Positions a weight tensor is applied at, from its name; null for tensors used without a product. */
function positionsOf(name: string, cfg: AlphaGenomeConfig, L: number): number | null {
  const S = L / 128;
  const P = S / cfg.seq2pairPool;
  let m: RegExpExecArray | null;
  if (name.startsWith('encoder.dna_embedder.')) return L;
  if ((m = /^encoder\.down_blocks\.(\d)\./.exec(name))) return L / 2 ** (Number(m[1]) + 1);
  if ((m = /^decoder\.up_blocks\.(\d)\.(conv_in|pointwise|conv_out)\./.exec(name))) return L / 2 ** (7 - Number(m[1]) - (m[2] === 'conv_in' ? 0 : 1));
  if (/seq2pair\.linear_(q|k|y_q|y_k)\./.test(name)) return P;
  if (name.includes('seq2pair.linear_pos_features.')) return 2 * P;
  if (/seq2pair\.linear_pair\.|row_attn\.|pair_mlp\.|attn_bias\.proj\./.test(name)) return P * P;
  if (/\.(mha|mlp)\./.test(name)) return S;
  if (name.startsWith('embedder_128bp.project_in') || name.startsWith('embedder_1bp.project_skip')) return S;
  if (name.startsWith('embedder_1bp.project_in')) return L;
  if ((m = /^heads\.\w+\.convs\.(1|128)\./.exec(name))) return m[1] === '1' ? L : S;
  if (name.startsWith('contact_maps_head.')) return P * P;
  if (name.startsWith('splice_sites_classification_head.') || name.startsWith('splice_sites_usage_head.')) return L;
  if (name.startsWith('splice_sites_junction_head.conv.')) return 4 * cfg.numSpliceSites;
  return null;
}

function independentCount(cfg: AlphaGenomeConfig, L: number): number {
  let weights = 0;
  for (const t of expectedAlphaGenomeWeights(cfg)) {
    // Matrices and conv kernels only: vectors, scales and embeddings take no product.
    if (t.shape.length < 2 || !t.name.endsWith('.weight') || t.name.includes('organism_embed') || t.name.endsWith('conv.scale')) continue;
    const positions = positionsOf(t.name, cfg, L);
    assert.ok(positions !== null, `no positions for ${t.name}`);
    const perOrganism = /^(heads|contact_maps_head|splice_sites_)/.test(t.name) ? cfg.numOrganisms : 1;
    // Usage heads: the widest organism's tracks are the output width (the weight has that width).
    weights += (2 * positions * t.shape.reduce((a, b) => a * b, 1)) / perOrganism;
  }
  const S = L / 128;
  const P = S / cfg.seq2pairPool;
  const pairUpdates = Math.ceil(cfg.transformerBlocks / cfg.pairUpdateEvery);
  const mha = cfg.transformerBlocks * 2 * cfg.mhaHeads * S * S * (cfg.mhaQkDim + cfg.mhaVDim);
  const seq2pair = pairUpdates * (2 * cfg.seq2pairHeads * P * P * cfg.seq2pairHeadDim + 2 * 2 * cfg.seq2pairHeads * P * (2 * P) * cfg.seq2pairHeadDim);
  const rows = pairUpdates * 2 * 2 * P * P * P * cfg.pairDim;
  const junctions = 2 * 2 * Math.max(...cfg.junctionTissues) * cfg.numSpliceSites ** 2 * cfg.junctionHiddenDim;
  return weights + mha + seq2pair + rows + junctions;
}

test('AlphaGenome FLOPs: the small config equals the weight-by-weight count', () => {
  const cfg = parseAlphaGenomeConfig(SMALL, 'small');
  for (const L of [8192, 16384, 65536]) {
    const ours = alphaGenomeFlops(cfg, L).total;
    assert.equal(ours, independentCount(cfg, L), `length ${L}`);
  }
});

test('AlphaGenome FLOPs: hand count of the small config at 8,192 bp, stage by stage', () => {
  const cfg = parseAlphaGenomeConfig(SMALL, 'small');
  const f = alphaGenomeFlops(cfg, 8192).stages;
  // conv15 4→24 and k5 24→24 at 8192; then (n, cin, cout) k5 twice per down block.
  let enc = 2 * 8192 * 60 * 24 + 2 * 8192 * 120 * 24;
  for (const [n, a, b] of [[4096, 24, 28], [2048, 28, 32], [1024, 32, 36], [512, 36, 40], [256, 40, 44], [128, 44, 48]] as const) enc += 2 * n * a * 5 * b + 2 * n * b * 5 * b;
  assert.equal(f.encoder, enc);
  // S = 64 tokens, D = 48: q 48→64, k 48→16, v 48→24, logits 4·64·64·16, values 4·64·64·24, out 96→48; P = 4: bias 16→4 on 16 cells.
  const block = 2 * 64 * 48 * (64 + 16 + 24) + 2 * 4 * 64 * 64 * (16 + 24) + 2 * 64 * 96 * 48 + 2 * 16 * 16 * 4;
  assert.equal(f.tower_attention, 3 * block);
  assert.equal(f.tower_mlp, 3 * (2 * 64 * 48 * 96 * 2));
});

test('AlphaGenome FLOPs: the published model at 1 Mb is in the paper-scale range', () => {
  const full = alphaGenomeFlops(parseAlphaGenomeConfig({ model_type: 'alphagenome' }, 'full'), 1_048_576);
  const t = full.total / 1e12;
  console.log(`full size, 1,048,576 bp: ${t.toFixed(1)} TFLOP (${Object.entries(full.stages).map(([k, v]) => `${k} ${(v / 1e12).toFixed(2)}`).join(', ')})`);
  assert.ok(t > 40 && t < 120, `${t} TFLOP`);
});
