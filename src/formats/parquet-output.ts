/**
 * A Parquet file written row group by row group to `path + '.partial'` and renamed to `path` by
 * `commit()`: Snappy-compressed (pure JS), columns required (no nulls), `created_by` seq2track.
 * hyparquet-writer's buffer is emptied into the file after every row group, so memory holds one
 * group's encoding, not the file.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { ByteWriter, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer';
import { errorMessage, ScoreWriterError, SerialWriter } from './serial-writer.js';

export type ParquetColumnType = 'STRING' | 'INT32' | 'FLOAT' | 'DOUBLE';

export interface ParquetColumn {
  name: string;
  type: ParquetColumnType;
}

export type ParquetColumnData = { name: string; data: string[] | Int32Array | Float32Array | Float64Array }[];

/** hyparquet-writer's byte buffer, emptied into a file whenever the writer flushes (after each row group). */
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

/** The key-value metadata entry naming the output's tracks. */
export function tracksMetadata(tracks: readonly { identifier: string; description: string }[]): { key: string; value: string }[] {
  return [{ key: 'seq2track.tracks', value: JSON.stringify(tracks.map(({ identifier, description }) => ({ identifier, description }))) }];
}

export class ParquetOutput {
  private constructor(
    readonly path: string,
    private readonly partial: string,
    private readonly file: FileHandle,
    private readonly sink: FileSink,
    private readonly parquet: ParquetWriter,
  ) {}

  static async open(path: string, columns: readonly ParquetColumn[], kvMetadata?: { key: string; value: string }[]): Promise<ParquetOutput> {
    const partial = `${path}.partial`;
    let file: FileHandle;
    try {
      file = await open(partial, 'w');
    } catch (e) {
      throw new ScoreWriterError(`${path}: cannot create ${partial} (${errorMessage(e)})`);
    }
    const schema = schemaFromColumnData({ columnData: columns.map(({ name, type }) => ({ name, data: [], type, nullable: false })) });
    const sink = new FileSink(file);
    const parquet = new ParquetWriter({ writer: sink, schema, codec: 'SNAPPY', createdBy: 'seq2track', kvMetadata });
    return new ParquetOutput(path, partial, file, sink, parquet);
  }

  /** Appends rows, in the schema's column order; `rowGroupSize` as hyparquet-writer takes it (default: its own, 1,000 rows then 100,000 a group). */
  async write(columnData: ParquetColumnData, rowGroupSize?: number): Promise<void> {
    await this.parquet.write({ columnData, rowGroupSize });
  }

  /** Writes the footer and gives the file its final name. */
  async commit(): Promise<void> {
    await this.parquet.finish();
    await this.sink.flush();
    await this.file.close();
    await rename(this.partial, this.path);
  }

  /** Closes the file (if still open) and removes the partial. */
  async discard(): Promise<void> {
    await this.file.close().catch(() => {});
    await rm(this.partial, { force: true });
  }
}

/**
 * A serial writer onto a Parquet output: subclasses buffer rows in `add` and write them as one row
 * group in `flushGroup` (also called at close, before the footer).
 */
export abstract class ParquetRows<R> extends SerialWriter<R> {
  protected abstract readonly out: ParquetOutput;

  protected abstract flushGroup(): Promise<void>;

  protected async finish(): Promise<void> {
    await this.flushGroup();
    await this.out.commit();
  }

  protected discard(): Promise<void> {
    return this.out.discard();
  }
}
