/**
 * The config.json of an Enformer read from a TensorFlow checkpoint, which carries weights only. Sizes
 * come from the tensors' shapes (width, depth, heads, key size, tower schedule, heads' tracks); the
 * rest are the TensorFlow original's constants (enformer.py: target length 896, dropout rates). Gamma
 * features: the TF model computes its own, TF-normalised (`positional_gamma: "tf"`); `use_tf_gamma`
 * is set only when the published table comes along, which reproduces TF's float32 values at 196,608 bp.
 */
import type { WeightSet } from '../../weights/weight-set.js';
import { exponentialLinspaceInt } from '../../models/schedule.js';

export class EnformerConfigError extends Error {}

/** enformer.py's TARGET_LENGTH: the SavedModel's output bins at 196,608 bp. */
const TF_TARGET_LENGTH = 896;

export function enformerConfigFromWeights(weights: WeightSet, source: string): Record<string, unknown> {
  const shape = (name: string): number[] => {
    const e = weights.entries.get(name);
    if (!e) throw new EnformerConfigError(`${source}: cannot derive the Enformer config: no ${name} (pass --config)`);
    return e.shape;
  };
  const count = (re: RegExp) => new Set([...weights.entries.keys()].map((n) => re.exec(n)?.[1]).filter((x) => x !== undefined)).size;

  const half = shape('stem.0.weight')[0]!;
  const dim = 2 * half;
  const towers = count(/^conv_tower\.(\d+)\.0\.2\.weight$/);
  const depth = count(/^transformer\.(\d+)\.0\.fn\.1\.rel_content_bias$/);
  if (towers < 1 || depth < 1) throw new EnformerConfigError(`${source}: cannot derive the Enformer config: ${towers} conv tower blocks, ${depth} transformer blocks (pass --config)`);
  const bias = shape('transformer.0.0.fn.1.rel_content_bias');
  if (bias.length !== 4) throw new EnformerConfigError(`${source}: attention bias of shape [${bias}], expected [1, heads, 1, key size]`);
  const [, heads, , attnDimKey] = bias;
  const channels = Array.from({ length: towers }, (_, i) => shape(`conv_tower.${i}.0.2.weight`)[0]!);
  // The tower schedule is geometric from dim/2 to dim, rounded to a divisor: find the divisor it used.
  const divisor = [128, 64, 32, 16, 8, 4, 2, 1].find((d) => exponentialLinspaceInt(half, dim, towers, d).every((c, i) => c === channels[i]));
  if (divisor === undefined) throw new EnformerConfigError(`${source}: conv tower widths [${channels}] do not follow Enformer's schedule from ${half} to ${dim} (pass --config)`);
  const outputHeads: Record<string, number> = {};
  for (const name of weights.entries.keys()) {
    const m = /^_heads\.([^.]+)\.0\.weight$/.exec(name);
    if (m) outputHeads[m[1]!] = shape(name)[0]!;
  }
  if (Object.keys(outputHeads).length === 0) throw new EnformerConfigError(`${source}: cannot derive the Enformer config: no output heads`);
  return {
    architectures: ['Enformer'],
    model_type: 'enformer',
    dim,
    depth,
    heads,
    output_heads: outputHeads,
    target_length: TF_TARGET_LENGTH,
    attn_dim_key: attnDimKey,
    dropout_rate: 0.4,
    attn_dropout: 0.05,
    pos_dropout: 0.01,
    use_checkpointing: false,
    num_downsamples: towers + 1,
    dim_divisible_by: divisor,
    pool_type: weights.has('stem.2.to_attn_logits.weight') ? 'attention' : 'max',
    use_tf_gamma: false,
    positional_gamma: 'tf',
  };
}
