/**
 * The region job's outputs, written with bounded memory from its rows (the genome job's scratch
 * file, or a prediction in memory) inside a staging directory, then moved to their final names:
 *
 * - TSV and safetensors (+ `.bins.bed`) are rows in region order: appended as the rows are read
 *   (the safetensors header is known up front: [bins, tracks] float32).
 * - bedGraph and bigWig are per track: the rows are first split into one raw float32 file per track
 *   (small per-track buffers), then each track's file is written from its raw file (bigWig by the
 *   streaming writer, one pass per zoom level).
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeBigWigStream } from '../../formats/bigwig.js';
import { trackLine } from '../../formats/bedgraph.js';
import { formatValue } from '../../formats/number-text.js';
import { encodeSafetensorsHeader } from '../../weights/safetensors.js';
import type { RegionPlan } from '../../genome/regions.js';
import type { Track } from '../../formats/targets.js';
import { stagingPath } from '../job/job-dir.js';
import { byChromThenStart, trackFileName, type RegionOutputKind } from './output-kind.js';
import type { RegionJobResult } from './regions-in-memory.js';

export type { RegionOutputKind };

/** The values of a job's written bins: per region (plans in output order), float32 row chunks [rows, tracks]. */
export interface RegionRows {
  plans: RegionPlan[];
  tracks: number;
  chunks(): Iterable<{ region: number; row: number; values: Float32Array }>;
}

export interface EmitOptions {
  /** A directory for work files and the outputs until they are complete (created; emptied of what it makes). */
  staging: string;
  out: string;
  kind: RegionOutputKind;
  rows: RegionRows;
  head: string;
  tracks: Track[];
  chromSizes: Map<string, number>;
  binSize: number;
  windowLength: number;
  /** Runs averaged per window (the safetensors metadata). */
  ensemble: number;
}

/** Appends text or bytes to a file through a 1 MB buffer. */
class Appender {
  private parts: Buffer[] = [];
  private size = 0;
  private readonly fd: number;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  write(data: string | Uint8Array): void {
    const b = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.parts.push(typeof data === 'string' ? b : Buffer.from(b));
    this.size += b.length;
    if (this.size >= 1 << 20) this.flush();
  }

  flush(): void {
    const b = Buffer.concat(this.parts);
    for (let at = 0; at < b.length; ) at += writeSync(this.fd, b, at, b.length - at);
    this.parts = [];
    this.size = 0;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}

/** Splits the rows into one raw float32 file per track (its written bins, in plan order). */
function splitTracks(s: RegionRows, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const K = s.tracks;
  const files = Array.from({ length: K }, (_, k) => join(dir, `${k}.f32`));
  for (const f of files) closeSync(openSync(f, 'w'));
  // About 32 MB of buffers in all, whatever the number of tracks.
  const capacity = Math.max(256, Math.min(1 << 16, Math.floor((32 << 20) / 4 / K)));
  const buffers = Array.from({ length: K }, () => new Float32Array(capacity));
  let fill = 0;
  const flush = () => {
    if (fill === 0) return;
    for (let k = 0; k < K; k++) appendFileSync(files[k]!, new Uint8Array(buffers[k]!.buffer, 0, fill * 4));
    fill = 0;
  };
  for (const { values } of s.chunks()) {
    const rows = values.length / K;
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < K; k++) buffers[k]![fill] = values[r * K + k]!;
      if (++fill === capacity) flush();
    }
  }
  flush();
  return files;
}

/** The values of a raw float32 file, in chunks. */
function* rawValues(path: string): Generator<Float32Array> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 18);
    for (let at = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, at);
      if (n === 0) return;
      at += n;
      yield new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + n));
    }
  } finally {
    closeSync(fd);
  }
}

function writeTsv(o: EmitOptions, path: string): void {
  const out = new Appender(path);
  try {
    out.write('region\tchrom\tstart\tend\ttrack\tdescription\tvalue\n');
    const K = o.tracks.length;
    for (const { region, row, values } of o.rows.chunks()) {
      const plan = o.rows.plans[region]!;
      const rows: string[] = [];
      for (let r = 0; r < values.length / K; r++) {
        const b = row + r;
        const prefix = `${plan.region.label}\t${plan.region.chrom}\t${plan.starts[b]}\t${plan.ends[b]}\t`;
        for (const [k, t] of o.tracks.entries()) rows.push(`${prefix}${t.identifier}\t${t.description}\t${formatValue(values[r * K + k]!)}\n`);
      }
      out.write(rows.join(''));
    }
  } finally {
    out.close();
  }
}

