/**
 * The genome form of `attribute` and `ism`: one model window centred on `--region`, the objective
 * over the output bins that overlap `--target-region` (default: the central bin(s)), and the
 * sub-window a plot shows.
 *
 * Window: L bp starting at floor((start + end) / 2) − floor(L / 2) (region 0-based half-open), so the
 * region's centre is the window's centre; bases past a chromosome end read N. The region must fit in
 * the window. Output bin b covers [ws + offset + b·binSize, ws + offset + (b + 1)·binSize).
 */
import type { Architecture } from '../../models/architecture.js';
import type { Reference } from '../../genome/reference.js';
import { checkRegion, RegionError, type Region } from '../../genome/regions.js';
import { onlyAcgtn } from '../../genome/sequence.js';

export interface GenomeWindow {
  chrom: string;
  /** 0-based window start (may be negative: N there). */
  start: number;
  length: number;
  sequence: string;
  chromSize: number;
  region: Region;
  /** The region in window positions, 0-based inclusive. */
  positions: [number, number];
  /** Output geometry of the window. */
  offset: number;
  bins: number;
  binSize: number;
}

/** Reads the window centred on `region` (checked against the genome and the window length). */
export async function genomeWindow(genome: Reference, region: Region, arch: Architecture, windowLength: number | undefined): Promise<GenomeWindow> {
  const length = windowLength ?? arch.defaultSequenceLength;
  const problem = arch.lengthProblem(length);
  if (problem) throw new RegionError(`--window-length ${length}: ${problem}`);
  const size = await genome.getSequenceSize(region.chrom);
  checkRegion(region, size, await genome.getSequenceNames(), genome.source);
  const span = region.end - region.start;
  if (span > length) throw new RegionError(`--region ${region.label}: ${span} bp is longer than the model window (${length} bp)`);
  const start = Math.floor((region.start + region.end) / 2) - Math.floor(length / 2);
  const crop = arch.cropRange(length);
  const sequence = onlyAcgtn(await genome.getSequence(region.chrom, start, start + length));
  return {
    chrom: region.chrom,
    start,
    length,
    sequence,
    chromSize: size!,
    region,
    positions: [region.start - start, region.end - 1 - start],
    offset: crop.start * arch.binSize,
    bins: crop.end - crop.start,
    binSize: arch.binSize,
  };
}

/** The output bins (0-based inclusive) overlapping `target`; an error unless all lie in the window's output. */
export function targetBins(w: GenomeWindow, target: Region): [number, number] {
  if (target.chrom !== w.chrom) throw new RegionError(`--target-region ${target.label}: not on ${w.chrom}, the chromosome of --region`);
  const first = Math.floor((target.start - w.start - w.offset) / w.binSize);
  const last = Math.floor((target.end - 1 - w.start - w.offset) / w.binSize);
  if (first < 0 || last >= w.bins) {
    const lo = w.start + w.offset;
    throw new RegionError(`--target-region ${target.label}: outside the model output (${w.chrom}:${lo + 1}-${lo + w.bins * w.binSize}, ${w.bins} bins of ${w.binSize} bp)`);
  }
  return [first, last];
}

/** Window positions (0-based inclusive) covered by output bins [a, b]. */
export function binSpan(w: GenomeWindow, bins: [number, number]): [number, number] {
  return [w.offset + bins[0] * w.binSize, w.offset + (bins[1] + 1) * w.binSize - 1];
}

/**
 * A plot's sub-window in window positions (0-based inclusive): `--plot-window` as given (it must lie
 * within `bounds`), else `preferred` cut to at most `max` positions around its centre.
 */
export function plotWindow(w: GenomeWindow, given: Region | undefined, preferred: [number, number], bounds: [number, number], max: number): [number, number] {
  if (given) {
    if (given.chrom !== w.chrom) throw new RegionError(`--plot-window ${given.label}: not on ${w.chrom}, the chromosome of --region`);
    const a = given.start - w.start;
    const b = given.end - 1 - w.start;
    if (a < bounds[0] || b > bounds[1]) {
      throw new RegionError(`--plot-window ${given.label}: outside the scored positions (${w.chrom}:${w.start + bounds[0] + 1}-${w.start + bounds[1] + 1})`);
    }
    if (b - a + 1 > max) throw new RegionError(`--plot-window ${given.label}: ${b - a + 1} positions is too long to plot (at most ${max})`);
    return [a, b];
  }
  let [a, b] = [Math.max(bounds[0], preferred[0]), Math.min(bounds[1], preferred[1])];
  if (b - a + 1 > max) {
    const mid = Math.floor((a + b) / 2);
    a = mid - Math.floor(max / 2);
    b = a + max - 1;
  }
  return [a, b];
}
