/**
 * Shards of the genome job and their merge (predict --genome --shard i/N, `seq2track merge`, and
 * workflows/predict-genome.smk).
 *
 * A shard is the genome job with a block of its windows (region-job.ts `shardWindows`: the one run's
 * plans and window tiling, cut between whole model batches), so every bin is predicted by the same
 * window, with the same ensemble and the same model batches, as in one run. Instead of the track
 * files, a shard writes the rows it holds — the float32 values of its windows' written bins, exactly
 * what the unsharded job reads from its scratch — to a shard file, with what the writers need.
 *
 * Merge then reads the shards' rows in order and writes them through the genome job's own writers
 * (`emitRegionOutputs`: bigWig, bedGraph, TSV, safetensors). Why not splice the shards' bigWig files:
 * a bigWig's zoom levels are summaries over the whole file (their resolutions are chosen from all
 * intervals, their records cross shard boundaries), its R-tree and data sections are numbered over
 * the whole file, and its header holds file offsets and the total summary; splicing would have to
 * re-derive every one of them, i.e. re-implement the writer. Writing the same values through the
 * same writer gives the unsharded run's bytes by construction (float32 values pass through the
 * shard file unchanged; bedGraph text, printed to 7 digits, could not be turned back into them).
 *
 * The shard file is safetensors (readable by any safetensors reader): tensor `values`, float32
 * [rows, tracks] (rows = the shard's written bins, in compute order), and metadata: `format`, the
 * shard, the unsharded run's fingerprint (hash and options, so shards of different runs are told
 * apart and the options that differ named), the output kind, head, tracks, regions, chromosome
 * sizes, window geometry, ensemble size and the shard's windows.
 */
