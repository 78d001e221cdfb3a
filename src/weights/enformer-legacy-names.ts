/**
 * enformer-pytorch's state-dict layout before version 0.5, read under the canonical (0.5 and later)
 * names. EleutherAI's `enformer-preview`, `enformer-191k`, `enformer-corr_coef_obj` and
 * `enformer-191k_corr_coef_obj` were pushed to the hub in February 2022 in this layout, so without it
 * those four published names fail at conversion.
 *
 * Established from lucidrains/enformer-pytorch's history (enformer_pytorch/modeling_enformer.py and
 * config_enformer.py); no legacy file was read. The hub files were pushed from the module as of
 * 6be6da8 (2022-02-20, version 0.3.6: its demo.py records the `push_to_hub` call), and the layout
 * stayed the same up to f881928 (0.4.7). Two commits on 2022-06-01 changed it:
 *
 * - 1719a9b moved the channels-first Rearrange out of `stem`, where it was module 0, and the
 *   channels-last Rearrange out of `transformer`, where it was also module 0, into `_trunk`. Before:
 *   the stem conv is `stem.1`, its residual block `stem.2.fn.{0,2}`, its pool `stem.3`; transformer
 *   block j is `transformer.{j+1}`; `_trunk` = Sequential(stem, conv_tower, transformer, crop,
 *   final_pointwise), so the aliases are `_trunk.{0,1,2,4}`, not `_trunk.{1,2,4,6}`.
 * - 0dc46e4 (0.5.0) made the attention pool's `to_attn_logits` a bias-free 1×1 Conv2d [C_out, C_in,
 *   1, 1] applied after the pairs are formed; before, it was a bare parameter W [C_in, C_out] applied
 *   as einsum('b d n, d e -> b e n') before the pairing. Both apply the same linear map to each
 *   position's channels (pairing only regroups positions), so the conv weight is W transposed.
 *
 * Not changed: the conv tower (`conv_tower.i.{0.0,0.2,1.fn.0,1.fn.2,2}`), the attention (`to_q`,
 * `to_k`, `to_v`, `to_out`, `to_rel_k`, `rel_content_bias`, `rel_pos_bias` [1, heads, 1, key]) and
 * feed-forward (`.1.fn.{0,1,4}`) inside a block, `final_pointwise.1.{0,2}`, `_heads.<head>.0`, and
 * the BatchNorm1d tensors (weight, bias, running_mean, running_var, num_batches_tracked).
 *
 * One name cannot tell the layouts apart (`_trunk.1.*`, `_trunk.2.*`, `_trunk.4.*` and
 * `transformer.N.*` exist in both, as other modules), so the choice is made from every name of the
 * file, and a file holding marks of both layouts is refused.
 */
import type { Rename, NamedShape, NamingPicker, TensorNaming } from './weight-names.js';
import type { WeightEntry, WeightSet } from './weight-set.js';

export class LegacyLayoutError extends Error {}

/** Names only the pre-0.5 layout has. */
const LEGACY_MARKS: RegExp[] = [
  /(^|\.)to_attn_logits$/, // the bare parameter (0.5: a conv's `.weight`)
  /^stem\.1\.(weight|bias)$/, // the stem conv (0.5: `stem.0`)
  /^stem\.2\.fn\./, // the stem's residual block (0.5: `stem.1.fn`)
  /^stem\.3\./, // the stem's pool (0.5: `stem.2`)
  /^_trunk\.0\./, // the stem as `_trunk` module 0 (0.5: a Rearrange, no tensors)
];

/** Names only the 0.5 layout has. */
const CURRENT_MARKS: RegExp[] = [
  /\.to_attn_logits\.weight$/,
  /^stem\.0\./,
  /^stem\.1\.fn\./,
  /^transformer\.0\./, // before 0.5, transformer module 0 is a Rearrange
  /^_trunk\.1\.0\.(weight|bias)$/, // the stem conv under its 0.5 alias
  /^_trunk\.1\.1\.fn\./,
  /^_trunk\.2\.0\./, // the first conv tower block under its 0.5 alias (before 0.5: the transformer's Rearrange)
  /^_trunk\.6\./,
];

/** `_trunk` index -> module, before 0.5 (index 3 is the crop, which holds no tensors). */
const LEGACY_TRUNK: Record<string, string> = { '0': 'stem', '1': 'conv_tower', '2': 'transformer', '4': 'final_pointwise' };

/**
 * Canonical name of a pre-0.5 name; null for the BatchNorm step counters. A name outside the layout
 * is returned unchanged (so that the weights check reports it as unexpected); none of those can equal
 * a canonical name this maps to, since such names are marks of the 0.5 layout and refused earlier.
 */
