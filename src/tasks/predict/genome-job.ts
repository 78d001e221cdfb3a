/**
 * The genome job: the region job (region-job.ts) with its stores on disk, resumable, writing files.
 * Each window's ensemble goes to a scratch file in the staging directory `<out>.partial/` as soon as
 * it is complete, and the outputs are made from that file at the end (region-writers.ts). Memory
 * holds one batch and its windows (with trunk reuse, also the previous window's trunk outputs and at most
 * a stretch tile per ensemble run: trunk-reuse.ts), whatever the region lengths and the number of regions; disk holds
 * the scratch (bins × tracks × 4 bytes, 8 when several models are averaged) until the outputs are done.
 *
 * Resume: progress is recorded after each batch as (model pass, batches done), with the running sum
 * of a window the batch boundary splits. A killed run started again with the same command continues
 * at that batch and so makes the same model calls as an uninterrupted run (trunk reuse included: its
 * tiles depend on the plan's geometry only): the outputs are byte-identical, and only the remaining
 * batches run.
 *
 * Shards (`shard`, genome-shards.ts): the same job on a block of the one run's windows, writing a
 * shard file (its rows) instead of the track files; `seq2track merge` writes the tracks from them.
 */
import { regionChromSizes } from '../../genome/regions.js';
import type { Track } from '../../formats/targets.js';
import { checkBatchSize, JobError } from '../job/ensemble.js';
import { JobDir, type Fingerprint } from '../job/job-dir.js';
import { PendingSum, type SplitProgress } from '../job/pending-sum.js';
import { modelDirectories, tables } from '../job/model-dirs.js';
import { checkRegionJob, runRegionJob, type RegionAttention } from './region-job.js';
import { emitRegionOutputs } from './region-writers.js';
import { byChromThenStart, type RegionOutputKind } from './output-kind.js';
import { regionLoadOptions, type RegionJobOptions } from './regions.js';
import { ScratchMaps, ScratchWindows, windowRows } from './region-scratch.js';
import { writeShardFile } from './genome-shards.js';

export interface GenomeJobOptions extends RegionJobOptions {
  /** The output; with `shard`, the shard file (genome-shards.ts `shardPath`). */
  out: string;
  /** The output kind; with `shard`, the kind of the run's output the shards are merged into. */
  kind: RegionOutputKind;
  /** Of this job (with `shard`, the shard included: each shard has its own staging directory). */
  fingerprint: Fingerprint;
  /** With `shard`: the unsharded run's fingerprint, the same for all its shards (merge checks it). */
  runFingerprint?: Fingerprint;
  /** Writes the maps (e.g. the attention file and its plot) before the staging directory goes; returns the files written. */
  writeAttention?: (attention: RegionAttention) => Promise<string[]>;
  /** Called once, before any model runs, when the job continues an earlier run. */
  onResume?: (done: number, total: number) => void;
}

export interface GenomeJobResult {
  head: string;
  tracks: Track[];
  ensemble: number;
  windows: number;
  bins: number;
  files: string[];
  /** Model runs done by earlier runs of this job (0 for a fresh one). */
  resumedAt: number;
  /** Model runs done by this invocation. */
  ran: number;
}

export async function runGenomeJob(opts: GenomeJobOptions): Promise<GenomeJobResult> {
  if (opts.models.length === 0) throw new JobError('no model given');
  checkRegionJob(opts);
  const chromSizes = await regionChromSizes(opts.genome, opts.regions);

  // The output's place is checked (and claimed) before any model is loaded.
  const job = JobDir.open<SplitProgress>(opts.out, opts.fingerprint);
  let windows: ScratchWindows | undefined;
  let maps: ScratchMaps | undefined;
  try {
    const pending = new PendingSum(job);
    const run = await runRegionJob(opts, {
      models: modelDirectories(opts.models, regionLoadOptions(opts)),
      tables: tables(opts.targets, opts.cacheDir),
      chromSizes,
      order: (plans) => (opts.kind === 'bigwig' ? [...plans].sort(byChromThenStart) : plans),
      storage: (layout, attention) => {
        windows = new ScratchWindows(job.file('windows.bin'), layout, job.path);
        maps = attention && new ScratchMaps(job.file('attention.f32'), attention);
        return {
          windows,
          maps,
          resume: {
            start: pending.start() ?? { model: 0, batches: 0 },
            commit: (p) => pending.commit(p),
            onResume: opts.onResume,
          },
        };
      },
    });
    const { setup } = run.ensemble;
    const files = opts.shard
      ? [
          writeShardFile(job.path, opts.out, {
            shard: opts.shard,
            run: opts.runFingerprint ?? opts.fingerprint,
            kind: opts.kind,
            head: setup.head,
            tracks: run.ensemble.tracks,
            regions: opts.regions,
            chromSizes,
            geometry: setup.geometry,
            ensemble: run.layout.ensemble,
            runsPerWindow: run.ensemble.runs.length,
            batchSize: checkBatchSize(opts.batchSize),
            windows: run.layout.range,
            total: run.layout.plans.reduce((a, p) => a + p.windows.length, 0),
          }, windows!.rows()),
        ]
      : await emitRegionOutputs({
          staging: job.path,
          out: opts.out,
          kind: opts.kind,
          rows: windows!.rows(),
          head: setup.head,
          tracks: run.ensemble.tracks,
          chromSizes,
          binSize: setup.geometry.binSize,
          windowLength: setup.geometry.length,
          ensemble: run.layout.ensemble,
        });
    const att = run.attention;
    if (att && maps && opts.writeAttention) {
      const map = { data: maps.read(), shape: att.shape, layers: att.layers, heads: att.heads, rows: att.rows };
      files.push(...(await opts.writeAttention({ map, records: att.records, resolution: att.resolution })));
    }
    windows?.close();
    maps?.close();
    windows = maps = undefined;
    job.remove();
    return {
      head: setup.head,
      tracks: run.ensemble.tracks,
      ensemble: run.layout.ensemble,
      windows: run.layout.range[1] - run.layout.range[0],
      bins: opts.shard ? [...windowRows(run.layout.plans, run.layout.windowBins, run.layout.range)].reduce((a, w) => a + w.hi - w.lo, 0) : run.layout.plans.reduce((a, p) => a + p.bins, 0),
      files,
      resumedAt: run.resumedAt,
      ran: run.ran,
    };
  } catch (e) {
    windows?.close();
    maps?.close();
    job.abandon();
    throw e;
  }
}
