/**
 * Evaluation as the Enformer paper reports it: per-track Pearson r between a head's predictions and
 * the targets derived from the user's bigWigs, over all bins of all windows of a BED file (bins past
 * a chromosome end left out), on raw values and on log1p of them.
 */
import { loadModel, type LoadOptions } from '../models/load.js';
import { Model } from '../models/model.js';
import type { Reference } from '../genome/reference.js';
import { readTrainingTable, TrackCoverage, TrackCoverageError } from '../formats/track-coverage.js';
import { PearsonAccumulator, summarise } from '../train/metrics.js';
import { setupFor } from './ensemble.js';
import { bedWindows, windowSequence, windowTargets } from './training-data.js';

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
  const model = await loadModel(opts.model, opts.load);
  try {
    const setup = setupFor(model, opts.head, opts.windowLength, false);
    const K = setup.headTracks;
    if (training.tracks.length !== K) {
      throw new TrackCoverageError(`${opts.targets}: the targets table has ${training.tracks.length} rows but the ${setup.head} head has ${K} tracks`);
    }
    const g = setup.geometry;
    const windows = await bedWindows(opts.bed, opts.genome, g);
    const coverage = await TrackCoverage.open(training);
    const acc = new PearsonAccumulator(K);
    const batchSize = opts.batchSize ?? 1;
    opts.onProgress?.(0, windows.length);
    for (let i = 0; i < windows.length; i += batchSize) {
      const batch = windows.slice(i, i + batchSize);
      const seqs = await Promise.all(batch.map((w) => windowSequence(opts.genome, w, g.length)));
      const out = (await model.predict(Model.encode(seqs), { heads: [setup.head] })).heads[setup.head]!;
      for (const [j, w] of batch.entries()) {
        const targets = await windowTargets(coverage, w, g);
        const [a, b] = [w.firstValid * K, w.endValid * K];
        acc.add(out.data.subarray(j * g.bins * K + a, j * g.bins * K + b), targets.subarray(a, b));
      }
      opts.onProgress?.(i + batch.length, windows.length);
    }
    const r = acc.pearson();
    const rl = acc.pearsonLog1p();
    const tracks = training.table.tracks.map((t, k) => ({ index: k, identifier: t.identifier, description: t.description, pearson: r[k]!, pearsonLog1p: rl[k]! }));
    const { mean, median } = summarise(r);
    return { head: setup.head, tracks, bins: acc.bins, windows: windows.length, pearsonMean: mean, pearsonMedian: median };
  } finally {
    await model.close();
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
