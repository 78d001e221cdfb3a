/**
 * Backward graphs of a model for input gradients (contribution scores). Two parts, as for the forward:
 * - head backward: the head graph, the objective on one head's output, and d objective / d trunk
 *   features (the head sees the whole sequence, so it runs once). Either one graph for the whole head
 *   (ORT then holds every transformer layer's activations at once: ~0.5 GB per layer at full-size
 *   Enformer; AlphaGenome, whose tower passes a pair representation between blocks, only runs this
 *   way: ~50 GiB at 128 bp and over 100 GiB at 1 bp for a full 1 Mb window, see docs/attribution.md),
 *   or checkpointed by segment (`HeadSegments`): the blocks' and the tail stages' forward run one by
 *   one keeping only their inputs, then the last tail stage's backward (+ objective) and each
 *   stage's and block's backward in reverse, so memory holds one segment's activations (Borzoi's
 *   tail has three stages, `tailStages`; Enformer's is one). All blocks share one forward and one
 *   backward graph whose weights are inputs (`WeightInputs`), so these sessions hold no weights;
 * - trunk backward: the trunk graph and d <cotangent, trunk features> / d one-hot input, run on the
 *   same tiles as the forward trunk (keeping every tile's whole forward would hold the whole window's
 *   conv activations, GBs at full size).
 * A backward graph holds its forward; the runner either runs it as it is (the forward recomputed
 * inside) or splits it into a forward that saves activations and a backward (engine/split.ts).
 * Whole-model training (training-graphs.ts) reuses the block and tail graphs, with weight gradients.
 * The objective's track and bin selections are graph inputs, so one session serves every objective
 * of a head (a second one only with/without the log transform).
 */
import { backward } from '../engine/autodiff.js';
import { Graph, type Dim, type Value } from '../engine/graph.js';
import type { SessionOpts, TensorData } from '../engine/protocol.js';
import { selectedOutputName, type Architecture, type HeadExtras, type TailStage } from './architecture.js';
import { LayerContext, type ConvLayout } from './layers.js';
import { DEFAULT_TILE } from './trunk-tiler.js';

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

/**
 * The scalar per sequence whose gradient a head backward computes: the objective's selection of one
 * head's tracks and bins (`objectiveFeeds`), optionally log-transformed, or Σ cotangent · head output
 * for a cotangent fed from outside.
 */
export type ObjectiveForm = { kind: 'selection'; head: string; log: boolean } | { kind: 'cotangent'; head: string };

/** Session id of a head backward graph: `part` 'head' (the whole head) or 'tail' (the checkpointed head's tail). */
export function objectiveSessionId(part: 'head' | 'tail', form: ObjectiveForm): string {
  return form.kind === 'selection' ? `${part}_grad_${form.head}${form.log ? '_log' : ''}` : `${part}_cot_${form.head}`;
}

/**
 * The objective [B] on the head output named `form.head` of `g`:
 * - selection: mean over the selected tracks of (log of) the bin-weighted sum of head[b, bin, track],
 *   inputs `objective_tracks` [tracks, selected] (`selection`, made before the head: the head may
 *   output only the selected tracks, `HeadExtras.selectTracks`), `objective_bins` [bins, 1]
 *   (, `objective_pseudocount`);
 * - cotangent: Σ_{bin, track} objective_cotangent[b, bin, track] · head[b, bin, track]. With the
 *   cotangent set to d f / d head (computed outside from a forward pass), this backpropagates any
 *   differentiable function f of the predictions (chain rule), e.g. one with an untransform that
 *   varies per bin and track.
 */
