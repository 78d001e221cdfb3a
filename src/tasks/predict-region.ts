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
import { loadModel } from '../models/load.js';
import { Model, type AttentionMap, type HeadOutput } from '../models/model.js';
import { checkAttentionRows, writtenHeads } from '../models/attention-maps.js';
import { checkAttentionSize, type AttentionRequest } from './attention-output.js';
import type { Reference } from '../genome/reference.js';
import { planRegion, regionChromSizes, RegionError, type Region, type RegionPlan } from '../genome/regions.js';
import { onlyAcgtn, reverseComplement, shiftSequence } from '../genome/sequence.js';
import { selectTracks, type TargetsTable, type Track } from '../formats/targets.js';
import { accumulate, checkShifts, RegionJobError, sameSetup, setupFor, tableFor, type EnsembleOptions } from './ensemble.js';

export { RegionJobError, tableFor };

export interface RegionJobOptions extends EnsembleOptions {
  genome: Reference;
  regions: Region[];
  /** 'logits': ensemble mean of the heads' pre-softplus values instead of the coverage. */
  output?: HeadOutput;
  /**
   * Attention maps of every window from each model's forward-strand, unshifted run (replicates'
   * heads are not comparable, so maps are per model, not averaged): records = windows × models.
   */
  attention?: AttentionRequest;
  /** Checked after the plan is made and before the first model run (e.g. output constraints). */
  checkPlan?: (plans: RegionPlan[]) => void;
  onProgress?: (done: number, total: number) => void;
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
  attention?: RegionAttention;
}

export interface WindowRecord {
  region: string;
  chrom: string;
  /** Window start and end in bp (0-based half-open; may run past the chromosome, read as N). */
  start: number;
  end: number;
  model: string;
}

/** Attention maps of a genome job: [windows × models, layers, heads, rows, positions], window-major. */
export interface RegionAttention {
  map: AttentionMap;
  records: WindowRecord[];
  /** bp per transformer position; position p of a record covers [start + p·resolution, start + (p+1)·resolution). */
  resolution: number;
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
  const shifts = checkShifts(opts.shifts);
  const strands = opts.rc ? [false, true] : [false];
  const batchSize = opts.batchSize ?? 1;

  // Cheap checks first: every region against the genome before any model is loaded.
  const chromSizes = await regionChromSizes(opts.genome, opts.regions);

  const load = { ...opts.load, attention: opts.attention?.spec, logits: opts.output === 'logits' };
  if (opts.attention && !shifts.includes(0)) throw new RegionJobError('--attention takes its maps from the unshifted run: include 0 in --shifts');
  let model = await loadModel(opts.models[0]!, load);
  let closed = false;
  try {
    const setup = setupFor(model, opts.head, opts.windowLength, opts.rc === true);
    const table = await tableFor(setup.kind, setup.head, setup.headTracks, opts.targets, opts.cacheDir, opts.models[0]);
    const selected = selectTracks(table, opts.tracks);
    const tracks = opts.expandTracks ? opts.expandTracks(table, selected) : selected;
    const plans = opts.regions.map((r) => planRegion(r, chromSizes.get(r.chrom)!, setup.geometry));
    opts.checkPlan?.(plans);

    const { bins, length } = setup.geometry;
    const T = setup.headTracks;
    const K = tracks.length;
    const sums = plans.map((p) => new Float64Array(p.windows.length * bins * K));
    const items: Item[] = [];
    plans.forEach((p, region) => p.windows.forEach((_, window) => shifts.forEach((shift) => strands.forEach((rc) => items.push({ region, window, shift, rc })))));
    const windowBase: number[] = [];
    plans.reduce((a, p) => (windowBase.push(a), a + p.windows.length), 0);
    const maps = opts.attention ? allocateMaps(model, opts.attention, plans, opts.models, length) : undefined;
    const total = items.length * opts.models.length;
    let done = 0;
    opts.onProgress?.(0, total);

    for (let m = 0; m < opts.models.length; m++) {
      if (m > 0) {
        model = await loadModel(opts.models[m]!, load);
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
        const forward = (it: Item) => it.shift === 0 && !it.rc;
        const attentionRows = maps && batch.some(forward) ? maps.map.rows : undefined;
        const p = await model.predict(Model.encode(sequences), { heads: [setup.head], output: opts.output, attentionRows });
        const out = p.heads[setup.head]!;
        batch.forEach((it, j) => accumulate(sums[it.region]!, it.window * bins * K, out.data, j, bins, T, tracks, it.rc));
        if (maps && p.attention) {
          const per = maps.map.data.length / maps.records.length;
          batch.forEach((it, j) => {
            if (forward(it)) maps.map.data.set(p.attention!.data.subarray(j * per, (j + 1) * per), ((windowBase[it.region]! + it.window) * opts.models.length + m) * per);
          });
        }
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
    return { head: setup.head, binSize: setup.geometry.binSize, windowLength: length, tracks, table, results, chromSizes, ensemble, windows, attention: maps };
  } finally {
    if (!closed) await model.close();
  }
}

/** Checks rows and size before any run; the records (window-major, then model) and their zeroed map. */
function allocateMaps(model: Model, request: AttentionRequest, plans: RegionPlan[], models: string[], length: number): RegionAttention {
  const spec = model.attentionSpec!;
  const positions = model.transformerPositions(length);
  const rows = request.rows ?? model.centralRows(length);
  checkAttentionRows(rows, positions);
  const records: WindowRecord[] = [];
  for (const p of plans) {
    for (const start of p.windows) for (const m of models) records.push({ region: p.region.label, chrom: p.region.chrom, start, end: start + length, model: m });
  }
  const bytes = checkAttentionSize(request, records.length, rows.length, positions);
  const map: AttentionMap = { data: new Float32Array(bytes / 4), shape: [records.length, spec.layers.length, writtenHeads(spec), rows.length, positions], layers: spec.layers, heads: spec.heads, rows };
  return { map, records, resolution: model.arch.transformer.resolution };
}
