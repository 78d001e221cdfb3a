/**
 * Variant-score outputs in two binary formats, both written as the run goes with bounded memory, to
 * `path + '.partial'`, renamed to `path` only by `close()` (an interrupted run leaves no file that
 * looks complete).
 *
 * Parquet (long format, one row per variant × track, the TSV's columns and order):
 *   chrom pos id ref alt track (UTF-8 strings, pos INT32 = VCF POS) SAD SAR D2 SAX (FLOAT)
 *   Snappy-compressed (pure JS), one row group per `rowGroupRows` rows rounded up to whole variants.
 *
 * HDF5 (the layout of the official precomputed scores, calico basenji_sad.py):
 *   snp chr ref alt      [variants]           fixed-length byte strings ('S<n>', n = longest value)
 *   pos                  [variants]           uint32 (VCF POS)
 *   target_ids, target_labels [targets]       fixed-length byte strings
 *   SAD SAR D2 SAX       [variants, targets]  float32 (official: float16, which h5wasm 0.10.3 cannot
 *                                             write); root attribute `stat_dtype` says so.
 *   `snp` is the VCF ID, or `chrom:pos:ref:alt` when the ID is '.'. Stats and pos are chunked,
 *   resizable datasets appended every few hundred variants; the string columns go to a side file
 *   (`path + '.partial.strings'`) during the run, since a fixed-length string width is only known
 *   at the end, and are copied into the file in chunks by `close()`.
 */
import { createReadStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ByteWriter, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer';

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
  /** One variant (one ALT): per stat, one value per track, in track order. */
  write(variant: ScoreColumns, stats: Record<ScoreStat, Float32Array>): Promise<void>;
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
}

export class ScoreWriterError extends Error {}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Shared bookkeeping: validation, one operation at a time, errors naming the file, close once. */
abstract class BaseWriter implements ScoreWriter {
  private tail: Promise<unknown> = Promise.resolve();
  private state: 'open' | 'closed' | 'failed' = 'open';

  constructor(
    protected readonly path: string,
    protected readonly tracks: number,
  ) {}

  protected fail(msg: string): never {
    throw new ScoreWriterError(`${this.path}: ${msg}`);
  }

  private run(task: () => Promise<void>): Promise<void> {
    const result = this.tail.then(async () => {
      if (this.state === 'closed') this.fail('write after close');
      if (this.state === 'failed') this.fail('an earlier write failed; the output is incomplete');
      try {
        await task();
      } catch (e) {
        this.state = 'failed';
        throw e instanceof ScoreWriterError ? e : new ScoreWriterError(`${this.path}: ${message(e)}`);
      }
    });
    this.tail = result.catch(() => {});
    return result;
  }

  write(variant: ScoreColumns, stats: Record<ScoreStat, Float32Array>): Promise<void> {
    return this.run(async () => {
      const where = `${variant.chrom}:${variant.pos} ${variant.ref}>${variant.alt}`;
      if (!Number.isInteger(variant.pos) || variant.pos < 0 || variant.pos > this.maxPos) {
        this.fail(`variant ${where}: position must be an integer in [0, ${this.maxPos}]`);
      }
      for (const stat of SCORE_STATS) {
        const values = stats[stat];
        if (!(values instanceof Float32Array) || values.length !== this.tracks) {
          this.fail(`variant ${where}: ${stat} has ${values?.length ?? 'no'} values, expected one per track (${this.tracks})`);
        }
      }
      await this.add(variant, stats);
    });
  }

  close(): Promise<void> {
    return this.run(async () => {
      await this.finish();
      this.state = 'closed';
    });
  }

  protected abstract readonly maxPos: number;
  protected abstract add(variant: ScoreColumns, stats: Record<ScoreStat, Float32Array>): Promise<void>;
  protected abstract finish(): Promise<void>;
}

function checkTracks(path: string, tracks: ScoreTrack[]): void {
  if (tracks.length === 0) throw new ScoreWriterError(`${path}: no tracks to write scores for`);
}

// ---------------------------------------------------------------------------------------------- Parquet

/** hyparquet-writer's byte buffer, emptied into a file after every row group and at the end. */
class FileSink extends ByteWriter {
  constructor(private readonly file: FileHandle) {
    super(1 << 16);
  }

  async flush(): Promise<void> {
    let done = 0;
    while (done < this.index) {
      const { bytesWritten } = await this.file.write(new Uint8Array(this.buffer, done, this.index - done));
      done += bytesWritten;
    }
    this.index = 0;
  }

  // ByteWriter's finish() is synchronous; the Writer interface it implements allows a Promise.
  override finish(): void {}
}

class ParquetScores extends BaseWriter {
  protected readonly maxPos = 2 ** 31 - 1;
  private readonly variants: { columns: ScoreColumns; stats: Record<ScoreStat, Float32Array> }[] = [];

  constructor(
    path: string,
    private readonly partial: string,
    private readonly file: FileHandle,
    private readonly sink: FileSink,
    private readonly parquet: ParquetWriter,
    private readonly trackIds: string[],
    private readonly groupVariants: number,
  ) {
    super(path, trackIds.length);
  }

