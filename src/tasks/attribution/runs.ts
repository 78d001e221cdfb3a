/**
 * What `attribute` and `ism` share: the objective checked against the first model, and the plan of
 * their runs through the run core (models one at a time, each with every shift × strand run, the
 * records in groups), each run measuring the objective in its own coordinates.
 *
 * Coordinates: a run sees the sequence shifted by `shift` bp (N-filled, as `predict --shifts`), then
 * reverse-complemented when `rc`. Forward position p is run position p + shift, mirrored to
 * L - 1 - (p + shift) on the reverse strand, where base k (A,C,G,T = 0..3) reads as 3 - k.
 */
import type { TargetsTable } from '../../formats/targets.js';
import type { EnsembleOptions, Setup } from '../job/ensemble.js';
import { openModels } from '../job/model-dirs.js';
import { runBatches, type Batch, type Ensemble, type RunInput } from '../job/run-core.js';
import type { Model } from '../../models/model.js';
import type { SequenceRecord } from './ism.js';
import { centralBins, checkBins, checkPseudocount, type Aggregate, type ResolvedObjective } from './objective.js';

export interface AttributionOptions extends EnsembleOptions {
  /** Output bins of the objective, 0-based inclusive (default: the central bin(s)). */
  bins?: [number, number];
  aggregate?: Aggregate;
  logPseudocount?: number;
}

export interface PreparedJob {
  objective: ResolvedObjective;
  setup: Setup;
  table: TargetsTable;
  /** Runs averaged (models × shifts × strands). */
  ensemble: number;
}

/** Loads the first model and resolves the objective for sequences of `length` bp (`what` names them in errors). */
export async function openAttribution(opts: AttributionOptions, length: number, what: string): Promise<{ ensemble: Ensemble; job: PreparedJob }> {
  checkPseudocount(opts.logPseudocount);
  const ensemble = await openModels(opts, { windowLength: length, lengthWhat: what });
  try {
    const { setup } = ensemble;
    const outputBins = setup.geometry.bins;
    const bins = opts.bins ?? centralBins(outputBins);
    checkBins(bins, outputBins);
    const objective: ResolvedObjective = { head: setup.head, tracks: ensemble.tracks, bins, outputBins, aggregate: opts.aggregate ?? 'mean', logPseudocount: opts.logPseudocount };
    return { ensemble, job: { objective, setup, table: ensemble.table, ensemble: ensemble.size } };
  } catch (e) {
    await ensemble.schedule.close();
    throw e;
  }
}

/** Every model, then every run, then the groups of units: the order `attribute` and `ism` run in. */
function* runPlan<U>(ensemble: Ensemble, groups: U[][]): Generator<Batch<U>> {
  for (let model = 0; model < ensemble.schedule.count; model++) {
    for (const run of ensemble.runs) for (const g of groups) yield { model, items: g.map((unit) => ({ unit, run })) };
  }
}

/**
 * Runs the records (by index, in `groups` that share a model run) through every model and ensemble
 * run: `request` computes with the run's objective in `job`, `sink` takes the result; progress counts
 * records × runs. Returns the job.
 */
export async function runRecords<R>(
  opts: AttributionOptions & { onProgress?: (done: number, total: number) => void },
  records: SequenceRecord[],
  length: number,
  source: string,
  groups: number[][],
  request: (model: Model, input: RunInput, batch: Batch<number>, job: PreparedJob) => Promise<R>,
  sink: (result: R, batch: Batch<number>) => void,
): Promise<PreparedJob> {
  const { ensemble, job } = await openAttribution(opts, length, `${source}: records`);
  try {
    const total = job.ensemble * records.length;
    let done = 0;
    opts.onProgress?.(0, total);
    await runBatches({
      schedule: ensemble.schedule,
      batches: runPlan(ensemble, groups),
      sequence: (r) => records[r]!.sequence,
      request: (model, input, batch) => request(model, input, batch, job),
      sink: (result, batch) => {
        sink(result, batch);
        done += batch.items.length;
        opts.onProgress?.(done, total);
      },
    });
    return job;
  } finally {
    await ensemble.schedule.close();
  }
}
