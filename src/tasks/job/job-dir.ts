/**
 * The staging directory of a resumable job: `<out>.partial/` beside the output. It holds the job's
 * fingerprint (`job.json`), its progress (`progress.json`, replaced atomically by rename after the
 * data it describes is written) and the job's scratch files. The outputs are made inside it and
 * moved to their final names only when complete, so a final name never holds a half-written file.
 *
 * A run that finds the directory with the same fingerprint continues from the recorded progress;
 * one with another fingerprint is refused (naming the options that differ), so two different runs
 * never mix their data.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export class JobDirError extends Error {}

export interface Fingerprint {
  /** sha256 over `args` (which include the weights' content hashes). */
  hash: string;
  /** The options behind the hash, to say what differs. */
  args: Record<string, unknown>;
}

/** `X.partial` for an output `X` (a directory's trailing slash dropped). */
export function stagingPath(out: string): string {
  return `${out.replace(/[\\/]+$/, '')}.partial`;
}

/** Throws a one-line error unless `dir` exists and is a writable directory. */
export function checkWritableDir(dir: string, what: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw new JobDirError(`${what}: cannot write to ${dir} (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  if (!isDir) throw new JobDirError(`${what}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new JobDirError(`${what}: cannot write to ${dir} (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
}

/** Writes a small file atomically: a temporary name, then rename over the old one. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export class JobDir<P extends object> {
  private constructor(
    readonly path: string,
    /** The progress recorded by an earlier run of the same job, if any. */
    readonly resumed: P | undefined,
    private committedOnce: boolean,
  ) {}

  /**
   * Opens (creating) the staging directory of `out`: checks that the output's directory is
   * writable, refuses an unfinished job with another fingerprint, and returns the earlier
   * progress of the same job.
   */
  static open<P extends object>(out: string, fp: Fingerprint, what = '--out'): JobDir<P> {
    const path = stagingPath(out);
    checkWritableDir(dirname(resolve(path)), `${what} ${out}`);
    const jobFile = join(path, 'job.json');
    if (existsSync(path)) {
      let previous: Fingerprint | undefined;
      try {
        previous = JSON.parse(readFileSync(jobFile, 'utf8')) as Fingerprint;
      } catch {
        previous = undefined; // killed before job.json was written: nothing to keep
      }
      if (previous && previous.hash !== fp.hash) {
        const keys = new Set([...Object.keys(previous.args ?? {}), ...Object.keys(fp.args)]);
        const differ = [...keys].filter((k) => JSON.stringify(previous!.args?.[k]) !== JSON.stringify(fp.args[k]));
        throw new JobDirError(
          `${out}: an unfinished run with other arguments${differ.length ? ` (${differ.join(', ')} differ)` : ''} is in ${path}; rerun its command to finish it, or delete ${path} to start over`,
        );
      }
      if (previous) {
        let progress: P | undefined;
        try {
          progress = JSON.parse(readFileSync(join(path, 'progress.json'), 'utf8')) as P;
        } catch {
          progress = undefined;
        }
        return new JobDir<P>(path, progress, progress !== undefined);
      }
      rmSync(path, { recursive: true, force: true });
    }
    try {
      mkdirSync(path);
      writeAtomic(jobFile, JSON.stringify(fp) + '\n');
    } catch (e) {
      throw new JobDirError(`${what} ${out}: cannot create ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return new JobDir<P>(path, undefined, false);
  }

  file(name: string): string {
    return join(this.path, name);
  }

  /** Records progress; call only after the data it describes is written. */
  commit(progress: P): void {
    writeAtomic(this.file('progress.json'), JSON.stringify(progress) + '\n');
    this.committedOnce = true;
  }

  /** After a failure: a job that never recorded progress leaves nothing behind; otherwise it stays for a resume. */
  abandon(): void {
    if (!this.committedOnce) this.remove();
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}
