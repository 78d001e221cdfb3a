/**
 * The inputs of motif discovery as a track set: one-hot sequences and hypothetical contributions of
 * the same shape, [N, L, 4] or [N, 4, L] (tfmodisco-lite's .npz layout), optionally cropped to a
 * central window (`modisco motifs -w`); read from
 *  - a pair of NumPy files (`.npz`, array 'arr_0' or the only one, or `.npy`), as `modisco motifs
 *    -s ONEHOT -a ATTR` reads them;
 *  - our attribution outputs (`attribute` safetensors: `grad` [R, L, 4]; hypothetical contributions
 *    are the gradient centred over the four bases, as the Borzoi paper uses them, or a
 *    `hypothetical_contribs` tensor as is), with the one-hot from a `one_hot` tensor when the file
 *    has one, else from the FASTA records the scores were computed on.
 */
import { readdir, stat } from 'node:fs/promises';
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

/** Safetensors files named by `sources`: files, or directories whose *.safetensors files are taken in name order. */
export async function expandScoreSources(sources: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const s of sources) {
    let isDir: boolean;
    try {
      isDir = (await stat(s)).isDirectory();
    } catch (e) {
      throw new DiscoveryInputError(`--scores ${s}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    if (isDir) {
      const files = (await readdir(s)).filter((f) => f.toLowerCase().endsWith('.safetensors')).sort();
      if (files.length === 0) throw new DiscoveryInputError(`--scores ${s}: no .safetensors files in the directory`);
      out.push(...files.map((f) => join(s, f)));
    } else out.push(s);
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
 * Our attribution outputs as a track set. The one-hot comes from a `one_hot` tensor of each file, or
 * else from `fasta` (its records in order across the files, each as long as the scores).
 */
export async function readAttributionInputs(sources: string[], o: { fasta?: string; window?: number } = {}): Promise<TrackSet> {
  const files = await expandScoreSources(sources);
  const hyps: Float32Array[] = [];
  const seqs: (Float32Array | undefined)[] = [];
  let L = -1;
  let n = 0;
  for (const path of files) {
    const f = await SafetensorsFile.open(path);
    const h = hypotheticalOf(f);
    const t = toNLC(h.shape, h.data, path, 'NLC');
    if (L >= 0 && t.length !== L) throw new DiscoveryInputError(`${path}: sequences of ${t.length} bp, the files before hold ${L} bp`);
    L = t.length;
    n += t.n;
    hyps.push(t.data);
    const seqName = ['one_hot', 'onehot'].find((k) => f.tensors.has(k));
    if (seqName) {
      const info = f.tensors.get(seqName)!;
      const s = toNLC(info.shape, f.readFloat32(seqName), `${path}: ${seqName}`, 'NLC');
      if (s.n !== t.n || s.length !== t.length) throw new DiscoveryInputError(`${path}: ${seqName} [${info.shape.join(', ')}] does not match the scores [${h.shape.join(', ')}]`);
      seqs.push(s.data);
    } else seqs.push(undefined);
  }
  const hyp = concat(hyps);
  let oneHot: Float32Array;
  if (seqs.every((s) => s !== undefined)) oneHot = concat(seqs as Float32Array[]);
  else {
    if (o.fasta === undefined) throw new DiscoveryInputError(`${files.find((_, i) => seqs[i] === undefined)}: no one-hot tensor; give --fasta with the records the scores were computed on`);
    const records = await readFastaRecords(o.fasta);
    if (records.length !== n) throw new DiscoveryInputError(`--fasta ${o.fasta}: ${records.length} records, the scores hold ${n} sequences`);
    oneHot = new Float32Array(n * L * 4);
    records.forEach((r, i) => {
      if (r.sequence.length !== L) throw new DiscoveryInputError(`--fasta ${o.fasta}: record ${r.name} is ${r.sequence.length} bp, the scores ${L} bp`);
      oneHotInto(r.sequence, oneHot, i * L * 4, `${o.fasta}: ${r.name}`);
    });
  }
  return trackSetFromArrays({ shape: [n, L, 4], data: oneHot }, { shape: [n, L, 4], data: hyp }, { layout: 'NLC', window: o.window });
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
