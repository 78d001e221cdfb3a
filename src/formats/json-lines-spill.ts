/**
 * Rows an output can only write at its end (an HDF5 fixed-length string column needs its widest
 * value first) kept in a side file, one JSON line each, instead of in memory: pushed rows wait only
 * until the next `flush()`, and are read back in order, as often as needed, once the file is closed.
 */
import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';

export class JsonLinesSpill<T> {
  private lines: string[] = [];

  private constructor(
    readonly path: string,
    private file: FileHandle | undefined,
  ) {}

  static async create<T>(path: string): Promise<JsonLinesSpill<T>> {
    return new JsonLinesSpill<T>(path, await open(path, 'w'));
  }

  push(row: T): void {
    this.lines.push(JSON.stringify(row));
  }

  /** Appends the rows pushed since the last flush to the file. */
  async flush(): Promise<void> {
    if (this.lines.length === 0) return;
    if (!this.file) throw new Error(`${this.path}: rows pushed after the side file was closed`);
    const text = this.lines.join('\n') + '\n';
    this.lines = [];
    await this.file.writeFile(text);
  }

  /** Flushes and closes the file; then `rows()` may read it. */
  async close(): Promise<void> {
    await this.flush();
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  /** The rows in the order they were pushed (after `close()`). */
  async *rows(): AsyncGenerator<T> {
    if (this.file) throw new Error(`${this.path}: read before the side file was closed`);
    const reader = createInterface({ input: createReadStream(this.path), crlfDelay: Infinity });
    for await (const line of reader) if (line !== '') yield JSON.parse(line) as T;
  }

  /** Closes the file if open (ignoring a failure: this is cleanup) and deletes it. */
  async remove(): Promise<void> {
    this.lines = [];
    const file = this.file;
    this.file = undefined;
    await file?.close().catch(() => {});
    await rm(this.path, { force: true });
  }
}
