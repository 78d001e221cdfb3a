/**
 * The genome job: regions of a reference genome through one or more models, averaged over the
 * requested ensemble (reverse complement, shifts, weight replicates), for the selected tracks of
 * one head. Returns, per region, the written bins with exact genomic coordinates and their values.
 *
 * Ensembling follows the official scoring: a reverse-complement run's output is flipped back along
 * the bins and its stranded tracks are swapped by `strand_pair`; a shifted run sees the window moved
 * by n bp with N filling the vacated end, and its output is used as is; the result is the plain mean
 * over models × shifts × strands. Models are loaded one at a time (never two in memory).
 */
import { loadModel, type LoadOptions } from '../models/load.js';
import { Model } from '../models/model.js';
import type { Reference } from '../genome/reference.js';
import { checkRegion, planRegion, RegionError, type Region, type RegionPlan, type WindowGeometry } from '../genome/regions.js';
import { onlyAcgtn, reverseComplement, shiftSequence } from '../genome/sequence.js';
import { PUBLISHED_TARGETS, readTargets, selectTracks, TargetsError, unnamedTracks, type TargetsTable, type Track } from '../formats/targets.js';

export class RegionJobError extends Error {}

export interface RegionJobOptions {
  /** Model directories; more than one are averaged (replicates of one architecture and head). */
  models: string[];
  genome: Reference;
  regions: Region[];
  /** Head to predict (default: the model's first). */
  head?: string;
  /** Window length in bp (default: the model's `sequence_length`, else the published input length). */
  windowLength?: number;
  /** Track selection (indices, identifiers, description regexes; default all). */
  tracks?: string;
  /** Targets table file or URL (default: the published table when the head's track count matches it). */
  targets?: string;
  rc?: boolean;
  /** Shifts in bp (default [0]). */
  shifts?: number[];
  batchSize?: number;
  load?: LoadOptions;
  /** Checked after the plan is made and before the first model run (e.g. output constraints). */
  checkPlan?: (plans: RegionPlan[]) => void;
  onProgress?: (done: number, total: number) => void;
  /** Cache directory for fetched targets tables. */
  cacheDir?: string;
}

export interface RegionResult {
  plan: RegionPlan;
  /** [plan.bins, tracks.length] row-major. */
  values: Float32Array;
}

export interface RegionJobResult {
  head: string;
  binSize: number;
  windowLength: number;
  tracks: Track[];
  table: TargetsTable;
  results: RegionResult[];
  chromSizes: Map<string, number>;
  /** Model runs averaged per window (models × shifts × strands). */
  ensemble: number;
  windows: number;
}

interface Setup {
  head: string;
  geometry: WindowGeometry;
  headTracks: number;
  kind: string;
}

function family(kind: string): string {
  return kind === 'flashzoi' ? 'borzoi' : kind;
}