function objectiveValue(arch: Architecture, g: Graph, form: ObjectiveForm, selection: Value | undefined): Value {
  const tracks = arch.tracks(form.head);
  const prediction: Value = { name: form.head };
  if (form.kind === 'cotangent') {
    const cotangent = g.input('objective_cotangent', 'float32', ['batch', 'targets', tracks]);
    return g.op('ReduceSum', [g.op('Mul', [prediction, cotangent]), g.ints([1, 2])], { keepdims: 0 });
  }
  if (!selection) throw new Error('objective: a selection needs its objective_tracks input (objectiveSelection)');
  const weights = g.input('objective_bins', 'float32', ['targets', 1]);
  // The head's selected tracks where the architecture built them alone, else the selection of all.
  const selected = g.outputList.some((o) => o.name === selectedOutputName(form.head)) ? { name: selectedOutputName(form.head) } : g.op('MatMul', [prediction, selection]);
  let a = g.op('ReduceSum', [g.op('Mul', [selected, weights]), g.ints([1])], { keepdims: 0 });
  if (form.log) a = g.op('Log', [g.op('Add', [a, g.input('objective_pseudocount', 'float32', [])])]);
  return g.op('ReduceMean', [a], { axes: [1], keepdims: 0 });
}

/** The selection form's `objective_tracks` input [tracks, selected], made before the head that may read it; none for a cotangent. */
function objectiveSelection(arch: Architecture, g: Graph, form: ObjectiveForm): HeadExtras {
  if (form.kind !== 'selection') return {};
  return { selectTracks: { head: form.head, select: g.input('objective_tracks', 'float32', [arch.tracks(form.head), 'selected']) } };
}

/** Whole head graph + objective [B] + the objective's gradient w.r.t. every trunk output (one session). */
export function buildHeadObjectiveBackward(arch: Architecture, c: LayerContext, form: ObjectiveForm): void {
  const g = c.g;
  const extras = objectiveSelection(arch, g, form);
  arch.buildHead(c, { differentiated: true, ...extras });
  const objective = objectiveValue(arch, g, form, extras.selectTracks?.select);
  g.output(objective, 'objective', 'float32', ['batch']);
  const outputs = arch.trunkOutputs;
  const grads = backward(g, objective, outputs.map((o) => ({ name: o.name })));
  outputs.forEach((o, i) => g.output(grads[i]!, gradName(o.name), 'float32', ['batch', `${o.name}_positions`, o.channels]));
}

/** The value entering a head segment (graph input) and the one leaving a block (graph output). */
export const SEGMENT_IN = 'segment_in';
export const SEGMENT_OUT = 'segment_out';

/** Session ids of the shared transformer-block graphs (weights as inputs). */
export const BLOCK_FORWARD_ID = 'head_block';
export const BLOCK_BACKWARD_ID = 'head_block_grad';

/**
 * Session options of the transformer blocks' backward (the split block graph's backward half, run
 * once per block per gradient or training step, on the same shapes every time): ONNX Runtime's
 * memory arena, so each query chunk's [B, H, rows, n] products reuse the last chunk's buffers instead
 * of faulting in fresh pages (Borzoi's gradient 0.825× with it, BENCHMARKS.md "Fresh pages in the
 * block backward"). The arena keeps its high-water mark, measured at about six times the block's
 * attention weights (B = 1: heads × n² floats at the default length; ~3 GB for Borzoi), so by
 * default it is taken where the system has twice a rounded-up eight times that available (8 GB for
 * Borzoi, 1.2 GB for Enformer); `choice` decides instead.
 */
export function blockBackwardSessionOpts(arch: Architecture, choice?: boolean): SessionOpts {
  return arenaSessionOpts(blockArenaBytes(arch), choice);
}

/**
 * Session options of the split block graph's forward half (every block's forward of a gradient or
 * training step, with its saved values): the memory arena where the block's attention is small
 * enough that the arena's high-water mark (counted as the backward's: eight times the attention
 * weights) stays under 1 GiB, and memory is available as for the backward. Measured
 * (BENCHMARKS.md "The blocks' forward with the memory arena"): Enformer's blocks' forward 4.80 →
 * 3.14 s of ONNX Runtime's run time per 1.5 gradients (1,536 positions: ≈ 0.6 GB); Borzoi's gradient
 * no faster with it in runs of one model (2.74× and 2.76× the forward against 2.72×) for 0.8 GB more
 * peak RSS (4,096 positions: ≈ 4.3 GB). `choice` decides instead.
 */
export function blockForwardSessionOpts(arch: Architecture, choice?: boolean): SessionOpts {
  const retained = blockArenaBytes(arch);
  if (choice === undefined && retained > 2 ** 30) return { memoryArena: false };
  return arenaSessionOpts(retained, choice);
}

