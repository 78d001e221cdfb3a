/**
 * Regions of a reference genome through the run core: the windows that tile each region
 * (genome/regions.ts `planRegion`), every window under every ensemble run, and per window the
 * float64 sum of its runs' outputs for the selected tracks of one head, kept in a `WindowStore` (in
 * memory for `predictRegions`, the staging directory's scratch file for the genome job) and divided
 * by the runs (models × shifts × strands) once, when read. Attention maps come from each model's
 * forward, unshifted run of every window. No I/O of its own: the page shares it.
 *
 * Batches: the items (window, shift, strand), in plan order, are cut into `batchSize` batches the
 * same way in every model pass, so a resumed job (the genome job) continues at a batch boundary and
 * makes the model calls of an uninterrupted run: the outputs are byte-identical. With trunk reuse
 * (default) each window's trunk interior comes from its stretch's tiles (trunk-reuse.ts), fixed by
 * the plan's geometry, so a resumed job computes the same tiles for the windows it still has to do.
 */
import type { AttentionMap, HeadOutput, Model } from '../../models/model-core.js';
import { checkAttentionRows, writtenHeads } from '../../models/attention-maps.js';
import type { Reference } from '../../genome/reference-type.js';
import { planRegion, RegionError, type Region, type RegionPlan } from '../../genome/regions.js';
import { onlyAcgtn } from '../../genome/sequence.js';
import { checkAttentionSize, type AttentionRequest } from './attention-request.js';
import { accumulate, checkBatchSize, isPlainRun, JobError, type EnsembleOptions, type EnsembleRun } from '../job/ensemble.js';
import { TrunkReuse } from './trunk-reuse.js';
import { openEnsemble, type Ensemble, type ModelSource, type TableResolver } from '../job/run-core.js';
import { runSlotPasses, type SlotProgress, type SlotUnit } from '../job/slot-passes.js';
import { shardRange, type Shard } from '../job/shard.js';

export interface RegionRunOptions extends Omit<EnsembleOptions, 'models'> {
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
  /**
   * Run only shard i/N of the windows (`shardWindows`): the job plans every region exactly as the
   * unsharded run does and keeps a contiguous block of its windows, so each bin is predicted by the
   * same window and the same model batches as in one run (predict --genome --shard, the workflow).
   */
  shard?: Shard;
  onProgress?: (done: number, total: number) => void;
  /**
   * Trunk reuse (default true): the trunk runs once along each region's consecutive windows per
   * ensemble run, each window computing only its ends (trunk-reuse.ts); false: every window in full.
   */
  trunkReuse?: boolean;
}

export interface WindowRecord {
  region: string;
  chrom: string;
  /** Window start and end in bp (0-based half-open; may run past the chromosome, read as N). */
  start: number;
  end: number;
  model: string;
}

/** Where an attention map's records are and what they hold: [windows × models, layers, heads, rows, positions], window-major. */
export interface AttentionLayout {
  records: WindowRecord[];
  rows: number[];
  shape: AttentionMap['shape'];
  layers: AttentionMap['layers'];
  heads: AttentionMap['heads'];
  elements: number;
  /** bp per transformer position; position p of a record covers [start + p·resolution, start + (p+1)·resolution). */
  resolution: number;
}

/** Attention maps of a region job, with their records. */
export interface RegionAttention {
  map: AttentionMap;
  records: WindowRecord[];
  resolution: number;
}

/** The window sums of a job: slot s is window range[0] + s in compute order, [windowBins, tracks]. */
export interface WindowLayout {
  /** Plans in compute order. */
  plans: RegionPlan[];
  /** The windows this job runs, [first, end) in compute order: all of them, or a shard's block. */
  range: [number, number];
  windowBins: number;
  tracks: number;
  models: number;
  /** Runs averaged per window. */
  ensemble: number;
}

export interface WindowStore {
  /** The running sum the model passes before `pass` left in a window. */
  load(slot: number, pass: number): Float64Array;
  /** A window's sum after model pass `pass` (every run of that model added). */
  save(slot: number, pass: number, sum: Float64Array): void;
}

