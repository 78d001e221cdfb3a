/**
 * The region job in memory: every window's sums kept in memory and the means of each region's
 * written bins returned, with the attention maps. The library's `predictRegions` (Node, model
 * directories: regions.ts) and the browser page (a model it holds) run it; the genome job is the
 * same run with its stores on disk (genome-job.ts).
 */
import type { RegionPlan } from '../../genome/regions.js';
import { regionChromSizes } from '../../genome/regions.js';
import type { TargetsTable, Track } from '../../formats/track-selection.js';
import type { ModelSource, TableResolver } from '../job/run-core.js';
import { JobError } from '../job/ensemble.js';
import { checkRegionJob, runRegionJob, type AttentionLayout, type MapStore, type RegionAttention, type RegionRunOptions, type WindowLayout, type WindowStore } from './region-job.js';

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

/** Runs the region job with its stores in memory, on `models` (see predictRegions). */
export async function predictRegionsOn(models: ModelSource, tables: TableResolver, opts: RegionRunOptions): Promise<RegionJobResult> {
  if (models.count === 0) throw new JobError('no model given');
  // A shard's windows are a block of the job's, joined by `merge` from the genome job's shard files.
  if (opts.shard) throw new JobError('a shard is run by the genome job (runGenomeJob), not in memory');
  checkRegionJob(opts);
  // Cheap checks first: every region against the genome before any model is loaded.
  const chromSizes = await regionChromSizes(opts.genome, opts.regions);
  const windows = new MemoryWindows();
  let maps: MemoryMaps | undefined;
  const run = await runRegionJob(opts, {
    models,
    tables,
    chromSizes,
    storage: (_, attention) => {
      maps = attention && new MemoryMaps(attention);
      return { windows, maps };
    },
  });
  const { setup } = run.ensemble;
  const values = windows.values(run.layout);
  const att = run.attention;
  return {
    head: setup.head,
    binSize: setup.geometry.binSize,
    windowLength: setup.geometry.length,
    tracks: run.ensemble.tracks,
    table: run.ensemble.table,
    results: run.plans.map((plan, i) => ({ plan, values: values[i]! })),
    chromSizes,
    ensemble: run.layout.ensemble,
    windows: run.plans.reduce((a, p) => a + p.windows.length, 0),
    attention: att && maps && { map: { data: maps.data, shape: att.shape, layers: att.layers, heads: att.heads, rows: att.rows }, records: att.records, resolution: att.resolution },
  };
}

/** Window sums in memory (the library's and the page's form). */
export class MemoryWindows implements WindowStore {
  private readonly sums: Float64Array[] = [];

  // No resume in memory: one sum per window, whatever the pass.
  load(slot: number, _pass: number): Float64Array {
    return this.sums[slot]!;
  }

  save(slot: number, _pass: number, sum: Float64Array): void {
    this.sums[slot] = sum;
  }

  /** Per plan (in layout order), its written bins' ensemble means, [plan.bins, tracks]. */
  values(layout: WindowLayout): Float32Array[] {
    const per = layout.windowBins * layout.tracks;
    let slot = 0;
    return layout.plans.map((plan) => {
      const values = new Float32Array(plan.bins * layout.tracks);
      const first = plan.firstBin * layout.tracks;
      for (let i = 0; i < values.length; i++) {
        const g = first + i;
        values[i] = this.sums[slot + Math.floor(g / per)]![g % per]! / layout.ensemble;
      }
      slot += plan.windows.length;
      return values;
    });
  }
}

/** Attention maps in memory. */
export class MemoryMaps implements MapStore {
  readonly data: Float32Array;
  private readonly per: number;

  constructor(layout: AttentionLayout) {
    this.data = new Float32Array(layout.elements);
    this.per = layout.elements / layout.records.length;
  }

  put(record: number, map: Float32Array): void {
    this.data.set(map, record * this.per);
  }
}
