/**
 * `modisco_results.h5` in tfmodisco-lite's layout (its `io.save_hdf5`), so its tools (`modisco
 * report`, `modisco meme`, `seqlet-bed`, …) read ours:
 *
 *   attribute window_size (int64)
 *   pos_patterns/ and neg_patterns/ (each present when its metacluster was clustered)
 *     pattern_<i>/                      i = 0, 1, … (most seqlets first)
 *       sequence, contrib_scores, hypothetical_contribs      float64 [length, 4]
 *       seqlets/
 *         n_seqlets                     int64 [1]
 *         start, end, example_idx       int64 [n]
 *         is_revcomp                    [n] (h5py writes a bool enum; h5wasm cannot, so int8 0/1:
 *                                       NumPy reads it as int8, `bool(x)` and masks work alike)
 *         sequence, contrib_scores, hypothetical_contribs    float32 [n, length, 4]
 *       subpattern_<label>/             the same, recursively, one per subcluster
 */
import { rename, rm } from 'node:fs/promises';
import { closeQuietly, hdf5, hdf5Message } from '../../formats/hdf5.js';
import type { DiscoveryResult } from './discover.js';
import type { SeqletSet } from './seqlet-set.js';

type H5 = Awaited<ReturnType<typeof hdf5>>;
type Group = InstanceType<H5['Group']>;

export class ModiscoH5Error extends Error {}

function int64(values: number[]): BigInt64Array {
  return BigInt64Array.from(values, (v) => BigInt(v));
}

function stack(arrays: Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((a, x) => a + x.length, 0));
  let at = 0;
  for (const x of arrays) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

function savePattern(pattern: SeqletSet, g: Group): void {
  const L = pattern.length;
  g.create_dataset({ name: 'sequence', data: pattern.sequence, shape: [L, 4], dtype: '<d' });
  g.create_dataset({ name: 'contrib_scores', data: pattern.contrib, shape: [L, 4], dtype: '<d' });
  g.create_dataset({ name: 'hypothetical_contribs', data: pattern.hypothetical, shape: [L, 4], dtype: '<d' });
  const s = g.create_group('seqlets') as Group;
  const seqlets = pattern.seqlets;
  const n = seqlets.length;
  s.create_dataset({ name: 'n_seqlets', data: int64([n]), shape: [1], dtype: '<q' });
  s.create_dataset({ name: 'start', data: int64(seqlets.map((x) => x.start)), shape: [n], dtype: '<q' });
  s.create_dataset({ name: 'end', data: int64(seqlets.map((x) => x.end)), shape: [n], dtype: '<q' });
  s.create_dataset({ name: 'example_idx', data: int64(seqlets.map((x) => x.exampleIdx)), shape: [n], dtype: '<q' });
  s.create_dataset({ name: 'is_revcomp', data: Int8Array.from(seqlets, (x) => (x.isRevcomp ? 1 : 0)), shape: [n], dtype: '<b' });
  const len = seqlets[0]!.length;
  if (seqlets.some((x) => x.length !== len)) throw new ModiscoH5Error('seqlets of one pattern differ in length');
  s.create_dataset({ name: 'sequence', data: stack(seqlets.map((x) => x.sequence)), shape: [n, len, 4], dtype: '<f' });
  s.create_dataset({ name: 'contrib_scores', data: stack(seqlets.map((x) => x.contrib)), shape: [n, len, 4], dtype: '<f' });
  s.create_dataset({ name: 'hypothetical_contribs', data: stack(seqlets.map((x) => x.hypothetical)), shape: [n, len, 4], dtype: '<f' });
  for (const sub of pattern.subpatterns ?? []) savePattern(sub.pattern, g.create_group(`subpattern_${sub.label}`) as Group);
}