export interface MapStore {
  /** The map of attention record `record`. */
  put(record: number, map: Float32Array): void;
}

/** Model pass in progress, batches of it done, and the running sum of a window the batch boundary split. */
export type RegionProgress = SlotProgress;

/** Where an interrupted job stopped and how progress is recorded (the genome job's staging directory). */
export interface Resume {
  start: RegionProgress;
  /** Records progress after a batch whose data is stored. */
  commit(progress: RegionProgress): void;
  /** Called once, before any model runs, when the job continues an earlier run. */
  onResume?: (done: number, total: number) => void;
}

export interface RegionJobRun {
  ensemble: Ensemble;
  /** Plans in region order. */
  plans: RegionPlan[];
  layout: WindowLayout;
  attention?: AttentionLayout;
  /** Model runs done before this invocation, and by it. */
  resumedAt: number;
  ran: number;
}

interface Window {
  plan: RegionPlan;
  /** Its index among the plan's windows, and among all windows in compute order. */
  index: number;
  slot: number;
  start: number;
}

interface RegionItem extends SlotUnit {
  window: Window;
}

export interface RegionJobEnvironment {
  models: ModelSource;
  tables: TableResolver;
  /** Chromosome sizes of the regions (checked against the genome before any model is loaded). */
  chromSizes: Map<string, number>;
  /** Compute order of the plans (bigWig writers need chromosome, then start); default region order. */
  order?: (plans: RegionPlan[]) => RegionPlan[];
  /** The stores for a layout, made once the plan is checked. */
  storage: (layout: WindowLayout, attention: AttentionLayout | undefined) => { windows: WindowStore; maps?: MapStore; resume?: Resume };
}

/** Checks that can fail before any model is loaded. */
export function checkRegionJob(opts: RegionRunOptions): void {
  if (opts.regions.length === 0) throw new RegionError('no regions given');
  if (opts.attention && !(opts.shifts ?? [0]).includes(0)) throw new JobError('--attention takes its maps from the unshifted run: include 0 in --shifts');
  // The maps' records, and their plot, are of the whole job; a shard's would be a fragment nothing joins.
  if (opts.attention && opts.shard) throw new JobError('--attention cannot be combined with --shard (the maps are written by an unsharded run)');
}

/**
 * The windows [first, end) of shard i/N, in compute order. The unit of the cut is the fewest whole
 * windows that fill whole model batches (batchSize / gcd(batchSize, runs per window)), so every batch
 * of the unsharded run lies inside one shard and each shard makes exactly those model calls: a
 * window's values do not depend on how the windows were cut (batch composition could change ONNX
 * Runtime's summation order, so it is kept too). Every window is in exactly one shard.
 * This relies on a window's values depending only on its sequence, its batch and the plan: trunk
 * reuse keeps it, since a window's stretch tiles are fixed by its plan's geometry, not by which of
 * the plan's windows a job runs (a shard computes the very tiles one run does for its windows; a
 * change that made values depend on where a job starts would have to cut shards at the stretches'
 * boundaries, or the merged bytes would differ from one run's: genome-shards.test.ts checks them).
 */
export function shardWindows(windows: number, runsPerWindow: number, batchSize: number, shard: Shard | undefined): [number, number] {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return shardRange(windows, batchSize / gcd(batchSize, runsPerWindow), shard);
}

