/**
 * Variant → gene scores (one row per variant × gene × output track) in three formats, each written
 * to `path + '.partial'` (TSV: resumable, see score-tsv.ts) and complete only after `close()`:
 *
 * TSV:      chrom pos id ref alt gene gene_name track <one column per statistic>, 7 significant digits.
 * Parquet:  the same columns (pos INT32, statistics FLOAT), Snappy, a row group every ~2^20 rows.
 * sed.h5:   borzoi_sed.py's layout. N variants with genes, M (variant, gene) rows, T tracks:
 *           si int64 (M) row → variant index · gene |S (M) · snp chr ref_allele alt_allele |S (N) ·
 *           pos uint32 (N) · target_ids target_labels |S (T) · one float32 (M, T) dataset per
 *           statistic (upstream: float16 with SED clipped to ±65504). Statistics are appended as the
 *           run goes; what goes into the other columns waits in a side file (`path + '.partial.strings'`,
 *           one line per variant: its strings, pos and gene ids) and is copied in by `close()`. Those
 *           columns are contiguous datasets (so files stay byte-identical across versions), which
 *           h5wasm creates only from their whole data: the run holds only what one flush buffers,
 *           close() one column at a time (si and pos as typed arrays, a string column as JS strings
 *           and their bytes).
 *
 * The binary writers share ordering, the failure latch, errors naming the file and abort() with
 * the variant-score writers (serial-writer.ts).
 */
import { ParquetOutput, ParquetRows, tracksMetadata } from './parquet-output.js';
import { appendRows, chunkRows, fixedStrings, H5Output, statDatasets, trackTable, type H5Dataset } from './h5-output.js';
import { SerialWriter, type RowCheck } from './serial-writer.js';
import { snpName, type ScoreColumns, type ScoreTrack } from './score-writers.js';
import { formatScore, TsvScores } from './score-tsv.js';

/** One (variant, gene) result: per statistic, one value per output track. */
export interface GeneScoreRow {
  gene: { id: string; name: string };
  stats: Record<string, Float32Array>;
}

/** Takes the gene rows of one variant (ALT) at a time. */
export interface GeneWriter {
  write(variant: ScoreColumns, rows: GeneScoreRow[]): Promise<void>;
  close(): Promise<void>;
  /** After a failure: closes the handles and removes the partial and side files (the TSV writer has none: it resumes). */
  abort?(): Promise<void>;
}

type GeneStat = string;
type GeneRow = GeneScoreRow;

export function geneTsvHeader(stats: readonly GeneStat[]): string {
  return ['chrom', 'pos', 'id', 'ref', 'alt', 'gene', 'gene_name', 'track', ...stats].join('\t') + '\n';
}

/** Whether a TSV's first line (with its newline) is a gene-score header (borzoi_sed statistics or gene scorer columns). */
export function isGeneTsvHeader(line: string): boolean {
  return /^chrom\tpos\tid\tref\talt\tgene\tgene_name\ttrack(\t[A-Za-z0-9_]+)+\n$/.test(line);
}

/** Rows of one variant as TSV text. */
export function geneTsvRows(v: ScoreColumns, rows: GeneRow[], trackIds: string[], stats: readonly GeneStat[]): string {
  const out: string[] = [];
  for (const { gene, stats: values } of rows) {
    const prefix = `${v.chrom}\t${v.pos}\t${v.id}\t${v.ref}\t${v.alt}\t${gene.id}\t${gene.name}\t`;
    trackIds.forEach((t, k) => out.push(`${prefix}${t}\t${stats.map((s) => formatScore(values[s]![k]!)).join('\t')}\n`));
  }
  return out.join('');
}

/** The resumable TSV writer with the gene row layout. */
export function geneTsvWriter(tsv: TsvScores, tracks: ScoreTrack[], stats: readonly GeneStat[]): GeneWriter {
  const ids = tracks.map((t) => t.identifier);
  return {
    write: async (v, rows) => tsv.append(geneTsvRows(v, rows, ids, stats)),
    close: () => tsv.close(),
  };
}

