/**
 * Attention maps: the softmax weights of chosen transformer layers as extra outputs of the head graph.
 * They are taken from the very tensors the forward uses, chunk by chunk: each query chunk keeps only
 * the requested rows (a run-time int64 input `attention_rows`), so the [rows, keys] logits stay bounded
 * as in the plain forward and a graph fed no rows costs nothing extra. Heads are selected or averaged
 * in the graph, so an output is never larger than what is written.
 */
import type { Value } from '../engine/graph.js';
import type { AttentionTap } from './attention.js';
import type { LayerContext } from './layers.js';

export class AttentionSelectionError extends Error {}

export interface AttentionMapSpec {
  /** Transformer layers (0-based), ascending, each once. */
  layers: number[];
  /** Heads (0-based) written separately, ascending, or 'mean' for the mean over all heads as one. */
  heads: number[] | 'mean';
}

/** Transformer geometry an attention map refers to. */
export interface TransformerShape {
  layers: number;
  heads: number;
  /** bp per transformer position. */
  resolution: number;
}

/** Name of the head graph's int64 [rows] input: 0-based query positions, ascending. */
export const ATTENTION_ROWS = 'attention_rows';

/** Name of the head graph output holding layer j's map [B, heads or 1, rows, n]. */
export function attentionOutputName(layer: number): string {
  return `attention_${layer}`;
}

/** Number of heads a spec writes. */
export function writtenHeads(spec: AttentionMapSpec): number {
  return spec.heads === 'mean' ? 1 : spec.heads.length;
}

function checkIndices(values: number[], count: number, what: string, flag: string, range = `the model has ${what}s 0-${count - 1}`): void {
  if (values.length === 0) throw new AttentionSelectionError(`${flag}: no ${what}s selected`);
  for (const v of values) {
    if (!Number.isInteger(v) || v < 0 || v >= count) throw new AttentionSelectionError(`${flag}: ${what} ${v} does not exist (${range})`);
  }
  for (let i = 1; i < values.length; i++) {
    if (values[i]! <= values[i - 1]!) throw new AttentionSelectionError(`${flag}: ${what}s must be ascending and distinct (${values[i - 1]} then ${values[i]})`);
  }
}

/** Throws a one-line AttentionSelectionError unless the spec fits the transformer. */
export function checkAttentionSpec(spec: AttentionMapSpec, t: TransformerShape): void {
  checkIndices(spec.layers, t.layers, 'layer', '--attention-layers');
  if (spec.heads !== 'mean') checkIndices(spec.heads, t.heads, 'head', '--attention-heads');
}

/** Throws unless `rows` are ascending distinct query positions of a transformer of n positions. */
export function checkAttentionRows(rows: number[], n: number): void {
  checkIndices(rows, n, 'row', '--attention-rows', `this window has ${n} transformer positions, rows 0-${n - 1}`);
}

/**
 * Parses a list of 0-based indices and inclusive ranges, e.g. `0-3,7`, into ascending distinct values.
 * `flag` names the option in errors.
 */
export function parseIndexList(text: string, flag: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new AttentionSelectionError(`${flag} ${text}: '${part}' is not an index or an a-b range of 0-based indices`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new AttentionSelectionError(`${flag} ${text}: range ${part} runs backwards`);
    if (b - a > 1_000_000) throw new AttentionSelectionError(`${flag} ${text}: range ${part} is too long`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/**
 * Build-time helper of a head graph: `tap(layer)` gives the tap for a selected layer's attention,
 * `emit()` declares one output per selected layer after the transformer has been built.
 */
export class AttentionMaps {
  private readonly rows: Value;
  private readonly parts = new Map<number, Value[]>();

  constructor(
    private readonly c: LayerContext,
    private readonly spec: AttentionMapSpec,
  ) {
    this.rows = c.g.input(ATTENTION_ROWS, 'int64', ['rows']);
    for (const l of spec.layers) this.parts.set(l, []);
  }

  tap(layer: number): AttentionTap | undefined {
    const parts = this.parts.get(layer);
    if (!parts) return undefined;
    return (weights, start, end) => {
      const g = this.c.g;
      // The requested rows inside this chunk, as chunk-local indices; rows ascending keeps the order.
      const inside = g.op('And', [g.op('GreaterOrEqual', [this.rows, start]), g.op('Less', [this.rows, end])]);
      const local = g.op('Compress', [g.op('Sub', [this.rows, start]), inside], { axis: 0 });
      const picked = g.op('Gather', [weights, local], { axis: 2 });
      const heads = this.spec.heads;
      parts.push(heads === 'mean' ? g.op('ReduceMean', [picked], { axes: [1], keepdims: 1 }) : g.op('Gather', [picked, g.ints(heads)], { axis: 1 }));
    };
  }

  emit(): void {
    const g = this.c.g;
    for (const [layer, parts] of this.parts) {
      if (parts.length === 0) throw new Error(`attention map of layer ${layer} was requested but the layer has no attention`);
      const value = parts.length === 1 ? parts[0]! : g.op('Concat', parts, { axis: 2 });
      g.output(value, attentionOutputName(layer), 'float32', ['batch', writtenHeads(this.spec), 'rows', 'positions']);
    }
  }
}
