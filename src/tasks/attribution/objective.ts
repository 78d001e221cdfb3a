/**
 * The scalar that `attribute` differentiates and `ism` perturbs: per sequence, over the chosen tracks
 * of one head, a_t = mean (or sum) of the head output over the chosen output bins, optionally
 * log(a_t + pseudocount); the objective is the mean of a_t over the tracks.
 *
 * Ranges are 0-based and inclusive (`--bins 14-17` = bins 14, 15, 16, 17), as `--tracks` ranges are.
 * With no `--bins`, the objective reads the central output bin(s): the middle one of an odd count,
 * the middle two of an even count.
 *
 * Ensembling: a reverse-complement run reads the mirrored bins (b -> bins - 1 - b) of the stranded
 * twin of each track (`strand_pair`), so every run measures the same genomic quantity; the ensemble
 * objective is the mean of the runs' objectives (so its gradient is the mean of their gradients).
 */
import type { Objective } from '../../models/model.js';
import type { Track } from '../../formats/targets.js';

export type { Objective };

export class ObjectiveError extends Error {}

export type Aggregate = 'mean' | 'sum';

/** The objective in forward-strand terms, checked against the model's head and output. */
export interface ResolvedObjective {
  head: string;
  tracks: Track[];
  /** First and last output bin, 0-based inclusive. */
  bins: [number, number];
  /** Output bins of the window (the bins above lie in [0, outputBins)). */
  outputBins: number;
  aggregate: Aggregate;
  logPseudocount?: number;
}

/** Parses a 0-based inclusive range `a-b` (or a single `a`); `what` names the option in errors. */
export function parseRange(text: string, what: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  const a = Number(m?.[1]);
  const b = m?.[2] === undefined ? a : Number(m[2]);
  if (!m || !Number.isSafeInteger(a) || !Number.isSafeInteger(b)) throw new ObjectiveError(`${what} ${JSON.stringify(text)}: expected a-b (0-based, inclusive), e.g. 14-17`);
  if (b < a) throw new ObjectiveError(`${what} ${text}: the last index ${b} is before the first ${a}`);
  return [a, b];
}

/** The central bin of an odd count, the central two of an even count. */
export function centralBins(outputBins: number): [number, number] {
  const half = Math.floor(outputBins / 2);
  return outputBins % 2 === 1 ? [half, half] : [half - 1, half];
}

/** Throws unless bins [a, b] lie inside the window's output. */
export function checkBins(bins: [number, number], outputBins: number, what = '--bins'): void {
  if (bins[1] >= outputBins) throw new ObjectiveError(`${what} ${bins[0]}-${bins[1]}: outside the model output (${outputBins} bins, 0-${outputBins - 1})`);
}

/** Throws unless `x` is a usable log pseudocount. */
export function checkPseudocount(x: number | undefined): void {
  if (x !== undefined && !(Number.isFinite(x) && x >= 0)) throw new ObjectiveError(`--log-pseudocount ${x}: must be a finite number >= 0`);
}

/**
 * The objective one model run measures: the forward one as is; a reverse-complement run reads the
 * mirrored bins of each track's strand twin.
 */
export function runObjective(o: ResolvedObjective, rc: boolean): Objective {
  const bins: number[] = [];
  for (let b = o.bins[0]; b <= o.bins[1]; b++) bins.push(rc ? o.outputBins - 1 - b : b);
  return {
    head: o.head,
    tracks: o.tracks.map((t) => (rc ? t.strandPair : t.index)),
    bins,
    aggregate: o.aggregate,
    ...(o.logPseudocount !== undefined ? { logPseudocount: o.logPseudocount } : {}),
  };
}

/** The objective of batch item `j` of a head output [batch, bins, T] (in float64). */
export function objectiveOf(out: Float32Array, j: number, outputBins: number, T: number, o: Objective): number {
  let total = 0;
  for (const t of o.tracks) {
    let a = 0;
    for (const b of o.bins) a += out[(j * outputBins + b) * T + t]!;
    if (o.aggregate === 'mean') a /= o.bins.length;
    total += o.logPseudocount !== undefined ? Math.log(a + o.logPseudocount) : a;
  }
  return total / o.tracks.length;
}
