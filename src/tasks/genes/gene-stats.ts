/**
 * Gene-level arithmetic as calico/borzoi's borzoi_sed.py computes it (rules and check values in
 * shared/specs/genes.md): the untransform of squashed predictions back to coverage, strand-matched
 * track columns, exon → bin mapping, and the variant-to-gene statistics. Pure functions, float64.
 */
import type { Track } from '../../formats/targets.js';

export class GeneInputError extends Error {}

export type UntransformMode = 'legacy' | 'new' | 'none';
export const UNTRANSFORM_MODES: readonly UntransformMode[] = ['legacy', 'new', 'none'];

export interface UntransformParams {
  scale: number;
  clipSoft: number;
  sqrt: boolean;
}

/**
 * Legacy (baskerville `untransform_preds1`, what the published Borzoi needs): x = y/scale; above
 * clip_soft x = cs + (x − cs)²; `_sqrt` tracks x^(4/3); times scale. New (`untransform_preds`):
 * above cs y = cs − 1 + (y − cs + 1)²; `_sqrt` tracks (y + 1)² − 1; no scale.
 */
export function untransform(y: number, p: UntransformParams, mode: UntransformMode): number {
  if (mode === 'none') return y;
  if (mode === 'legacy') {
    let x = y / p.scale;
    if (x > p.clipSoft) x = p.clipSoft + (x - p.clipSoft) ** 2;
    if (p.sqrt) x = x ** (4 / 3);
    return x * p.scale;
  }
  let x = y;
  if (x > p.clipSoft) x = p.clipSoft - 1 + (x - p.clipSoft + 1) ** 2;
  if (p.sqrt) x = (x + 1) ** 2 - 1;
  return x;
}

/** Per track, the untransform's parameters from the targets table; an error when a column is missing. */
export function untransformParams(tracks: Track[], mode: UntransformMode, source: string): UntransformParams[] {
  return tracks.map((t) => {
    if (mode === 'none') return { scale: 1, clipSoft: Infinity, sqrt: false };
    const missing = [t.scale === undefined ? 'scale' : '', t.clipSoft === undefined ? 'clip_soft' : '', t.sumStat === undefined ? 'sum_stat' : ''].filter((s) => s);
    if (missing.length) {
      throw new GeneInputError(`${source}: the targets table has no ${missing.join(', ')} column${missing.length > 1 ? 's' : ''} for track ${t.index} (${t.identifier}), needed by --untransform ${mode}; pass --targets with them or --untransform none`);
    }
    return { scale: t.scale!, clipSoft: t.clipSoft!, sqrt: t.sumStat!.includes('_sqrt') };
  });
}

/** "." when the track is its own strand pair, else the last character of its identifier. */
export function trackStrand(t: Track): string {
  return t.strandPair === t.index ? '.' : t.identifier.slice(-1);
}

export interface StrandColumns {
  /** Output columns: the selected tracks whose strand is not "−", in table order. */
  columns: Track[];
  /** For column k, the track a "−" gene reads (the "−" partner; itself for unstranded tracks). */
  minus: Track[];
  /** Tracks to predict: the columns, then the partners not among them. */
  predicted: Track[];
  /** Positions in `predicted` of column k's track for "+" genes and for "−" genes. */
  plusAt: number[];
  minusAt: number[];
}

export function strandColumns(all: Track[], selected: Track[]): StrandColumns {
  const columns = [...selected].filter((t) => trackStrand(t) !== '-').sort((a, b) => a.index - b.index);
  if (columns.length === 0) throw new GeneInputError('no strand-matched output tracks: every selected track is a "−" strand track (select its "+" partner)');
  const minus = columns.map((t) => all[t.strandPair]!);
  const predicted = [...columns];
  const at = new Map(predicted.map((t, i) => [t.index, i]));
  for (const t of minus) {
    if (!at.has(t.index)) {
      at.set(t.index, predicted.length);
      predicted.push(t);
    }
  }
  return { columns, minus, predicted, plusAt: columns.map((t) => at.get(t.index)!), minusAt: minus.map((t) => at.get(t.index)!) };
}