/** A block session's arena high-water mark, as measured for the backward: eight times a block's attention weights (B = 1, the default length). */
function blockArenaBytes(arch: Architecture): number {
  const n = arch.defaultSequenceLength / arch.transformer.resolution;
  return 8 * arch.transformer.heads * n * n * 4;
}

/**
 * Session options of both halves of the trunk's split gradient graph (each run once per tile on the
 * same shapes): the memory arena, for the reason the blocks' backward has one: each tile's
 * full-resolution tensors (the stem's channels × the tile with its halo, 102 MB at Enformer's
 * 768 × 33,152) and the elementwise passes over them otherwise come as fresh pages every tile
 * (Enformer's trunk backward 11 → 7.8 s per gradient with it, BENCHMARKS.md "Fresh pages in the
 * trunk backward"). A session with the arena also writes the outputs the worker keeps (the forward's
 * saved activations) into buffers reused from tile to tile (engine/output-scratch.ts). The
 * backward's high-water mark measured ≈ 5 such tensors (520 MB at Enformer); asked: twice a
 * rounded-up 8 available (1.6 GB at Enformer, 1.1 GB at Borzoi). `tileLength` as
 * `ModelOptions.tileLength` (unset: the default tile); `choice` decides instead.
 */
export function trunkGradientSessionOpts(arch: Architecture, tileLength = DEFAULT_TILE, choice?: boolean): SessionOpts {
  // A tile length of 0 or less is one tile (TrunkTiler).
  const core = tileLength > 0 ? Math.min(tileLength, arch.defaultSequenceLength) : arch.defaultSequenceLength;
  return arenaSessionOpts(8 * stemChannels(arch) * (core + 2 * arch.trunkHaloBp) * 4, choice);
}

/** The arena where `choice` says, else where twice `retained` bytes are available. */
function arenaSessionOpts(retained: number, choice: boolean | undefined): SessionOpts {
  return choice !== undefined ? { memoryArena: choice } : { memoryArena: { ifAvailable: 2 * retained } };
}

/** Channels of the trunk's full-resolution activations: the output channels of the convolution that reads the one-hot DNA (4 input channels). */
function stemChannels(arch: Architecture): number {
  const stem = arch.expectedWeights().find((t) => t.shape.length >= 3 && t.shape[1] === 4);
  if (!stem) throw new Error(`${arch.kind}: no convolution reads the one-hot DNA`);
  return stem.shape[0]!;
}

/** Input name of a block graph's i-th weight (in the order the block first reads its weights). */
export const blockWeightInput = (i: number) => `block_weight_${i}`;

/**
 * A layer context that reads each weight from a graph input, `blockWeightInput(i)` for the i-th
 * distinct weight read, so a graph built for one block serves every block of the same structure.
 * `used` lists the weight names in that order (a dry build of block j gives block j's feeds).
 */
export class WeightInputs extends LayerContext {
  readonly used: string[] = [];
  private readonly values = new Map<string, Value>();

  constructor(g: Graph, shapes: Map<string, number[]>, layout: ConvLayout) {
    super(g, () => undefined, shapes, layout);
  }

  override param(name: string, dims?: number[]): Value {
    let v = this.values.get(name);
    if (!v) {
      v = this.g.input(blockWeightInput(this.used.length), 'float32', this.shape(name));
      this.values.set(name, v);
      this.used.push(name);
    }
    return dims ? this.g.op('Reshape', [v, this.g.ints(dims)]) : v;
  }
}

function blockInput(arch: Architecture, g: Graph): Value {
  return g.input(SEGMENT_IN, 'float32', ['batch', 'positions', arch.headSegments.channels]);
}

/** Block `j` (default 0): segment_in -> segment_out. Built on a `WeightInputs` context, it serves every block. */
export function buildBlockForward(arch: Architecture, c: LayerContext, j = 0): void {
  const g = c.g;
  const segments = arch.headSegments;
  const y = segments.blocks(c)(blockInput(arch, g), j);
  g.output(y, SEGMENT_OUT, 'float32', ['batch', 'positions', segments.channels]);
}

