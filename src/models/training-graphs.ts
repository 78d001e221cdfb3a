/**
 * The graphs of whole-model training (trainable.ts), built from the model's own layers with every
 * trainable weight as a graph input (`param/<name>`), so that one set of sessions serves every
 * optimiser step while the weights change; BatchNorm runs in inference form, as for fine-tuning, its
 * running statistics frozen and built in as initializers:
 *   trunk training  dna, weights | cotangents of the trunk outputs -> trunk outputs | d / d trunk weights
 *                   (split into a forward that saves activations and a backward that reads them)
 *   block training  the shared transformer-block graph of gradients.ts with its weights' gradients
 *   tail training   the head's tail, the loss on one head's output against `targets`, and
 *                   d loss / d segment_in, the trunk skips it reads and its weights
 *   trunk, head     plain forward passes (predictions)
 */
import type { Graph, Value } from '../engine/graph.js';
import type { Architecture } from './architecture.js';
import { buildBlockBackward, gradName, tailBackward, type WeightInputs } from './gradients.js';
import { LayerContext, type ConvLayout, type WeightRef } from './layers.js';
import { weightGradients } from './weight-gradients.js';

/** The external-data blob the frozen weights are read from when the sessions are made. */
export const FROZEN_BLOB = 'frozen';

export const paramInput = (name: string) => `param/${name}`;
/** Output name of d loss / d a trainable weight. */
export const paramGrad = (name: string) => gradName(paramInput(name));

/** Weights the optimiser updates: all but BatchNorm's running statistics. */
export function isTrainable(name: string): boolean {
  return !/\.running_(mean|var)$/.test(name);
}

/** Builds the loss (a scalar) from a head's prediction and the targets [B, bins, tracks]. */
export interface LossBuilder {
  (g: Graph, pred: Value, target: Value, bins: number): Value;
}

/**
 * A layer context that reads each trainable weight from a graph input of the weight's own shape and
 * each frozen one as an initializer in the `FROZEN_BLOB` blob (`frozen` gives its place there).
 * `used` lists the trainable weights read, in the order first read.
 */
export class TrainingWeights extends LayerContext {
  readonly used: string[] = [];
  private readonly values = new Map<string, Value>();

  constructor(g: Graph, shapes: Map<string, number[]>, layout: ConvLayout, frozen: (name: string) => WeightRef | undefined) {
    super(g, frozen, shapes, layout, FROZEN_BLOB);
  }

  override param(name: string, dims?: number[]): Value {
    if (!isTrainable(name)) return super.param(name, dims);
    let v = this.values.get(name);
    if (!v) {
      v = this.g.input(paramInput(name), 'float32', this.shape(name));
      this.values.set(name, v);
      this.used.push(name);
    }
    return dims ? this.g.op('Reshape', [v, this.g.ints(dims)]) : v;
  }

  /** The graph inputs of the trainable weights read so far, with their stored shapes. */
  weightInputs(): { input: string; shape: number[] }[] {
    return this.used.map((n) => ({ input: paramInput(n), shape: this.shape(n) }));
  }
}

/**
 * Trunk graph + d Σ <cotangent, output> / d each trainable trunk weight (convolutions' as GEMMs:
 * weight-gradients.ts), cotangents as inputs named by `gradName`.
 */
export function buildTrunkTraining(arch: Architecture, c: TrainingWeights): void {
  arch.buildTrunk(c);
  const g = c.g;
  const outputs = arch.trunkOutputs;
  const seeds = outputs.map((o) => g.input(gradName(o.name), 'float32', ['batch', `${o.name}_positions`, o.channels]));
  const grads = weightGradients(g, outputs.map((o) => ({ name: o.name })), c.weightInputs(), { seed: seeds });
  c.used.forEach((n, i) => g.output(grads.weights[i]!, paramGrad(n), 'float32', c.shape(n)));
}

/** The shared block graph with segment_out (to split) and d / d segment_in and each weight input. */
export function buildBlockTraining(arch: Architecture, c: WeightInputs): void {
  buildBlockBackward(arch, c, { withOutput: true, weightGrads: true });
}

/**
 * The tail on segment_in + `loss` of head `head` against the input `targets` [B, bins, tracks] as the
 * output `loss`, with d loss / d segment_in and the skips it reads (see `tailBackward`) and / d each
 * trainable tail weight.
 */
export function buildTailTraining(arch: Architecture, c: TrainingWeights, head: string, loss: LossBuilder, bins: number): void {
  tailBackward(
    arch,
    c,
    (g) => {
      const target = g.input('targets', 'float32', ['batch', bins, arch.tracks(head)]);
      const l = loss(g, { name: head }, target, bins);
      g.output(l, 'loss', 'float32', []);
      return l;
    },
    (g, l, inputs) => {
      const grads = weightGradients(g, [l], c.weightInputs(), { extra: inputs });
      c.used.forEach((n, i) => g.output(grads.weights[i]!, paramGrad(n), 'float32', c.shape(n)));
      return grads.extra;
    },
  );
}
