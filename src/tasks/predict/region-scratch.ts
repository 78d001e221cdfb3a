/**
 * The genome job's stores on disk, in its staging directory: every window's values in a scratch
 * file (slot s = the s-th window of the job's range in compute order, [windowBins, tracks]: float32 means when one model
 * runs, float64 sums over the runs when several models are averaged, since a later model pass adds
 * to them), and the attention maps in a second file, record after record.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { SlotFile, writeFully } from '../job/slot-file.js';
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

/** Window values in a scratch file: a slot per window, [windowBins, tracks] (job/slot-file.ts). */
export class ScratchWindows extends SlotFile implements WindowStore {
  constructor(
    path: string,
    readonly layout: WindowLayout,
    staging: string,
  ) {
    super(path, layout.windowBins * layout.tracks, layout.models, layout.ensemble, staging);
  }

  /** The written bins of each region, read back from the scratch as float32 means. */
  rows(): RegionRows {
    const { layout } = this;
    const K = layout.tracks;
    const slots = this;
    return {
      plans: layout.plans,
      tracks: layout.tracks,
      *chunks() {
        for (const { region, window, index, lo, hi } of windowRows(layout.plans, layout.windowBins, layout.range)) {
          const from = (lo - index * layout.windowBins) * K;
          yield { region, row: lo - layout.plans[region]!.firstBin, values: slots.mean(window - layout.range[0], from, from + (hi - lo) * K) };
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
