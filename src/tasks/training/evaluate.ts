/**
 * Evaluation as the Enformer paper reports it: per-track Pearson r between a head's predictions and
 * the targets derived from the user's bigWigs, over all bins of all windows of a BED file (bins past
 * a chromosome end left out), on raw values and on log1p of them.
 */
import type { LoadOptions } from '../../models/load.js';
import type { Reference } from '../../genome/reference.js';
import { readTrainingTable, TrackCoverage, TrackCoverageError } from '../../formats/track-coverage.js';
import { PearsonAccumulator, summarise } from '../../train/metrics.js';
import { checkBatchSize } from '../job/ensemble.js';
import { modelDirectories } from '../job/model-dirs.js';
import { cut, openEnsemble, runBatches } from '../job/run-core.js';
import { bedWindows, windowSequence, windowTargets, type TrainingWindow } from './training-data.js';

export interface EvaluateOptions {
  model: string;
  genome: Reference;
  /** Targets table with one bigWig per track of the head. */
  targets: string;
  bed: string;
  head?: string;
  windowLength?: number;
  batchSize?: number;
  load?: LoadOptions;
  onProgress?: (done: number, total: number) => void;
}

export interface TrackScore {
  index: number;
  identifier: string;
  description: string;
  pearson: number;
  pearsonLog1p: number;
}

export interface EvaluateResult {
  head: string;
  tracks: TrackScore[];
  bins: number;
  windows: number;
  pearsonMean: number;
  pearsonMedian: number;
}

export async function evaluate(opts: EvaluateOptions): Promise<EvaluateResult> {
  const training = await readTrainingTable(opts.targets);
  const batchSize = checkBatchSize(opts.batchSize);
  // The table is the training table: one bigWig per track of the head.
  const ensemble = await openEnsemble(modelDirectories([opts.model], opts.load), { head: opts.head, windowLength: opts.windowLength }, async (setup) => {
    if (training.tracks.length !== setup.headTracks) {
      throw new TrackCoverageError(`${opts.targets}: the targets table has ${training.tracks.length} rows but the ${setup.head} head has ${setup.headTracks} tracks`);
    }
    return training.table;
  });
  try {
    const { setup } = ensemble;
    const K = setup.headTracks;
    const g = setup.geometry;
    const windows = await bedWindows(opts.bed, opts.genome, g);
    const coverage = await TrackCoverage.open(training);
    const acc = new PearsonAccumulator(K);
    let done = 0;
    opts.onProgress?.(0, windows.length);
    await runBatches({
      schedule: ensemble.schedule,
      batches: cut(windows.map((unit) => ({ unit, run: ensemble.runs[0]! })), batchSize, 0),
      sequence: (w: TrainingWindow) => windowSequence(opts.genome, w, g.length),
      request: (model, { input }) => model.predict(input, { heads: [setup.head] }),
      sink: async (p, batch) => {
        const out = p.heads[setup.head]!;
        for (const [j, { unit: w }] of batch.items.entries()) {
          const targets = await windowTargets(coverage, w, g);
          const [a, b] = [w.firstValid * K, w.endValid * K];
          acc.add(out.data.subarray(j * g.bins * K + a, j * g.bins * K + b), targets.subarray(a, b));
        }
        done += batch.items.length;
        opts.onProgress?.(done, windows.length);
      },
    });
    const r = acc.pearson();
    const rl = acc.pearsonLog1p();
    const tracks = training.table.tracks.map((t, k) => ({ index: k, identifier: t.identifier, description: t.description, pearson: r[k]!, pearsonLog1p: rl[k]! }));
    const { mean, median } = summarise(r);
    return { head: setup.head, tracks, bins: acc.bins, windows: windows.length, pearsonMean: mean, pearsonMedian: median };
  } finally {
    await ensemble.schedule.close();
  }
}

/** The TSV of an evaluation: one row per track. */
export function evaluationTsv(result: EvaluateResult): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(6) : 'NaN');
  const rows = result.tracks.map((t) => `${t.index}\t${t.identifier}\t${t.description}\t${f(t.pearson)}\t${f(t.pearsonLog1p)}`);
  return ['index\tidentifier\tdescription\tpearson\tpearson_log1p', ...rows].join('\n') + '\n';
}

export function resultLine(r: EvaluateResult): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(6) : 'NaN');
  return `RESULT pearson_mean=${f(r.pearsonMean)} pearson_median=${f(r.pearsonMedian)} tracks=${r.tracks.length} bins=${r.bins}`;
}
