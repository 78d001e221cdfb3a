/**
 * What the genome job and the variant job share: the model setup (head, window geometry, targets
 * table) checked alike for every replicate, and the ensembling of one model run into a running sum.
 *
 * Ensembling follows the official scoring: a reverse-complement run's output is flipped back along
 * the bins and its stranded tracks are swapped by `strand_pair`; a shifted run is used as is; the
 * caller divides the sum by the number of runs (models × shifts × strands).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Model } from '../models/model.js';
import type { LoadOptions } from '../models/load.js';
import type { WindowGeometry } from '../genome/regions.js';
import { PUBLISHED_TARGETS, readTargets, TargetsError, unnamedTracks, type TargetsTable, type Track } from '../formats/targets.js';

export class RegionJobError extends Error {}

/** The model-side options the genome job and the variant job share. */
export interface EnsembleOptions {
  /** Model directories; more than one are averaged (replicates of one architecture and head). */
  models: string[];
  /** Head to predict (default: the model's first). */
  head?: string;
  /** Window length in bp (default: the model's `sequence_length`, else the published input length). */
  windowLength?: number;
  /** Track selection (indices, identifiers, description regexes; default all). */
  tracks?: string;
  /** Targets table file or URL (default: the published table when the head's track count matches it). */
  targets?: string;
  /** Average with the reverse-complement prediction. */
  rc?: boolean;
  /** Shifts in bp (default [0]). */
  shifts?: number[];
  /** Windows per model run. */
  batchSize?: number;
  load?: LoadOptions;
  /** Cache directory for fetched targets tables. */
  cacheDir?: string;
  /** Replaces the selected tracks by the ones to predict (gene scoring adds strand partners). */
  expandTracks?: (table: TargetsTable, selected: Track[]) => Track[];
}

export interface Setup {
  head: string;
  geometry: WindowGeometry;
  headTracks: number;
  kind: string;
}

export function family(kind: string): string {
  return kind === 'flashzoi' ? 'borzoi' : kind;
}

/**
 * The targets table of a head: `--targets`, else `targets_<head>.txt` in the model directory (as
 * `finetune` writes it beside a trained head), else the published one when the track count matches,
 * else `<head>_<i>`.
 */
export async function tableFor(kind: string, head: string, headTracks: number, targets: string | undefined, cache?: string, modelDir?: string): Promise<TargetsTable> {
  const beside = modelDir === undefined ? undefined : join(modelDir, `targets_${head}.txt`);
  if (targets === undefined && beside !== undefined && existsSync(beside)) targets = beside;
  if (targets !== undefined) {
    const table = await readTargets(targets, cache);
    if (table.tracks.length !== headTracks) {
      throw new TargetsError(`${targets}: the targets table has ${table.tracks.length} tracks but the ${head} head has ${headTracks}`);
    }
    return table;
  }
  const published = PUBLISHED_TARGETS[family(kind)]?.[head];
  if (published && published.tracks === headTracks) return readTargets(published.url, cache);
  return unnamedTracks(head, headTracks);
}

/** Head, window geometry and track count of a model at a window length (default: the model's). */
export function setupFor(model: Model, head: string | undefined, windowLength: number | undefined, rc: boolean): Setup {
  const h = head ?? model.headNames[0]!;
  if (!model.headNames.includes(h)) throw new RegionJobError(`unknown head '${h}' (the model has: ${model.headNames.join(', ')})`);
  const length = windowLength ?? model.arch.defaultSequenceLength;
  model.checkLength(length, '--window-length');
  const geometry = { length, offset: model.outputOffset(length), bins: model.outputBins(length), binSize: model.binSize };
  if (rc && 2 * geometry.offset + geometry.bins * geometry.binSize !== length) {
    throw new RegionJobError(`--rc needs output bins centred in the window; a ${length} bp window is cropped unevenly (choose another --window-length)`);
  }
  return { head: h, geometry, headTracks: model.arch.tracks(h), kind: model.arch.kind };
}

/** Throws unless two replicates agree on architecture family, head, tracks and bins. */
export function sameSetup(a: Setup, b: Setup, source: string): void {
  const g = (s: Setup) => `${family(s.kind)} head ${s.head} (${s.headTracks} tracks), ${s.geometry.bins} bins of ${s.geometry.binSize} bp at +${s.geometry.offset} bp`;
  if (g(a) !== g(b)) throw new RegionJobError(`${source}: models to average must agree: ${g(b)} vs ${g(a)}`);
}

/** Checks `--shifts` (distinct integers); returns them, default [0]. */
export function checkShifts(shifts: number[] | undefined): number[] {
  const s = shifts ?? [0];
  if (s.length === 0 || new Set(s).size !== s.length) throw new RegionJobError(`--shifts must list distinct integers (got ${s.join(',')})`);
  return s;
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
