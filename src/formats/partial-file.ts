/**
 * A file written under `X.partial` and renamed to `X` only when complete, so `X` never holds a
 * half-written file; `abort()` (after a failure) closes the handle and removes the partial.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

export class PartialFile {
  readonly partial: string;
  private fd: number | undefined;
  /** Bytes appended so far (positional writes do not move it). */
  size = 0;

  constructor(readonly path: string) {
    this.partial = `${path}.partial`;
    this.fd = openSync(this.partial, 'w');
  }

  /** Appends at the end of what was appended so far. */
  append(data: string | Uint8Array): void {
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    this.writeAt(this.size, b);
    this.size += b.length;
  }

  /** Writes at a byte offset (e.g. a tensor's slot in a file whose header is already written). */
  writeAt(at: number, data: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.partial}: already closed`);
    for (let done = 0; done < data.length; ) done += writeSync(this.fd, data, done, data.length - done, at + done);
  }

  /** Closes and renames to the final name. */
  commit(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.partial, this.path);
  }

  /** Closes and removes the partial file. */
  abort(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already unusable
      }
      this.fd = undefined;
    }
    rmSync(this.partial, { force: true });
  }
}

/**
 * Runs `write` on `X.partial` and renames it to `X` when it resolves; on failure the partial is
 * removed and the error rethrown, so `X` is either absent (or its previous version) or complete.
 */
export async function writeAtomically(path: string, write: (partial: string) => Promise<void>): Promise<void> {
  const partial = `${path}.partial`;
  try {
    await write(partial);
    renameSync(partial, path);
  } catch (e) {
    rmSync(partial, { force: true });
    throw e;
  }
}
