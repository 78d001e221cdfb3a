/**
 * Variant-score outputs in two binary formats, both written as the run goes with bounded memory, to
 * `path + '.partial'`, renamed to `path` only by `close()` (an interrupted run leaves no file that
 * looks complete).
 *
 * Parquet (long format, one row per variant × track, the TSV's columns and order):
 *   chrom pos id ref alt track (UTF-8 strings, pos INT32 = VCF POS) SAD SAR D2 SAX (FLOAT)
 *   (or, from `score-variants --scorer`, one FLOAT column per scorer instead of SAD … SAX)
 *   Snappy-compressed (pure JS), one row group per `rowGroupRows` rows rounded up to whole variants.
 *
 * HDF5 (the layout of the official precomputed scores, calico basenji_sad.py):
 *   snp chr ref alt      [variants]           fixed-length byte strings ('S<n>', n = longest value)
 *   pos                  [variants]           uint32 (VCF POS)
 *   target_ids, target_labels [targets]       fixed-length byte strings
 *   SAD SAR D2 SAX       [variants, targets]  float32 (official: float16, which h5wasm 0.10.3 cannot
 *                                             write); root attribute `stat_dtype` says so.
 *                                             (--scorer: one such dataset per scorer column)
 *   `snp` is the VCF ID, or `chrom:pos:ref:alt` when the ID is '.'. Stats and pos are chunked,
 *   resizable datasets appended every few hundred variants; the string columns go to a side file
 *   (`path + '.partial.strings'`) during the run, since a fixed-length string width is only known
 *   at the end, and are copied into the file in chunks by `close()`.
 *
 * Ordering, the failure latch, errors naming the file and abort() come from serial-writer.ts.
 */
import { ParquetOutput, ParquetRows, tracksMetadata } from './parquet-output.js';
import { appendRows, chunkRows, H5Output, statDatasets, trackTable, type H5Dataset, type H5File } from './h5-output.js';
import { SerialWriter, ScoreWriterError, type RowCheck } from './serial-writer.js';

export { ScoreWriterError } from './serial-writer.js';

export interface ScoreColumns {
  chrom: string;
  pos: number;
  id: string;
  ref: string;
  alt: string;
}
export const SCORE_STATS = ['SAD', 'SAR', 'D2', 'SAX'] as const;
export type ScoreStat = (typeof SCORE_STATS)[number];

/** Per statistic (SAD … SAX, or the scorer columns), one value per track. */
type Stats = Record<string, Float32Array>;

export interface ScoreWriter {
  /** One variant (one ALT): per stat, one value per track, in track order. */
  write(variant: ScoreColumns, stats: Stats): Promise<void>;
  /** Finishes the file; a writer that is never closed leaves no valid file under `path`. */
  close(): Promise<void>;
  /** After a failure: closes the handles and removes the partial files (optional: a resumable writer keeps them). */
  abort?(): Promise<void>;
}

export interface ScoreTrack {
  identifier: string;
  description: string;
}

export interface ScoreWriterOptions {
  /** Parquet: rows (variants × tracks) per row group, rounded up to whole variants. Default 2^20. */
  rowGroupRows?: number;
  /** HDF5: variants buffered before they are appended to the file. Default ≈ 2^20 values per stat. */
  flushVariants?: number;
  /** The value columns (default SAD, SAR, D2, SAX; the scorer columns for `--scorer`). */
  stats?: readonly string[];
}

/** `snp` of the official layout: the VCF ID, or chrom:pos:ref:alt when there is none. */
export function snpName(v: ScoreColumns): string {
  return v.id === '.' || v.id === '' ? `${v.chrom}:${v.pos}:${v.ref}:${v.alt}` : v.id;
}

function checkStats(tracks: number, names: readonly string[]): RowCheck<Stats> {
  return (stats) => {
    for (const stat of names) {
      const values = stats[stat];
      if (!(values instanceof Float32Array) || values.length !== tracks) {
        return `${stat} has ${values?.length ?? 'no'} values, expected one per track (${tracks})`;
      }
    }
    return undefined;
  };
}