function writeSafetensorsRows(o: EmitOptions, path: string, bedPath: string): void {
  const plans = o.rows.plans;
  const totalBins = plans.reduce((a, p) => a + p.bins, 0);
  const K = o.tracks.length;
  const header = encodeSafetensorsHeader([{ name: o.head, dtype: 'F32', shape: [totalBins, K], length: totalBins * K * 4 }], {
    producer: 'seq2track predict --genome',
    head: o.head,
    bin_size: String(o.binSize),
    window_length: String(o.windowLength),
    ensemble: String(o.ensemble),
    tracks: JSON.stringify(o.tracks.map((t) => t.identifier)),
    track_indices: JSON.stringify(o.tracks.map((t) => t.index)),
    descriptions: JSON.stringify(o.tracks.map((t) => t.description)),
    regions: JSON.stringify(plans.map((p) => ({ region: p.region.label, chrom: p.region.chrom, bins: p.bins }))),
  });
  const out = new Appender(path);
  try {
    out.write(header);
    for (const { values } of o.rows.chunks()) out.write(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  } finally {
    out.close();
  }
  const bed = new Appender(bedPath);
  try {
    for (const p of plans) {
      const label = p.region.label.replace(/\s+/g, '_');
      for (let b = 0; b < p.bins; b++) bed.write(`${p.region.chrom}\t${p.starts[b]}\t${p.ends[b]}\t${label}\n`);
    }
  } finally {
    bed.close();
  }
}

function writeBedGraphTracks(o: EmitOptions, raw: string[], path: string): void {
  const out = new Appender(path);
  try {
    for (const [k, t] of o.tracks.entries()) {
      out.write(trackLine(t.identifier, t.description));
      let plan = 0;
      let b = 0;
      for (const chunk of rawValues(raw[k]!)) {
        const rows: string[] = [];
        for (const v of chunk) {
          while (b >= o.rows.plans[plan]!.bins) [plan, b] = [plan + 1, 0];
          const p = o.rows.plans[plan]!;
          rows.push(`${p.region.chrom}\t${p.starts[b]}\t${p.ends[b]}\t${formatValue(v)}\n`);
          b++;
        }
        out.write(rows.join(''));
      }
      rmSync(raw[k]!);
    }
  } finally {
    out.close();
  }
}

/** Writes the outputs from the rows and moves them to their final names; returns those names. */
export async function emitRegionOutputs(o: EmitOptions): Promise<string[]> {
  const { out, kind } = o;
  mkdirSync(o.staging, { recursive: true });
  const file = (name: string) => join(o.staging, name);
  const staged = file('out');
  rmSync(staged, { recursive: true, force: true });
  rmSync(file('tracks'), { recursive: true, force: true });
  if (kind === 'tsv') {
    writeTsv(o, staged);
    renameSync(staged, out);
    return [out];
  }
  if (kind === 'safetensors') {
    const bed = out.replace(/\.safetensors$/i, '') + '.bins.bed';
    const stagedBed = file('out.bins.bed');
    writeSafetensorsRows(o, staged, stagedBed);
    renameSync(stagedBed, bed);
    renameSync(staged, out);
    return [out, bed];
  }
  const raw = splitTracks(o.rows, file('tracks'));
  if (kind === 'bedgraph') {
    writeBedGraphTracks(o, raw, staged);
    renameSync(staged, out);
    return [out];
  }
  mkdirSync(staged);
  const layout = o.rows.plans.map((p) => ({ chrom: p.region.chrom, starts: p.starts, ends: p.ends }));
  const used = new Set<string>();
  const names: string[] = [];
  for (const [k, t] of o.tracks.entries()) {
    const name = trackFileName(t.identifier, used);
    writeBigWigStream(join(staged, name), layout, () => rawValues(raw[k]!), o.chromSizes);
    rmSync(raw[k]!);
    names.push(name);
  }
  const dir = out.replace(/[\\/]+$/, '') || out;
  if (!existsSync(dir)) renameSync(staged, dir);
  else for (const name of readdirSync(staged)) renameSync(join(staged, name), join(dir, name));
  return names.map((n) => join(dir, n));
}

/**
 * Writes a prediction held in memory (`predictRegions`) as the genome job writes its outputs (same
 * bytes), through the staging directory `X.partial/` beside `out`; returns the files written.
 */
export async function writeRegionOutputs(out: string, kind: RegionOutputKind, p: RegionJobResult): Promise<string[]> {
  const staging = stagingPath(out);
  const results = kind === 'bigwig' ? [...p.results].sort((a, b) => byChromThenStart(a.plan, b.plan)) : p.results;
  const rows: RegionRows = {
    plans: results.map((r) => r.plan),
    tracks: p.tracks.length,
    *chunks() {
      for (const [region, r] of results.entries()) if (r.plan.bins > 0) yield { region, row: 0, values: r.values };
    },
  };
  try {
    return await emitRegionOutputs({ staging, out, kind, rows, head: p.head, tracks: p.tracks, chromSizes: p.chromSizes, binSize: p.binSize, windowLength: p.windowLength, ensemble: p.ensemble });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