function checkGeneRows(stats: readonly GeneStat[], tracks: number): RowCheck<GeneRow[]> {
  return (rows) => {
    for (const { gene, stats: values } of rows) {
      for (const s of stats) {
        const v = values[s];
        if (!(v instanceof Float32Array) || v.length !== tracks) return `gene ${gene.id}: ${s} has ${v?.length ?? 'no'} values, expected one per track (${tracks})`;
      }
    }
    return undefined;
  };
}

// ---------------------------------------------------------------------------------------------- Parquet

const STRING_COLUMNS = ['chrom', 'id', 'ref', 'alt', 'gene', 'gene_name', 'track'] as const;
type StringColumn = (typeof STRING_COLUMNS)[number];

class GeneParquet extends ParquetRows<GeneRow[]> implements GeneWriter {
  private strings = GeneParquet.emptyStrings();
  private pos: number[] = [];
  private values: Record<GeneStat, number[]>;

  constructor(
    path: string,
    protected readonly out: ParquetOutput,
    private readonly trackIds: string[],
    private readonly stats: readonly GeneStat[],
    private readonly groupRows: number,
  ) {
    super(path, 2 ** 31 - 1, checkGeneRows(stats, trackIds.length));
    this.values = this.emptyValues();
  }

  private static emptyStrings(): Record<StringColumn, string[]> {
    return Object.fromEntries(STRING_COLUMNS.map((c) => [c, []])) as unknown as Record<StringColumn, string[]>;
  }

  private emptyValues(): Record<GeneStat, number[]> {
    return Object.fromEntries(this.stats.map((s) => [s, []]));
  }

  protected async add(v: ScoreColumns, rows: GeneRow[]): Promise<void> {
    const { strings, pos, values } = this;
    for (const { gene, stats: st } of rows) {
      this.trackIds.forEach((t, k) => {
        strings.chrom.push(v.chrom);
        pos.push(v.pos);
        strings.id.push(v.id);
        strings.ref.push(v.ref);
        strings.alt.push(v.alt);
        strings.gene.push(gene.id);
        strings.gene_name.push(gene.name);
        strings.track.push(t);
        for (const s of this.stats) values[s]!.push(st[s]![k]!);
      });
    }
    if (pos.length >= this.groupRows) await this.flushGroup();
  }

  protected async flushGroup(): Promise<void> {
    const rows = this.pos.length;
    if (rows === 0) return;
    const { strings, pos, values } = this;
    this.strings = GeneParquet.emptyStrings();
    this.pos = [];
    this.values = this.emptyValues();
    await this.out.write(
      [
        { name: 'chrom', data: strings.chrom },
        { name: 'pos', data: Int32Array.from(pos) },
        ...STRING_COLUMNS.slice(1).map((name) => ({ name, data: strings[name] })),
        ...this.stats.map((s) => ({ name: s, data: Float32Array.from(values[s]!) })),
      ],
      rows,
    );
  }
}

/** Gene scores as Parquet, long format (see the file comment). */
export async function openGeneParquet(path: string, tracks: ScoreTrack[], stats: readonly GeneStat[], groupRows = 2 ** 20): Promise<GeneWriter> {
  const out = await ParquetOutput.open(
    path,
    [
      { name: 'chrom', type: 'STRING' },
      { name: 'pos', type: 'INT32' },
      ...STRING_COLUMNS.slice(1).map((name) => ({ name, type: 'STRING' as const })),
      ...stats.map((name) => ({ name, type: 'FLOAT' as const })),
    ],
    tracksMetadata(tracks),
  );
  return new GeneParquet(path, out, tracks.map((t) => t.identifier), stats, groupRows);
}

// -------------------------------------------------------------------------------------------------- sed.h5

/** One variant with genes in the side file: snp, chr, ref_allele, alt_allele, pos, its rows' gene ids. */
type SedLine = [snp: string, chr: string, ref: string, alt: string, pos: number, genes: string[]];

const VARIANT_STRINGS = ['snp', 'chr', 'ref_allele', 'alt_allele'] as const;

class SedH5 extends SerialWriter<GeneRow[]> implements GeneWriter {
  private readonly values: Record<GeneStat, Float32Array>;
  private buffered = 0;
  private written = 0;
  private variants = 0;

