/**
 * What `attribute` and `ism` share: the objective checked against the first model, replicate models
 * loaded one at a time (never two in memory), and every ensemble run (model × shift × strand) handed
 * to the caller with the objective that run measures.
 *
 * Coordinates: a run sees the sequence shifted by `shift` bp (N-filled, as `predict --shifts`), then
 * reverse-complemented when `rc`. Forward position p is run position p + shift, mirrored to
 * L - 1 - (p + shift) on the reverse strand, where base k (A,C,G,T = 0..3) reads as 3 - k.
 */
import { loadModel } from '../models/load.js';
import type { Model } from '../models/model.js';
import { reverseComplement, shiftSequence } from '../genome/sequence.js';
import { selectTracks, type TargetsTable } from '../formats/targets.js';
import { checkShifts, RegionJobError, sameSetup, setupFor, tableFor, type EnsembleOptions, type Setup } from './ensemble.js';
import { centralBins, checkBins, checkPseudocount, runObjective, type Aggregate, type Objective, type ResolvedObjective } from './objective.js';

export interface AttributionOptions extends EnsembleOptions {
  /** Output bins of the objective, 0-based inclusive (default: the central bin(s)). */
  bins?: [number, number];
  aggregate?: Aggregate;
  logPseudocount?: number;
}

export interface EnsembleRun {
  model: Model;
  shift: number;
  rc: boolean;
  /** The objective in this run's coordinates. */
  objective: Objective;
}

export interface PreparedJob {
  objective: ResolvedObjective;
  setup: Setup;
  table: TargetsTable;
  /** Runs averaged (models × shifts × strands). */
  ensemble: number;
}

/** The sequence a run sees. */
export function runSequence(seq: string, shift: number, rc: boolean): string {
  const s = shiftSequence(seq, shift);
  return rc ? reverseComplement(s) : s;
}

/** Run position of forward position `p` in a sequence of `length` bp, or -1 when shifted out. */
export function runPosition(p: number, length: number, shift: number, rc: boolean): number {
  const q = p + shift;
  if (q < 0 || q >= length) return -1;
  return rc ? length - 1 - q : q;
}

/**
 * Loads the first model, resolves the objective for sequences of `length` bp, lets `check` reject
 * bad input before any model run, then calls `body` for every ensemble run.
 */
export async function forEachRun(
  opts: AttributionOptions,
  length: number,
  what: string,
  check: (job: PreparedJob, model: Model) => void,
  body: (run: EnsembleRun, job: PreparedJob) => Promise<void>,
): Promise<PreparedJob> {
  if (opts.models.length === 0) throw new RegionJobError('no model given');
  const shifts = checkShifts(opts.shifts);
  checkPseudocount(opts.logPseudocount);
  const strands = opts.rc ? [false, true] : [false];
  let model = await loadModel(opts.models[0]!, opts.load);
  let closed = false;
  try {
    model.checkLength(length, what);
    const setup = setupFor(model, opts.head, length, opts.rc === true);
    const table = await tableFor(setup.kind, setup.head, setup.headTracks, opts.targets, opts.cacheDir);
    const tracks = selectTracks(table, opts.tracks);
    const outputBins = setup.geometry.bins;
    const bins = opts.bins ?? centralBins(outputBins);
    checkBins(bins, outputBins);
    const objective: ResolvedObjective = { head: setup.head, tracks, bins, outputBins, aggregate: opts.aggregate ?? 'mean', logPseudocount: opts.logPseudocount };
    const job: PreparedJob = { objective, setup, table, ensemble: opts.models.length * shifts.length * strands.length };
    check(job, model);
    for (let m = 0; m < opts.models.length; m++) {
      if (m > 0) {
        model = await loadModel(opts.models[m]!, opts.load);
        closed = false;
        model.checkLength(length, what);
        sameSetup(setup, setupFor(model, setup.head, length, opts.rc === true), opts.models[m]!);
      }
      for (const shift of shifts) {
        for (const rc of strands) await body({ model, shift, rc, objective: runObjective(objective, rc) }, job);
      }
      await model.close();
      closed = true;
    }
    return job;
  } finally {
    if (!closed) await model.close();
  }
}
