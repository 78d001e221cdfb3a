/**
 * AlphaGenome's heads on channels-last embeddings; every weight has one slice per organism, chosen by
 * the batch item's organism index.
 *
 * - Genome tracks at 1 and 128 bp, in experimental scale (the port's default): softplus(z)·softplus(s),
 *   soft clip x > 10 → (x + 10)² / 40, (RNA-seq: x^(1/0.75)), × track mean × resolution.
 * - Contact maps from the pair embedding (linear).
 * - Splice sites (5-class softmax) and splice-site usage (sigmoid) at 1 bp.
 * - Splice junctions: the exact top-K positions of each of the four splice-site classes (probability
 *   below the threshold → -1, ascending), the 1-bp embedding there projected, scaled and offset per
 *   tissue, RoPE at the absolute position, donor × acceptor products → softplus, masked.
 */
import type { Value } from '../../engine/graph.js';
import type { LayerContext } from '../layers.js';
import { JUNCTION_KINDS, type AlphaGenomeConfig, type TrackHead } from './config.js';
import { applyRope, multiOrganismConv, multiOrganismLinear, perOrganism, ropeTables } from './layers.js';

/** One genome-track head at one resolution: [B, positions, E] → [B, positions, tracks], experimental scale. */
export function genomeTracks(c: LayerContext, cfg: AlphaGenomeConfig, emb: Value, head: TrackHead, resolution: number, organism: Value): Value {
  const g = c.g;
  const p = `heads.${head}`;
  const z = multiOrganismConv(c, emb, `${p}.convs.${resolution}`, organism);
  const scale = g.op('Unsqueeze', [perOrganism(c, `${p}.residual_scales.${resolution}`, organism), g.ints([1])]);
  const x = g.op('Mul', [g.op('Softplus', [z]), g.op('Softplus', [scale])]);
  const clip = g.scalar(cfg.softClip);
  const t = g.op('Add', [x, clip]);
  let y = g.op('Where', [g.op('Greater', [x, clip]), g.op('Div', [g.op('Mul', [t, t]), g.scalar(4 * cfg.softClip)]), x]);
  if (cfg.squashing[head]) y = g.op('Pow', [y, g.scalar(1 / 0.75)]);
  const means = g.op('Mul', [perOrganism(c, `${p}.track_means`, organism), g.scalar(resolution)]);
  return g.op('Mul', [y, g.op('Unsqueeze', [means, g.ints([1])])]);
}

/** [B, P, P, F] → [B, P, P, tracks]. */
export function contactMaps(c: LayerContext, cfg: AlphaGenomeConfig, pairEmb: Value, organism: Value): Value {
  const g = c.g;
  const flat = g.op('Reshape', [pairEmb, g.ints([0, -1, cfg.pairDim])]);
  const y = multiOrganismLinear(c, flat, 'contact_maps_head.linear', organism);
  return g.op('Reshape', [y, g.op('Concat', [g.op('Shape', [pairEmb], { start: 0, end: 3 }), g.ints([cfg.contactMapTracks])], { axis: 0 })]);
}

export function spliceSites(c: LayerContext, emb1: Value, organism: Value): { logits: Value; probs: Value } {
  const logits = multiOrganismConv(c, emb1, 'splice_sites_classification_head.conv', organism);
  return { logits, probs: c.g.op('Softmax', [logits], { axis: -1 }) };
}

/** Usage logits and sigmoid predictions [B, L, tracks], and the organism's valid tracks [B, 1, tracks] (1 = valid). */
export function spliceSiteUsage(c: LayerContext, cfg: AlphaGenomeConfig, emb1: Value, organism: Value): { logits: Value; predictions: Value; trackMask: Value } {
  const g = c.g;
  const logits = multiOrganismConv(c, emb1, 'splice_sites_usage_head.conv', organism);
  const T = Math.max(...cfg.spliceUsageTracks);
  const table = Array.from({ length: cfg.numOrganisms }, (_, o) => Array.from({ length: T }, (_, t) => (t < cfg.spliceUsageTracks[o]! ? 1 : 0))).flat();
  const trackMask = g.op('Unsqueeze', [g.op('Gather', [g.floats('usage_track_mask', [cfg.numOrganisms, T], table), organism], { axis: 0 }), g.ints([1])]);
  return { logits, predictions: g.op('Sigmoid', [logits]), trackMask };
}

