/**
 * LOCAL STUB (branch `variants` only): the interface of the Parquet/HDF5 score writers written on
 * another branch, so this branch compiles. Replace with the real module on merge.
 */
export interface ScoreColumns {
  chrom: string;
  pos: number;
  id: string;
  ref: string;
  alt: string;
}
export type ScoreStat = 'SAD' | 'SAR' | 'D2' | 'SAX';
export const SCORE_STATS: readonly ScoreStat[] = ['SAD', 'SAR', 'D2', 'SAX'];

export interface ScoreWriter {
  write(variant: ScoreColumns, stats: Record<ScoreStat, Float32Array>): Promise<void>;
  close(): Promise<void>;
}

export interface ScoreTrack {
  identifier: string;
  description: string;
}

export class ScoreWriterError extends Error {}

export async function openParquetScores(path: string, _tracks: ScoreTrack[]): Promise<ScoreWriter> {
  throw new ScoreWriterError(`${path}: Parquet output is not built on this branch (stub)`);
}

export async function openH5Scores(path: string, _tracks: ScoreTrack[]): Promise<ScoreWriter> {
  throw new ScoreWriterError(`${path}: HDF5 output is not built on this branch (stub)`);
}
