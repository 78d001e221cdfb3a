/**
 * The trunk's tiles, for every tiled computation (forward, patches, input gradients, training). The
 * trunk is local (convolutions and pooling only), so a long input runs as overlapping tiles: each
 * tile's core [s, e) lies on the trunk's coarsest grid, and its extent [ts, te) widens the core by the
 * halo (the receptive field) on interior sides, so the core's outputs are exactly the untiled ones; at
 * the sequence ends the extent ends where the sequence does, so every layer pads as in the untiled run.
 * The backward runs on the same tiles, seeded with the core's cotangent only (zero on the halo): a
 * tile's input gradient and its share of each weight's gradient then add up to the untiled ones.
 * Pure: geometry and slicing of plain arrays, no engine.
 */
import type { TensorData } from '../engine/protocol.js';
import { trunkGrid, type Architecture } from './architecture.js';
import { LengthError, type OneHotBatch } from './model-types.js';

/** Core length in bp of a trunk tile when none is asked for. */
export const DEFAULT_TILE = 32_768;

/** A tile: core [s, e) (the trunk positions it yields) and extent [ts, te) (the input it reads), in bp. */
export interface Tile {
  s: number;
  e: number;
  ts: number;
  te: number;
}

/** Trunk outputs of a batch of sequences of `length` bp, and a place in them: bp `at` of batch item `item`. */
export interface TrunkSpan {
  outputs: Record<string, TensorData>;
  length: number;
  item: number;
  at: number;
}

export class TrunkTiler {
  /** `tileLength`: requested core length in bp (rounded down to the grid, at least one grid step); 0 or less: one tile. */
  constructor(
    private readonly arch: Pick<Architecture, 'kind' | 'trunkOutputs' | 'trunkHaloBp'>,
    private readonly tileLength = DEFAULT_TILE,
  ) {}

  /** The coarsest trunk grid in bp; throws a LengthError unless `length` lies on it. */
  grid(length: number): number {
    const grid = trunkGrid(this.arch.trunkOutputs);
    if (length % grid !== 0) throw new LengthError(`sequence has length ${length} bp; the trunk needs a multiple of ${grid} bp`);
    const halo = this.arch.trunkHaloBp;
    if (halo % grid !== 0) throw new Error(`${this.arch.kind}: trunk halo ${halo} bp is not a multiple of the trunk grid ${grid} bp`);
    return grid;
  }

  /** Core length in bp of the tiles of `length` bp (on the grid): the whole sequence when tiling is off. */
  coreLength(length: number): number {
    const grid = this.grid(length);
    return this.tileLength <= 0 ? length : Math.max(grid, Math.floor(this.tileLength / grid) * grid);
  }

  /** The tiles of `length` bp: one when tiling is off or the input is short. */
  tiles(length: number): Tile[] {
    return this.tilesOf(length, this.coreLength(length));
  }

  /** Tiles of `length` bp whose cores of `core` bp (on the grid) cover [from, to), the first starting at `from`. */
  tilesOf(length: number, core: number, from = 0, to = length): Tile[] {
    const tiles: Tile[] = [];
    for (let s = from; s < to; s += core) tiles.push(this.tile(s, Math.min(to, s + core), length));
    return tiles;
  }

  /**
   * The tiles of `length` bp that leave out [start, end) (trunk positions the caller has from
   * elsewhere): cores [0, start) and [end, length), each tiled as the sequence would be. Both ends
   * must lie on the grid.
   */
  around(length: number, start: number, end: number): Tile[] {
    const grid = this.grid(length);
    if (start % grid !== 0 || end % grid !== 0 || start < 0 || end > length || start > end) throw new Error(`known trunk positions [${start}, ${end}) of a ${length} bp sequence are not on the ${grid} bp grid`);
    const core = this.coreLength(length);
    return [...this.tilesOf(length, core, 0, start), ...this.tilesOf(length, core, end, length)];
  }

  /** The tile of core [s, e): widened by the halo on interior sides (the sequence ends stay ends). */
  tile(s: number, e: number, length: number): Tile {
    const halo = this.arch.trunkHaloBp;
    return { s, e, ts: Math.max(0, s - halo), te: Math.min(length, e + halo) };
  }

