/**
 * The genome job's outputs, made from its scratch file (every window's values, in plan order) with
 * bounded memory, inside the job's staging directory, then moved to their final names:
 *
 * - TSV and safetensors (+ `.bins.bed`) are rows in region order: appended as the scratch is read
 *   (the safetensors header is known up front: [bins, tracks] float32).
 * - bedGraph and bigWig are per track: the scratch is first split into one raw float32 file per
 *   track (small per-track buffers), then each track's file is written from its raw file (bigWig
 *   by the streaming writer, one pass per zoom level).
 *
 * The bytes equal those of the in-memory writers (region-outputs.ts) for the same values.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeBigWigStream } from '../formats/bigwig.js';
import { formatValue, quote } from '../formats/bedgraph.js';
import { encodeSafetensorsHeader } from '../weights/safetensors.js';
import type { RegionPlan } from '../genome/regions.js';
import type { Track } from '../formats/targets.js';
import type { JobDir } from './job-dir.js';
import { trackFileName, type RegionOutputKind } from './region-outputs.js';

export type { RegionOutputKind };

/** Where the job's window values are: slot s (a window, in plan order) holds [windowBins, tracks]. */
export interface ScratchLayout {
  path: string;
  plans: RegionPlan[];
  windowBins: number;
  tracks: number;
  /** Slots hold float64 sums over `ensemble` runs (several models) instead of float32 means. */
  float64: boolean;
  ensemble: number;
}

export interface EmitOptions {
  job: JobDir<object>;
  out: string;
  kind: RegionOutputKind;
  scratch: ScratchLayout;
  head: string;
  tracks: Track[];
  chromSizes: Map<string, number>;
  binSize: number;
  windowLength: number;
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

/** The written bins of each region in order, as float32 row chunks [rows, tracks], read from the scratch. */
function* regionRows(s: ScratchLayout): Generator<{ region: number; row: number; values: Float32Array }> {
  const K = s.tracks;
  const bytesPer = s.float64 ? 8 : 4;
  const slotBytes = s.windowBins * K * bytesPer;
  const fd = openSync(s.path, 'r');
  try {
    let slot = 0;
    for (const [region, p] of s.plans.entries()) {
      for (let w = 0; w < p.windows.length; w++, slot++) {
        const lo = Math.max(p.firstBin, w * s.windowBins);
        const hi = Math.min(p.firstBin + p.bins, (w + 1) * s.windowBins);
        if (hi <= lo) continue;
        const bytes = (hi - lo) * K * bytesPer;
        const buf = Buffer.alloc(bytes);
        const at = slot * slotBytes + (lo - w * s.windowBins) * K * bytesPer;
        for (let got = 0; got < bytes; ) {
          const n = readSync(fd, buf, got, bytes - got, at + got);
          if (n === 0) throw new Error(`${s.path}: shorter than its windows`);
          got += n;
        }
        let values: Float32Array;
        if (s.float64) {
          const sums = new Float64Array(buf.buffer, buf.byteOffset, (hi - lo) * K);
          values = new Float32Array(sums.length);
          for (let i = 0; i < sums.length; i++) values[i] = sums[i]! / s.ensemble;
        } else values = new Float32Array(buf.buffer, buf.byteOffset, (hi - lo) * K);
        yield { region, row: lo - p.firstBin, values };
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Splits the scratch into one raw float32 file per track (its written bins, in plan order). */
function splitTracks(s: ScratchLayout, dir: string): string[] {
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
  for (const { values } of regionRows(s)) {
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
    for (const { region, row, values } of regionRows(o.scratch)) {
      const plan = o.scratch.plans[region]!;
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
  const plans = o.scratch.plans;
  const totalBins = plans.reduce((a, p) => a + p.bins, 0);
  const K = o.tracks.length;
  const header = encodeSafetensorsHeader([{ name: o.head, dtype: 'F32', shape: [totalBins, K], length: totalBins * K * 4 }], {
    producer: 'seq2track predict --genome',
    head: o.head,
    bin_size: String(o.binSize),
    window_length: String(o.windowLength),
    ensemble: String(o.scratch.ensemble),
    tracks: JSON.stringify(o.tracks.map((t) => t.identifier)),
    track_indices: JSON.stringify(o.tracks.map((t) => t.index)),
    descriptions: JSON.stringify(o.tracks.map((t) => t.description)),
    regions: JSON.stringify(plans.map((p) => ({ region: p.region.label, chrom: p.region.chrom, bins: p.bins }))),
  });
  const out = new Appender(path);
  try {
    out.write(header);
    for (const { values } of regionRows(o.scratch)) out.write(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
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
      out.write(`track type=bedGraph name="${quote(t.identifier)}" description="${quote(t.description)}"\n`);
      let plan = 0;
      let b = 0;
      for (const chunk of rawValues(raw[k]!)) {
        const rows: string[] = [];
        for (const v of chunk) {
          while (b >= o.scratch.plans[plan]!.bins) [plan, b] = [plan + 1, 0];
          const p = o.scratch.plans[plan]!;
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

/** Writes the outputs from the scratch and moves them to their final names; returns those names. */
export async function emitRegionOutputs(o: EmitOptions): Promise<string[]> {
  const { job, out, kind } = o;
  const staged = job.file('out');
  rmSync(staged, { recursive: true, force: true });
  rmSync(job.file('tracks'), { recursive: true, force: true });
  if (kind === 'tsv') {
    writeTsv(o, staged);
    renameSync(staged, out);
    return [out];
  }
  if (kind === 'safetensors') {
    const bed = out.replace(/\.safetensors$/i, '') + '.bins.bed';
    const stagedBed = job.file('out.bins.bed');
    writeSafetensorsRows(o, staged, stagedBed);
    renameSync(stagedBed, bed);
    renameSync(staged, out);
    return [out, bed];
  }
  const raw = splitTracks(o.scratch, job.file('tracks'));
  if (kind === 'bedgraph') {
    writeBedGraphTracks(o, raw, staged);
    renameSync(staged, out);
    return [out];
  }
  mkdirSync(staged);
  const layout = o.scratch.plans.map((p) => ({ chrom: p.region.chrom, starts: p.starts, ends: p.ends }));
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
