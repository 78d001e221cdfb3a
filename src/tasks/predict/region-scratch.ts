/**
 * The genome job's stores on disk, in its staging directory: every window's values in a scratch
 * file (slot s = the s-th window of the job's range in compute order, [windowBins, tracks]: float32 means when one model
 * runs, float64 sums over the runs when several models are averaged, since a later model pass adds
 * to them), and the attention maps in a second file, record after record.
 */
import { closeSync, existsSync, openSync, readSync, writeSync } from 'node:fs';
import { JobError } from '../job/ensemble.js';
import type { RegionPlan } from '../../genome/regions.js';
import type { AttentionLayout, MapStore, WindowLayout, WindowStore } from './region-job.js';
import type { RegionRows } from './region-writers.js';

/** The written bins one window holds: bins [lo, hi) of its plan's concatenated window outputs. */
export interface WindowRows {
  /** Index of the plan, and of the window in compute order (over all plans). */
  region: number;
  window: number;
  /** The window's index within its plan. */
  index: number;
  lo: number;
  hi: number;
}

/**
 * The windows of `range` (compute order) that hold written bins, with those bins, in order: how a
 * job's rows are read from its scratch, and how `merge` reads the shards' rows (genome-shards.ts),
 * so both walk the plans one way.
 */
export function* windowRows(plans: RegionPlan[], windowBins: number, range: [number, number]): Generator<WindowRows> {
  let window = 0;
  for (const [region, p] of plans.entries()) {
    for (let index = 0; index < p.windows.length; index++, window++) {
      if (window < range[0] || window >= range[1]) continue;
      const lo = Math.max(p.firstBin, index * windowBins);
      const hi = Math.min(p.firstBin + p.bins, (index + 1) * windowBins);
      if (hi > lo) yield { region, window, index, lo, hi };
    }
  }
}

function readFully(fd: number, buf: Uint8Array, position: number, what: () => string): void {
  for (let at = 0; at < buf.length; ) {
    const n = readSync(fd, buf, at, buf.length - at, position + at);
    if (n === 0) throw new JobError(what());
    at += n;
  }
}

function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at, position + at);
}

/** Window values in a scratch file (opened for update, so a resumed job keeps what is there). */
export class ScratchWindows implements WindowStore {
  private readonly fd: number;
  private readonly float64: boolean;
  private readonly slotBytes: number;

  constructor(
    readonly path: string,
    readonly layout: WindowLayout,
    /** Named in the error when the file is shorter than its progress says. */
    private readonly staging: string,
  ) {
    this.float64 = layout.models > 1;
    this.slotBytes = layout.windowBins * layout.tracks * (this.float64 ? 8 : 4);
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
  }

  load(slot: number): Float64Array {
    const buf = Buffer.alloc(this.slotBytes);
    readFully(this.fd, buf, slot * this.slotBytes, () => `${this.path}: the scratch file is shorter than its progress records; delete ${this.staging} to start over`);
    return new Float64Array(buf.buffer, buf.byteOffset, this.layout.windowBins * this.layout.tracks).slice();
  }

  save(slot: number, sum: Float64Array): void {
    let bytes: Uint8Array;
    if (this.float64) bytes = new Uint8Array(sum.buffer, sum.byteOffset, sum.byteLength);
    else {
      const values = new Float32Array(sum.length);
      for (let i = 0; i < sum.length; i++) values[i] = sum[i]! / this.layout.ensemble;
      bytes = new Uint8Array(values.buffer);
    }
    writeFully(this.fd, bytes, slot * this.slotBytes);
  }

  close(): void {
    closeSync(this.fd);
  }

  /** The written bins of each region, read back from the scratch as float32 means. */
  rows(): RegionRows {
    const { layout, path } = this;
    const float64 = this.float64;
    const slotBytes = this.slotBytes;
    return {
      plans: layout.plans,
      tracks: layout.tracks,
      *chunks() {
        const K = layout.tracks;
        const bytesPer = float64 ? 8 : 4;
        const fd = openSync(path, 'r');
        try {
          for (const { region, window, index, lo, hi } of windowRows(layout.plans, layout.windowBins, layout.range)) {
            const p = layout.plans[region]!;
            const slot = window - layout.range[0];
            const buf = Buffer.alloc((hi - lo) * K * bytesPer);
            readFully(fd, buf, slot * slotBytes + (lo - index * layout.windowBins) * K * bytesPer, () => `${path}: shorter than its windows`);
            let values: Float32Array;
            if (float64) {
              const sums = new Float64Array(buf.buffer, buf.byteOffset, (hi - lo) * K);
              values = new Float32Array(sums.length);
              for (let i = 0; i < sums.length; i++) values[i] = sums[i]! / layout.ensemble;
            } else values = new Float32Array(buf.buffer, buf.byteOffset, (hi - lo) * K);
            yield { region, row: lo - p.firstBin, values };
          }
        } finally {
          closeSync(fd);
        }
      },
    };
  }
}

/** Attention maps in a file, record after record; records never written read as zeros. */
export class ScratchMaps implements MapStore {
  private readonly fd: number;
  private readonly per: number;

  constructor(
    readonly path: string,
    private readonly layout: AttentionLayout,
  ) {
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    this.per = layout.elements / layout.records.length;
  }

  put(record: number, map: Float32Array): void {
    writeFully(this.fd, new Uint8Array(map.buffer, map.byteOffset, map.byteLength), record * this.per * 4);
  }

  /** The whole map, read back once for its writer (bounded by checkAttentionSize). */
  read(): Float32Array {
    const data = new Float32Array(this.layout.elements);
    const bytes = new Uint8Array(data.buffer);
    for (let at = 0; at < bytes.length; ) {
      const n = readSync(this.fd, bytes, at, bytes.length - at, at);
      if (n === 0) break; // a map never written (no forward run) stays zero, as in memory
      at += n;
    }
    return data;
  }

  close(): void {
    closeSync(this.fd);
  }
}
