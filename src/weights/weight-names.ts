/**
 * A weights file's tensor names -> the architecture's canonical names, shared by every reader that
 * yields names (safetensors, PyTorch zip checkpoints) and by the code that reads tensors by name.
 *
 * The architecture's `canonicalName` maps one name at a time; what it cannot see is which other names
 * the file holds. A file may hold a tensor twice, under its own name and under an alias that maps to
 * it (enformer-pytorch's `.bin` has `stem.0.weight` and `_trunk.1.0.weight`, one shared storage), or
 * only under the alias (the same model saved as safetensors). So when several names map to one
 * canonical name, the one spelled exactly as the canonical name is kept and the others are dropped
 * after their shapes are checked against it. Their values are not compared: that would read every
 * aliased tensor twice (a full Enformer's trunk is ~1 GB), and the writers known to produce both
 * names write them from one storage.
 *
 * Some layouts cannot be told from one name: enformer-pytorch before 0.5 used the same module paths
 * with other indices (its `_trunk.1` is the conv tower, the later layout's `_trunk.1` the stem). For
 * those a reader takes a `NamingPicker`, which sees every name and shape of the file before choosing
 * the `TensorNaming` to apply; and where no name of an alias group is spelled as the canonical one
 * (every name of that layout is renamed), `isAlias` says which name is the alias.
 */

export class TensorNameError extends Error {}

/** One file name -> its canonical name, or null to drop the tensor. */
export type Rename = (name: string) => string | null;

export interface TensorNaming {
  rename: Rename;
  /**
   * Whether a name is a second path to a tensor the file may also hold under its own path. Used only
   * when several names map to one canonical name and none is spelled as it: the one name that is not
   * an alias is kept.
   */
  isAlias?: (name: string) => boolean;
}

/** Chooses the naming from the whole set of a file's tensors (layouts that one name cannot reveal). */
export interface NamingPicker {
  pick(tensors: readonly NamedShape[]): TensorNaming;
}

/** What the readers take: a per-name rename, a fixed naming, or a picker. */
export type Naming = Rename | TensorNaming | NamingPicker;

/** The naming to apply to a file holding `tensors`. */
export function pickNaming(naming: Naming, tensors: readonly NamedShape[]): TensorNaming {
  if (typeof naming === 'function') return { rename: naming };
  if ('pick' in naming) return naming.pick(tensors);
  return naming;
}

export interface NamedShape {
  readonly name: string;
  readonly shape: readonly number[];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * File name -> canonical name for every tensor kept, in file order. `rename` returns null for a
 * tensor to drop (counters, buffers that are recomputed). Throws, naming `source` and the tensors,
 * when an alias's shape differs from the tensor it stands for, or when several names map to one
 * canonical name and none of them is that name or (with `isAlias`) the only one that is not an alias.
 */
export function resolveTensorNames(tensors: Iterable<NamedShape>, naming: Rename | TensorNaming, source: string): Map<string, string> {
  const all = [...tensors];
  const { rename, isAlias } = typeof naming === 'function' ? { rename: naming, isAlias: undefined } : naming;
  const groups = new Map<string, NamedShape[]>();
  for (const t of all) {
    const canonical = rename(t.name);
    if (canonical === null) continue;
    const group = groups.get(canonical);
    if (group) group.push(t);
    else groups.set(canonical, [t]);
  }
  const kept = new Set<string>();
  for (const [canonical, group] of groups) {
    if (group.length === 1) {
      kept.add(group[0]!.name);
      continue;
    }
    const owners = isAlias ? group.filter((t) => !isAlias(t.name)) : [];
    const own = group.find((t) => t.name === canonical) ?? (owners.length === 1 ? owners[0] : undefined);
    if (!own) throw new TensorNameError(`${source}: tensors ${group.map((t) => `'${t.name}'`).join(', ')} all map to '${canonical}'`);
    for (const alias of group) {
      if (alias !== own && !sameShape(alias.shape, own.shape)) {
        throw new TensorNameError(`${source}: tensor '${alias.name}' [${alias.shape}] is an alias of '${own.name}' [${own.shape}] but has another shape`);
      }
    }
    kept.add(own.name);
  }
  const out = new Map<string, string>();
  for (const t of all) if (kept.has(t.name)) out.set(t.name, rename(t.name)!);
  return out;
}

/** Canonical name -> file name: the inverse of `resolveTensorNames`, for code that reads tensors by canonical name. */
export function fileNamesByCanonical(tensors: Iterable<NamedShape>, naming: Rename | TensorNaming, source: string): Map<string, string> {
  return new Map([...resolveTensorNames(tensors, naming, source)].map(([file, canonical]) => [canonical, file]));
}
