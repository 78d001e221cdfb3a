/**
 * The graphs of head-only training: embeddings [B, bins, E] → Linear(E → tracks) → softplus → loss,
 * the model heads' own form (Gemm with transB, then Softplus). The training graph also carries the
 * loss gradients of the head's weight and bias, appended by the engine's reverse-mode `backward`;
 * the evaluation graph stops at the predictions and the loss.
 *
 * Weight and bias are graph inputs, not initializers, so one session serves every step: the
 * optimiser owns the float32 master copies and feeds them in.
 */
import { Graph, type Value } from '../engine/graph.js';
import { backward } from '../engine/autodiff.js';
import { lossGraph, type LossName } from './losses.js';

export interface HeadGraphShape {
  embedding: number;
  tracks: number;
  bins: number;
}

function forward(g: Graph, s: HeadGraphShape): { pred: Value; target: Value; weight: Value; bias: Value } {
  const emb = g.input('embeddings', 'float32', ['batch', s.bins, s.embedding]);
  const target = g.input('targets', 'float32', ['batch', s.bins, s.tracks]);
  const weight = g.input('weight', 'float32', [s.tracks, s.embedding]);
  const bias = g.input('bias', 'float32', [s.tracks]);
  const flat = g.op('Reshape', [emb, g.ints([-1, s.embedding])]);
  const linear = g.op('Gemm', [flat, weight, bias], { transB: 1 });
  const pred = g.op('Softplus', [g.op('Reshape', [linear, g.ints([-1, s.bins, s.tracks])])]);
  return { pred, target, weight, bias };
}

/** Outputs `loss` (scalar), `pred`, `grad_weight` [tracks, E] and `grad_bias` [tracks]. */
export function headTrainingGraph(s: HeadGraphShape, loss: LossName): Uint8Array {
  const g = new Graph('head_training');
  const { pred, target, weight, bias } = forward(g, s);
  const l = lossGraph(loss, g, pred, target, s.bins);
  const [gw, gb] = backward(g, l, [weight, bias]);
  g.output(l, 'loss', 'float32', []);
  g.output(pred, 'pred', 'float32', ['batch', s.bins, s.tracks]);
  g.output(gw!, 'grad_weight', 'float32', [s.tracks, s.embedding]);
  g.output(gb!, 'grad_bias', 'float32', [s.tracks]);
  return g.toModel();
}

/** Outputs `loss` and `pred` only. */
export function headEvaluationGraph(s: HeadGraphShape, loss: LossName): Uint8Array {
  const g = new Graph('head_evaluation');
  const { pred, target } = forward(g, s);
  g.output(lossGraph(loss, g, pred, target, s.bins), 'loss', 'float32', []);
  g.output(pred, 'pred', 'float32', ['batch', s.bins, s.tracks]);
  return g.toModel();
}