/** The targets table of a head: `--targets`, else the published one when the track count matches, else `<head>_<i>`. */
export async function tableFor(kind: string, head: string, headTracks: number, targets: string | undefined, cache?: string): Promise<TargetsTable> {
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

function setupFor(model: Model, head: string | undefined, windowLength: number | undefined, rc: boolean): Setup {
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

function sameSetup(a: Setup, b: Setup, source: string): void {
  const g = (s: Setup) => `${family(s.kind)} head ${s.head} (${s.headTracks} tracks), ${s.geometry.bins} bins of ${s.geometry.binSize} bp at +${s.geometry.offset} bp`;
  if (g(a) !== g(b)) throw new RegionJobError(`${source}: models to average must agree: ${g(b)} vs ${g(a)}`);
}

interface Item {
  region: number;
  window: number;
  shift: number;
  rc: boolean;
}

export async function predictRegions(opts: RegionJobOptions): Promise<RegionJobResult> {
  if (opts.models.length === 0) throw new RegionJobError('no model given');
  if (opts.regions.length === 0) throw new RegionError('no regions given');
  const shifts = opts.shifts ?? [0];
  if (shifts.length === 0 || new Set(shifts).size !== shifts.length) throw new RegionJobError(`--shifts must list distinct integers (got ${shifts.join(',')})`);
  const strands = opts.rc ? [false, true] : [false];
  const batchSize = opts.batchSize ?? 1;

  // Cheap checks first: every region against the genome before any model is loaded.
  const chromSizes = new Map<string, number>();
  const names = await opts.genome.getSequenceNames();
  for (const r of opts.regions) {
    const size = await opts.genome.getSequenceSize(r.chrom);
    checkRegion(r, size, names, opts.genome.source);
    chromSizes.set(r.chrom, size!);
  }

  let model = await loadModel(opts.models[0]!, opts.load);
  let closed = false;
  try {
    const setup = setupFor(model, opts.head, opts.windowLength, opts.rc === true);
    const table = await tableFor(setup.kind, setup.head, setup.headTracks, opts.targets, opts.cacheDir);
    const tracks = selectTracks(table, opts.tracks);
    const plans = opts.regions.map((r) => planRegion(r, chromSizes.get(r.chrom)!, setup.geometry));
    opts.checkPlan?.(plans);

    const { bins, length } = setup.geometry;
    const T = setup.headTracks;
    const K = tracks.length;
    const sums = plans.map((p) => new Float64Array(p.windows.length * bins * K));
    const items: Item[] = [];
    plans.forEach((p, region) => p.windows.forEach((_, window) => shifts.forEach((shift) => strands.forEach((rc) => items.push({ region, window, shift, rc })))));
    const total = items.length * opts.models.length;
    let done = 0;
    opts.onProgress?.(0, total);

    for (let m = 0; m < opts.models.length; m++) {
      if (m > 0) {
        model = await loadModel(opts.models[m]!, opts.load);
        closed = false;
        sameSetup(setup, setupFor(model, setup.head, length, opts.rc === true), opts.models[m]!);
      }
      let cached: { key: string; seq: string } | undefined;
      const windowSequence = async (it: Item) => {
        const p = plans[it.region]!;
        const start = p.windows[it.window]!;
        const key = `${it.region}:${it.window}`;
        if (cached?.key !== key) cached = { key, seq: onlyAcgtn(await opts.genome.getSequence(p.region.chrom, start, start + length)) };
        return cached.seq;
      };
      for (let i = 0; i < items.length; i += batchSize) {
        const batch = items.slice(i, i + batchSize);
        const sequences: string[] = [];
        for (const it of batch) {
          const shifted = shiftSequence(await windowSequence(it), it.shift);
          sequences.push(it.rc ? reverseComplement(shifted) : shifted);
        }
        const out = (await model.predict(Model.encode(sequences), { heads: [setup.head] })).heads[setup.head]!;
        batch.forEach((it, j) => {
          const sum = sums[it.region]!;
          for (let b = 0; b < bins; b++) {
            const target = ((it.window * bins) + (it.rc ? bins - 1 - b : b)) * K;
            const src = (j * bins + b) * T;
            for (let k = 0; k < K; k++) {
              const t = tracks[k]!;
              sum[target + k] += out.data[src + (it.rc ? t.strandPair : t.index)]!;
            }
          }
        });
        done += batch.length;
        opts.onProgress?.(done, total);
      }
      await model.close();
      closed = true;
    }

    const ensemble = opts.models.length * shifts.length * strands.length;
    const results = plans.map((plan, r) => {
      const values = new Float32Array(plan.bins * K);
      const sum = sums[r]!;
      for (let i = 0; i < values.length; i++) values[i] = sum[plan.firstBin * K + i]! / ensemble;
      return { plan, values };
    });
    const windows = plans.reduce((a, p) => a + p.windows.length, 0);
    return { head: setup.head, binSize: setup.geometry.binSize, windowLength: length, tracks, table, results, chromSizes, ensemble, windows };
  } finally {
    if (!closed) await model.close();
  }
}