export type ExonBinRule = 'majority' | 'overlap';

/** Round half to even (numpy's round). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Output bins of exons (0-based half-open genomic intervals) for output bins starting at genomic
 * `o`: majority a = max(0, s − o), b = max(0, e − o), bins [round(a/w), round(b/w)); overlap uses
 * floor/ceil. Clipped to [0, bins]; sorted, unique.
 */
export function exonBins(exons: [number, number][], o: number, bins: number, binSize: number, rule: ExonBinRule): number[] {
  const set = new Set<number>();
  for (const [s, e] of exons) {
    const a = Math.max(0, s - o) / binSize;
    const b = Math.max(0, e - o) / binSize;
    const lo = Math.min(bins, rule === 'majority' ? roundHalfEven(a) : Math.floor(a));
    const hi = Math.min(bins, rule === 'majority' ? roundHalfEven(b) : Math.ceil(b));
    for (let i = lo; i < hi; i++) set.add(i);
  }
  return [...set].sort((x, y) => x - y);
}

export const GENE_STATS = ['SED', 'logSED', 'D1', 'D2', 'logD2', 'REF', 'ALT', 'nD2', 'nDi', 'JS'] as const;
export type GeneStat = (typeof GENE_STATS)[number];

export function parseGeneStats(text: string): GeneStat[] {
  const list = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of list) if (!(GENE_STATS as readonly string[]).includes(s)) throw new GeneInputError(`--stats ${s}: unknown statistic (choose from ${GENE_STATS.join(', ')})`);
  if (list.length === 0) throw new GeneInputError('--stats: name at least one statistic');
  return [...new Set(list)] as GeneStat[];
}

/** 25th percentile with linear interpolation (numpy's default) of `values`. */
export function percentile25(values: Float64Array): number {
  const s = Float64Array.from(values).sort();
  if (s.length === 0) return 0;
  const r = 0.25 * (s.length - 1);
  const i = Math.floor(r);
  const f = r - i;
  return i + 1 < s.length ? s[i]! + f * (s[i + 1]! - s[i]!) : s[i]!;
}

/**
 * Statistics of one gene for one column: `ref`/`alt` are the untransformed values at the gene's
 * bins, `pseudo` the column track's 25th percentile of ref over all output bins.
 */
export function geneColumnStats(ref: ArrayLike<number>, alt: ArrayLike<number>, pseudo: number, stats: readonly GeneStat[]): Record<GeneStat, number> {
  const n = ref.length;
  let sr = 0;
  let sa = 0;
  let d1 = 0;
  let d2 = 0;
  let ld2 = 0;
  for (let i = 0; i < n; i++) {
    const r = ref[i]!;
    const a = alt[i]!;
    sr += r;
    sa += a;
    d1 += Math.abs(a - r);
    d2 += (a - r) ** 2;
    ld2 += (Math.log2(a + 1) - Math.log2(r + 1)) ** 2;
  }
  const out = {} as Record<GeneStat, number>;
  const want = new Set(stats);
  if (want.has('nD2') || want.has('nDi') || want.has('JS')) {
    const zr = sr + n * pseudo;
    const za = sa + n * pseudo;
    let nd2 = 0;
    let ndi = 0;
    let klRA = 0;
    let klAR = 0;
    for (let i = 0; i < n; i++) {
      const p = (ref[i]! + pseudo) / zr;
      const q = (alt[i]! + pseudo) / za;
      nd2 += (p - q) ** 2;
      ndi = Math.max(ndi, Math.abs(p - q));
      if (p > 0) klRA += p * Math.log(p / q);
      if (q > 0) klAR += q * Math.log(q / p);
    }
    out.nD2 = Math.sqrt(nd2);
    out.nDi = ndi;
    out.JS = (klRA + klAR) / 2;
  }
  out.SED = sa - sr;
  out.logSED = Math.log2(sa + 1) - Math.log2(sr + 1);
  out.D1 = d1;
  out.D2 = Math.sqrt(d2);
  out.logD2 = Math.sqrt(ld2);
  out.REF = sr;
  out.ALT = sa;
  return out;
}