function checkTracks(path: string, tracks: ScoreTrack[]): void {
  if (tracks.length === 0) throw new ScoreWriterError(`${path}: no tracks to write scores for`);
}

// ---------------------------------------------------------------------------------------------- Parquet

class ParquetScores extends ParquetRows<Stats> implements ScoreWriter {
  private readonly variants: { columns: ScoreColumns; stats: Stats }[] = [];

  constructor(
    path: string,
    protected readonly out: ParquetOutput,
    private readonly trackIds: string[],
    private readonly groupVariants: number,
    private readonly names: readonly string[],
  ) {
    super(path, 2 ** 31 - 1, checkStats(trackIds.length, names));
  }

  protected async add(variant: ScoreColumns, stats: Stats): Promise<void> {
    const copy = {} as Stats;
    for (const stat of this.names) copy[stat] = Float32Array.from(stats[stat]!);
    this.variants.push({ columns: { ...variant }, stats: copy });
    if (this.variants.length >= this.groupVariants) await this.flushGroup();
  }

  protected async flushGroup(): Promise<void> {
    const T = this.trackIds.length;
    const rows = this.variants.length * T;
    if (rows === 0) return;
    const chrom: string[] = new Array(rows);
    const id: string[] = new Array(rows);
    const ref: string[] = new Array(rows);
    const alt: string[] = new Array(rows);
    const track: string[] = new Array(rows);
    const pos = new Int32Array(rows);
    const values = Object.fromEntries(this.names.map((s) => [s, new Float32Array(rows)])) as Stats;
    let r = 0;
    for (const { columns, stats } of this.variants) {
      for (const stat of this.names) values[stat]!.set(stats[stat]!, r);
      for (let t = 0; t < T; t++, r++) {
        chrom[r] = columns.chrom;
        pos[r] = columns.pos;
        id[r] = columns.id;
        ref[r] = columns.ref;
        alt[r] = columns.alt;
        track[r] = this.trackIds[t]!;
      }
    }
    this.variants.length = 0;
    await this.out.write(
      [
        { name: 'chrom', data: chrom },
        { name: 'pos', data: pos },
        { name: 'id', data: id },
        { name: 'ref', data: ref },
        { name: 'alt', data: alt },
        { name: 'track', data: track },
        ...this.names.map((s) => ({ name: s, data: values[s]! })),
      ],
      rows,
    );
  }
}

/** Variant scores as Parquet, long format: one row per variant and track (see the file comment). */
export async function openParquetScores(path: string, tracks: ScoreTrack[], options: ScoreWriterOptions = {}): Promise<ScoreWriter> {
  checkTracks(path, tracks);
  const names = options.stats ?? SCORE_STATS;
  const rowGroupRows = options.rowGroupRows ?? 2 ** 20;
  const out = await ParquetOutput.open(
    path,
    [
      { name: 'chrom', type: 'STRING' },
      { name: 'pos', type: 'INT32' },
      ...['id', 'ref', 'alt', 'track'].map((name) => ({ name, type: 'STRING' as const })),
      ...names.map((name) => ({ name, type: 'FLOAT' as const })),
    ],
    tracksMetadata(tracks),
  );
  const groupVariants = Math.max(1, Math.ceil(rowGroupRows / tracks.length));
  return new ParquetScores(path, out, tracks.map((t) => t.identifier), groupVariants, names);
}

// ------------------------------------------------------------------------------------------------- HDF5

const STRING_COLUMNS = ['snp', 'chr', 'ref', 'alt'] as const;

/** One variant's string columns, in STRING_COLUMNS order. */
type StringRow = string[];

class H5Scores extends SerialWriter<Stats> implements ScoreWriter {
  private readonly pos: Uint32Array;
  private readonly values: Stats;
  private readonly widths = STRING_COLUMNS.map(() => 1);
  private buffered = 0;
  private written = 0;

  constructor(
    path: string,
    private readonly tracks: number,
    private readonly out: H5Output<StringRow>,
    private readonly datasets: { pos: H5Dataset; stats: Record<string, H5Dataset> },
    private readonly flushVariants: number,
    private readonly names: readonly string[],
  ) {
    super(path, 2 ** 32 - 1, checkStats(tracks, names));
    this.pos = new Uint32Array(flushVariants);
    this.values = Object.fromEntries(names.map((s) => [s, new Float32Array(flushVariants * tracks)])) as Stats;
  }