  constructor(
    path: string,
    private readonly out: H5Output<SedLine>,
    private readonly datasets: Record<GeneStat, H5Dataset>,
    private readonly stats: readonly GeneStat[],
    private readonly tracks: number,
    private readonly flushRows: number,
  ) {
    super(path, 2 ** 32 - 1, checkGeneRows(stats, tracks));
    this.values = Object.fromEntries(stats.map((s) => [s, new Float32Array(flushRows * tracks)]));
  }

  protected async add(v: ScoreColumns, rows: GeneRow[]): Promise<void> {
    // A variant without genes has no row to point at it: upstream lists only variants with genes.
    if (rows.length === 0) return;
    this.out.spill.push([snpName(v), v.chrom, v.ref, v.alt, v.pos, rows.map((r) => r.gene.id)]);
    this.variants++;
    for (const { stats: st } of rows) {
      for (const s of this.stats) this.values[s]!.set(st[s]!, this.buffered * this.tracks);
      // Flush boundaries may fall inside a variant's rows: they are those of the statistics' chunks.
      if (++this.buffered === this.flushRows) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    const n = this.buffered;
    if (n === 0) return;
    const to = this.written + n;
    for (const s of this.stats) appendRows(this.datasets[s]!, this.written, to, this.tracks, this.values[s]!.subarray(0, n * this.tracks));
    this.out.file.flush();
    await this.out.spill.flush();
    this.written = to;
    this.buffered = 0;
  }

  /** One column gathered from the side file (one pass over it). */
  private async column(pick: (line: SedLine) => string[]): Promise<string[]> {
    const values: string[] = [];
    for await (const line of this.out.spill.rows()) for (const s of pick(line)) values.push(s);
    return values;
  }

  /** si (row → variant index) and pos, from one pass over the side file. */
  private async variantIndex(): Promise<{ si: BigInt64Array; pos: Uint32Array }> {
    const si = new BigInt64Array(this.written);
    const pos = new Uint32Array(this.variants);
    let row = 0;
    let variant = 0;
    for await (const line of this.out.spill.rows()) {
      pos[variant] = line[4];
      si.fill(BigInt(variant++), row, row + line[5].length);
      row += line[5].length;
    }
    if (variant !== this.variants || row !== this.written) {
      this.fail(`${this.out.spill.path} holds ${variant} variants and ${row} rows, expected ${this.variants} and ${this.written}`);
    }
    return { si, pos };
  }

  protected async finish(): Promise<void> {
    await this.flush();
    await this.out.spill.close();
    const f = this.out.file;
    // The creation order decides where each dataset lands in the file: kept, so outputs stay byte-identical.
    const { si, pos } = await this.variantIndex();
    f.create_dataset({ name: 'si', data: si, dtype: '<q' });
    fixedStrings(f, 'gene', await this.column((line) => line[5]));
    for (const [i, name] of VARIANT_STRINGS.entries()) fixedStrings(f, name, await this.column((line) => [line[i] as string]));
    f.create_dataset({ name: 'pos', data: pos, dtype: '<I' });
    await this.out.commit();
  }

  protected discard(): Promise<void> {
    return this.out.discard();
  }
}

/** Gene scores as borzoi_sed.py's sed.h5 (see the file comment). */
export async function openSedH5(path: string, tracks: ScoreTrack[], stats: readonly GeneStat[], flushRows = Math.max(1, Math.ceil(2 ** 20 / tracks.length))): Promise<GeneWriter> {
  const T = tracks.length;
  const [out, datasets] = await H5Output.open<SedLine, Record<GeneStat, H5Dataset>>(path, (f) => {
    trackTable(f, tracks);
    const made = statDatasets(f, stats, T, chunkRows(flushRows, T));
    f.create_attribute('stat_dtype', 'float32');
    f.create_attribute('note', 'Layout of borzoi_sed.py sed.h5, but statistics are float32 (upstream: float16, SED clipped to ±65504); every ALT of a multi-allelic record is a variant.');
    f.create_attribute('writer', 'seq2track');
    return made;
  });
  return new SedH5(path, out, datasets, stats, T, flushRows);
}
