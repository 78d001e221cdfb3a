/**
 * Enformer's and Borzoi's output heads on the embeddings: per head softplus(Linear(embeddings →
 * tracks)), with `extras.logits` the pre-softplus values beside, and the embeddings themselves as an
 * output. With `extras.selectTracks` the graph outputs only the selected tracks of one head: the
 * Linear's weight columns are picked by a product with the 0/1 selection (exact: each sum is one weight
 * and zeros), so an input gradient's objective on one of Borzoi's 7,611 tracks costs a
 * [bins, 1,920] × [1,920, 1] product, not the whole head forward and backward (3 GFLOP at Borzoi,
 * and the [6,144, 7,611] passes around it).
 */
import type { Value } from '../engine/graph.js';
import { logitsOutputName, selectedOutputName, type HeadExtras } from './architecture.js';
import { linear, type LayerContext } from './layers.js';

export interface SoftplusHead {
  name: string;
  tracks: number;
  /** The Linear's parameters: `${prefix}.weight` ([tracks, embedding] in memory), `${prefix}.bias`. */
  prefix: string;
  /** The weight's dims as the Linear reads it, where it is stored otherwise (a [tracks, embedding, 1] conv). */
  weightDims?: [number, number];
}

/** The embeddings output and the heads on `embeddings` ([batch, targets, `channels`]), as `extras` asks. */
export function softplusHeads(c: LayerContext, embeddings: Value, channels: number, heads: SoftplusHead[], extras: HeadExtras = {}): void {
  const g = c.g;
  const selection = extras.selectTracks;
  if (selection) {
    const head = heads.find((h) => h.name === selection.head);
    if (!head) throw new Error(`no output head '${selection.head}' (heads: ${heads.map((h) => h.name).join(', ')})`);
    const logits = selectedLinear(c, embeddings, head, selection.select);
    g.output(g.op('Softplus', [logits]), selectedOutputName(head.name), 'float32', ['batch', 'targets', 'selected']);
    return;
  }
  g.output(embeddings, 'embeddings', 'float32', ['batch', 'targets', channels]);
  for (const h of heads) {
    const logits = linear(c, embeddings, h.prefix, { weightDims: h.weightDims });
    g.output(g.op('Softplus', [logits]), h.name, 'float32', ['batch', 'targets', h.tracks]);
    if (extras.logits) g.output(logits, logitsOutputName(h.name), 'float32', ['batch', 'targets', h.tracks]);
  }
}

/** x · (Wᵀ S) + b S: the Linear's outputs that the [tracks, selected] 0/1 matrix S picks. */
function selectedLinear(c: LayerContext, x: Value, head: SoftplusHead, select: Value): Value {
  const g = c.g;
  // Wᵀ of a weight is folded once, as the session is made.
  const columns = g.op('MatMul', [g.op('Transpose', [c.param(`${head.prefix}.weight`, head.weightDims)], { perm: [1, 0] }), select]);
  const bias = g.op('MatMul', [c.param(`${head.prefix}.bias`), select]);
  return g.op('Add', [g.op('MatMul', [x, columns]), bias]);
}