import { closeSync, existsSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { planRegion, type Region, type RegionPlan, type WindowGeometry } from '../../genome/regions.js';
import type { Track } from '../../formats/track-selection.js';
import { encodeSafetensorsHeader, SafetensorsFile } from '../../weights/safetensors.js';
import type { Fingerprint } from '../job/job-dir.js';
import { stagingPath } from '../job/job-dir.js';
import type { Shard } from '../job/shard.js';
import { byChromThenStart, outputKind, type RegionOutputKind } from './output-kind.js';
import { emitRegionOutputs, type RegionRows } from './region-writers.js';
import { windowRows } from './region-scratch.js';
import { shardWindows } from './region-job.js';

export class ShardFileError extends Error {}

export const SHARD_FORMAT = 'seq2track-genome-shard/1';

/** What a shard file records besides its rows. */
export interface ShardInfo {
  shard: Shard;
  /** The unsharded run's fingerprint: equal for every shard of one run. */
  run: Fingerprint;
  /** The output kind the run was planned for (bigWig computes regions in chromosome order). */
  kind: RegionOutputKind;
  head: string;
  tracks: Track[];
  /** The regions as given (0-based half-open). */
  regions: Region[];
  chromSizes: Map<string, number>;
  geometry: WindowGeometry;
  /** Runs averaged per window, runs per window per model (the shard cut's unit), and the batch size. */
  ensemble: number;
  runsPerWindow: number;
  batchSize: number;
  /** The shard's windows [first, end) in compute order, of `total`. */
  windows: [number, number];
  total: number;
}

/** `OUT.shard3-of-8.safetensors` for `--out OUT --shard 3/8` (a directory's trailing slash dropped). */
export function shardPath(out: string, shard: Shard): string {
  return `${out.replace(/[\\/]+$/, '')}.shard${shard.index}-of-${shard.count}.safetensors`;
}

/** The plans of a run in its compute order (bigWig: by chromosome, then start; others as given). */
export function computePlans(regions: Region[], chromSizes: Map<string, number>, geometry: WindowGeometry, kind: RegionOutputKind): RegionPlan[] {
  const plans = regions.map((r) => planRegion(r, chromSizes.get(r.chrom)!, geometry));
  return kind === 'bigwig' ? [...plans].sort(byChromThenStart) : plans;
}

/** Writes a shard's rows and info to `out` (through `staging`, renamed when complete); returns `out`. */
export function writeShardFile(staging: string, out: string, info: ShardInfo, rows: RegionRows): string {
  const K = info.tracks.length;
  let count = 0;
  for (const w of windowRows(rows.plans, info.geometry.bins, info.windows)) count += w.hi - w.lo;
  const { length, offset, bins, binSize } = info.geometry;
  const header = encodeSafetensorsHeader([{ name: 'values', dtype: 'F32', shape: [count, K], length: count * K * 4 }], {
    format: SHARD_FORMAT,
    producer: 'seq2track predict --genome --shard',
    shard: `${info.shard.index}/${info.shard.count}`,
    run: info.run.hash,
    run_args: JSON.stringify(info.run.args),
    kind: info.kind,
    head: info.head,
    tracks: JSON.stringify(info.tracks),
    regions: JSON.stringify(info.regions.map((r) => ({ chrom: r.chrom, start: r.start, end: r.end, label: r.label }))),
    chrom_sizes: JSON.stringify([...info.chromSizes]),
    geometry: JSON.stringify({ length, offset, bins, binSize }),
    ensemble: String(info.ensemble),
    runs_per_window: String(info.runsPerWindow),
    batch_size: String(info.batchSize),
    windows: JSON.stringify([...info.windows, info.total]),
  });
  const staged = join(staging, 'shard.safetensors');
  const fd = openSync(staged, 'w');
  let written = 0;
  try {
    const put = (b: Uint8Array) => {
      for (let at = 0; at < b.length; ) at += writeSync(fd, b, at, b.length - at);
    };
    put(header);
    for (const { values } of rows.chunks()) {
      put(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      written += values.length / K;
    }
  } finally {
    closeSync(fd);
  }
  if (written !== count) throw new ShardFileError(`${staged}: wrote ${written} rows, the shard's windows hold ${count}`);
  renameSync(staged, out);
  return out;
}

interface OpenShard {
  file: string;
  info: ShardInfo;
  /** Byte offset of the values and their row count. */
  offset: number;
  rows: number;
}

const KIND_WORDS: Record<RegionOutputKind, string> = { bigwig: 'bigWig (a directory)', bedgraph: 'X.bedGraph', tsv: 'X.tsv', safetensors: 'X.safetensors' };

/** Is `file` a genome shard (safetensors whose metadata says so)? False for anything unreadable or other. */
export async function isGenomeShard(file: string): Promise<boolean> {
  try {
    return (await SafetensorsFile.open(file)).metadata.format === SHARD_FORMAT;
  } catch {
    return false;
  }
}

async function openShard(file: string): Promise<OpenShard> {
  if (!existsSync(file)) {
    const partial = stagingPath(file);
    if (existsSync(partial)) throw new ShardFileError(`${file}: unfinished (${partial} exists); rerun that shard's command to finish it`);
    throw new ShardFileError(`${file}: cannot read shard (ENOENT)`);
  }
  let st: SafetensorsFile;
  try {
    st = await SafetensorsFile.open(file);
  } catch (e) {
    throw new ShardFileError(`${file}: not a predict --genome shard (${(e as Error).message.replace(`${file}: `, '')})`);
  }
  const m = st.metadata;
  if (m.format !== SHARD_FORMAT) throw new ShardFileError(`${file}: not a predict --genome shard (its metadata has no format "${SHARD_FORMAT}")`);
  const field = <T>(name: string): T => {
    try {
      if (m[name] === undefined) throw new Error('missing');
      return JSON.parse(m[name]!) as T;
    } catch (e) {
      throw new ShardFileError(`${file}: bad shard metadata field '${name}' (${(e as Error).message})`);
    }
  };
  const [index, count] = (m.shard ?? '').split('/').map(Number);
  const windows = field<[number, number, number]>('windows');
  const geometry = field<WindowGeometry>('geometry');
  const info: ShardInfo = {
    shard: { index: index!, count: count! },
    run: { hash: m.run ?? '', args: field<Record<string, unknown>>('run_args') },
    kind: m.kind as RegionOutputKind,
    head: m.head ?? '',
    tracks: field<Track[]>('tracks'),
    regions: field<Region[]>('regions'),
    chromSizes: new Map(field<[string, number][]>('chrom_sizes')),
    geometry,
    ensemble: field<number>('ensemble'),
    runsPerWindow: field<number>('runs_per_window'),
    batchSize: field<number>('batch_size'),
    windows: [windows[0], windows[1]],
    total: windows[2],
  };
  if (!(index! >= 1 && index! <= count!)) throw new ShardFileError(`${file}: bad shard metadata field 'shard' (${JSON.stringify(m.shard)})`);
  if (!(info.kind in KIND_WORDS)) throw new ShardFileError(`${file}: bad shard metadata field 'kind' (${JSON.stringify(m.kind)})`);
  const t = st.tensors.get('values');
  if (!t || t.dtype !== 'F32' || t.shape.length !== 2 || t.shape[1] !== info.tracks.length) {
    throw new ShardFileError(`${file}: no float32 tensor 'values' [rows, ${info.tracks.length}] (the shard's tracks)`);
  }
  return { file, info, offset: t.offset, rows: t.shape[0]! };
}

/** The options of two runs that differ. */
function differing(a: Fingerprint, b: Fingerprint): string[] {
  const keys = new Set([...Object.keys(a.args), ...Object.keys(b.args)]);
  return [...keys].filter((k) => JSON.stringify(a.args[k]) !== JSON.stringify(b.args[k]));
}

export interface MergeResult {
  files: string[];
  shards: number;
  bins: number;
  tracks: number;
}

/**
 * Writes the output of the run the shards (given in shard order, 1/N … N/N) were cut from: the same
 * bytes as that run unsharded. Every shard is checked first (all of one run, none missing or
 * repeated, rows complete); each error names the shard file.
 */
export async function mergeGenomeShards(out: string, files: string[]): Promise<MergeResult> {
  if (files.length === 0) throw new ShardFileError('merge needs the shard files, in shard order');
  const shards: OpenShard[] = [];
  for (const f of files) {
    if (resolve(f) === resolve(out)) throw new ShardFileError(`merge: the output ${out} is also a shard`);
    shards.push(await openShard(f));
  }
  const first = shards[0]!;
  const N = first.info.shard.count;
  const seen = new Map<number, string>();
  for (const s of shards) {
    if (s.info.run.hash !== first.info.run.hash) {
      const d = differing(first.info.run, s.info.run);
      throw new ShardFileError(`${s.file}: a shard of another run than ${first.file}${d.length ? ` (${d.join(', ')} differ)` : ''}; merge the shards of one run`);
    }
    const again = seen.get(s.info.shard.index);
    if (again !== undefined) throw new ShardFileError(`${s.file}: shard ${s.info.shard.index}/${N} is given twice (also ${again})`);
    seen.set(s.info.shard.index, s.file);
  }
  const missing = Array.from({ length: N }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length) throw new ShardFileError(`merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${N}`).join(', ')} of the run of ${first.file} missing; give all ${N} shards in order`);
  shards.forEach((s, i) => {
    if (s.info.shard.index !== i + 1) throw new ShardFileError(`${s.file}: shard ${s.info.shard.index}/${N} given in place ${i + 1}; give the shards in order 1/${N} … ${N}/${N}`);
  });

  const info = first.info;
  const kind = await outputKind(out);
  if (kind !== info.kind) throw new ShardFileError(`merge: ${first.file} and its run were planned for --out ${KIND_WORDS[info.kind]}; ${out} is ${KIND_WORDS[kind]} (the output kind decides the order of the windows)`);
  const plans = computePlans(info.regions, info.chromSizes, info.geometry, kind);
  const total = plans.reduce((a, p) => a + p.windows.length, 0);
  const K = info.tracks.length;
  // The cut is recomputed, not trusted: a shard file that holds other windows or rows is refused.
  for (const s of shards) {
    const want = shardWindows(total, info.runsPerWindow, info.batchSize, s.info.shard);
    if (s.info.total !== total || s.info.windows[0] !== want[0] || s.info.windows[1] !== want[1]) {
      throw new ShardFileError(`${s.file}: holds windows [${s.info.windows.join(', ')}) of ${s.info.total}; shard ${s.info.shard.index}/${N} of this run is [${want.join(', ')}) of ${total}`);
    }
    let rows = 0;
    for (const w of windowRows(plans, info.geometry.bins, want)) rows += w.hi - w.lo;
    if (rows !== s.rows) throw new ShardFileError(`${s.file}: holds ${s.rows} rows; its windows have ${rows} written bins`);
  }

  const rows: RegionRows = {
    plans,
    tracks: K,
    *chunks() {
      for (const s of shards) {
        const fd = openSync(s.file, 'r');
        try {
          let at = s.offset;
          for (const { region, lo, hi } of windowRows(plans, info.geometry.bins, s.info.windows)) {
            const buf = Buffer.alloc((hi - lo) * K * 4);
            for (let got = 0; got < buf.length; ) {
              const n = readSync(fd, buf, got, buf.length - got, at + got);
              if (n === 0) throw new ShardFileError(`${s.file}: shorter than its rows`);
              got += n;
            }
            at += buf.length;
            yield { region, row: lo - plans[region]!.firstBin, values: new Float32Array(buf.buffer, buf.byteOffset, (hi - lo) * K) };
          }
        } finally {
          closeSync(fd);
        }
      }
    },
  };
  const staging = `${out.replace(/[\\/]+$/, '')}.merging`;
  rmSync(staging, { recursive: true, force: true });
  try {
    const written = await emitRegionOutputs({
      staging,
      out,
      kind,
      rows,
      head: info.head,
      tracks: info.tracks,
      chromSizes: info.chromSizes,
      binSize: info.geometry.binSize,
      windowLength: info.geometry.length,
      ensemble: info.ensemble,
    });
    return { files: written, shards: shards.length, bins: plans.reduce((a, p) => a + p.bins, 0), tracks: K };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