  protected async add(variant: ScoreColumns, stats: Record<ScoreStat, Float32Array>): Promise<void> {
    const copy = {} as Record<ScoreStat, Float32Array>;
    for (const stat of SCORE_STATS) copy[stat] = Float32Array.from(stats[stat]);
    this.variants.push({ columns: { ...variant }, stats: copy });
    if (this.variants.length >= this.groupVariants) await this.flushGroup();
  }

  private async flushGroup(): Promise<void> {
    const T = this.trackIds.length;
    const rows = this.variants.length * T;
    if (rows === 0) return;
    const chrom: string[] = new Array(rows);
    const id: string[] = new Array(rows);
    const ref: string[] = new Array(rows);
    const alt: string[] = new Array(rows);
    const track: string[] = new Array(rows);
    const pos = new Int32Array(rows);
    const values = Object.fromEntries(SCORE_STATS.map((s) => [s, new Float32Array(rows)])) as Record<ScoreStat, Float32Array>;
    let r = 0;
    for (const { columns, stats } of this.variants) {
      for (const stat of SCORE_STATS) values[stat].set(stats[stat], r);
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
    await this.parquet.write({
      columnData: [
        { name: 'chrom', data: chrom },
        { name: 'pos', data: pos },
        { name: 'id', data: id },
        { name: 'ref', data: ref },
        { name: 'alt', data: alt },
        { name: 'track', data: track },
        ...SCORE_STATS.map((s) => ({ name: s, data: values[s] })),
      ],
      rowGroupSize: rows,
    });
  }

  protected async finish(): Promise<void> {
    await this.flushGroup();
    await this.parquet.finish();
    await this.sink.flush();
    await this.file.close();
    await rename(this.partial, this.path);
  }

  async abort(): Promise<void> {
    await this.file.close().catch(() => {});
    await rm(this.partial, { force: true });
  }
}

/** Variant scores as Parquet, long format: one row per variant and track (see the file comment). */
export async function openParquetScores(path: string, tracks: ScoreTrack[], options: ScoreWriterOptions = {}): Promise<ScoreWriter> {
  checkTracks(path, tracks);
  const rowGroupRows = options.rowGroupRows ?? 2 ** 20;
  const partial = `${path}.partial`;
  let file: FileHandle;
  try {
    file = await open(partial, 'w');
  } catch (e) {
    throw new ScoreWriterError(`${path}: cannot create ${partial} (${message(e)})`);
  }
  const stringColumn = (name: string) => ({ name, data: [], type: 'STRING' as const, nullable: false });
  const schema = schemaFromColumnData({
    columnData: [
      stringColumn('chrom'),
      { name: 'pos', data: [], type: 'INT32', nullable: false },
      stringColumn('id'),
      stringColumn('ref'),
      stringColumn('alt'),
      stringColumn('track'),
      ...SCORE_STATS.map((name) => ({ name, data: [], type: 'FLOAT' as const, nullable: false })),
    ],
  });
  const sink = new FileSink(file);
  const parquet = new ParquetWriter({
    writer: sink,
    schema,
    codec: 'SNAPPY',
    createdBy: 'seq2track',
    kvMetadata: [{ key: 'seq2track.tracks', value: JSON.stringify(tracks.map(({ identifier, description }) => ({ identifier, description }))) }],
  });
  const groupVariants = Math.max(1, Math.ceil(rowGroupRows / tracks.length));
  return new ParquetScores(path, partial, file, sink, parquet, tracks.map((t) => t.identifier), groupVariants);
}

// ------------------------------------------------------------------------------------------------- HDF5

type H5 = typeof import('h5wasm/node').default;
type H5File = InstanceType<H5['File']>;
type H5Dataset = InstanceType<H5['Dataset']>;

const STRING_COLUMNS = ['snp', 'chr', 'ref', 'alt'] as const;

/** Byte width of the widest string (at least 1: HDF5 has no zero-length fixed strings). */
function width(values: Iterable<string>): number {
  let w = 1;
  for (const v of values) w = Math.max(w, Buffer.byteLength(v, 'utf8'));
  return w;
}

class H5Scores extends BaseWriter {
  protected readonly maxPos = 2 ** 32 - 1;
  private readonly pos: Uint32Array;
  private readonly values: Record<ScoreStat, Float32Array>;
  private readonly widths = [1, 1, 1, 1];
  private lines: string[] = [];
  private buffered = 0;
  private written = 0;

  constructor(
    path: string,
    tracks: number,
    private readonly partial: string,
    private readonly spillPath: string,
    private readonly h5: H5File,
    private readonly spill: FileHandle,
    private readonly datasets: { pos: H5Dataset; stats: Record<ScoreStat, H5Dataset> },
    private readonly flushVariants: number,
  ) {
    super(path, tracks);
    this.pos = new Uint32Array(flushVariants);
    this.values = Object.fromEntries(SCORE_STATS.map((s) => [s, new Float32Array(flushVariants * tracks)])) as Record<ScoreStat, Float32Array>;
  }

