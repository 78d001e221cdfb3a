/**
 * Output embeddings, the heads' inputs: at 128 bp from the tower, at 1 bp from the decoder plus the
 * 128-bp embedding repeated onto each of its 128 bp, and the symmetrised pair representation. Each
 * adds its organism's embedding before the final GELU.
 */
import type { Value } from '../../engine/graph.js';
import type { LayerContext } from '../layers.js';
import type { AlphaGenomeConfig } from './config.js';
import { perOrganism, pointwiseConv, repeatInterleave, rmsBatchNorm, rmsNorm, sigmoidGelu } from './layers.js';

/** [B, E] organism embedding → [B, E, 1] against channels-first values. */
function organismColumn(c: LayerContext, name: string, organism: Value): Value {
  return c.g.op('Unsqueeze', [perOrganism(c, name, organism), c.g.ints([2])]);
}

/** gelu(RMS batch norm(Conv1d_k1(tower)) + organism): [B, D, S] → [B, E128, S]. */
export function embed128(c: LayerContext, cfg: AlphaGenomeConfig, trunk: Value, organism: Value): Value {
  const p = 'embedder_128bp';
  const normed = rmsBatchNorm(c, pointwiseConv(c, trunk, `${p}.project_in`), `${p}.norm`, cfg.normEps, true);
  return sigmoidGelu(c, c.g.op('Add', [normed, organismColumn(c, `${p}.organism_embed.weight`, organism)]));
}

/** gelu(RMS batch norm(Conv1d_k1(decoder) + repeat128(Conv1d_k1 no bias(emb128))) + organism): → [B, E1, L]. */
export function embed1(c: LayerContext, cfg: AlphaGenomeConfig, decoded: Value, emb128: Value, organism: Value): Value {
  const g = c.g;
  const p = 'embedder_1bp';
  const skip = repeatInterleave(c, pointwiseConv(c, emb128, `${p}.project_skip`, false), 2, 128, 3);
  const normed = rmsBatchNorm(c, g.op('Add', [pointwiseConv(c, decoded, `${p}.project_in`), skip]), `${p}.norm`, cfg.normEps, true);
  return sigmoidGelu(c, g.op('Add', [normed, organismColumn(c, `${p}.organism_embed.weight`, organism)]));
}

/** gelu(RMS norm((p + pᵀ) / 2) + organism) on [B, P, P, F]. */
export function embedPair(c: LayerContext, cfg: AlphaGenomeConfig, pair: Value, organism: Value): Value {
  const g = c.g;
  const p = 'embedder_pair';
  const symmetric = g.op('Div', [g.op('Add', [pair, g.op('Transpose', [pair], { perm: [0, 2, 1, 3] })]), g.scalar(2)]);
  const org = g.op('Unsqueeze', [perOrganism(c, `${p}.organism_embed.weight`, organism), g.ints([1, 2])]);
  return sigmoidGelu(c, g.op('Add', [rmsNorm(c, symmetric, `${p}.norm`, cfg.normEps), org]));
}