/** Runs every window of every region through the ensemble into the stores. */
export async function runRegionJob(opts: RegionRunOptions, env: RegionJobEnvironment): Promise<RegionJobRun> {
  checkRegionJob(opts);
  const batchSize = checkBatchSize(opts.batchSize);
  const ensemble = await openEnsemble(env.models, opts, env.tables);
  try {
    const { setup, tracks, runs } = ensemble;
    const first = await ensemble.schedule.model(0);
    const plans = opts.regions.map((r) => planRegion(r, env.chromSizes.get(r.chrom)!, setup.geometry));
    opts.checkPlan?.(plans);
    const ordered = env.order ? env.order(plans) : plans;
    const M = ensemble.schedule.count;
    const attention = opts.attention ? attentionLayout(first, opts.attention, plans, M, ensemble, setup.geometry.length) : undefined;
    const range = shardWindows(
      ordered.reduce((a, p) => a + p.windows.length, 0),
      runs.length,
      batchSize,
      opts.shard,
    );
    const layout: WindowLayout = { plans: ordered, range, windowBins: setup.geometry.bins, tracks: tracks.length, models: M, ensemble: ensemble.size };
    const { windows: store, maps, resume } = env.storage(layout, attention);

    // Attention records follow the regions as given (not the compute order): first record of each plan.
    const recordBase = new Map<RegionPlan, number>();
    plans.reduce((a, p) => (recordBase.set(p, a), a + p.windows.length * M), 0);
    const items: { unit: RegionItem; run: EnsembleRun }[] = [];
    let w = 0;
    ordered.forEach((plan) =>
      plan.windows.forEach((start, index) => {
        // Only the windows of this job's range run; slots count from its first.
        if (w >= range[0] && w < range[1]) {
          const window = { plan, index, slot: w - range[0], start };
          runs.forEach((run, i) => items.push({ unit: { window, slot: window.slot, last: i === runs.length - 1 }, run }));
        }
        w++;
      }),
    );
    const { bins, length } = setup.geometry;
    const T = setup.headTracks;
    let cached: { slot: number; seq: string } | undefined;
    const reuse = opts.trunkReuse === false ? undefined : new TrunkReuse(opts.genome, setup.geometry, runs);
    const { resumedAt, ran } = await runSlotPasses({
      schedule: ensemble.schedule,
      items,
      batchSize,
      slotValues: bins * tracks.length,
      store,
      start: resume?.start,
      commit: resume ? (p) => resume.commit(p) : undefined,
      onResume: resume?.onResume,
      onProgress: opts.onProgress,
      sequence: async ({ window: w }) => {
        if (cached?.slot !== w.slot) cached = { slot: w.slot, seq: onlyAcgtn(await opts.genome.getSequence(w.plan.region.chrom, w.start, w.start + length)) };
        return cached.seq;
      },
      request: (model, { input }, batch) =>
        model.predict(input, {
          heads: [setup.head],
          output: opts.output,
          attentionRows: attention && batch.items.some((it) => isPlainRun(it.run)) ? attention.rows : undefined,
          knownTrunk: reuse?.known(model, batch.items.map((it) => ({ plan: it.unit.window.plan, index: it.unit.window.index, run: it.run }))),
        }),
      add: (sum, p, j, it) => accumulate(sum, 0, p.heads[setup.head]!.data, j, bins, T, tracks, it.run.rc),
      also: (p, batch) => {
        if (!maps || !attention || !p.attention) return;
        const per = attention.elements / attention.records.length;
        batch.items.forEach((it, j) => {
          if (!isPlainRun(it.run)) return;
          const w = it.unit.window;
          const record = recordBase.get(w.plan)! + w.index * M + batch.model;
          maps.put(record, p.attention!.data.subarray(j * per, (j + 1) * per));
        });
      },
    });
    return { ensemble, plans, layout, attention, resumedAt, ran };
  } finally {
    await ensemble.schedule.close();
  }
}

/** Checks rows and size before any run; the records (regions as given, window-major, then model) and the map's shape. */
function attentionLayout(model: Model, request: AttentionRequest, plans: RegionPlan[], models: number, ensemble: Ensemble, length: number): AttentionLayout {
  const spec = model.attentionSpec!;
  const positions = model.transformerPositions(length);
  const rows = request.rows ?? model.centralRows(length);
  checkAttentionRows(rows, positions);
  const records: WindowRecord[] = [];
  for (const p of plans) {
    for (const start of p.windows) {
      for (let m = 0; m < models; m++) records.push({ region: p.region.label, chrom: p.region.chrom, start, end: start + length, model: ensemble.schedule.label(m) });
    }
  }
  const bytes = checkAttentionSize(request, records.length, rows.length, positions);
  const shape: AttentionMap['shape'] = [records.length, spec.layers.length, writtenHeads(spec), rows.length, positions];
  return { records, rows, shape, layers: spec.layers, heads: spec.heads, elements: bytes / 4, resolution: model.arch.transformer.resolution };
}