export function legacyEnformerName(name: string): string | null {
  if (name.endsWith('.num_batches_tracked')) return null;
  const trunk = /^_trunk\.(\d+)\.(.+)$/.exec(name);
  const dot = name.indexOf('.');
  const module = trunk ? LEGACY_TRUNK[trunk[1]!] : name.slice(0, dot);
  const rest = trunk ? trunk[2]! : name.slice(dot + 1);
  if (module === undefined || dot < 0) return name;
  let m: RegExpExecArray | null;
  switch (module) {
    case 'stem':
      if ((m = /^1\.(weight|bias)$/.exec(rest))) return `stem.0.${m[1]}`;
      if ((m = /^2\.(fn\..+)$/.exec(rest))) return `stem.1.${m[1]}`;
      if (rest === '3.to_attn_logits') return 'stem.2.to_attn_logits.weight';
      return name;
    case 'conv_tower':
      if ((m = /^(\d+)\.2\.to_attn_logits$/.exec(rest))) return `conv_tower.${m[1]}.2.to_attn_logits.weight`;
      return `conv_tower.${rest}`;
    case 'transformer':
      m = /^(\d+)\.(.+)$/.exec(rest);
      if (!m || m[1] === '0') return name;
      return `transformer.${Number(m[1]) - 1}.${m[2]}`;
    case 'final_pointwise':
      return `final_pointwise.${rest}`;
    default:
      return name;
  }
}

/** The first few names of `names` matching any of `marks`. */
function marked(names: readonly string[], marks: RegExp[]): string[] {
  return names.filter((n) => marks.some((re) => re.test(n))).slice(0, 3);
}

/** Whether a file's names are in the pre-0.5 layout; throws when they mix both layouts. */
export function isLegacyEnformerLayout(names: readonly string[], source: string): boolean {
  const legacy = marked(names, LEGACY_MARKS);
  if (legacy.length === 0) return false;
  const current = marked(names, CURRENT_MARKS);
  if (current.length > 0) {
    const list = (ns: string[]) => ns.map((n) => `'${n}'`).join(', ');
    throw new LegacyLayoutError(
      `${source}: holds tensors of both enformer-pytorch layouts: ${list(legacy)} (before 0.5, e.g. EleutherAI's February 2022 checkpoints) and ${list(current)} (0.5 and later); a file must be one or the other`,
    );
  }
  return true;
}

/** The pre-0.5 naming: `_trunk.*` names are the aliases, kept only where a tensor's own name is absent. */
export const LEGACY_ENFORMER_NAMING: TensorNaming = { rename: legacyEnformerName, isAlias: (n) => n.startsWith('_trunk.') };

/**
 * Picks the pre-0.5 naming when a file's names are in that layout, else `canonical` (the
 * architecture's per-name map); `legacy` records which, for `fixLegacyAttentionLogits` afterwards.
 */
export class EnformerNamingPicker implements NamingPicker {
  legacy = false;

  constructor(
    private readonly canonical: Rename,
    private readonly source: string,
  ) {}

  pick(tensors: readonly NamedShape[]): TensorNaming {
    this.legacy = isLegacyEnformerLayout(
      tensors.map((t) => t.name),
      this.source,
    );
    return this.legacy ? LEGACY_ENFORMER_NAMING : { rename: this.canonical };
  }
}

/**
 * Turns each pre-0.5 `to_attn_logits` matrix W [C_in, C_out] of a renamed weight set into the 1×1 conv
 * weight [C_out, C_in, 1, 1] the canonical layout has (w[o, i] = W[i, o]). `read` gives an entry's
 * values (on Node, weight-file's `entryFloat32`); the result is a copy, the file is not changed. A
 * stored tensor that is not a matrix is refused here, naming the file and the tensor as stored; a
 * matrix of the wrong size is left to the weights check, which names both shapes.
 */
export function fixLegacyAttentionLogits(set: WeightSet, source: string, read: (entry: WeightEntry) => Float32Array): number {
  let fixed = 0;
  for (const [name, e] of set.entries) {
    if (e.stored === undefined || !/(^|\.)to_attn_logits$/.test(e.stored)) continue;
    if (e.shape.length !== 2) {
      throw new LegacyLayoutError(
        `${source}: '${e.stored}' is [${e.shape}]; in enformer-pytorch's layout before 0.5 an attention pool's to_attn_logits is a matrix [channels, channels] (for '${name}')`,
      );
    }
    const [cin, cout] = e.shape as [number, number];
    const w = read(e);
    const t = new Float32Array(cin * cout);
    for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) t[o * cin + i] = w[i * cout + o]!;
    set.entries.set(name, { shape: [cout, cin, 1, 1], source: { kind: 'bytes', bytes: new Uint8Array(t.buffer) }, stored: e.stored, storedShape: [cin, cout] });
    fixed++;
  }
  return fixed;
}
