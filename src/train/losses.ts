/**
 * Training losses over head outputs y^ and targets y of shape [B, bins, tracks], in two forms: ONNX
 * graph builders (what training differentiates) and float64 reference evaluations (validation
 * losses, tests).
 *
 * - Poisson, Keras form (keras/losses.py `poisson`, the Enformer training notebook's
 *   `tf.keras.losses.poisson`): mean over every element of y^ - y·log(y^ + 1e-7); the epsilon is added
 *   inside the log, nothing is clamped.
 * - Poisson-multinomial, calico/baskerville `metrics.py` `poisson_multinomial` (total_weight 0.2 as
 *   Borzoi trains, epsilon 1e-7, all position weights 1, no rescale) under Keras' mean reduction:
 *     s = Σ_bins y, s^ = Σ_bins y^                              [B, tracks]
 *     poisson = (s^ - s·log(s^ + ε)) / T
 *     p^ = (y^ + ε) / s^                                       (ε on y^, not on s^)
 *     multinomial = -Σ_bins (y + ε)·log(p^) / T
 *     loss = mean over B, tracks of multinomial + total_weight·poisson
 */
import type { Graph, Value } from '../engine/graph.js';

export const LOSS_EPSILON = 1e-7;
export const DEFAULT_TOTAL_WEIGHT = 0.2;

export type LossName = 'poisson' | 'poisson-multinomial';
export interface LossShape {
  batch: number;
  bins: number;
  tracks: number;
}

/** Keras Poisson, float64: mean of y^ - y·log(y^ + ε) over all elements. */
export function poissonLoss(pred: ArrayLike<number>, target: ArrayLike<number>): number {
  if (pred.length !== target.length) throw new Error(`poisson loss: ${pred.length} predictions, ${target.length} targets`);
  let sum = 0;
  for (let i = 0; i < pred.length; i++) sum += pred[i]! - target[i]! * Math.log(pred[i]! + LOSS_EPSILON);
  return sum / pred.length;
}

/** baskerville's Poisson-multinomial, float64, for row-major [B, bins, tracks]. */
export function poissonMultinomialLoss(pred: ArrayLike<number>, target: ArrayLike<number>, shape: LossShape, totalWeight = DEFAULT_TOTAL_WEIGHT): number {
  const { batch, bins, tracks } = shape;
  if (pred.length !== batch * bins * tracks || target.length !== pred.length) {
    throw new Error(`poisson-multinomial loss: expected ${batch}×${bins}×${tracks} values, got ${pred.length} predictions and ${target.length} targets`);
  }
  let total = 0;
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < tracks; k++) {
      let s = 0;
      let sHat = 0;
      for (let t = 0; t < bins; t++) {
        const i = (b * bins + t) * tracks + k;
        s += target[i]!;
        sHat += pred[i]!;
      }
      let multinomial = 0;
      for (let t = 0; t < bins; t++) {
        const i = (b * bins + t) * tracks + k;
        multinomial -= (target[i]! + LOSS_EPSILON) * Math.log((pred[i]! + LOSS_EPSILON) / sHat);
      }
      const poisson = sHat - s * Math.log(sHat + LOSS_EPSILON);
      total += (multinomial + totalWeight * poisson) / bins;
    }
  }
  return total / (batch * tracks);
}

export function lossValue(name: LossName, pred: ArrayLike<number>, target: ArrayLike<number>, shape: LossShape): number {
  return name === 'poisson' ? poissonLoss(pred, target) : poissonMultinomialLoss(pred, target, shape);
}

/** Keras Poisson as graph nodes: a scalar from pred and target of any (equal) shape. */
export function poissonLossGraph(g: Graph, pred: Value, target: Value): Value {
  const log = g.op('Log', [g.op('Add', [pred, g.scalar(LOSS_EPSILON)])]);
  const elementwise = g.op('Sub', [pred, g.op('Mul', [target, log])]);
  return g.op('ReduceMean', [elementwise], { keepdims: 0 });
}

/** baskerville's Poisson-multinomial as graph nodes, for pred and target [B, bins, tracks] with `bins` fixed. */
export function poissonMultinomialLossGraph(g: Graph, pred: Value, target: Value, bins: number, totalWeight = DEFAULT_TOTAL_WEIGHT): Value {
  const eps = g.scalar(LOSS_EPSILON);
  const binsAxis = g.ints([1]);
  const s = g.op('ReduceSum', [target, binsAxis], { keepdims: 1 });
  const sHat = g.op('ReduceSum', [pred, binsAxis], { keepdims: 1 });
  const poisson = g.op('Sub', [sHat, g.op('Mul', [s, g.op('Log', [g.op('Add', [sHat, eps])])])]);
  const pHat = g.op('Div', [g.op('Add', [pred, eps]), sHat]);
  const multinomial = g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [g.op('Add', [target, eps]), g.op('Log', [pHat])]), binsAxis], { keepdims: 1 })]);
  const perTrack = g.op('Div', [g.op('Add', [multinomial, g.op('Mul', [poisson, g.scalar(totalWeight)])]), g.scalar(bins)]);
  return g.op('ReduceMean', [perTrack], { keepdims: 0 });
}

export function lossGraph(name: LossName, g: Graph, pred: Value, target: Value, bins: number): Value {
  return name === 'poisson' ? poissonLossGraph(g, pred, target) : poissonMultinomialLossGraph(g, pred, target, bins);
}