/**
 * The splice-junction head on the chosen sites: their 1-bp embeddings [B, 4·K, E1] (class-major) and
 * positions [B, 4, K] → pred_counts [B, K, K, 2T] (+ strand tissues, then − strand; rows donors,
 * columns acceptors) and its 0/1 mask (both positions valid, tissue valid for the organism); counts
 * are 0 where the mask is. The model gathers the embedding at the positions before the projection
 * (a per-position linear map, so the same values as projecting all L positions first); a -1
 * position's row is anything (masked).
 */
export function junctionsAtSites(c: LayerContext, cfg: AlphaGenomeConfig, gathered: Value, positions: Value, organism: Value): { counts: Value; mask: Value } {
  const g = c.g;
  const K = cfg.numSpliceSites;
  const H = cfg.junctionHiddenDim;
  const T = Math.max(...cfg.junctionTissues);
  const p = 'splice_sites_junction_head';
  const projected = g.op('Reshape', [multiOrganismConv(c, gathered, `${p}.conv`, organism), g.ints([0, 4, K, H])]);
  const kinds = JUNCTION_KINDS.map((kind, j) => {
    const row = (v: Value) => g.op('Squeeze', [g.op('Slice', [v, g.ints([j]), g.ints([j + 1]), g.ints([1])]), g.ints([1])]);
    const params = perOrganism(c, `${p}.rope_params.${kind}`, organism);
    const part = (i: number) => g.op('Slice', [params, g.ints([i]), g.ints([i + 1]), g.ints([1])]);
    const x = g.op('Add', [g.op('Mul', [part(0), g.op('Unsqueeze', [row(projected), g.ints([2])])]), part(1)]);
    const { cos, sin } = ropeTables(c, row(positions), H, cfg.junctionRopeMaxPosition);
    const rotated = applyRope(c, x, g.op('Unsqueeze', [cos, g.ints([2])]), g.op('Unsqueeze', [sin, g.ints([2])]), H);
    const valid = g.op('Cast', [g.op('GreaterOrEqual', [row(positions), g.ints([0], [])])], { to: 1 });
    return { rotated, valid };
  });
  const tissues = Array.from({ length: cfg.numOrganisms }, (_, o) => Array.from({ length: T }, (_, t) => (t < cfg.junctionTissues[o]! ? 1 : 0))).flat();
  const tissueMask = g.op('Unsqueeze', [g.op('Gather', [g.floats('tissue_mask', [cfg.numOrganisms, T], tissues), organism], { axis: 0 }), g.ints([1, 2])]);
  const strand = (donor: (typeof kinds)[number], acceptor: (typeof kinds)[number]) => {
    const products = g.op('MatMul', [g.op('Transpose', [donor.rotated], { perm: [0, 2, 1, 3] }), g.op('Transpose', [acceptor.rotated], { perm: [0, 2, 3, 1] })]);
    const counts = g.op('Softplus', [g.op('Transpose', [products], { perm: [0, 2, 3, 1] })]);
    const pairs = g.op('Mul', [g.op('Unsqueeze', [donor.valid, g.ints([2])]), g.op('Unsqueeze', [acceptor.valid, g.ints([1])])]);
    return { counts, mask: g.op('Mul', [g.op('Unsqueeze', [pairs, g.ints([3])]), tissueMask]) };
  };
  const plus = strand(kinds[0]!, kinds[1]!);
  const minus = strand(kinds[2]!, kinds[3]!);
  const mask = g.op('Concat', [plus.mask, minus.mask], { axis: -1 });
  const counts = g.op('Mul', [g.op('Concat', [plus.counts, minus.counts], { axis: -1 }), mask]);
  return { counts, mask };
}
