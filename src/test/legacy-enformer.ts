/**
 * The enformer-small fixture rewritten into enformer-pytorch's state-dict layout from before version
 * 0.5, as `Enformer.state_dict()` of that version names and shapes it (lucidrains/enformer-pytorch @
 * 6be6da8, the module the EleutherAI checkpoints were pushed from, to f881928; the layout changed in
 * 1719a9b and 0dc46e4). Written out here from that code, not taken from the reader under test:
 *
 * - `stem` = Sequential(Rearrange, conv, Residual(BN, GELU, conv), AttentionPool): `stem.1`,
 *   `stem.2.fn.{0,2}`, `stem.3.to_attn_logits`;
 * - `transformer` = Sequential(Rearrange, block_0, …): block j is `transformer.{j+1}`;
 * - AttentionPool's `to_attn_logits` is a parameter W [C_in, C_out] used as x·W per position, where
 *   0.5's conv weight is [C_out, C_in, 1, 1]: W is that weight transposed;
 * - `_trunk` = Sequential(stem, conv_tower, transformer, crop, final_pointwise) registers the trunk a
 *   second time: `_trunk.{0,1,2,4}.*`, the same tensors (one storage each in a torch.save zip);
 * - every BatchNorm1d carries `num_batches_tracked` (int64 scalar) under both names.
 *
 * Converting such a file must give back the fixture's canonical tensors bit for bit.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../weights/safetensors.js';
import { fixturePath } from './fixtures.js';
import { canonicalFixtureTensors } from './trunk-aliases.js';
import { makeZip, P, tensorPickle } from './weights-helpers.js';

/** Module -> its index in the pre-0.5 `_trunk` (index 3 is the crop, without tensors). */
const LEGACY_TRUNK_INDEX: Record<string, number> = { stem: 0, conv_tower: 1, transformer: 2, final_pointwise: 4 };

/** The pre-0.5 own name of a canonical (0.5 layout) name. */
export function legacyOwnName(canonical: string): string {
  let m: RegExpExecArray | null;
  if ((m = /^stem\.0\.(.+)$/.exec(canonical))) return `stem.1.${m[1]}`;
  if ((m = /^stem\.1\.(.+)$/.exec(canonical))) return `stem.2.${m[1]}`;
  if (canonical === 'stem.2.to_attn_logits.weight') return 'stem.3.to_attn_logits';
  if ((m = /^conv_tower\.(\d+)\.2\.to_attn_logits\.weight$/.exec(canonical))) return `conv_tower.${m[1]}.2.to_attn_logits`;
  if ((m = /^transformer\.(\d+)\.(.+)$/.exec(canonical))) return `transformer.${Number(m[1]) + 1}.${m[2]}`;
  return canonical;
}

/** The pre-0.5 `_trunk` alias of a pre-0.5 own name, or undefined outside the trunk (the heads). */
export function legacyAlias(own: string): string | undefined {
  const dot = own.indexOf('.');
  const index = LEGACY_TRUNK_INDEX[own.slice(0, dot)];
  return index === undefined ? undefined : `_trunk.${index}.${own.slice(dot + 1)}`;
}

/** A 0.5 attention-pool conv weight [C_out, C_in, 1, 1] as the pre-0.5 matrix [C_in, C_out]. */
export function legacyLogitsShape(shape: readonly number[]): number[] {
  return [shape[1]!, shape[0]!];
}

function transposeLogits(t: TensorToWrite): TensorToWrite {
  const [cout, cin] = t.shape as [number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(cin * cout);
  for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) out[i * cout + o] = src[o * cin + i]!;
  return { ...t, shape: [cin, cout], data: out };
}

/** A tensor of the legacy state dict; tensors with the same `storage` are one tensor under two names. */
export interface LegacyTensor extends TensorToWrite {
  storage: string;
}

/** Registration order of the pre-0.5 Enformer's modules, which is the order of its state dict. */
const MODULE_ORDER = ['stem', 'conv_tower', 'transformer', 'final_pointwise'];

