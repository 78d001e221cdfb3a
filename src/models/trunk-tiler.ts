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

  /** The tiles of `length` bp: one when tiling is off or the input is short. */
  tiles(length: number): Tile[] {
    const grid = this.grid(length);
    const core = this.tileLength <= 0 ? length : Math.max(grid, Math.floor(this.tileLength / grid) * grid);
    if (core >= length) return [this.tile(0, length, length)];
    const tiles: Tile[] = [];
    for (let s = 0; s < length; s += core) tiles.push(this.tile(s, Math.min(length, s + core), length));
    return tiles;
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
    const tileLen = te - ts;
    for (const { name, resolution } of this.arch.trunkOutputs) {
      const t = r[name]!;
      const channels = t.dims[2]!;
      const positions = length / resolution;
      const out = result[name]!.data as Float32Array;
      const tilePositions = tileLen / resolution;
      const skip = (s - ts) / resolution;
      const keep = (e - s) / resolution;
      const data = t.data as Float32Array;
      for (let b = 0; b < batch; b++) {
        const src = data.subarray((b * tilePositions + skip) * channels, (b * tilePositions + skip + keep) * channels);
        out.set(src, (b * positions + s / resolution) * channels);
      }
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
