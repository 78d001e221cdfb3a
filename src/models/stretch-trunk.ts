/**
 * The trunk along a stretch of overlapping windows (consecutive windows of a region under one
 * ensemble run), each position computed once and handed to every window that covers it.
 *
 * The trunk is local, so away from a window's ends its outputs are a function of the genome alone:
 * the stretch is cut into tiles fixed by its geometry alone (cores of `core` bp from the stretch
 * start, extents widened by the halo, the stretch ends as ends: trunk-tiler.ts), and a window takes
 * the positions it does not compute itself (those within the trunk margin of its ends) from the
 * tiles that hold them. Windows pass along the stretch in one direction (increasing positions, or
 * decreasing for a reverse-complement run read in reversed coordinates): a window copies what it
 * shares with the previous one from that window's outputs, and takes the rest from tiles computed
 * when first needed and dropped as soon as the next window needs none of them, so memory holds the
 * previous window's outputs and at most one tile beyond them.
 *
 * Because the tiles depend on the stretch geometry only, a job resumed at any window computes the
 * very tiles (same inputs, same shapes) the uninterrupted run used for it: the outputs are
 * byte-identical.
 */
import type { TensorData } from '../engine/protocol.js';
import type { Tile, TrunkSpan, TrunkTiler } from './trunk-tiler.js';

/** The trunk of bp [start, end) of the stretch, one sequence: [1, (end - start) / resolution, C] per output. */
export type StretchRead = (start: number, end: number) => Promise<Record<string, TensorData>>;

/** Positions [from, to) of a stretch. */
type Piece = [number, number];

/** The parts of `a` outside `b` (none, one or two pieces). */
function outside([from, to]: Piece, [s, e]: Piece): Piece[] {
  if (e <= from || s >= to) return [[from, to]];
  return ([[from, Math.min(s, to)], [Math.max(e, from), to]] as Piece[]).filter(([x, y]) => x < y);
}

export class StretchTrunk {
  private readonly tiles: Tile[];
  /** Core outputs of the tiles computed and still needed, by tile index. */
  private readonly held = new Map<number, Record<string, TensorData>>();
  /** The positions the last window was given and where they now are (its trunk outputs): the next window copies its overlap from there. */
  private last?: { piece: Piece; span: TrunkSpan };

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
   * (a window's trunk outputs). What the last window was given comes from its outputs (the values
   * its tiles gave, copied), the rest from tiles, computed on first use; `next` (the next window's
   * [from, to)) says which tiles to keep: those holding its positions beyond this window's.
   * So between windows memory holds the last window's outputs (which its head needed anyway) and
   * at most a tile beyond them, never the overlap a second time.
   */
  async fill(from: number, to: number, into: TrunkSpan, next?: Piece): Promise<void> {
    this.range(from, to);
    const piece: Piece = [from, to];
    const copy = (source: TrunkSpan, sourceFrom: number, [s, e]: Piece) => this.tiler.copy({ ...source, at: source.at + s - sourceFrom }, { ...into, at: into.at + s - from }, e - s);
    const last = this.last;
    let rest: Piece[] = [piece];
    if (last) {
      const [s, e] = [Math.max(from, last.piece[0]), Math.min(to, last.piece[1])];
      if (s < e) copy(last.span, last.piece[0], [s, e]);
      rest = outside(piece, last.piece);
    }
    const ahead = next ? outside(next, piece) : [];
    const needed = (i: number) => ahead.some(([s, e]) => this.tiles[i]!.s < e && this.tiles[i]!.e > s);
    for (const [a, b] of rest) {
      const [first, lastTile] = this.range(a, b);
      for (let i = first; i <= lastTile; i++) {
        const tile = this.tiles[i]!;
        copy({ outputs: await this.tileOutputs(i), length: tile.e - tile.s, item: 0, at: 0 }, tile.s, [Math.max(a, tile.s), Math.min(b, tile.e)]);
        if (!needed(i)) this.held.delete(i);
      }
    }
    for (const i of [...this.held.keys()]) if (!needed(i)) this.held.delete(i);
    this.last = next ? { piece, span: into } : undefined;
  }

  /**
   * The last window's trunk outputs when the next window may be assembled in them (one sequence:
   * its overlap then moves within the buffer instead of being copied into a second one, so the
   * stretch never holds two windows' outputs at once). The caller must be done with them.
   */
  get recyclable(): Record<string, TensorData> | undefined {
    const span = this.last?.span;
    return span && span.item === 0 && Object.values(span.outputs).every((t) => t.dims[0] === 1) ? span.outputs : undefined;
  }

  /** Tiles held now (memory: at most one between windows). */
  get tilesHeld(): number {
    return this.held.size;
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
