/**
 * The ensemble every job averages over (replicate models × shifts × strands) and the coordinates of
 * one ensemble run: what sequence it sees, and how its outputs and input gradients map back to the
 * forward strand. No I/O here: the browser page shares it.
 *
 * Ensembling follows the official scoring: a run sees the sequence shifted by `shift` bp (N filling
 * the vacated end), then reverse-complemented when `rc`. A reverse-complement run's output is flipped
 * back along the bins and its stranded tracks are swapped by `strand_pair`; a shifted run's output is
 * used as is; the job divides the sum by the number of runs (models × shifts × strands).
 */
import type { Model } from '../../models/model-core.js';
import type { LoadOptions } from '../../models/load-options.js';
import type { WindowGeometry } from '../../genome/regions.js';
import type { TargetsTable, Track } from '../../formats/track-selection.js';
import { reverseComplement, shiftSequence } from '../../genome/sequence.js';

export class JobError extends Error {}

/** The model-side options of every job that runs an ensemble of models on windows or records. */
export interface EnsembleOptions {
  /** Model directories; more than one are averaged (replicates of one architecture and head). */
  models: string[];
  /** Head to predict (default: the model's first). */
  head?: string;
  /** Window length in bp (default: the model's `sequence_length`, else the published input length). */
  windowLength?: number;
  /** Track selection (indices, identifiers, description regexes; default all). */
  tracks?: string;
  /** Targets table file or URL (default: `targets_<head>.txt` beside the weights, else the published table when the head's track count matches it). */
  targets?: string;
  /** Average with the reverse-complement prediction. */
  rc?: boolean;
  /** Shifts in bp (default [0]). */
  shifts?: number[];
  /** Windows (or records) per model run. */
  batchSize?: number;
  load?: LoadOptions;
  /** Cache directory for fetched targets tables. */
  cacheDir?: string;
  /** Replaces the selected tracks by the ones to predict (gene scoring adds strand partners). */
  expandTracks?: (table: TargetsTable, selected: Track[]) => Track[];
}

/** What the replicates of a job must agree on: head, window geometry, track count, family. */
export interface Setup {
  head: string;
  geometry: WindowGeometry;
  headTracks: number;
  kind: string;
  /** The architecture's own track names when no targets table applies (see `Architecture.defaultTrackTable`). */
  defaultTable?: TargetsTable;
}

export function family(kind: string): string {
  return kind === 'flashzoi' ? 'borzoi' : kind;
}

/** Head, window geometry and track count of a model at a window length (default: the model's). */
export function setupFor(model: Model, head: string | undefined, windowLength: number | undefined, rc: boolean, what = '--window-length'): Setup {
  const h = head ?? model.headNames[0]!;
  if (!model.headNames.includes(h)) throw new JobError(`unknown head '${h}' (the model has: ${model.headNames.join(', ')})`);
  const length = windowLength ?? model.arch.defaultSequenceLength;
  model.checkLength(length, what);
  const geometry = { length, offset: model.outputOffset(length), bins: model.outputBins(length), binSize: model.binSize };
  if (rc && 2 * geometry.offset + geometry.bins * geometry.binSize !== length) {
    throw new JobError(`--rc needs output bins centred in the window; a ${length} bp window is cropped unevenly (choose another --window-length)`);
  }
  return { head: h, geometry, headTracks: model.arch.tracks(h), kind: model.arch.kind, defaultTable: model.arch.defaultTrackTable?.(h) };
}

/** Throws unless two replicates agree on architecture family, head, tracks and bins. */
export function sameSetup(a: Setup, b: Setup, source: string): void {
  const g = (s: Setup) => `${family(s.kind)} head ${s.head} (${s.headTracks} tracks), ${s.geometry.bins} bins of ${s.geometry.binSize} bp at +${s.geometry.offset} bp`;
  if (g(a) !== g(b)) throw new JobError(`${source}: models to average must agree: ${g(b)} vs ${g(a)}`);
}

/** Checks `--shifts` (distinct integers); returns them, default [0]. */
export function checkShifts(shifts: number[] | undefined): number[] {
  const s = shifts ?? [0];
  if (s.length === 0 || new Set(s).size !== s.length) throw new JobError(`--shifts must list distinct integers (got ${s.join(',')})`);
  return s;
}

/** Checks a batch size (a positive integer); returns it, default `fallback`. */
export function checkBatchSize(size: number | undefined, fallback = 1): number {
  const n = size ?? fallback;
  if (!Number.isInteger(n) || n < 1) throw new JobError(`batch size must be a positive integer, not ${n}`);
  return n;
}

/** One run of the ensemble on a sequence (the model is the batch's). */
export interface EnsembleRun {
  shift: number;
  rc: boolean;
}

/** The runs of each sequence per model, in the order every job makes them: shifts, then strands. */
export function ensembleRuns(shifts: number[] | undefined, rc: boolean | undefined): EnsembleRun[] {
  return checkShifts(shifts).flatMap((shift) => (rc ? [false, true] : [false]).map((r) => ({ shift, rc: r })));
}

/** The forward, unshifted run: the one attention maps and plain predictions come from. */
export const isPlainRun = (r: EnsembleRun): boolean => r.shift === 0 && !r.rc;

/** The sequence a run sees. */
export function runSequence(seq: string, run: EnsembleRun): string {
  const s = shiftSequence(seq, run.shift);
  return run.rc ? reverseComplement(s) : s;
}

/** Run position of forward position `p` in a sequence of `length` bp, or -1 when shifted out. */
export function runPosition(p: number, length: number, run: EnsembleRun): number {
  const q = p + run.shift;
  if (q < 0 || q >= length) return -1;
  return run.rc ? length - 1 - q : q;
}

/**
 * Adds batch item `j` of a head output ([batch, bins, T]) into `sum` at `at` ([bins, K] for the
 * selected tracks): a reverse-complement run flipped back along the bins, stranded tracks swapped.
 */
export function accumulate(sum: Float64Array, at: number, out: Float32Array, j: number, bins: number, T: number, tracks: Track[], rc: boolean): void {
  const K = tracks.length;
  for (let b = 0; b < bins; b++) {
    const target = at + (rc ? bins - 1 - b : b) * K;
    const src = (j * bins + b) * T;
    for (let k = 0; k < K; k++) {
      const t = tracks[k]!;
      sum[target + k] += out[src + (rc ? t.strandPair : t.index)]!;
    }
  }
}

/**
 * Adds a run's input gradient of batch item `j` ([L, 4] in run coordinates) into `sum` at `at`, mapped
 * back to forward positions and bases (a shifted run's position p + shift is forward position p; a
 * reverse-complement run's position q, base k is forward position L − 1 − q, base 3 − k). With
 * `centre`, each position's four values are centred on their mean first (per run, as
 * borzoi_satg_gene.py does).
 */
export function addForward(sum: Float64Array, at: number, grad: Float32Array, j: number, length: number, run: EnsembleRun, centre = false): void {
  const src = j * length * 4;
  for (let q = 0; q < length; q++) {
    const p = (run.rc ? length - 1 - q : q) - run.shift;
    if (p < 0 || p >= length) continue; // a shifted run's N fill: no forward position
    const g = src + q * 4;
    const mean = centre ? (grad[g + (run.rc ? 3 : 0)]! + grad[g + (run.rc ? 2 : 1)]! + grad[g + (run.rc ? 1 : 2)]! + grad[g + (run.rc ? 0 : 3)]!) / 4 : 0;
    for (let k = 0; k < 4; k++) sum[at + p * 4 + (run.rc ? 3 - k : k)] += centre ? grad[g + k]! - mean : grad[g + k]!;
  }
}
