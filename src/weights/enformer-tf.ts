/**
 * The official TensorFlow Enformer (TF-Hub `deepmind/enformer/1`, a TF2 SavedModel of DeepMind's
 * Sonnet module; also DeepMind's `sonnet_weights` training checkpoint) read from its `variables/`
 * checkpoint and mapped to enformer-pytorch's names and layouts.
 *
 * Variables are found by their object path below the Enformer module (the object with `_trunk` and
 * `_heads` children: `model` in the SavedModel, `module` in the training checkpoint), taken from the
 * checkpoint's object graph. Paths, not Sonnet variable names, decide the mapping: Sonnet names the
 * MLP's two linears alike (`…/mlp/linear`), while their paths (`_layers/1`, `_layers/4`) differ.
 *
 *   _trunk/_layers/0                  stem: _layers/0 conv, _layers/1/_module residual conv block, _layers/2 pool
 *   _trunk/_layers/1/_layers/i        conv tower block i: _layers/0 conv block, _layers/1/_module, _layers/2 pool
 *   _trunk/_layers/2/_layers/j        transformer block j: _layers/0/_module (layer norm, attention),
 *                                     _layers/1/_module (layer norm, linear _layers/1, linear _layers/4)
 *   _trunk/_layers/4/_layers/0        final pointwise conv block
 *   _heads/<species>/_layers/0        head linear
 *
 * A conv block is a Sequential of batch norm (`_layers/0`), GELU and conv (`_layers/2`). Layouts:
 * conv `w` [k, in, out] -> [out, in, k]; linear `w` [in, out] -> [out, in]; softmax-pooling
 * `_logit_linear/w` [in, out] -> [out, in, 1, 1]; batch-norm `scale`/`offset` and the moving averages
 * (`moving_mean/average` [1, 1, C]) -> [C]; attention `r_w_bias`/`r_r_bias` [1, heads, 1, key] as they are.
 * The moving averages' `_counter`/`_hidden` and anything outside the Enformer module (an optimizer's
 * state in a training checkpoint) are skipped.
 */
import { permute } from './permute.js';
import { WeightSet } from './weight-set.js';
import { OBJECT_GRAPH_KEY, TfBundle, TfCheckpointError } from './tf-bundle.js';
import { graphVariables, objectTree, parseObjectGraph, type GraphVariable } from './tf-object-graph.js';

type Layout = 'conv' | 'linear' | 'pool' | 'vector' | 'same';
type Kind = 'conv' | 'linear' | 'pool' | 'batchNorm' | 'layerNorm' | 'attention';

/** Per module kind: variable path below the module -> [canonical suffix, layout], or null to skip. */
const VARIABLES: Record<Kind, Record<string, [string, Layout] | null>> = {
  conv: { w: ['weight', 'conv'], b: ['bias', 'vector'] },
  linear: { w: ['weight', 'linear'], b: ['bias', 'vector'] },
  pool: { '_logit_linear/w': ['to_attn_logits.weight', 'pool'] },
  batchNorm: {
    scale: ['weight', 'vector'],
    offset: ['bias', 'vector'],
    'moving_mean/average': ['running_mean', 'vector'],
    'moving_variance/average': ['running_var', 'vector'],
    'moving_mean/_counter': null,
    'moving_mean/_hidden': null,
    'moving_variance/_counter': null,
    'moving_variance/_hidden': null,
  },
  layerNorm: { scale: ['weight', 'vector'], offset: ['bias', 'vector'] },
  attention: {
    '_q_layer/w': ['to_q.weight', 'linear'],
    '_k_layer/w': ['to_k.weight', 'linear'],
    '_v_layer/w': ['to_v.weight', 'linear'],
    '_r_k_layer/w': ['to_rel_k.weight', 'linear'],
    '_embedding_layer/w': ['to_out.weight', 'linear'],
    '_embedding_layer/b': ['to_out.bias', 'vector'],
    _r_w_bias: ['rel_content_bias', 'same'],
    _r_r_bias: ['rel_pos_bias', 'same'],
  },
};

/**
 * Module path below the Enformer object (`$n` = captured index) -> kind and canonical prefix. The
 * trunk's stages are named here by role; `trunkStages` finds which `_trunk/_layers/K` each is.
 */
