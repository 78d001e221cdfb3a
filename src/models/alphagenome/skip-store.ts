/**
 * AlphaGenome's U-Net skips between the encoder tiles that make them and the decoder tiles that read
 * them: ≈ 7 GB at 1 Mb (1,536 floats per bp summed over the six levels). Kept in memory up to a byte
 * budget; beyond it they go to a spill file (engine/spill-file.ts on Node: a temporary file, so they
 * cost disk and page cache instead of the process's memory). Encoder tiles arrive in order and put
 * their cores; a decoder tile reads any row range, halos included, across the pieces it spans.
 */
import type { TensorData } from '../../engine/protocol.js';
import type { SpillFile } from '../../engine/tensor-store.js';
import type { TrunkOutput } from '../architecture.js';

interface Piece {
  /** First row (position at the level's resolution) and row count. */
  row: number;
  rows: number;
  offset: number;
  written: Promise<void>;
}

export class SkipStore {
  private readonly memory: Record<string, TensorData> | undefined;
  /** Spilled pieces per level name and batch item, in row order. */
  private readonly pieces = new Map<string, Piece[][]>();

  constructor(
    private readonly levels: TrunkOutput[],
    private readonly batch: number,
    private readonly length: number,
    private readonly spill?: SpillFile,
  ) {
    if (spill) {
      for (const l of levels) this.pieces.set(l.name, Array.from({ length: batch }, () => []));
    } else {
      this.memory = {};
      for (const { name, resolution, channels } of levels) {
        const n = batch * (length / resolution) * channels;
        this.memory[name] = { dtype: 'float32', dims: [batch, length / resolution, channels], data: new Float32Array(n) };
      }
    }
  }

  /** Bytes of every level for the whole window. */
  static bytes(levels: TrunkOutput[], batch: number, length: number): number {
    return levels.reduce((a, l) => a + batch * (length / l.resolution) * l.channels * 4, 0);
  }

  /** A tile's outputs `r` (its extent starts at bp `ts`, `tileLength` bp): their core bp [s, e) is stored. */
  put(r: Record<string, TensorData>, ts: number, tileLength: number, s: number, e: number): void {
    for (const { name, resolution, channels } of this.levels) {
      const src = r[name]!.data as Float32Array;
      const tileRows = tileLength / resolution;
      const skip = (s - ts) / resolution;
      const rows = (e - s) / resolution;
      for (let b = 0; b < this.batch; b++) {
        const core = src.subarray((b * tileRows + skip) * channels, (b * tileRows + skip + rows) * channels);
        if (this.memory) {
          (this.memory[name]!.data as Float32Array).set(core, (b * (this.length / resolution) + s / resolution) * channels);
        } else {
          // The spill write runs in the background; it keeps its own copy of the bytes until done.
          const { offset, written } = this.spill!.append(new Uint8Array(core.slice().buffer));
          this.pieces.get(name)![b]!.push({ row: s / resolution, rows, offset, written });
        }
      }
    }
  }

  /** Rows [from, to) of level `name` of batch item `item` into `into` (rows × channels floats) at float `at`. */
  async read(name: string, item: number, from: number, to: number, into: Float32Array, at: number): Promise<void> {
    const level = this.levels.find((l) => l.name === name)!;
    const C = level.channels;
    if (this.memory) {
      const all = this.memory[name]!.data as Float32Array;
      const base = item * (this.length / level.resolution);
      into.set(all.subarray((base + from) * C, (base + to) * C), at);
      return;
    }
    for (const p of this.pieces.get(name)![item]!) {
      const a = Math.max(from, p.row);
      const b = Math.min(to, p.row + p.rows);
      if (a >= b) continue;
      await p.written;
      const dest = new Uint8Array(into.buffer, into.byteOffset + (at + (a - from) * C) * 4, (b - a) * C * 4);
      await this.spill!.read(p.offset + (a - p.row) * C * 4, dest);
    }
  }

  /** Every level whole (in memory only; the one-tile path hands them to the decoder as they are). */
  get whole(): Record<string, TensorData> | undefined {
    return this.memory;
  }

  close(): void {
    this.spill?.close();
  }
}
