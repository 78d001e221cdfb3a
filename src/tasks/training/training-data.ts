/**
 * Training and evaluation windows over the user's tracks: BED regions tiled into model windows
 * exactly as `predict --genome` tiles them (genome/regions.ts `planRegion`), each window's sequence
 * from the genome and its targets from the bigWigs of a basenji targets table.
 *
 * Augmented variants of a window (as Borzoi trains): a shift moves the sequence by n bp (N fill)
 * and leaves the targets; the reverse complement reverses the bins and swaps each stranded track
 * with its `strand_pair`.
 */
import type { Reference } from '../../genome/reference.js';
import { planRegion, regionChromSizes, type WindowGeometry } from '../../genome/regions.js';
import { readBed } from '../../genome/bed.js';
import { onlyAcgtn } from '../../genome/sequence.js';
import { ensembleRuns, runSequence, type EnsembleRun } from '../job/ensemble.js';
import type { TrackCoverage } from '../../formats/track-coverage.js';
import type { Track } from '../../formats/targets.js';

export interface TrainingWindow {
  chrom: string;
  /** Window start (may be negative or run past the chromosome: read as N). */
  start: number;
  /** Output bins that lie wholly on the chromosome: [firstValid, endValid). */
  firstValid: number;
  endValid: number;
  /** For messages: the BED line the window came from. */
  label: string;
}

/** The windows covering every region of a BED file, each region checked against the genome first. */
export async function bedWindows(bedPath: string, genome: Reference, g: WindowGeometry): Promise<TrainingWindow[]> {
  const regions = await readBed(bedPath);
  const sizes = await regionChromSizes(genome, regions);
  const windows: TrainingWindow[] = [];
  for (const r of regions) {
    const size = sizes.get(r.chrom)!;
    for (const start of planRegion(r, size, g).windows) {
      const firstBin = start + g.offset;
      const firstValid = Math.min(g.bins, Math.max(0, Math.ceil(-firstBin / g.binSize)));
      const endValid = Math.max(firstValid, Math.min(g.bins, Math.floor((size - firstBin) / g.binSize)));
      windows.push({ chrom: r.chrom, start, firstValid, endValid, label: r.label });
    }
  }
  return windows;
}

export async function windowSequence(genome: Reference, w: TrainingWindow, length: number): Promise<string> {
  return onlyAcgtn(await genome.getSequence(w.chrom, w.start, w.start + length));
}

export async function windowTargets(coverage: TrackCoverage, w: TrainingWindow, g: WindowGeometry): Promise<Float32Array> {
  return coverage.bins(w.chrom, w.start + g.offset, g.bins, g.binSize);
}

/** An augmented variant of a window: a run of the ensemble (job/ensemble.ts), shift then strand. */
export type Variant = EnsembleRun;

/** Every (shift, strand) pair, shifts outermost. */
export const variants = (shifts: number[], rc: boolean): Variant[] => ensembleRuns(shifts, rc);

/** The sequence a variant of a window sees. */
export const variantSequence = runSequence;

/** Targets as seen by a reverse-complemented input: bins reversed, stranded tracks swapped. */
export function reverseTargets(targets: Float32Array, bins: number, tracks: Track[]): Float32Array {
  const K = tracks.length;
  const out = new Float32Array(targets.length);
  for (let b = 0; b < bins; b++) {
    for (let k = 0; k < K; k++) out[(bins - 1 - b) * K + k] = targets[b * K + tracks[k]!.strandPair]!;
  }
  return out;
}