const MODULES: [path: string, kind: Kind, canonical: string][] = [
  ['_trunk/stem/_layers/0', 'conv', 'stem.0'],
  ['_trunk/stem/_layers/1/_module/_layers/0', 'batchNorm', 'stem.1.fn.0'],
  ['_trunk/stem/_layers/1/_module/_layers/2', 'conv', 'stem.1.fn.2'],
  ['_trunk/stem/_layers/2', 'pool', 'stem.2'],
  ['_trunk/conv_tower/_layers/(\\d+)/_layers/0/_layers/0', 'batchNorm', 'conv_tower.$1.0.0'],
  ['_trunk/conv_tower/_layers/(\\d+)/_layers/0/_layers/2', 'conv', 'conv_tower.$1.0.2'],
  ['_trunk/conv_tower/_layers/(\\d+)/_layers/1/_module/_layers/0', 'batchNorm', 'conv_tower.$1.1.fn.0'],
  ['_trunk/conv_tower/_layers/(\\d+)/_layers/1/_module/_layers/2', 'conv', 'conv_tower.$1.1.fn.2'],
  ['_trunk/conv_tower/_layers/(\\d+)/_layers/2', 'pool', 'conv_tower.$1.2'],
  ['_trunk/transformer/_layers/(\\d+)/_layers/0/_module/_layers/0', 'layerNorm', 'transformer.$1.0.fn.0'],
  ['_trunk/transformer/_layers/(\\d+)/_layers/0/_module/_layers/1', 'attention', 'transformer.$1.0.fn.1'],
  ['_trunk/transformer/_layers/(\\d+)/_layers/1/_module/_layers/0', 'layerNorm', 'transformer.$1.1.fn.0'],
  ['_trunk/transformer/_layers/(\\d+)/_layers/1/_module/_layers/([14])', 'linear', 'transformer.$1.1.fn.$2'],
  ['_trunk/final_pointwise/_layers/0/_layers/0', 'batchNorm', 'final_pointwise.1.0'],
  ['_trunk/final_pointwise/_layers/0/_layers/2', 'conv', 'final_pointwise.1.2'],
  ['_heads/(\\w+)/_layers/0', 'linear', '_heads.$1.0'],
];

const STAGES = ['stem', 'conv_tower', 'transformer', 'final_pointwise'];

/**
 * `_trunk/_layers/K` -> stage name. enformer.py's trunk is [stem, conv tower, transformer, crop,
 * final pointwise]; only the crop holds no variables. The stages are taken in order among the trunk
 * entries that hold variables, so a variable-free layer elsewhere (the TF-Hub model crops its longer
 * input inside the model) shifts nothing.
 */
function trunkStages(relPaths: string[], fail: (m: string) => never): Map<string, string> {
  const indices = new Set<number>();
  for (const p of relPaths) {
    const m = /^_trunk\/_layers\/(\d+)\//.exec(p);
    if (m) indices.add(Number(m[1]));
  }
  const sorted = [...indices].sort((a, b) => a - b);
  if (sorted.length !== STAGES.length) fail(`the trunk has ${sorted.length} parts holding variables (_trunk/_layers/${sorted.join(', ')}); Enformer has ${STAGES.length}: ${STAGES.join(', ')}`);
  return new Map(sorted.map((k, i) => [String(k), STAGES[i]!]));
}

const RULES = MODULES.map(([path, kind, canonical]) => ({ re: new RegExp(`^${path}/(.+)$`), kind, canonical }));

/** Canonical name and layout of a variable at `relPath` below the Enformer object; null = skip; undefined = unknown. */
export function enformerTfName(relPath: string): { name: string; layout: Layout } | null | undefined {
  for (const rule of RULES) {
    const m = rule.re.exec(relPath);
    if (!m) continue;
    const variable = m[m.length - 1]!;
    const known = VARIABLES[rule.kind];
    if (!(variable in known)) continue;
    const target = known[variable];
    if (target === null) return null;
    const prefix = rule.canonical.replace(/\$(\d)/g, (_, i: string) => m[Number(i)]!);
    return { name: `${prefix}.${target![0]}`, layout: target![1] };
  }
  return undefined;
}

function applyLayout(t: { shape: number[]; data: Float32Array }, layout: Layout, fail: (m: string) => never): { shape: number[]; data: Float32Array } {
  const rank = (r: number) => {
    if (t.shape.length !== r) fail(`shape [${t.shape}], expected rank ${r}`);
  };
  switch (layout) {
    case 'conv':
      rank(3);
      return permute(t, [2, 1, 0]);
    case 'linear':
      rank(2);
      return permute(t, [1, 0]);
    case 'pool': {
      rank(2);
      const p = permute(t, [1, 0]);
      return { shape: [...p.shape, 1, 1], data: p.data };
    }
    case 'vector': {
      // Sonnet keeps batch-norm moving averages as [1, 1, C]: any leading unit axes are dropped.
      if (t.shape.length === 0 || t.shape.slice(0, -1).some((d) => d !== 1)) fail(`shape [${t.shape}], expected [C] (or [1, …, C])`);
      return { shape: [t.shape[t.shape.length - 1]!], data: t.data };
    }
    case 'same':
      return t;
  }
}

