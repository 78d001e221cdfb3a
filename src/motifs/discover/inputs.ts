/**
 * The inputs of motif discovery as a track set: one-hot sequences and hypothetical contributions of
 * the same shape, [N, L, 4] or [N, 4, L] (tfmodisco-lite's .npz layout), optionally cropped to a
 * central window (`modisco motifs -w`); read from
 *  - a pair of NumPy files (`.npz`, array 'arr_0' or the only one, or `.npy`), as `modisco motifs
 *    -s ONEHOT -a ATTR` reads them;
 *  - our attribution outputs (`--scores`): a directory of `attribute --bed` (its onehot.npz and
 *    hypothetical.npz), `attribute-gene`'s X.h5 (X.onehot.npz and X.hypothetical.npz beside it), an
 *    `…onehot.npz` file (its `…hypothetical.npz` beside it), or `attribute` safetensors files (or
 *    directories of them): `grad` [R, L, 4] centred over the four bases (the Borzoi paper's
 *    hypothetical contributions) or a `hypothetical_contribs` tensor as is, with the one-hot from a
 *    `one_hot` tensor when the file has one, else from the FASTA records the scores were computed on.
 */
import { access, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readFastaRecords } from '../../genome/fasta.js';
import { oneHotInto } from '../../genome/one-hot.js';
import { SafetensorsFile } from '../../weights/safetensors.js';
import { readNumpy } from './npy.js';
import { TrackSet } from './track-set.js';

export class DiscoveryInputError extends Error {}

export type Layout = 'NLC' | 'NCL';

/** [N, L, 4] from [N, L, 4] or [N, 4, L] values (`layout` picks when the shape does not tell: L = 4). */
export function toNLC(shape: readonly number[], data: Float32Array, what: string, layout?: Layout): { n: number; length: number; data: Float32Array } {
  if (shape.length !== 3) throw new DiscoveryInputError(`${what}: expected a 3-dimensional array [N, L, 4] or [N, 4, L], got shape [${shape.join(', ')}]`);
  const [n, a, b] = shape as [number, number, number];
  const guess: Layout | undefined = b === 4 && a !== 4 ? 'NLC' : a === 4 && b !== 4 ? 'NCL' : a === 4 && b === 4 ? layout ?? 'NLC' : undefined;
  const l = layout ?? guess;
  if (l === undefined || (l === 'NLC' && b !== 4) || (l === 'NCL' && a !== 4)) throw new DiscoveryInputError(`${what}: shape [${shape.join(', ')}] has no axis of 4 bases in the expected place`);
  if (l === 'NLC') return { n, length: a, data };
  const L = b;
  const out = new Float32Array(n * L * 4);
  for (let i = 0; i < n; i += 1) for (let c = 0; c < 4; c += 1) for (let p = 0; p < L; p += 1) out[(i * L + p) * 4 + c] = data[(i * 4 + c) * L + p]!;
  return { n, length: L, data: out };
}

/** tfmodisco-lite's central window: [L/2 − ⌊w/2⌋, L/2 + ⌊w/2⌋). */
export function centralWindow(length: number, window: number): [number, number] {
  const center = Math.floor(length / 2);
  const start = center - Math.floor(window / 2);
  const end = center + Math.floor(window / 2);
  if (start < 0 || end > length || window < 1) throw new DiscoveryInputError(`--window ${window}: longer than the sequences (${length} bp)`);
  return [start, end];
}

function crop(data: Float32Array, n: number, L: number, [start, end]: [number, number]): Float32Array {
  const W = end - start;
  const out = new Float32Array(n * W * 4);
  for (let i = 0; i < n; i += 1) out.set(data.subarray((i * L + start) * 4, (i * L + end) * 4), i * W * 4);
  return out;
}