/**
 * Block graph + d <grad_segment_out, segment_out> / d segment_in (the block's forward recomputed
 * inside). `withOutput` also outputs segment_out: the graph to split into a forward that saves
 * activations and a backward that reads them (`splitForwardBackward`). `weightGrads` (on a
 * `WeightInputs` context) also outputs d / d each weight input, named `gradName(blockWeightInput(i))`:
 * the block's share of the weights' gradients, for training.
 */
export function buildBlockBackward(arch: Architecture, c: LayerContext, opts: { withOutput?: boolean; weightGrads?: boolean } = {}): void {
  const g = c.g;
  const segments = arch.headSegments;
  const x = blockInput(arch, g);
  const y = segments.blocks(c)(x, 0);
  if (opts.withOutput) g.output(y, SEGMENT_OUT, 'float32', ['batch', 'positions', segments.channels]);
  const seed = g.input(gradName(SEGMENT_OUT), 'float32', ['batch', 'positions', segments.channels]);
  if (opts.weightGrads && !(c instanceof WeightInputs)) throw new Error('buildBlockBackward: weight gradients need a WeightInputs context');
  const weights = opts.weightGrads ? (c as WeightInputs).used.map((n, i) => ({ name: blockWeightInput(i), shape: c.shape(n) })) : [];
  const [grad, ...weightGrads] = backward(g, y, [x, ...weights.map((w) => ({ name: w.name }))], { seed });
  g.output(grad!, gradName(SEGMENT_IN), 'float32', ['batch', 'positions', segments.channels]);
  weights.forEach((w, i) => g.output(weightGrads[i]!, gradName(w.name), 'float32', w.shape));
}

/** Names of block j's weights in the order its graph reads them (the order of `blockWeightInput`). */
export function blockWeightNames(arch: Architecture, j: number, shapes: Map<string, number[]>, layout: ConvLayout): string[] {
  const c = new WeightInputs(new Graph(`block_${j}_weights`), shapes, layout);
  buildBlockForward(arch, c, j);
  return c.used;
}

/**
 * Each transformer block's weight names in the order of the shared block graphs' weight inputs,
 * cached. One graph serves every block, so every block must read weights of block 0's shapes.
 */
export class BlockWeightTable {
  private cache = new Map<number, string[]>();

  /** `remedy`: what to do instead when the blocks differ (added to the error). */
  constructor(
    private readonly arch: Architecture,
    private readonly shapes: Map<string, number[]>,
    private readonly layout: ConvLayout,
    private readonly remedy?: string,
  ) {}

  names(j: number): string[] {
    let names = this.cache.get(j);
    if (!names) {
      names = blockWeightNames(this.arch, j, this.shapes, this.layout);
      const first = j === 0 ? names : this.names(0);
      const shapes = this.shapes;
      const same = names.length === first.length && names.every((n, i) => shapes.get(n)!.join() === shapes.get(first[i]!)!.join());
      if (!same) throw new Error(`${this.arch.kind}: transformer block ${j} differs from block 0 in its weights' shapes${this.remedy ? `; ${this.remedy}` : ''}`);
      this.cache.set(j, names);
    }
    return names;
  }
}

/**
 * The checkpointed head's tail on segment_in (the last block's output) + the objective [B] + its
 * gradient w.r.t. segment_in and w.r.t. the trunk outputs the tail reads (Borzoi's U-Net skips),
 * named `gradName`. With `stage` (of `tailStages`; the last one): only that stage, segment_in being
 * the value entering it.
 */
export function buildTailBackward(arch: Architecture, c: LayerContext, form: ObjectiveForm, stage?: number): void {
  const extras = objectiveSelection(arch, c.g, form);
  tailBackward(
    arch,
    c,
    (g) => {
      const objective = objectiveValue(arch, g, form, extras.selectTracks?.select);
      g.output(objective, 'objective', 'float32', ['batch']);
      return objective;
    },
    undefined,
    stage,
    extras,
  );
}

/**
 * The tail on segment_in, the scalar `value` computes from its outputs (declared as an output by
 * `value`), and d value / d segment_in and / d the trunk outputs the tail reads, named `gradName`.
 * `differentiate` gives those gradients (in the order of `inputs`); training's also outputs the
 * weights' gradients. With `stage`: only that (last) stage of `tailStages`. `extras` go to the tail's build.
 */
