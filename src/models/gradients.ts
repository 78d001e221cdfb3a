/**
 * Backward graphs of a model for input gradients (contribution scores). Two graphs, as for the forward:
 * - head backward: the head graph, the objective on one head's output, and d objective / d trunk
 *   features (the head sees the whole sequence, so it runs once);
 * - trunk backward: the trunk graph and d <cotangent, trunk features> / d one-hot input, run on the
 *   same tiles as the forward trunk (the forward is recomputed inside, per tile: keeping every tile's
 *   activations would hold the whole window's conv activations, GBs at full size).
 * The objective's track and bin selections are graph inputs, so one session serves every objective
 * of a head (a second one only with/without the log transform).
 */
import { backward } from '../engine/autodiff.js';
import type { Value } from '../engine/graph.js';
import type { TensorData } from '../engine/protocol.js';
import type { Architecture } from './architecture.js';
import type { LayerContext } from './layers.js';

/**
 * What to differentiate, per sequence b: for each listed track t, a_t = aggregate (mean or sum) of
 * head[b, bin, t] over the listed output bins (0-based, after the centre crop); with `logPseudocount`
 * a_t = log(a_t + pc); objective[b] = mean over the tracks of a_t.
 */
export interface Objective {
  head: string;
  tracks: number[];
  bins: number[];
  aggregate: 'mean' | 'sum';
  logPseudocount?: number;
}

export class ObjectiveError extends Error {}

/** Name of a trunk output's cotangent (trunk backward input) and gradient (head backward output). */
export const gradName = (trunkOutput: string) => `grad_${trunkOutput}`;

/** Checks an objective against a head's track count and the number of output bins; one-line errors. */
export function checkObjective(arch: Architecture, o: Objective, outputBins: number): void {
  const tracks = arch.tracks(o.head);
  const check = (what: string, values: number[], limit: number, range: string) => {
    if (values.length === 0) throw new ObjectiveError(`objective: no ${what}s selected`);
    const bad = values.find((v) => !Number.isInteger(v) || v < 0 || v >= limit);
    if (bad !== undefined) throw new ObjectiveError(`objective: ${what} ${bad} is outside ${range} (0-based)`);
    if (new Set(values).size !== values.length) throw new ObjectiveError(`objective: a ${what} is listed twice`);
  };
  check('track', o.tracks, tracks, `head '${o.head}' (${tracks} tracks)`);
  check('bin', o.bins, outputBins, `the ${outputBins} output bins`);
  if (o.aggregate !== 'mean' && o.aggregate !== 'sum') throw new ObjectiveError(`objective: aggregate must be 'mean' or 'sum', not '${String(o.aggregate)}'`);
  if (o.logPseudocount !== undefined && !(o.logPseudocount > 0)) throw new ObjectiveError(`objective: the log pseudocount must be positive (got ${o.logPseudocount})`);
}

/** The objective's selection as head-backward feeds: a [tracks, selected] 0/1 matrix and [bins, 1] weights. */
export function objectiveFeeds(o: Objective, headTracks: number, outputBins: number): Record<string, TensorData> {
  const select = new Float32Array(headTracks * o.tracks.length);
  o.tracks.forEach((t, j) => (select[t * o.tracks.length + j] = 1));
  const weights = new Float32Array(outputBins);
  for (const b of o.bins) weights[b] = o.aggregate === 'mean' ? 1 / o.bins.length : 1;
  const feeds: Record<string, TensorData> = {
    objective_tracks: { dtype: 'float32', dims: [headTracks, o.tracks.length], data: select },
    objective_bins: { dtype: 'float32', dims: [outputBins, 1], data: weights },
  };
  if (o.logPseudocount !== undefined) feeds.objective_pseudocount = { dtype: 'float32', dims: [], data: Float32Array.of(o.logPseudocount) };
  return feeds;
}

/** Session id of the head backward graph for a head, with or without the log transform. */
export function headBackwardId(head: string, log: boolean): string {
  return `head_grad_${head}${log ? '_log' : ''}`;
}

/** Head graph + objective [B] + the objective's gradient w.r.t. every trunk output. */
export function buildHeadBackward(arch: Architecture, c: LayerContext, head: string, log: boolean): void {
  arch.buildHead(c);
  const g = c.g;
  const tracks = arch.tracks(head);
  const select = g.input('objective_tracks', 'float32', [tracks, 'selected']);
  const weights = g.input('objective_bins', 'float32', ['targets', 1]);
  const prediction: Value = { name: head };
  let a = g.op('ReduceSum', [g.op('Mul', [g.op('MatMul', [prediction, select]), weights]), g.ints([1])], { keepdims: 0 });
  if (log) a = g.op('Log', [g.op('Add', [a, g.input('objective_pseudocount', 'float32', [])])]);
  const objective = g.op('ReduceMean', [a], { axes: [1], keepdims: 0 });
  g.output(objective, 'objective', 'float32', ['batch']);
  const outputs = arch.trunkOutputs;
  const grads = backward(g, objective, outputs.map((o) => ({ name: o.name })));
  outputs.forEach((o, i) => g.output(grads[i]!, gradName(o.name), 'float32', ['batch', `${o.name}_positions`, o.channels]));
}

/** Trunk graph + d Σ <cotangent, output> / d dna, cotangents as inputs named by `gradName`. */
export function buildTrunkBackward(arch: Architecture, c: LayerContext): void {
  arch.buildTrunk(c);
  const g = c.g;
  const outputs = arch.trunkOutputs;
  const seeds = outputs.map((o) => g.input(gradName(o.name), 'float32', ['batch', `${o.name}_positions`, o.channels]));
  const [grad] = backward(g, outputs.map((o) => ({ name: o.name })), [{ name: 'dna' }], { seed: seeds });
  g.output(grad!, 'grad_dna', 'float32', ['batch', 'length', 4]);
}
