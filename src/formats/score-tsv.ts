/**
 * Variant scores as TSV, resumable:
 *
 *   chrom  pos  id  ref  alt  track  SAD  SAR  D2  SAX
 *
 * (from `score-variants --scorer`, one column per scorer instead of SAD … SAX)
 *
 * one row per variant (ALT) and track, numbers with 7 significant digits (float32 carries about
 * that many), so a rerun writes the same bytes. Rows are appended to `X.tsv.partial` as the run
 * goes; after each committed chunk a sidecar `X.tsv.progress` records (atomically, by rename) the
 * run's fingerprint, the records done and the partial file's byte length at that point. A run killed
 * at any moment and started again with the same fingerprint truncates the partial file to the
 * recorded length and goes on after the recorded records, so the finished file equals an
 * uninterrupted run's. `close()` deletes the sidecar and renames the partial file to `X.tsv`: the
 * final name only ever holds a complete file.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { SCORE_STATS, type ScoreColumns, type ScoreTrack, type ScoreWriter } from './score-writers.js';
import { formatValue } from './number-text.js';

export class ResumeError extends Error {}

/** The header of a TSV with one row per variant and track and these value columns. */
export function variantTsvHeader(stats: readonly string[]): string {
  return ['chrom', 'pos', 'id', 'ref', 'alt', 'track', ...stats].join('\t') + '\n';
}

export const TSV_HEADER = variantTsvHeader(SCORE_STATS);

/** Whether a TSV's first line (with its newline) is a variant × track header (SAD, or scorer columns). */
export function isVariantTsvHeader(line: string): boolean {
  return /^chrom\tpos\tid\tref\talt\ttrack(\t[A-Za-z0-9_]+)+\n$/.test(line);
}

/** Scores print as every value does (formats/number-text.ts). */
export const formatScore = formatValue;

export interface Progress {
  /** Identifies the run's inputs and options; a resume must match it. */
  fingerprint: string;
  /** The options behind the fingerprint, to say what differs. */
  args: Record<string, unknown>;
  records: number;
  bytes: number;
}

export const progressPath = (path: string) => `${path}.progress`;
export const partialPath = (path: string) => `${path}.partial`;

function readProgress(path: string): Progress | undefined {
  let text: string;
  try {
    text = readFileSync(progressPath(path), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const p = JSON.parse(text) as Progress;
    if (typeof p.fingerprint !== 'string' || !Number.isSafeInteger(p.records) || !Number.isSafeInteger(p.bytes)) throw new Error('missing fields');
    return p;
  } catch (e) {
    throw new ResumeError(`${progressPath(path)}: unreadable progress file (${(e as Error).message}); delete it (and ${path}) to start over`);
  }
}

export class TsvScores implements ScoreWriter {
  private pending: string[] = [];
  private committed = 0;

  private constructor(
    readonly path: string,
    private fd: number | undefined,
    private bytes: number,
    private readonly tracks: string[],
    private readonly fingerprint: string,
    private readonly args: Record<string, unknown>,
    /** Records already done by an earlier, interrupted run (0 for a fresh one). */
    readonly recordsDone: number,
    /** Value columns of `write`, in order. */
    private readonly stats: readonly string[],
  ) {}

  /**
   * Opens `path` for a run: resumes an unfinished run with the same fingerprint, refuses one with
   * another, and otherwise starts a new file (replacing a finished one). `stats` are the value
   * columns `write` prints (default SAD … SAX); `header` the first line.
   */
  static open(path: string, tracks: ScoreTrack[], fingerprint: string, args: Record<string, unknown>, header?: string, stats: readonly string[] = SCORE_STATS): TsvScores {
    header ??= variantTsvHeader(stats);
    const ids = tracks.map((t) => t.identifier);
    const bad = ids.find((id) => /[\t\n\r]/.test(id));
    if (bad !== undefined) throw new ResumeError(`track identifier ${JSON.stringify(bad)} contains a tab or newline`);
    const previous = readProgress(path);
    if (previous) {
      if (previous.fingerprint !== fingerprint) {
        const keys = new Set([...Object.keys(previous.args ?? {}), ...Object.keys(args)]);
        const differ = [...keys].filter((k) => JSON.stringify(previous.args?.[k]) !== JSON.stringify(args[k]));
        throw new ResumeError(
          `${path}: an unfinished run with other arguments${differ.length ? ` (${differ.join(', ')} differ)` : ''} is in progress (${progressPath(path)}); rerun its command to finish it, or delete ${progressPath(path)} to start over`,
        );
      }
      const partial = partialPath(path);
      let size: number;
      try {
        size = statSync(partial).size;
      } catch {
        throw new ResumeError(`${path}: the unfinished run's ${partial} is missing (${progressPath(path)} exists); delete ${progressPath(path)} to start over`);
      }
      if (size < previous.bytes) throw new ResumeError(`${partial}: shorter (${size} bytes) than its progress file records (${previous.bytes}); delete ${progressPath(path)} to start over`);
      const fd = openSync(partial, 'r+');
      ftruncateSync(fd, previous.bytes);
      return new TsvScores(path, fd, previous.bytes, ids, fingerprint, args, previous.records, stats);
    }
    const fd = openSync(partialPath(path), 'w');
    const w = new TsvScores(path, fd, 0, ids, fingerprint, args, 0, stats);
    w.pending.push(header);
    w.commit(0);
    return w;
  }

  async write(v: ScoreColumns, stats: Record<string, Float32Array>): Promise<void> {
    const prefix = `${v.chrom}\t${v.pos}\t${v.id}\t${v.ref}\t${v.alt}\t`;
    const rows = this.tracks.map((t, k) => `${prefix}${t}\t${this.stats.map((s) => formatScore(stats[s]![k]!)).join('\t')}\n`);
    this.pending.push(rows.join(''));
  }

  /** Queues rows formatted elsewhere (other row layouts, e.g. gene scores), committed with the next chunk. */
  append(rows: string): void {
    this.pending.push(rows);
  }

  /** Appends the pending rows, then records that `records` records (of this run's stream) are done. */
  commit(records: number): void {
    this.flush();
    this.committed = Math.max(this.committed, records);
    const p: Progress = { fingerprint: this.fingerprint, args: this.args, records, bytes: this.bytes };
    const tmp = `${progressPath(this.path)}.tmp`;
    writeFileSync(tmp, JSON.stringify(p) + '\n');
    renameSync(tmp, progressPath(this.path));
  }

  /** Writes the pending rows at the end of the partial file. */
  private flush(): void {
    if (this.fd === undefined) throw new Error(`${this.path}: already closed`);
    const buf = Buffer.from(this.pending.join(''));
    this.pending = [];
    let at = 0;
    while (at < buf.length) at += writeSync(this.fd, buf, at, buf.length - at, this.bytes + at);
    this.bytes += buf.length;
  }

  /**
   * After a failed run: when no record was ever committed (nothing to resume) the partial file and
   * its sidecar are removed, so the next run starts afresh; otherwise they stay for a resume.
   */
  abandon(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    if (Math.max(this.committed, this.recordsDone) === 0) {
      rmSync(progressPath(this.path), { force: true });
      rmSync(partialPath(this.path), { force: true });
    }
  }

  /**
   * Finishes the file: pending rows written, the sidecar removed, the partial file renamed to the
   * final name. (The sidecar goes first: killed in between, the next run starts afresh instead of
   * resuming a file that is no longer there.)
   */
  async close(): Promise<void> {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
    rmSync(progressPath(this.path), { force: true });
    renameSync(partialPath(this.path), this.path);
  }
}
