/**
 * FLOPs of one AlphaGenome forward (batch 1, one organism) from its configuration: every conv,
 * linear and attention product, the pair stack, the decoder, the output embeddings and every head,
 * counting a multiply-add as 2 FLOPs. Element-wise work (norms, activations, softmax, RoPE, pooling)
 * is left out, as the other models' counters leave it out. The junction head is counted at its full
 * top-K (K sites per class, every tissue of the widest organism), what the graph computes.
 */
import type { FlopCount } from '../architecture.js';
import { expectedAlphaGenomeWeights, TRACK_HEADS, type AlphaGenomeConfig } from './config.js';

export function alphaGenomeFlops(cfg: AlphaGenomeConfig, length: number): FlopCount {
  const L = length;
  const ch = cfg.encoderChannels;
  const S = L / 128;
  const P = S / cfg.seq2pairPool;
  const D = cfg.trunkDim;
  const F = cfg.pairDim;
  const H = cfg.mhaHeads;
  const H2 = cfg.seq2pairHeads;
  const C2 = cfg.seq2pairHeadDim;
  const E128 = cfg.embeddings128Dim;
  const E1 = cfg.embeddings1Dim;
  /** A linear map of `inputs` → `outputs` features at `positions` positions. */
  const mm = (positions: number, inputs: number, outputs: number) => 2 * positions * inputs * outputs;

  // Encoder: conv k15 4 → c0 and the embedder's k5 block at 1 bp; down block i at L / 2^(i+1).
  let encoder = mm(L, 4 * 15, ch[0]!) + mm(L, ch[0]! * 5, ch[0]!);
  for (let i = 0; i < 6; i++) {
    const n = L / 2 ** (i + 1);
    encoder += mm(n, ch[i]! * 5, ch[i + 1]!) + mm(n, ch[i + 1]! * 5, ch[i + 1]!);
  }

  let attention = 0;
  let mlp = 0;
  let pair = 0;
  for (let b = 0; b < cfg.transformerBlocks; b++) {
    if (b % cfg.pairUpdateEvery === 0) {
      // Sequence to pair on the P pooled tokens: q, k; relative features (2P distances, 2·H2 features);
      // content q·k and the two relative terms against all 2P distances; linear to pair width; y_q, y_k.
      pair += 2 * mm(P, D, H2 * C2) + mm(2 * P, 2 * H2, H2 * C2);
      pair += 2 * H2 * P * P * C2 + 2 * (2 * H2 * P * 2 * P * C2);
      pair += mm(P * P, H2, F) + 2 * mm(P, D, F);
      // Row attention: q, k, v; logits and values along each of P rows.
      pair += 3 * mm(P * P, F, F) + 2 * (2 * P * P * P * F);
      // Pair MLP.
      pair += mm(P * P, F, cfg.pairMlpExpansion * F) + mm(P * P, cfg.pairMlpExpansion * F, F);
    }
    // Attention bias: one value per head from each pair cell.
    attention += mm(P * P, F, H);
    // Multi-query attention: q (H heads), one k, one v; logits and values; output projection.
    attention += mm(S, D, H * cfg.mhaQkDim) + mm(S, D, cfg.mhaQkDim) + mm(S, D, cfg.mhaVDim);
    attention += 2 * H * S * S * cfg.mhaQkDim + 2 * H * S * S * cfg.mhaVDim;
    attention += mm(S, H * cfg.mhaVDim, D);
    mlp += mm(S, D, cfg.mlpExpansion * D) + mm(S, cfg.mlpExpansion * D, D);
  }

  // Decoder: block i from 2^(7-i) bp to 2^(6-i) bp: conv_in k5 at the coarse length, then the skip's
  // pointwise conv and conv_out k5 at the fine one.
  let decoder = 0;
  let current = D;
  for (let i = 0; i < 7; i++) {
    const skip = ch[6 - i]!;
    const coarse = L / 2 ** (7 - i);
    decoder += mm(coarse, current * 5, skip) + mm(2 * coarse, skip, skip) + mm(2 * coarse, skip * 5, skip);
    current = skip;
  }

  // Output embeddings: 128 bp from the tower; 1 bp from the decoder plus the 128-bp embedding projected
  // at 128 bp (then repeated); the pair embedding has no product.
  const embeddings = mm(S, D, E128) + mm(L, cfg.decoderDim, E1) + mm(S, E128, E1);

  let heads128 = 0;
  let heads1 = 0;
  for (const head of TRACK_HEADS) {
    for (const r of cfg.trackResolutions[head]) {
      if (r === 1) heads1 += mm(L, E1, cfg.tracks[head]);
      else heads128 += mm(S, E128, cfg.tracks[head]);
    }
  }
  const contact = mm(P * P, F, cfg.contactMapTracks);
  const splice = mm(L, E1, cfg.spliceClasses) + mm(L, E1, Math.max(...cfg.spliceUsageTracks));
  const K = cfg.numSpliceSites;
  const T = Math.max(...cfg.junctionTissues);
  // Four classes × K sites projected; per strand, donors × acceptors for every tissue.
  const junctions = mm(4 * K, E1, cfg.junctionHiddenDim) + 2 * (2 * T * K * K * cfg.junctionHiddenDim);

  const stages = {
    encoder,
    tower_attention: attention,
    tower_mlp: mlp,
    pair_stack: pair,
    decoder,
    output_embeddings: embeddings,
    heads_128bp: heads128 + contact,
    heads_1bp: heads1,
    splice_heads: splice + junctions,
  };
  return { total: Object.values(stages).reduce((a, b) => a + b, 0), stages };
}

/**
 * Sizes in bytes (float32, batch 1) of the tensors that decide a whole-window forward's memory: what
 * is alive together at its peak, the 1-bp embedding and heads, and the attention logits. An estimate
 * from shapes, not a measurement: ONNX Runtime's planner reuses buffers, and each element-wise op
 * between two of these holds one more of the same size.
 */
export function alphaGenomeTensorBytes(cfg: AlphaGenomeConfig, length: number, queryChunks = 1): Record<string, number> {
  const L = length;
  const S = L / 128;
  const P = S / cfg.seq2pairPool;
  const f = 4;
  const oneBpTracks = TRACK_HEADS.filter((h) => cfg.trackResolutions[h].includes(1)).reduce((a, h) => a + cfg.tracks[h], 0);
  const usage = Math.max(...cfg.spliceUsageTracks);
  const T = Math.max(...cfg.junctionTissues);
  return {
    weights: expectedWeightCount(cfg) * f,
    unet_skips: cfg.encoderChannels.reduce((a, c, i) => a + (c * L) / 2 ** i, 0) * f,
    activation_1bp_decoder: cfg.decoderDim * L * f,
    embeddings_1bp: cfg.embeddings1Dim * L * f,
    outputs_1bp_tracks: oneBpTracks * L * f,
    outputs_splice_usage: 2 * usage * L * f,
    outputs_junctions: 2 * cfg.numSpliceSites ** 2 * 2 * T * f,
    attention_logits: (cfg.mhaHeads * S * Math.ceil(S / queryChunks) * f),
    row_attention_logits: P * P * P * f,
  };
}

function expectedWeightCount(cfg: AlphaGenomeConfig): number {
  return expectedAlphaGenomeWeights(cfg).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
}
