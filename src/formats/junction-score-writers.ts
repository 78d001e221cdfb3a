/**
 * Variant → splice-junction scores (`score-variants --scorer SpliceJunction`): one row per variant
 * (ALT), gene, junction and tissue track, as AlphaGenome's tidy scores list them (gene, strand,
 * junction_Start, junction_End, track, score).
 *
 * TSV:      chrom pos id ref alt gene gene_name strand junction_start junction_end track SpliceJunction
 *           (resumable, see score-tsv.ts; 7 significant digits). junction_start / junction_end are
 *           genome coordinates as upstream writes them: 0-based, end exclusive; the intron
 *           [donor + 1, acceptor) on "+", [acceptor + 1, donor) on "−".
 * Parquet:  the same columns (pos, junction_start, junction_end INT32; the score FLOAT), Snappy, a
 *           row group every ~2^20 rows; written to `path + '.partial'`, renamed by `close()`.
 *
 * No HDF5 layout: upstream has none for junctions, and the per-variant datasets of the other
 * layouts do not fit a varying number of junctions (the CLI refuses X.h5 for SpliceJunction).
 * The Parquet writer shares ordering, the failure latch, errors naming the file and abort() with
 * the other score writers (serial-writer.ts).
 */
import { ParquetOutput, ParquetRows, tracksMetadata } from './parquet-output.js';
import type { RowCheck } from './serial-writer.js';
import type { ScoreColumns, ScoreTrack } from './score-writers.js';
import { formatScore, type TsvScores } from './score-tsv.js';

/** One junction of a variant: its gene, genome coordinates and score per track. */
export interface JunctionScoreRow {
  gene: { id: string; name: string; strand: string };
  start: number;
  end: number;
  values: Float32Array;
}

/** Takes the junction rows of one variant (ALT) at a time. */
export interface JunctionWriter {
  write(variant: ScoreColumns, rows: JunctionScoreRow[]): Promise<void>;
  close(): Promise<void>;
  /** After a failure: closes the handles and removes the partial file (the TSV writer has none: it resumes). */
  abort?(): Promise<void>;
}

const KEY_COLUMNS = ['chrom', 'pos', 'id', 'ref', 'alt', 'gene', 'gene_name', 'strand', 'junction_start', 'junction_end', 'track'] as const;

export function junctionTsvHeader(column: string): string {
  return [...KEY_COLUMNS, column].join('\t') + '\n';
}

/** Whether a TSV's first line (with its newline) is a junction-score header. */
export function isJunctionTsvHeader(line: string): boolean {
  return /^chrom\tpos\tid\tref\talt\tgene\tgene_name\tstrand\tjunction_start\tjunction_end\ttrack\t[A-Za-z0-9_]+\n$/.test(line);
}

/** Rows of one variant as TSV text. */
export function junctionTsvRows(v: ScoreColumns, rows: JunctionScoreRow[], trackIds: string[]): string {
  const out: string[] = [];
  for (const { gene, start, end, values } of rows) {
    const prefix = `${v.chrom}\t${v.pos}\t${v.id}\t${v.ref}\t${v.alt}\t${gene.id}\t${gene.name}\t${gene.strand}\t${start}\t${end}\t`;
    trackIds.forEach((t, k) => out.push(`${prefix}${t}\t${formatScore(values[k]!)}\n`));
  }
  return out.join('');
}

/** The resumable TSV writer with the junction row layout. */
export function junctionTsvWriter(tsv: TsvScores, tracks: ScoreTrack[]): JunctionWriter {
  const ids = tracks.map((t) => t.identifier);
  return {
    write: async (v, rows) => tsv.append(junctionTsvRows(v, rows, ids)),
    close: () => tsv.close(),
  };
}

function checkJunctionRows(tracks: number): RowCheck<JunctionScoreRow[]> {
  return (rows) => {
    for (const { gene, start, end, values } of rows) {
      const where = `gene ${gene.id} junction ${start}-${end}`;
      if (!(values instanceof Float32Array) || values.length !== tracks) return `${where}: ${values?.length ?? 'no'} values, expected one per track (${tracks})`;
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > 2 ** 31 - 1) return `${where}: coordinates must be integers in [0, 2^31)`;
    }
    return undefined;
  };
}

const STRING_COLUMNS = ['chrom', 'id', 'ref', 'alt', 'gene', 'gene_name', 'strand', 'track'] as const;
type StringColumn = (typeof STRING_COLUMNS)[number];

class JunctionParquet extends ParquetRows<JunctionScoreRow[]> implements JunctionWriter {
  private strings = JunctionParquet.emptyStrings();
  private ints = { pos: [] as number[], junction_start: [] as number[], junction_end: [] as number[] };
  private scores: number[] = [];

  constructor(
    path: string,
    protected readonly out: ParquetOutput,
    private readonly trackIds: string[],
    private readonly column: string,
    private readonly groupRows: number,
  ) {
    super(path, 2 ** 31 - 1, checkJunctionRows(trackIds.length));
  }

  private static emptyStrings(): Record<StringColumn, string[]> {
    return Object.fromEntries(STRING_COLUMNS.map((c) => [c, []])) as unknown as Record<StringColumn, string[]>;
  }

  protected async add(v: ScoreColumns, rows: JunctionScoreRow[]): Promise<void> {
    const { strings, ints } = this;
    for (const { gene, start, end, values } of rows) {
      this.trackIds.forEach((t, k) => {
        strings.chrom.push(v.chrom);
        strings.id.push(v.id);
        strings.ref.push(v.ref);
        strings.alt.push(v.alt);
        strings.gene.push(gene.id);
        strings.gene_name.push(gene.name);
        strings.strand.push(gene.strand);
        strings.track.push(t);
        ints.pos.push(v.pos);
        ints.junction_start.push(start);
        ints.junction_end.push(end);
        this.scores.push(values[k]!);
      });
    }
    if (this.scores.length >= this.groupRows) await this.flushGroup();
  }

  protected async flushGroup(): Promise<void> {
    const rows = this.scores.length;
    if (rows === 0) return;
    const { strings, ints, scores } = this;
    this.strings = JunctionParquet.emptyStrings();
    this.ints = { pos: [], junction_start: [], junction_end: [] };
    this.scores = [];
    const column = (name: (typeof KEY_COLUMNS)[number]) =>
      name === 'pos' || name === 'junction_start' || name === 'junction_end' ? { name, data: Int32Array.from(ints[name]) } : { name, data: strings[name] };
    await this.out.write([...KEY_COLUMNS.map(column), { name: this.column, data: Float32Array.from(scores) }], rows);
  }
}

/** Junction scores as Parquet, long format (see the file comment). */
export async function openJunctionParquet(path: string, tracks: ScoreTrack[], column: string, groupRows = 2 ** 20): Promise<JunctionWriter> {
  const int = (name: string) => name === 'pos' || name === 'junction_start' || name === 'junction_end';
  const out = await ParquetOutput.open(
    path,
    [...KEY_COLUMNS.map((name) => ({ name, type: int(name) ? ('INT32' as const) : ('STRING' as const) })), { name: column, type: 'FLOAT' as const }],
    tracksMetadata(tracks),
  );
  return new JunctionParquet(path, out, tracks.map((t) => t.identifier), column, groupRows);
}
