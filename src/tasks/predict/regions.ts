/**
 * `predictRegions`: the region job in memory on model directories (Node), loaded one at a time.
 * The streaming, resumable form that writes files is the genome job (genome-job.ts); the bytes
 * `writeRegionOutputs` makes from this result are those of the genome job.
 */
import { modelDirectories, tables } from '../job/model-dirs.js';
import type { RegionRunOptions } from './region-job.js';
import { predictRegionsOn, type RegionJobResult } from './regions-in-memory.js';

export type { RegionJobResult, RegionResult } from './regions-in-memory.js';
export type { RegionAttention, WindowRecord } from './region-job.js';
export { writeRegionOutputs } from './region-writers.js';

export interface RegionJobOptions extends RegionRunOptions {
  /** Model directories; more than one are averaged (replicates of one architecture and head). */
  models: string[];
}

/** The load options a region job's models need: attention outputs and logits only when asked for. */
export function regionLoadOptions(opts: RegionJobOptions): RegionJobOptions['load'] {
  return { ...opts.load, attention: opts.attention?.spec, logits: opts.output === 'logits' };
}

export function predictRegions(opts: RegionJobOptions): Promise<RegionJobResult> {
  return predictRegionsOn(modelDirectories(opts.models, regionLoadOptions(opts)), tables(opts.targets, opts.cacheDir), opts);
}