  protected async add(variant: ScoreColumns, stats: Record<ScoreStat, Float32Array>): Promise<void> {
    const snp = variant.id === '.' || variant.id === '' ? `${variant.chrom}:${variant.pos}:${variant.ref}:${variant.alt}` : variant.id;
    const strings = [snp, variant.chrom, variant.ref, variant.alt];
    strings.forEach((s, i) => (this.widths[i] = Math.max(this.widths[i]!, Buffer.byteLength(s, 'utf8'))));
    this.lines.push(JSON.stringify(strings));
    this.pos[this.buffered] = variant.pos;
    for (const stat of SCORE_STATS) this.values[stat].set(stats[stat], this.buffered * this.tracks);
    if (++this.buffered === this.flushVariants) await this.flush();
  }

  private async flush(): Promise<void> {
    const n = this.buffered;
    if (n === 0) return;
    const [from, to] = [this.written, this.written + n];
    this.datasets.pos.resize([to]);
    this.datasets.pos.write_slice([[from, to]], this.pos.subarray(0, n));
    for (const stat of SCORE_STATS) {
      const d = this.datasets.stats[stat];
      d.resize([to, this.tracks]);
      d.write_slice([[from, to], []], this.values[stat].subarray(0, n * this.tracks));
    }
    this.h5.flush();
    await this.spill.write(this.lines.join('\n') + '\n');
    this.lines = [];
    this.buffered = 0;
    this.written = to;
  }

  protected async finish(): Promise<void> {
    await this.flush();
    await this.spill.close();
    const total = this.written;
    const chunk = Math.max(1, Math.min(total, 1 << 14));
    const columns = STRING_COLUMNS.map((name, i) =>
      this.h5.create_dataset({ name, data: [], shape: [0], maxshape: [null], chunks: [chunk], dtype: `S${this.widths[i]}` }),
    );
    let batch: string[][] = [];
    let at = 0;
    const append = () => {
      if (batch.length === 0) return;
      const to = at + batch.length;
      columns.forEach((d, i) => {
        d.resize([to]);
        d.write_slice([[at, to]], batch.map((row) => row[i]!));
      });
      at = to;
      batch = [];
    };
    const reader = createInterface({ input: createReadStream(this.spillPath), crlfDelay: Infinity });
    for await (const line of reader) {
      if (line === '') continue;
      batch.push(JSON.parse(line) as string[]);
      if (batch.length === chunk) append();
    }
    append();
    if (at !== total) this.fail(`${this.spillPath} holds ${at} variants, expected ${total}`);
    this.h5.close();
    await rm(this.spillPath, { force: true });
    await rename(this.partial, this.path);
  }

  async abort(): Promise<void> {
    try {
      this.h5.close();
    } catch {
      // already closed
    }
    await this.spill.close().catch(() => {});
    await rm(this.spillPath, { force: true });
    await rm(this.partial, { force: true });
  }
}

/** Variant scores as HDF5 in the official precomputed-scores layout (see the file comment). */
export async function openH5Scores(path: string, tracks: ScoreTrack[], options: ScoreWriterOptions = {}): Promise<ScoreWriter> {
  checkTracks(path, tracks);
  const T = tracks.length;
  const flushVariants = Math.max(1, options.flushVariants ?? Math.ceil(2 ** 20 / T));
  const chunkRows = Math.max(1, Math.min(flushVariants, Math.floor(2 ** 18 / T)));
  const partial = `${path}.partial`;
  const spillPath = `${path}.partial.strings`;
  const h5wasm = (await import('h5wasm/node')).default;
  await h5wasm.ready;
  let h5: H5File | undefined;
  let spill: FileHandle | undefined;
  try {
    spill = await open(spillPath, 'w');
    h5 = new h5wasm.File(partial, 'w');
    const f = h5;
    const strings = (name: string, values: string[]) => f.create_dataset({ name, data: values, dtype: `S${width(values)}` });
    strings('target_ids', tracks.map((t) => t.identifier));
    strings('target_labels', tracks.map((t) => t.description));
    const pos = f.create_dataset({ name: 'pos', data: new Uint32Array(0), shape: [0], maxshape: [null], chunks: [chunkRows], dtype: '<I' });
    const stats = Object.fromEntries(
      SCORE_STATS.map((name) => [
        name,
        f.create_dataset({ name, data: new Float32Array(0), shape: [0, T], maxshape: [null, T], chunks: [chunkRows, T], dtype: '<f' }),
      ]),
    ) as Record<ScoreStat, H5Dataset>;
    f.create_attribute('stat_dtype', 'float32');
    f.create_attribute(
      'note',
      'Layout of the official precomputed variant scores (basenji_sad.py), but SAD/SAR/D2/SAX are float32: ' +
        'the official files use float16, which h5wasm 0.10.3 cannot write. snp is the VCF ID, or chrom:pos:ref:alt when it is ".".',
    );
    f.create_attribute('writer', 'seq2track');
    return new H5Scores(path, T, partial, spillPath, f, spill, { pos, stats }, flushVariants);
  } catch (e) {
    try {
      h5?.close();
    } catch {
      // already failing; report the first error
    }
    await spill?.close().catch(() => {});
    throw new ScoreWriterError(`${path}: cannot create HDF5 scores (${message(e)})`);
  }
}
