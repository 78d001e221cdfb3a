/**
 * The trunk along a stretch of overlapping windows (consecutive windows of a region under one
 * ensemble run), each position computed once and handed to every window that covers it.
 *
 * The trunk is local, so away from a window's ends its outputs are a function of the genome alone:
 * the stretch is cut into tiles fixed by its geometry alone (cores of `core` bp from the stretch
 * start, extents widened by the halo, the stretch ends as ends: trunk-tiler.ts), and a window takes
 * the positions it does not compute itself (those within the trunk margin of its ends) from the
 * tiles that hold them. Tiles are computed when a window first needs them and dropped as soon as
 * the next window needs none of them: windows pass along the stretch in one direction (increasing
 * positions, or decreasing for a reverse-complement run read in reversed coordinates), so memory
 * holds one window's tiles while it is filled and only the overlap with the next one after.
 *
 * Because the tiles depend on the stretch geometry only, a job resumed at any window computes the
 * very tiles (same inputs, same shapes) the uninterrupted run used for it: the outputs are
 * byte-identical.
 */
import type { TensorData } from '../engine/protocol.js';
import type { Tile, TrunkSpan, TrunkTiler } from './trunk-tiler.js';

/** The trunk of bp [start, end) of the stretch, one sequence: [1, (end - start) / resolution, C] per output. */
export type StretchRead = (start: number, end: number) => Promise<Record<string, TensorData>>;

export class StretchTrunk {
  private readonly tiles: Tile[];
  /** Core outputs of the tiles computed and still needed, by tile index. */
  private readonly held = new Map<number, Record<string, TensorData>>();

  constructor(
    private readonly tiler: TrunkTiler,
    /** Stretch length in bp (on the trunk grid). */
    readonly length: number,
    /** Tile core in bp (on the trunk grid). */
    private readonly core: number,
    private readonly compute: StretchRead,
  ) {
    this.tiles = tiler.tilesOf(length, core);
  }

  /**
   * Writes stretch positions [from, to) into `into` at bp `into.at` of its batch item `into.item`
   * (a window's trunk outputs), computing the tiles they need; then keeps only the tiles that hold
   * positions of `next` (the next window's [from, to)), none when there is no next window.
   */
  async fill(from: number, to: number, into: TrunkSpan, next?: [number, number]): Promise<void> {
    const [first, last] = this.range(from, to);
    for (let i = first; i <= last; i++) {
      const tile = this.tiles[i]!;
      const outputs = await this.tileOutputs(i);
      const s = Math.max(from, tile.s);
      const e = Math.min(to, tile.e);
      this.tiler.copy({ outputs, length: tile.e - tile.s, item: 0, at: s - tile.s }, { ...into, at: into.at + s - from }, e - s);
    }
    // Dropped as soon as the window is served: between windows only their overlap is held.
    const [keepFirst, keepLast] = next ? this.range(...next) : [Infinity, -Infinity];
    for (const i of [...this.held.keys()]) if (i < keepFirst || i > keepLast) this.held.delete(i);
  }

  /** Indices of the first and last tile holding positions [from, to). */
  private range(from: number, to: number): [number, number] {
    if (from < 0 || to > this.length || from >= to) throw new Error(`stretch positions [${from}, ${to}) outside the ${this.length} bp stretch`);
    return [Math.floor(from / this.core), Math.floor((to - 1) / this.core)];
  }

  /** Tile i's core outputs, computed on first use. */
  private async tileOutputs(i: number): Promise<Record<string, TensorData>> {
    const known = this.held.get(i);
    if (known) return known;
    const tile = this.tiles[i]!;
    const whole = await this.compute(tile.ts, tile.te);
    // Only the core is kept: the halo's values are inexact by construction.
    const core = this.tiler.empty(1, tile.e - tile.s);
    this.tiler.copy({ outputs: whole, length: tile.te - tile.ts, item: 0, at: tile.s - tile.ts }, { outputs: core, length: tile.e - tile.s, item: 0, at: 0 }, tile.e - tile.s);
    this.held.set(i, core);
    return core;
  }
}