export function tailBackward(
  arch: Architecture,
  c: LayerContext,
  value: (g: Graph) => Value,
  differentiate: (g: Graph, value: Value, inputs: Value[]) => Value[] = (g, v, inputs) => backward(g, v, inputs),
  stage?: number,
  extras?: HeadExtras,
): void {
  const g = c.g;
  const segments = arch.headSegments;
  let x: Value;
  if (stage === undefined) segments.tail(c, (x = blockInput(arch, g)), extras);
  else {
    const stages = tailStages(arch);
    if (stage !== stages.length - 1) throw new Error(`tailBackward: stage ${stage} is not the tail's last (${stages.length} stages)`);
    stages[stage]!.build(c, (x = g.input(SEGMENT_IN, 'float32', stages[stage]!.input(c))), extras);
  }
  const v = value(g);
  inputGradients(arch, g, x, (inputs) => differentiate(g, v, inputs));
}

/**
 * The tail's stages for the checkpointed backward (`HeadSegments.tailStages`), or the whole tail as
 * one stage.
 */
export function tailStages(arch: Architecture): TailStage[] {
  const segments = arch.headSegments;
  return segments.tailStages ?? [{ input: () => ['batch', 'positions', segments.channels], build: (c, x, extras) => void segments.tail(c, x, extras) }];
}

/** Session ids of the shared graphs of tail stage s (not the last): its forward, and its backward. */
export const tailStageId = (s: number) => `tail_stage_${s}`;
export const tailStageGradId = (s: number) => `tail_stage_${s}_grad`;

/** Tail stage `s` (not the last): segment_in -> segment_out, the value entering stage s + 1. */
export function buildTailStageForward(arch: Architecture, c: LayerContext, s: number): void {
  const { y, out } = tailStageGraph(arch, c, s);
  c.g.output(y, SEGMENT_OUT, 'float32', out);
}

/**
 * Tail stage `s` (not the last) + d <grad_segment_out, segment_out> / d segment_in and / d the trunk
 * outputs the stage reads (named `gradName`), the stage's forward recomputed inside: the checkpointed
 * tail keeps only the values between stages.
 */
export function buildTailStageBackward(arch: Architecture, c: LayerContext, s: number): void {
  const g = c.g;
  const { x, y, out } = tailStageGraph(arch, c, s);
  const seed = g.input(gradName(SEGMENT_OUT), 'float32', out);
  inputGradients(arch, g, x, (inputs) => backward(g, y, inputs, { seed }));
}

/** Stage s (not the last) of the tail on its input x; `out`: the dims of the value y it passes on. */
function tailStageGraph(arch: Architecture, c: LayerContext, s: number): { x: Value; y: Value; out: Dim[] } {
  const stages = tailStages(arch);
  if (s >= stages.length - 1) throw new Error(`tail stage ${s} is not before the tail's last (${stages.length} stages)`);
  const x = c.g.input(SEGMENT_IN, 'float32', stages[s]!.input(c));
  const y = stages[s]!.build(c, x);
  if (!y) throw new Error(`${arch.kind}: tail stage ${s} passes nothing on`);
  return { x, y, out: stages[s + 1]!.input(c) };
}

/**
 * Outputs d / d x (`gradName(SEGMENT_IN)`, x's dims) and d / d each trunk output that the graph
 * reads besides the blocks' input (`gradName(o)`), as `differentiate` gives them for [x, ...those].
 */
function inputGradients(arch: Architecture, g: Graph, x: Value, differentiate: (inputs: Value[]) => Value[]): void {
  const skips = arch.trunkOutputs.filter((o) => o.name !== arch.headSegments.input && g.inputSpec(o.name));
  const grads = differentiate([x, ...skips.map((o) => ({ name: o.name }))]);
  g.output(grads[0]!, gradName(SEGMENT_IN), 'float32', g.inputSpec(x.name)!.shape);
  skips.forEach((o, i) => g.output(grads[i + 1]!, gradName(o.name), 'float32', ['batch', `${o.name}_positions`, o.channels]));
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