/** A variable in messages: its checkpoint key and Sonnet name, quoted (keys come from the file). */
function describe(v: GraphVariable): string {
  return `${JSON.stringify(v.checkpointKey)}${v.fullName ? ` (${JSON.stringify(v.fullName)})` : ''}`;
}

export interface EnformerCheckpoint {
  weights: WeightSet;
  /** Object path of the Enformer module in the checkpoint (`model`, `module`, …). */
  root: string;
  /** Tensors read and mapped, and keys skipped (moving-average internals, objects outside the model). */
  mapped: number;
  skipped: number;
}

/** Reads the Enformer variables of a TF2 checkpoint (`<prefix>.index` + data files) under canonical names. */
export function readEnformerCheckpoint(prefix: string): EnformerCheckpoint {
  const bundle = TfBundle.open(prefix);
  const where = bundle.indexPath;
  if (!bundle.entries.has(OBJECT_GRAPH_KEY)) {
    throw new TfCheckpointError(`${where}: no object graph (${OBJECT_GRAPH_KEY}); a name-based TF1 checkpoint is not supported, only TF2 SavedModels and object-based checkpoints`);
  }
  const graphBytes = bundle.readStrings(OBJECT_GRAPH_KEY);
  if (graphBytes.length !== 1) throw new TfCheckpointError(`${where}: ${OBJECT_GRAPH_KEY} holds ${graphBytes.length} strings, expected one`);
  const nodes = parseObjectGraph(graphBytes[0]!, where);
  const variables = graphVariables(nodes, where);

  // The Enformer module: the object with both a trunk and heads.
  const tree = objectTree(nodes, where);
  const modules = tree.order.filter((id) => {
    const names = new Set(nodes[id]!.children.map((c) => c.localName));
    return names.has('_trunk') && names.has('_heads');
  });
  if (modules.length === 0) throw new TfCheckpointError(`${where}: no Enformer module in the object graph (no object with _trunk and _heads children)`);
  if (modules.length > 1) throw new TfCheckpointError(`${where}: several Enformer modules in the object graph (${modules.map((id) => JSON.stringify(tree.path(id).join('/'))).join(', ')})`);
  const root = tree.path(modules[0]!);

  const weights = new WeightSet();
  const unknown: GraphVariable[] = [];
  let skipped = 0;
  const inside = (v: GraphVariable) => v.path.length > root.length && root.every((p, i) => v.path[i] === p) && v.attribute === 'VARIABLE_VALUE';
  const relPath = (v: GraphVariable) => v.path.slice(root.length).join('/');
  const stages = trunkStages(variables.filter(inside).map(relPath), (m) => {
    throw new TfCheckpointError(`${where}: ${m}`);
  });
  for (const v of variables) {
    if (!inside(v)) {
      skipped++;
      continue;
    }
    const rel = relPath(v).replace(/^_trunk\/_layers\/(\d+)\//, (_, k: string) => `_trunk/${stages.get(k)}/`);
    const target = enformerTfName(rel);
    if (target === null) {
      skipped++;
      continue;
    }
    if (target === undefined) {
      unknown.push(v);
      continue;
    }
    if (weights.has(target.name)) throw new TfCheckpointError(`${where}: two variables map to ${target.name} (the second: ${describe(v)})`);
    const label = describe(v);
    if (!bundle.entries.has(v.checkpointKey)) throw new TfCheckpointError(`${where}: the object graph names ${label}, which the index does not hold`);
    const t = applyLayout(bundle.readFloat32(v.checkpointKey), target.layout, (m) => {
      throw new TfCheckpointError(`${where}: ${label}: ${m}`);
    });
    weights.entries.set(target.name, { shape: t.shape, source: { kind: 'bytes', bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) } });
  }
  if (unknown.length) {
    const shown = unknown.slice(0, 5).map(describe);
    throw new TfCheckpointError(`${where}: ${unknown.length} variables of the Enformer module are not part of the Enformer architecture: ${shown.join(', ')}${unknown.length > 5 ? ', …' : ''}`);
  }
  return { weights, root: root.join('/'), mapped: weights.entries.size, skipped };
}
