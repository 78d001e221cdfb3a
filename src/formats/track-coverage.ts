/**
 * Training targets from the user's own tracks: a basenji targets table whose `file` column names one
 * bigWig per track (path, relative to the table's folder, or http(s) URL, read with @gmod/bbi; URLs by
 * range requests through the retrying reader the genome uses), and
 * the per-bin target values basenji's data preparation derives from it.
 *
 * The transform follows calico/basenji `bin/basenji_data_read.py` (master, commit 74b8671, called by
 * `basenji_data.py` with `-w pool_width -u sum_stat -c clip --clip_soft clip_soft -s scale`), per window:
 *   1. per-nucleotide coverage, cast to float16 (`CovFace.read`: pyBigWig values `.astype('float16')`);
 *      positions without data are NaN there and are set to the window's baseline, which is
 *      `np.nan_to_num(np.percentile(cov, 50))` — NaN, hence 0, as soon as the window has any NaN —
 *      so uncovered positions count 0;
 *   2. `scale ·` coverage, still float16;
 *   3. pooled over each bin by `sum_stat` in float32 (sum, mean/avg, sum_sqrt and mean_sqrt = -1 + √(1 + x),
 *      max, median);
 *   4. soft clip: x > clip_soft → clip_soft - 1 + √(x - clip_soft + 1);
 *   5. clip to [-clip, clip], then to the float16 range, and stored as float16.
 * Not reproduced: the blacklist BED (an option of basenji_data.py, not of the table) and the final
 * dataset-wide clip at the 99.99999th percentile (`--clip_pct`), which needs every sequence of the
 * dataset at once.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { BigWig } from '@gmod/bbi';
import { parseTargets, type TargetsTable } from './targets.js';
import { remoteFailure, RetryingRemoteFile } from '../genome/remote-file.js';
import { BoundedLocalFile } from '../genome/bounded-file.js';
import { HALF_MAX, roundToHalf } from './half.js';

export class TrackCoverageError extends Error {}

export type SumStat = 'sum' | 'mean' | 'sum_sqrt' | 'mean_sqrt' | 'max' | 'median';
const SUM_STATS: Record<string, SumStat> = { sum: 'sum', mean: 'mean', avg: 'mean', sum_sqrt: 'sum_sqrt', mean_sqrt: 'mean_sqrt', avg_sqrt: 'mean_sqrt', max: 'max', median: 'median' };

export interface TrainingTrack {
  /** Row of the table (0-based) = output track of the head. */
  index: number;
  identifier: string;
  /** Where the bigWig is (resolved path or URL) and how the table wrote it. */
  file: string;
  fileAsWritten: string;
  clip?: number;
  clipSoft?: number;
  scale: number;
  sumStat: SumStat;
  /** Line of the table (1-based) for messages. */
  line: number;
}