  protected async add(variant: ScoreColumns, stats: Stats): Promise<void> {
    const strings = [snpName(variant), variant.chrom, variant.ref, variant.alt];
    strings.forEach((s, i) => (this.widths[i] = Math.max(this.widths[i]!, Buffer.byteLength(s, 'utf8'))));
    this.out.spill.push(strings);
    this.pos[this.buffered] = variant.pos;
    for (const stat of this.names) this.values[stat]!.set(stats[stat]!, this.buffered * this.tracks);
    if (++this.buffered === this.flushVariants) await this.flush();
  }

  private async flush(): Promise<void> {
    const n = this.buffered;
    if (n === 0) return;
    const [from, to] = [this.written, this.written + n];
    appendRows(this.datasets.pos, from, to, 0, this.pos.subarray(0, n));
    for (const stat of this.names) appendRows(this.datasets.stats[stat]!, from, to, this.tracks, this.values[stat]!.subarray(0, n * this.tracks));
    this.out.file.flush();
    await this.out.spill.flush();
    this.buffered = 0;
    this.written = to;
  }

  protected async finish(): Promise<void> {
    await this.flush();
    await this.out.spill.close();
    const total = this.written;
    const chunk = Math.max(1, Math.min(total, 1 << 14));
    const columns = STRING_COLUMNS.map((name, i) =>
      this.out.file.create_dataset({ name, data: [], shape: [0], maxshape: [null], chunks: [chunk], dtype: `S${this.widths[i]}` }),
    );
    let batch: StringRow[] = [];
    let at = 0;
    const append = () => {
      if (batch.length === 0) return;
      const to = at + batch.length;
      columns.forEach((d, i) => appendRows(d, at, to, 0, batch.map((row) => row[i]!)));
      at = to;
      batch = [];
    };
    for await (const row of this.out.spill.rows()) {
      batch.push(row);
      if (batch.length === chunk) append();
    }
    append();
    if (at !== total) this.fail(`${this.out.spill.path} holds ${at} variants, expected ${total}`);
    await this.out.commit();
  }

  protected discard(): Promise<void> {
    return this.out.discard();
  }
}

/** Variant scores as HDF5 in the official precomputed-scores layout (see the file comment). */
export async function openH5Scores(path: string, tracks: ScoreTrack[], options: ScoreWriterOptions = {}): Promise<ScoreWriter> {
  checkTracks(path, tracks);
  const names = options.stats ?? SCORE_STATS;
  const scorers = options.stats !== undefined;
  const T = tracks.length;
  const flushVariants = Math.max(1, options.flushVariants ?? Math.ceil(2 ** 20 / T));
  const chunk = chunkRows(flushVariants, T);
  const [out, datasets] = await H5Output.open<StringRow, { pos: H5Dataset; stats: Record<string, H5Dataset> }>(path, (f: H5File) => {
    trackTable(f, tracks);
    const pos = f.create_dataset({ name: 'pos', data: new Uint32Array(0), shape: [0], maxshape: [null], chunks: [chunk], dtype: '<I' });
    const stats = statDatasets(f, names, T, chunk);
    f.create_attribute('stat_dtype', 'float32');
    f.create_attribute(
      'note',
      scorers
        ? 'Layout of the official precomputed variant scores (basenji_sad.py), with one float32 [variants, targets] dataset per variant scorer (AlphaGenome definitions). snp is the VCF ID, or chrom:pos:ref:alt when it is ".".'
        : 'Layout of the official precomputed variant scores (basenji_sad.py), but SAD/SAR/D2/SAX are float32: ' +
            'the official files use float16, which h5wasm 0.10.3 cannot write. snp is the VCF ID, or chrom:pos:ref:alt when it is ".".',
    );
    f.create_attribute('writer', 'seq2track');
    return { pos, stats };
  });
  return new H5Scores(path, T, out, datasets, flushVariants, names);
}
