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
 */

export class TensorNameError extends Error {}

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
 * canonical name and none of them is that name.
 */
export function resolveTensorNames(tensors: Iterable<NamedShape>, rename: (name: string) => string | null, source: string): Map<string, string> {
  const all = [...tensors];
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
    const own = group.find((t) => t.name === canonical);
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
export function fileNamesByCanonical(tensors: Iterable<NamedShape>, rename: (name: string) => string | null, source: string): Map<string, string> {
  return new Map([...resolveTensorNames(tensors, rename, source)].map(([file, canonical]) => [canonical, file]));
}
