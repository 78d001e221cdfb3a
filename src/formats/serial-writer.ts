/**
 * What every binary score writer shares, whatever it takes per variant (SAD-type statistics, or the
 * variant's gene rows): operations run one at a time in call order, so callers may issue writes
 * without awaiting each; each variant is checked before it is added; after a failed operation
 * everything is refused (the output would be incomplete); nothing is written after close; errors
 * are one line naming the output file; `abort()` waits for the operation in flight, then the writer
 * removes its partial files.
 */
import type { ScoreColumns } from './score-writers.js';
import { hdf5Message } from './hdf5.js';

export class ScoreWriterError extends Error {}

/** One line for a failure inside a writer: an HDF5 error stack (h5wasm's thrown errors) folded to its cause. */
export const errorMessage = (e: unknown) => hdf5Message(e);

/** Why one variant's rows cannot be written (undefined: they can). */
export type RowCheck<R> = (rows: R) => string | undefined;

export abstract class SerialWriter<R> {
  private tail: Promise<unknown> = Promise.resolve();
  private state: 'open' | 'closed' | 'aborted' | 'failed' = 'open';

  protected constructor(
    protected readonly path: string,
    /** The largest position the format stores (its integer column's range). */
    private readonly maxPos: number,
    private readonly check: RowCheck<R>,
  ) {}

  protected fail(msg: string): never {
    throw new ScoreWriterError(`${this.path}: ${msg}`);
  }

  private run(task: () => Promise<void>): Promise<void> {
    const result = this.tail.then(async () => {
      if (this.state === 'closed') this.fail('write after close');
      if (this.state === 'aborted') this.fail('write after abort');
      if (this.state === 'failed') this.fail('an earlier write failed; the output is incomplete');
      try {
        await task();
      } catch (e) {
        this.state = 'failed';
        throw e instanceof ScoreWriterError ? e : new ScoreWriterError(`${this.path}: ${errorMessage(e)}`);
      }
    });
    this.tail = result.catch(() => {});
    return result;
  }

  write(variant: ScoreColumns, rows: R): Promise<void> {
    return this.run(async () => {
      const where = `${variant.chrom}:${variant.pos} ${variant.ref}>${variant.alt}`;
      if (!Number.isInteger(variant.pos) || variant.pos < 0 || variant.pos > this.maxPos) {
        this.fail(`variant ${where}: position must be an integer in [0, ${this.maxPos}]`);
      }
      const problem = this.check(rows);
      if (problem !== undefined) this.fail(`variant ${where}: ${problem}`);
      await this.add(variant, rows);
    });
  }

  /** Finishes the file; a writer that is never closed leaves no valid file under `path`. */
  close(): Promise<void> {
    return this.run(async () => {
      await this.finish();
      this.state = 'closed';
    });
  }

  /** After a failure: closes the handles and removes the partial files (nothing to do after a successful close). */
  abort(): Promise<void> {
    const result = this.tail.then(async () => {
      if (this.state === 'closed' || this.state === 'aborted') return;
      this.state = 'aborted';
      try {
        await this.discard();
      } catch (e) {
        throw new ScoreWriterError(`${this.path}: cannot remove the partial output (${errorMessage(e)})`);
      }
    });
    this.tail = result.catch(() => {});
    return result;
  }

  protected abstract add(variant: ScoreColumns, rows: R): Promise<void>;
  protected abstract finish(): Promise<void>;
  /** Closes the handles and removes the partial and side files; must not throw for handles already closed. */
  protected abstract discard(): Promise<void>;
}