/** The fixture's tensors (+ BN counters) under the pre-0.5 own names, in state-dict order. */
async function legacyOwnTensors(): Promise<TensorToWrite[]> {
  const canonical = await canonicalFixtureTensors();
  const withCounters = canonical.flatMap((t) =>
    t.name.endsWith('.running_var') ? [t, { name: t.name.replace(/running_var$/, 'num_batches_tracked'), dtype: 'I64' as const, shape: [], data: BigInt64Array.of(1000n) }] : [t],
  );
  const own = withCounters.map((t) => {
    const renamed = { ...t, name: legacyOwnName(t.name) };
    return t.name.endsWith('.to_attn_logits.weight') ? transposeLogits(renamed) : renamed;
  });
  const rank = (n: string) => {
    const i = MODULE_ORDER.indexOf(n.slice(0, n.indexOf('.')));
    return i < 0 ? MODULE_ORDER.length : i;
  };
  return own.map((t, i) => ({ t, i })).sort((a, b) => rank(a.t.name) - rank(b.t.name) || a.i - b.i).map(({ t }) => t);
}

export interface LegacyModelOptions {
  format: 'bin' | 'safetensors';
  /**
   * Which names the file holds: `both` (the state dict as torch.save / transformers 4.16's
   * save_pretrained writes it), `alias` (trunk only under `_trunk.*`: what the safetensors library's
   * save_model keeps of shared tensors, the alphabetically first name), `own` (no `_trunk.*`).
   */
  names: 'both' | 'alias' | 'own';
  /** Changes applied to the legacy tensors before writing (e.g. a wrong shape, an extra name). */
  edit?: (tensors: LegacyTensor[]) => LegacyTensor[];
  /** config.json to write (default: the fixture's). */
  config?: Record<string, unknown>;
}

/** The legacy state dict: own names (trunk, then heads), then the `_trunk` aliases, as the modules register. */
export async function legacyStateDict(names: LegacyModelOptions['names']): Promise<LegacyTensor[]> {
  const own = (await legacyOwnTensors()).map((t) => ({ ...t, storage: t.name }));
  const aliases = own.flatMap((t) => {
    const alias = legacyAlias(t.name);
    return alias === undefined ? [] : [{ ...t, name: alias }];
  });
  const trunk = (t: LegacyTensor) => legacyAlias(t.name) !== undefined;
  if (names === 'own') return own;
  // _trunk is registered after final_pointwise and before _heads.
  const ownTrunk = own.filter(trunk);
  const heads = own.filter((t) => !trunk(t));
  return names === 'both' ? [...ownTrunk, ...aliases, ...heads] : [...aliases, ...heads];
}

/** A torch.save zip of a state dict in which tensors sharing `storage` share one storage record. */
export function torchStateDictShared(tensors: LegacyTensor[]): Buffer {
  const keys = new Map<string, { key: string; t: LegacyTensor }>();
  for (const t of tensors) if (!keys.has(t.storage)) keys.set(t.storage, { key: String(keys.size), t });
  const storageType = (t: TensorToWrite) => (t.dtype === 'I64' ? 'LongStorage' : 'FloatStorage');
  const items = tensors.flatMap((t) => [P.str(t.name), tensorPickle(keys.get(t.storage)!.key, t.shape, storageType(t)), P.setitem]);
  const pickle = Buffer.concat([P.proto, P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, ...items, P.stop]);
  return makeZip([
    { name: 'archive/data.pkl', data: pickle },
    ...[...keys.values()].map(({ key, t }) => ({ name: `archive/data/${key}`, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}

/** Writes `dir/config.json` and `pytorch_model.bin` or `model.safetensors` in the pre-0.5 layout; returns the weights path. */
export async function writeLegacyModel(dir: string, options: LegacyModelOptions): Promise<string> {
  if (options.config) writeFileSync(join(dir, 'config.json'), JSON.stringify(options.config, null, 2));
  else copyFileSync(fixturePath('enformer-small', 'config.json'), join(dir, 'config.json'));
  let tensors = await legacyStateDict(options.names);
  if (options.edit) tensors = options.edit(tensors);
  if (options.format === 'bin') {
    const path = join(dir, 'pytorch_model.bin');
    writeFileSync(path, torchStateDictShared(tensors));
    return path;
  }
  const path = join(dir, 'model.safetensors');
  await writeSafetensors(
    path,
    tensors.map(({ storage: _, ...t }) => t),
    { format: 'pt' },
  );
  return path;
}