  /** The smallest tile whose core holds every trunk position that bases [start, end) reach. */
  patch(length: number, start: number, end: number): Tile {
    const grid = this.grid(length);
    const halo = this.arch.trunkHaloBp;
    const s = Math.max(0, Math.floor((start - halo) / grid) * grid);
    const e = Math.min(length, Math.ceil((end + halo) / grid) * grid);
    return this.tile(s, e, length);
  }

  /** The tile's input [B, te - ts, 4] (the batch's own array when the tile is the whole sequence). */
  input(input: OneHotBatch, { ts, te }: Tile): Float32Array {
    const { batch, length } = input;
    const tileLen = te - ts;
    if (tileLen === length) return input.data;
    const tile = new Float32Array(batch * tileLen * 4);
    for (let b = 0; b < batch; b++) tile.set(input.data.subarray((b * length + ts) * 4, (b * length + te) * 4), b * tileLen * 4);
    return tile;
  }

  /** Zero trunk outputs [B, length / resolution, C] for the whole sequence, to place tiles into. */
  empty(batch: number, length: number): Record<string, TensorData> {
    const result: Record<string, TensorData> = {};
    for (const { name, resolution, channels } of this.arch.trunkOutputs) {
      const positions = length / resolution;
      result[name] = { dtype: 'float32', dims: [batch, positions, channels], data: new Float32Array(batch * positions * channels) };
    }
    return result;
  }

  /** Writes the core of a tile's trunk outputs `r` into `result` (the whole sequence's). */
  place(r: Record<string, TensorData>, batch: number, length: number, { s, e, ts, te }: Tile, result: Record<string, TensorData>): void {
    for (let b = 0; b < batch; b++) this.copy({ outputs: r, length: te - ts, item: b, at: s - ts }, { outputs: result, length, item: b, at: s }, e - s);
  }

  /**
   * Copies `bp` bp of trunk positions between the outputs of two sequences (each [B, its length /
   * resolution, C] per output), from bp `from.at` of batch item `from.item` to bp `to.at` of
   * `to.item`; positions and lengths on the grid.
   */
  copy(from: TrunkSpan, to: TrunkSpan, bp: number): void {
    for (const { name, resolution } of this.arch.trunkOutputs) {
      const src = from.outputs[name]!;
      const channels = src.dims[2]!;
      const at = (span: TrunkSpan) => ((span.item * span.length + span.at) / resolution) * channels;
      const a = at(from);
      const n = (bp / resolution) * channels;
      const dst = to.outputs[name]!.data as Float32Array;
      // Within one buffer (a window's outputs moved to the next window's place) a memmove: `set`
      // would first clone the overlapping source, a second copy of the overlap in memory.
      if (dst === src.data) dst.copyWithin(at(to), a, a + n);
      else dst.set((src.data as Float32Array).subarray(a, a + n), at(to));
    }
  }

  /**
   * The cotangents a tile's backward is seeded with, per trunk output (keyed by its name): the whole
   * sequence's cotangent `full(name)` [B, positions, C] on the tile's core, zero on its halo.
   */
  cotangents(full: (output: string) => Float32Array, batch: number, length: number, { s, e, ts, te }: Tile): Record<string, TensorData> {
    const tileLen = te - ts;
    const result: Record<string, TensorData> = {};
    for (const { name, resolution, channels } of this.arch.trunkOutputs) {
      const whole = full(name);
      const positions = length / resolution;
      const tilePositions = tileLen / resolution;
      const cotangent = new Float32Array(batch * tilePositions * channels);
      const skip = (s - ts) / resolution;
      const keep = (e - s) / resolution;
      for (let b = 0; b < batch; b++) {
        const from = (b * positions + s / resolution) * channels;
        cotangent.set(whole.subarray(from, from + keep * channels), (b * tilePositions + skip) * channels);
      }
      result[name] = { dtype: 'float32', dims: [batch, tilePositions, channels], data: cotangent };
    }
    return result;
  }

  /** Adds a tile's input gradient [B, te - ts, 4] into the sequence's [B, length, 4] (halo overlaps summed). */
  addInputGradient(grad: Float32Array, tileGrad: Float32Array, batch: number, length: number, { ts, te }: Tile): void {
    const tileLen = te - ts;
    for (let b = 0; b < batch; b++) {
      const into = (b * length + ts) * 4;
      const from = b * tileLen * 4;
      for (let i = 0; i < tileLen * 4; i++) grad[into + i]! += tileGrad[from + i]!;
    }
  }
}
