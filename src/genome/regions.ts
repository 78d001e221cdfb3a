/**
 * Regions and the model windows that cover them.
 *
 * A region is 0-based half-open internally. `--region chr:start-end` is 1-based inclusive as in
 * samtools (commas allowed); BED files are 0-based half-open.
 *
 * Windows: the output of one window is `bins` bins of `binSize` bp starting `offset` bp after the
 * window start. A region gets the fewest consecutive windows whose outputs, laid end to end, cover
 * it (n = ceil(length / span), span = bins·binSize); that covered stretch is centred on the region
 * (rounding down), so windows start at `coverStart - offset + k·span` and their bins tile the stretch
 * with no gap or overlap. The written bins are those of the stretch that overlap the region, so the
 * bin grid is the first window's and the written bins cover the region exactly, extended outward to
 * whole bins (at most binSize - 1 bp each side). Bins are clipped to the chromosome: a bin past its
 * end is dropped and the last one ends at the chromosome end. Windows running past a chromosome end
 * read N there.
 */
import type { Reference } from './reference-type.js';

export class RegionError extends Error {}

export interface Region {
  chrom: string;
  /** 0-based, inclusive. */
  start: number;
  /** 0-based, exclusive. */
  end: number;
  /** How the user wrote it (for messages and output names). */
  label: string;
}

/** Parses `chr:start-end` (1-based inclusive, commas allowed) into a 0-based half-open region. */
export function parseRegion(text: string): Region {
  const t = text.trim();
  const colon = t.lastIndexOf(':');
  const bad = (why: string) => new RegionError(`--region ${JSON.stringify(text)}: ${why} (expected chr:start-end, 1-based inclusive, e.g. chr11:5,225,000-5,300,000)`);
  if (colon <= 0) throw bad('no chromosome');
  const chrom = t.slice(0, colon);
  const m = /^([\d,]+)-([\d,]+)$/.exec(t.slice(colon + 1));
  if (!m) throw bad('no start-end');
  const num = (s: string) => {
    if (!/^\d{1,3}(,\d{3})*$|^\d+$/.test(s)) throw bad(`misplaced commas in ${s}`);
    const n = Number(s.replace(/,/g, ''));
    if (!Number.isSafeInteger(n)) throw bad(`${s} is too large`);
    return n;
  };
  const start = num(m[1]!);
  const end = num(m[2]!);
  if (start < 1) throw bad('start must be at least 1');
  if (end < start) throw bad('end is before start');
  return { chrom, start: start - 1, end, label: `${chrom}:${start}-${end}` };
}

/** Throws unless the region lies on a known chromosome, within its length. */
export function checkRegion(region: Region, size: number | undefined, names: string[], genome: string): void {
  if (size === undefined) {
    const shown = names.slice(0, 8).join(', ') + (names.length > 8 ? `, … (${names.length} in all)` : '');
    throw new RegionError(`${region.label}: unknown chromosome '${region.chrom}' in ${genome} (it has ${shown})`);
  }
  if (region.end > size) throw new RegionError(`${region.label}: region runs past the end of ${region.chrom} (${size.toLocaleString('en-US')} bp)`);
}

/** Checks every region against the genome (one-line errors) and returns their chromosomes' sizes. */
export async function regionChromSizes(genome: Reference, regions: Region[]): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  const names = await genome.getSequenceNames();
  for (const r of regions) {
    const size = await genome.getSequenceSize(r.chrom);
    checkRegion(r, size, names, genome.source);
    sizes.set(r.chrom, size!);
  }
  return sizes;
}

export interface WindowGeometry {
  /** Input length in bp. */
  length: number;
  /** bp from the window start to its first output bin. */
  offset: number;
  /** Output bins per window. */
  bins: number;
  binSize: number;
}

export interface RegionPlan {
  region: Region;
  /** Window start coordinates (may be negative or run past the chromosome end: read as N). */
  windows: number[];
  /** Genomic start of bin 0 of the first window. */
  coverStart: number;
  /** Written bins, as indices into the concatenated window outputs: [firstBin, firstBin + bins). */
  firstBin: number;
  bins: number;
  /** Start and end of every written bin (0-based half-open, clipped to the chromosome). */
  starts: number[];
  ends: number[];
}

export function planRegion(region: Region, chromSize: number, g: WindowGeometry): RegionPlan {
  const span = g.bins * g.binSize;
  const length = region.end - region.start;
  if (length <= 0) throw new RegionError(`${region.label}: empty region`);
  const n = Math.ceil(length / span);
  const coverStart = region.start - Math.floor((n * span - length) / 2);
  const windows = Array.from({ length: n }, (_, k) => coverStart - g.offset + k * span);
  const lo = Math.max(Math.floor((region.start - coverStart) / g.binSize), 0);
  const hi = Math.min(Math.ceil((Math.min(region.end, chromSize) - coverStart) / g.binSize), n * g.bins);
  const starts: number[] = [];
  const ends: number[] = [];
  for (let b = lo; b < hi; b++) {
    const s = coverStart + b * g.binSize;
    starts.push(Math.max(0, s));
    ends.push(Math.min(chromSize, s + g.binSize));
  }
  return { region, windows, coverStart, firstBin: lo, bins: hi - lo, starts, ends };
}