/** A track set from one-hot and hypothetical contributions of equal shape, cropped to `window` when given. */
export function trackSetFromArrays(oneHot: { shape: readonly number[]; data: Float32Array }, hypothetical: { shape: readonly number[]; data: Float32Array }, o: { layout?: Layout; window?: number; what?: [string, string] } = {}): TrackSet {
  const [w1, w2] = o.what ?? ['one-hot', 'hypothetical contributions'];
  const s = toNLC(oneHot.shape, oneHot.data, w1, o.layout);
  const h = toNLC(hypothetical.shape, hypothetical.data, w2, o.layout);
  if (s.n !== h.n || s.length !== h.length) throw new DiscoveryInputError(`${w1} [${s.n}, ${s.length}, 4] and ${w2} [${h.n}, ${h.length}, 4] differ in shape`);
  let { data: seq, length: L } = s;
  let hyp = h.data;
  if (o.window !== undefined && o.window !== L) {
    const win = centralWindow(L, o.window);
    seq = crop(seq, s.n, L, win);
    hyp = crop(hyp, s.n, L, win);
    L = win[1] - win[0];
  }
  return new TrackSet(s.n, L, seq, hyp);
}

/** tfmodisco-lite's inputs: `-s` one-hot and `-a` hypothetical attributions, .npz or .npy, [N, 4, L]. */
export async function readNpzInputs(oneHotPath: string, attrPath: string, o: { window?: number } = {}): Promise<TrackSet> {
  const [s, a] = await Promise.all([readNumpy(oneHotPath), readNumpy(attrPath)]);
  return trackSetFromArrays(s, a, { layout: 'NCL', window: o.window, what: [oneHotPath, attrPath] });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** One `--scores` source: a pair of tfmodisco-lite .npz files, or safetensors files. */
export type ScoreSource = { kind: 'npz'; oneHot: string; hypothetical: string } | { kind: 'safetensors'; path: string };

/**
 * What each `--scores` path names: a directory holding onehot.npz and hypothetical.npz
 * (`attribute --bed`), else its *.safetensors files in name order; X.h5 / X.hdf5 with X.onehot.npz
 * and X.hypothetical.npz beside it (`attribute-gene`); a …onehot.npz file with its
 * …hypothetical.npz; a safetensors file.
 */
export async function expandScoreSources(sources: string[]): Promise<ScoreSource[]> {
  const out: ScoreSource[] = [];
  for (const s of sources) {
    const h5 = /^(.*)\.(h5|hdf5)$/i.exec(s);
    const npz = /^(.*)onehot\.npz$/i.exec(s);
    if (h5 || npz) {
      const pair = h5 ? { kind: 'npz' as const, oneHot: `${h5[1]}.onehot.npz`, hypothetical: `${h5[1]}.hypothetical.npz` } : { kind: 'npz' as const, oneHot: s, hypothetical: `${npz![1]}hypothetical.npz` };
      for (const f of [pair.oneHot, pair.hypothetical]) if (!(await exists(f))) throw new DiscoveryInputError(`--scores ${s}: ${f} is missing (the tfmodisco-lite inputs written beside it)`);
      out.push(pair);
      continue;
    }
    let isDir: boolean;
    try {
      isDir = (await stat(s)).isDirectory();
    } catch (e) {
      throw new DiscoveryInputError(`--scores ${s}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    if (isDir) {
      const pair = { kind: 'npz' as const, oneHot: join(s, 'onehot.npz'), hypothetical: join(s, 'hypothetical.npz') };
      if ((await exists(pair.oneHot)) && (await exists(pair.hypothetical))) {
        out.push(pair);
        continue;
      }
      const files = (await readdir(s)).filter((f) => f.toLowerCase().endsWith('.safetensors')).sort();
      if (files.length === 0) throw new DiscoveryInputError(`--scores ${s}: neither onehot.npz + hypothetical.npz nor .safetensors files in the directory`);
      out.push(...files.map((f) => ({ kind: 'safetensors' as const, path: join(s, f) })));
      continue;
    }
    out.push({ kind: 'safetensors', path: s });
  }
  return out;
}

/** Hypothetical contributions of one attribution file: `hypothetical_contribs` as is, else `grad` centred over the bases. */
function hypotheticalOf(f: SafetensorsFile): { shape: number[]; data: Float32Array } {
  for (const name of ['hypothetical_contribs', 'hypothetical']) {
    const info = f.tensors.get(name);
    if (info) return { shape: info.shape, data: f.readFloat32(name) };
  }
  const info = f.tensors.get('grad');
  if (!info) throw new DiscoveryInputError(`${f.path}: no 'grad' tensor (expected the safetensors file of seq2track attribute, or a 'hypothetical_contribs' tensor)`);
  const g = f.readFloat32('grad');
  if (info.shape.length !== 3 || info.shape[2] !== 4) throw new DiscoveryInputError(`${f.path}: 'grad' has shape [${info.shape.join(', ')}], expected [records, length, 4]`);
  for (let i = 0; i < g.length; i += 4) {
    const m = (g[i]! + g[i + 1]! + g[i + 2]! + g[i + 3]!) / 4;
    for (let b = 0; b < 4; b += 1) g[i + b]! -= m;
  }
  return { shape: info.shape, data: g };
}

/**
 * Our attribution outputs as a track set, the sources' sequences in order. Safetensors files without
 * a `one_hot` tensor take their one-hot from `fasta` (its records in order across those files, each
 * as long as the scores).
 */
export async function readAttributionInputs(sources: string[], o: { fasta?: string; window?: number } = {}): Promise<TrackSet> {
  const resolved = await expandScoreSources(sources);
  const hyps: Float32Array[] = [];
  const seqs: (Float32Array | undefined)[] = [];
  const counts: number[] = [];
  const names: string[] = [];
  let L = -1;
  let n = 0;
  for (const src of resolved) {
    let h: { n: number; length: number; data: Float32Array };
    let seq: Float32Array | undefined;
    const name = src.kind === 'npz' ? src.hypothetical : src.path;
    if (src.kind === 'npz') {
      const [a, b] = await Promise.all([readNumpy(src.oneHot), readNumpy(src.hypothetical)]);
      const s = toNLC(a.shape, a.data, src.oneHot, 'NCL');
      h = toNLC(b.shape, b.data, src.hypothetical, 'NCL');
      if (s.n !== h.n || s.length !== h.length) throw new DiscoveryInputError(`${src.oneHot} [${a.shape.join(', ')}] and ${src.hypothetical} [${b.shape.join(', ')}] differ in shape`);
      seq = s.data;
    } else {
      const f = await SafetensorsFile.open(src.path);
      const hyp = hypotheticalOf(f);
      h = toNLC(hyp.shape, hyp.data, src.path, 'NLC');
      const seqName = ['one_hot', 'onehot'].find((k) => f.tensors.has(k));
      if (seqName) {
        const info = f.tensors.get(seqName)!;
        const s = toNLC(info.shape, f.readFloat32(seqName), `${src.path}: ${seqName}`, 'NLC');
        if (s.n !== h.n || s.length !== h.length) throw new DiscoveryInputError(`${src.path}: ${seqName} [${info.shape.join(', ')}] does not match the scores [${hyp.shape.join(', ')}]`);
        seq = s.data;
      }
    }
    if (L >= 0 && h.length !== L) throw new DiscoveryInputError(`${name}: sequences of ${h.length} bp, the sources before hold ${L} bp`);
    L = h.length;
    n += h.n;
    hyps.push(h.data);
    seqs.push(seq);
    counts.push(h.n);
    names.push(name);
  }
  const missing = seqs.map((s, i) => (s === undefined ? i : -1)).filter((i) => i >= 0);
  if (missing.length > 0) {
    if (o.fasta === undefined) throw new DiscoveryInputError(`${names[missing[0]!]}: no one-hot tensor; give --fasta with the records the scores were computed on`);
    const records = await readFastaRecords(o.fasta);
    const needed = missing.reduce((a, i) => a + counts[i]!, 0);
    if (records.length !== needed) throw new DiscoveryInputError(`--fasta ${o.fasta}: ${records.length} records, the scores without a one-hot hold ${needed} sequences`);
    let r = 0;
    for (const i of missing) {
      const part = new Float32Array(counts[i]! * L * 4);
      for (let k = 0; k < counts[i]!; k += 1, r += 1) {
        const rec = records[r]!;
        if (rec.sequence.length !== L) throw new DiscoveryInputError(`--fasta ${o.fasta}: record ${rec.name} is ${rec.sequence.length} bp, the scores ${L} bp`);
        oneHotInto(rec.sequence, part, k * L * 4, `${o.fasta}: ${rec.name}`);
      }
      seqs[i] = part;
    }
  }
  return trackSetFromArrays({ shape: [n, L, 4], data: concat(seqs as Float32Array[]) }, { shape: [n, L, 4], data: concat(hyps) }, { layout: 'NLC', window: o.window });
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