/** Writes the results to `path` (via `path.partial`, renamed when complete). */
export async function writeModiscoH5(path: string, result: Pick<DiscoveryResult, 'pos' | 'neg'>, windowSize: number): Promise<void> {
  const h5wasm = await hdf5();
  const partial = `${path}.partial`;
  let f: InstanceType<H5['File']> | undefined;
  try {
    f = new h5wasm.File(partial, 'w');
    f.create_attribute('window_size', int64([windowSize]), [], '<q');
    for (const [name, patterns] of [
      ['pos_patterns', result.pos],
      ['neg_patterns', result.neg],
    ] as const) {
      if (!patterns) continue;
      const g = f.create_group(name) as Group;
      patterns.forEach((p, i) => savePattern(p, g.create_group(`pattern_${i}`) as Group));
    }
    f.close();
    f = undefined;
    await rename(partial, path);
  } catch (e) {
    if (f) closeQuietly(f);
    await rm(partial, { force: true });
    throw new ModiscoH5Error(`${path}: cannot write the motif discovery results (${hdf5Message(e)})`, { cause: e });
  }
}

/** One pattern as a modisco results file holds it. */
export interface StoredPattern {
  name: string;
  length: number;
  sequence: Float64Array;
  contrib: Float64Array;
  hypothetical: Float64Array;
  nSeqlets: number;
  seqlets: { start: number[]; end: number[]; exampleIdx: number[]; isRevcomp: boolean[] };
  subpatterns: StoredPattern[];
}

function toNumbers(v: unknown): number[] {
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, Number);
  if (Array.isArray(v)) return v.map(Number);
  return [Number(v)];
}

function readPattern(g: Group, name: string): StoredPattern {
  const ds = (n: string) => g.get(n) as InstanceType<H5['Dataset']>;
  const floats = (n: string) => Float64Array.from(toNumbers(ds(n).value));
  const shape = ds('sequence').shape!;
  const s = g.get('seqlets') as Group;
  const col = (n: string) => toNumbers((s.get(n) as InstanceType<H5['Dataset']>).value);
  const subs = g.keys().filter((k) => k.startsWith('subpattern_')).sort((a, b) => Number(a.split('_')[1]) - Number(b.split('_')[1]));
  return {
    name,
    length: Number(shape[0]),
    sequence: floats('sequence'),
    contrib: floats('contrib_scores'),
    hypothetical: floats('hypothetical_contribs'),
    nSeqlets: col('n_seqlets')[0]!,
    seqlets: { start: col('start'), end: col('end'), exampleIdx: col('example_idx'), isRevcomp: col('is_revcomp').map((x) => x !== 0) },
    subpatterns: subs.map((k) => readPattern(g.get(k) as Group, k)),
  };
}

/** Reads a modisco results file (ours or tfmodisco-lite's): patterns of each metacluster, in index order. */
export async function readModiscoH5(path: string): Promise<{ windowSize?: number; pos?: StoredPattern[]; neg?: StoredPattern[] }> {
  const h5wasm = await hdf5();
  let f: InstanceType<H5['File']> | undefined;
  try {
    f = new h5wasm.File(path, 'r');
    const out: { windowSize?: number; pos?: StoredPattern[]; neg?: StoredPattern[] } = {};
    if (f.attrs['window_size']) out.windowSize = toNumbers(f.attrs['window_size'].value)[0];
    for (const [key, name] of [
      ['pos', 'pos_patterns'],
      ['neg', 'neg_patterns'],
    ] as const) {
      if (!f.keys().includes(name)) continue;
      const g = f.get(name) as Group;
      const names = g.keys().filter((k) => k.startsWith('pattern_')).sort((a, b) => Number(a.split('_')[1]) - Number(b.split('_')[1]));
      out[key] = names.map((k) => readPattern(g.get(k) as Group, k));
    }
    return out;
  } catch (e) {
    throw new ModiscoH5Error(`${path}: cannot read modisco results (${hdf5Message(e)})`, { cause: e });
  } finally {
    if (f) closeQuietly(f);
  }
}
