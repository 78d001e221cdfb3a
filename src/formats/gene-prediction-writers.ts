/**
 * `predict-genes` output: one row per gene × strand-matched track, as TSV or Parquet, with the
 * columns
 *   gene gene_name chrom start end strand bins track coverage
 * (TSV: coverage with 7 significant digits; Parquet: start, end, bins INT32, coverage DOUBLE,
 * Snappy, hyparquet-writer's default row groups). Written to `path + '.partial'`, renamed to `path`
 * when complete; a failure leaves no partial file.
 */
import { writeFile } from 'node:fs/promises';
import { writeAtomically } from './partial-file.js';
import { ParquetOutput, type ParquetColumn } from './parquet-output.js';
import { formatScore } from './score-tsv.js';
import { errorMessage, ScoreWriterError } from './serial-writer.js';

export const GENE_PREDICTION_COLUMNS = ['gene', 'gene_name', 'chrom', 'start', 'end', 'strand', 'bins', 'track', 'coverage'] as const;

export interface GenePredictionRow {
  /** gene_id. */
  geneId: string;
  geneName: string;
  chrom: string;
  /** 0-based start of the gene's first exon (of its span with `--span`). */
  start: number;
  /** End (exclusive) of its last exon. */
  end: number;
  strand: string;
  /** Exon bins counted. */
  bins: number;
  /** Output track identifier. */
  track: string;
  /** Summed untransformed coverage over the exon bins. */
  value: number;
}

export type GenePredictionKind = '.tsv' | '.parquet';

const PARQUET_COLUMNS: readonly ParquetColumn[] = [
  { name: 'gene', type: 'STRING' },
  { name: 'gene_name', type: 'STRING' },
  { name: 'chrom', type: 'STRING' },
  { name: 'start', type: 'INT32' },
  { name: 'end', type: 'INT32' },
  { name: 'strand', type: 'STRING' },
  { name: 'bins', type: 'INT32' },
  { name: 'track', type: 'STRING' },
  { name: 'coverage', type: 'DOUBLE' },
];

/** The TSV text: header and one line per row. */
export function genePredictionTsv(rows: readonly GenePredictionRow[]): string {
  const lines = rows.map((x) => [x.geneId, x.geneName, x.chrom, x.start, x.end, x.strand, x.bins, x.track, formatScore(x.value)].join('\t'));
  return [GENE_PREDICTION_COLUMNS.join('\t'), ...lines].join('\n') + '\n';
}

async function writeParquet(path: string, rows: readonly GenePredictionRow[]): Promise<void> {
  // Int32Array.from would wrap them silently.
  for (const x of rows) {
    for (const k of ['start', 'end', 'bins'] as const) {
      if (!Number.isInteger(x[k]) || x[k] < -(2 ** 31) || x[k] > 2 ** 31 - 1) throw new ScoreWriterError(`${path}: gene ${x.geneId}: ${k} ${x[k]} is not a 32-bit integer`);
    }
  }
  const out = await ParquetOutput.open(path, PARQUET_COLUMNS);
  try {
    await out.write([
      { name: 'gene', data: rows.map((x) => x.geneId) },
      { name: 'gene_name', data: rows.map((x) => x.geneName) },
      { name: 'chrom', data: rows.map((x) => x.chrom) },
      { name: 'start', data: Int32Array.from(rows, (x) => x.start) },
      { name: 'end', data: Int32Array.from(rows, (x) => x.end) },
      { name: 'strand', data: rows.map((x) => x.strand) },
      { name: 'bins', data: Int32Array.from(rows, (x) => x.bins) },
      { name: 'track', data: rows.map((x) => x.track) },
      { name: 'coverage', data: Float64Array.from(rows, (x) => x.value) },
    ]);
    await out.commit();
  } catch (e) {
    await out.discard();
    throw e instanceof ScoreWriterError ? e : new ScoreWriterError(`${path}: ${errorMessage(e)}`);
  }
}

/** Writes `rows` to `path` as `kind` (see the file comment). */
export async function writeGenePredictions(path: string, rows: readonly GenePredictionRow[], kind: GenePredictionKind): Promise<void> {
  if (kind === '.parquet') return writeParquet(path, rows);
  try {
    await writeAtomically(path, (partial) => writeFile(partial, genePredictionTsv(rows)));
  } catch (e) {
    throw new ScoreWriterError(`${path}: cannot write (${errorMessage(e)})`);
  }
}