export interface TrainingTable {
  table: TargetsTable;
  tracks: TrainingTrack[];
  /** The table's text, copied into trained model directories. */
  text: string;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/** Reads a basenji targets table for training: identifiers, strand pairs, bigWig files and their transforms. */
export async function readTrainingTable(path: string): Promise<TrainingTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new TrackCoverageError(`${path}: cannot read targets table (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const table = parseTargets(text, path);
  const lines = text.split(/\r?\n/).map((l, i) => ({ l, line: i + 1 })).filter(({ l }) => l.trim() !== '');
  const header = lines[0]!.l.split('\t').map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  for (const required of ['file', 'sum_stat']) {
    if (col(required) < 0) throw new TrackCoverageError(`${path}: the targets table has no '${required}' column (training needs file, sum_stat; optional clip, clip_soft, scale)`);
  }
  const base = dirname(resolve(path));
  const tracks = lines.slice(1).map(({ l, line }, i): TrainingTrack => {
    const f = l.split('\t').map((x) => x.trim());
    const where = `${path}:${line}`;
    const num = (name: string): number | undefined => {
      const c = col(name);
      if (c < 0) return undefined;
      const v = Number(f[c]);
      if (f[c] === '' || !Number.isFinite(v)) throw new TrackCoverageError(`${where}: ${name} must be a number, found ${JSON.stringify(f[c])}`);
      return v;
    };
    const stat = SUM_STATS[f[col('sum_stat')]!];
    if (!stat) throw new TrackCoverageError(`${where}: unknown sum_stat ${JSON.stringify(f[col('sum_stat')])} (one of ${Object.keys(SUM_STATS).join(', ')})`);
    const file = f[col('file')]!;
    if (file === '') throw new TrackCoverageError(`${where}: empty file column`);
    const scale = num('scale') ?? 1;
    return {
      index: i,
      identifier: table.tracks[i]!.identifier,
      file: isUrl(file) || isAbsolute(file) ? file : resolve(base, file),
      fileAsWritten: file,
      clip: num('clip'),
      clipSoft: num('clip_soft'),
      scale,
      sumStat: stat,
      line,
    };
  });
  return { table, tracks, text };
}

/** Applies steps 2-5 of the transform to one bin's float16 per-nucleotide values. */
function binValue(values: Float32Array, from: number, to: number, t: TrainingTrack, scale16: number): number {
  const w = to - from;
  let x: number;
  const scaled = (i: number) => roundToHalf(Math.fround(scale16 * values[i]!));
  if (t.sumStat === 'max') {
    x = -Infinity;
    for (let i = from; i < to; i++) x = Math.max(x, scaled(i));
  } else if (t.sumStat === 'median') {
    const v = Array.from({ length: w }, (_, k) => scaled(from + k)).sort((a, b) => a - b);
    x = w % 2 ? v[(w - 1) / 2]! : (v[w / 2 - 1]! + v[w / 2]!) / 2;
  } else {
    let sum = 0;
    for (let i = from; i < to; i++) sum += scaled(i);
    x = Math.fround(sum);
    if (t.sumStat === 'mean' || t.sumStat === 'mean_sqrt') x = Math.fround(x / w);
    if (t.sumStat === 'sum_sqrt' || t.sumStat === 'mean_sqrt') x = Math.fround(-1 + Math.sqrt(1 + x));
  }
  x = Math.fround(x);
  if (t.clipSoft !== undefined && x > t.clipSoft) x = Math.fround(t.clipSoft - 1 + Math.sqrt(x - t.clipSoft + 1));
  if (t.clip !== undefined) x = Math.min(Math.max(x, -t.clip), t.clip);
  return roundToHalf(Math.min(Math.max(x, -HALF_MAX), HALF_MAX));
}

/** Open bigWigs of a training table, read bin by bin. */
export class TrackCoverage {
  private readonly files: BigWig[];
  private readonly chromNames: Set<string>[] = [];

  private constructor(
    readonly training: TrainingTable,
    files: BigWig[],
  ) {
    this.files = files;
  }

  /** Opens every bigWig and reads its header, so a missing or unreadable file fails before any work. */
  static async open(training: TrainingTable): Promise<TrackCoverage> {
    const files: BigWig[] = [];
    const names: Set<string>[] = [];
    for (const t of training.tracks) {
      // Local files through BoundedLocalFile: a damaged header or index must not reach Node's fs with
      // a read it aborts the process on (found by the bigwig-training fuzz target).
      const bw = new BigWig({ filehandle: isUrl(t.file) ? new RetryingRemoteFile(t.file).file : new BoundedLocalFile(t.file) });
      try {
        const header = await bw.getHeader();
        names.push(new Set(Object.keys(header.refsByName)));
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new TrackCoverageError(`${training.table.source}:${t.line}: cannot read bigWig ${t.fileAsWritten} (${isUrl(t.file) ? remoteFailure(e) : (err.code ?? err.message)})`);
      }
      files.push(bw);
    }
    const c = new TrackCoverage(training, files);
    c.chromNames.push(...names);
    return c;
  }

  get trackCount(): number {
    return this.files.length;
  }

  /**
   * Targets of `bins` bins of `binSize` bp starting at `start` on `chrom`: [bins, tracks] row-major,
   * float16-valued. Positions outside the chromosome or without data count 0.
   */
  async bins(chrom: string, start: number, bins: number, binSize: number): Promise<Float32Array> {
    const K = this.files.length;
    const out = new Float32Array(bins * K);
    const length = bins * binSize;
    const nt = new Float32Array(length);
    for (let k = 0; k < K; k++) {
      const t = this.training.tracks[k]!;
      nt.fill(0);
      if (this.chromNames[k]!.has(chrom)) {
        const s = Math.max(0, start);
        const e = start + length;
        let features: { start: number; end: number; score: number }[];
        try {
          features = e > s ? await this.files[k]!.getFeatures(chrom, s, e) : [];
        } catch (err) {
          throw new TrackCoverageError(`${this.training.table.source}:${t.line}: cannot read ${chrom}:${s + 1}-${e} of bigWig ${t.fileAsWritten} (${isUrl(t.file) ? remoteFailure(err) : (err as Error).message})`);
        }
        for (const f of features) {
          const v = Number.isNaN(f.score) ? 0 : roundToHalf(f.score);
          const a = Math.max(f.start, start) - start;
          const b = Math.min(f.end, e) - start;
          for (let i = a; i < b; i++) nt[i] = v;
        }
      }
      const scale16 = roundToHalf(t.scale);
      for (let b = 0; b < bins; b++) out[b * K + k] = binValue(nt, b * binSize, (b + 1) * binSize, t, scale16);
    }
    return out;
  }
}
