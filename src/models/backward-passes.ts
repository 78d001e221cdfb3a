/**
 * The run loops that input gradients (gradient-runner.ts) and whole-model training (trainable.ts)
 * share:
 * - the trunk's forward tile by tile, each tile's saved activations kept in the engine worker;
 * - the trunk's backward on the same tiles, each seeded with its core's cotangent, taking back what
 *   its tile's forward saved;
 * - the checkpointed head: the transformer blocks' forward one by one, keeping each block's input
 *   here (and its saved activations in the worker), then the tail stages' forward, the last stage's
 *   backward, and every stage's and block's backward in reverse.
 * What the sessions compute (input or weight gradients) and where their weights come from is the
 * caller's: these loops only order the runs and route the stash.
 */
import type { BlobFeeds, RunStash, TensorData } from '../engine/protocol.js';
import type { SessionRunner } from '../engine/runner.js';
import { gradName, SEGMENT_IN, SEGMENT_OUT } from './gradients.js';
import type { OneHotBatch } from './model-types.js';
import type { SessionSet } from './session-set.js';
import type { Tile, TrunkTiler } from './trunk-tiler.js';

/**
 * Runs `body` with the stash group `stash` and drops the group afterwards; the result gets the bytes
 * the group saved (and spilled). On an error path a failing drop (a dead engine) does not hide the
 * error that got there.
 */
export async function withStash<R extends { savedActivations?: { bytes: number; spilledBytes: number } }>(engine: SessionRunner, stash: string, body: () => Promise<R>): Promise<R> {
  let result: R | undefined;
  try {
    result = await body();
  } finally {
    const totals = await engine.dropStash(stash).catch((e: unknown) => {
      if (result) throw e;
      return undefined;
    });
    if (result && totals) result.savedActivations = totals;
  }
  return result;
}

/** Stash keys of a call's saved activations: per trunk tile and per transformer block. */
const tileKey = (stash: string, i: number) => `${stash}/tile_${i}`;
const blockKey = (stash: string, j: number) => `${stash}/block_${j}`;

/**
 * Trunk outputs of the whole sequence from the forward half of a split trunk graph (session
 * `forwardId`, dna [+ weights in `blobFeeds`] -> trunk outputs), run tile by tile; what each tile
 * saves stays in the worker under the call's `stash` group for that tile's backward.
 */
export async function trunkForwardSaving(
  engine: SessionRunner,
  tiler: TrunkTiler,
  run: { forwardId: string; saved: string[]; stash: string; blobFeeds?: BlobFeeds; outputs: string[] },
  input: OneHotBatch,
): Promise<Record<string, TensorData>> {
  const { batch, length } = input;
  const result = tiler.empty(batch, length);
  for (const [i, tile] of tiler.tiles(length).entries()) {
    const dna: TensorData = { dtype: 'float32', dims: [batch, tile.te - tile.ts, 4], data: tiler.input(input, tile) };
    const r = await engine.run(run.forwardId, { dna }, run.outputs, run.blobFeeds, { keep: { key: tileKey(run.stash, i), names: run.saved } });
    tiler.place(r, batch, length, tile, result);
  }
  return result;
}

export interface TrunkBackwardRun {
  /** The backward session: seeded with each trunk output's cotangent, an input named `gradName(output)`. */
  id: string;
  fetches: string[];
  /** Whether the session reads the tile's one-hot input too. */
  dna: boolean;
  blobFeeds?: BlobFeeds;
  /** With saved activations: the stash group of `trunkForwardSaving`, whose tiles this backward takes. */
  stash?: string;
}

/**
 * The trunk's backward on the forward's tiles: tile i is seeded with the whole sequence's cotangents
 * `cotangent(output)` on its core and zero on its halo; `onTile` receives each tile's fetches.
 */
export async function trunkBackwardTiles(
  engine: SessionRunner,
  tiler: TrunkTiler,
  run: TrunkBackwardRun,
  input: OneHotBatch,
  cotangent: (output: string) => Float32Array,
  onTile: (tile: Tile, out: Record<string, TensorData>, index: number, tiles: number) => void,
  onStart?: (tiles: number) => void,
): Promise<void> {
  const { batch, length } = input;
  const tiles = tiler.tiles(length);
  onStart?.(tiles.length);
  for (const [index, tile] of tiles.entries()) {
    const feeds: Record<string, TensorData> = {};
    if (run.dna) feeds.dna = { dtype: 'float32', dims: [batch, tile.te - tile.ts, 4], data: tiler.input(input, tile) };
    for (const [name, t] of Object.entries(tiler.cotangents(cotangent, batch, length, tile))) feeds[gradName(name)] = t;
    const stash: RunStash | undefined = run.stash === undefined ? undefined : { take: [tileKey(run.stash, index)], prefetch: index + 1 < tiles.length ? [tileKey(run.stash, index + 1)] : [] };
    onTile(tile, await engine.run(run.id, feeds, run.fetches, run.blobFeeds, stash), index, tiles.length);
  }
}

/** Runs a shared transformer-block graph with block j's weights. */
export type BlockRunner = (id: string, j: number, feeds: Record<string, TensorData>, fetches: string[], stash?: RunStash) => Promise<Record<string, TensorData>>;

export interface HeadChain {
  sessions: SessionSet;
  /** Block forward (segment_in -> segment_out) and backward (+ grad_segment_out -> grad_segment_in) sessions. */
  forwardId: string;
  backwardId: string;
  /** With saved activations: what the forward keeps for the backward (a split block graph's), and the stash group. */
  saved?: { names: string[]; stash: string };
  runBlock: BlockRunner;
  /** Further fetches of each block's backward, handed to `onBlock` (e.g. its weights' gradients). */
  blockFetches?: string[];
  onBlock?: (j: number, out: Record<string, TensorData>) => void;
}

/** One checkpointed segment of a chain: its forward, and its backward given the gradient leaving it. */
export interface ChainLink {
  forward(x: TensorData): Promise<TensorData>;
  /** d <grad, forward(x)> / d x. */
  backward(x: TensorData, grad: TensorData): Promise<TensorData>;
}

/**
 * The checkpointed head's backward: the `depth` blocks' forward one by one from `input`, then the
 * links of `tailLinks` (the tail's stages before its last, e.g. Borzoi's U-Net levels), each link's
 * input kept here ([B, n, C] between blocks); then `tail` on the last output (it runs the last
 * stage's backward and returns d/d its input), then each link's backward in reverse, so memory
 * holds one link's activations at a time. Returns d/d `input`. `positions`: the blocks' positional
 * feeds.
 */
export async function headChainBackward(
  chain: HeadChain,
  depth: number,
  input: TensorData,
  positions: Record<string, TensorData>,
  tail: (x: TensorData) => Promise<TensorData>,
  tailLinks: ChainLink[] = [],
): Promise<TensorData> {
  const links = [...Array.from({ length: depth }, (_, j) => blockLink(chain, j, positions)), ...tailLinks];
  const inputs: TensorData[] = [input];
  for (const link of links) inputs.push(await link.forward(inputs.at(-1)!));
  let grad = await tail(inputs.pop()!);
  for (let j = links.length - 1; j >= 0; j--) grad = await links[j]!.backward(inputs.pop()!, grad);
  return grad;
}

/** Transformer block j as a link: the shared block graphs run with its weights (and its stash entry). */
function blockLink(chain: HeadChain, j: number, positions: Record<string, TensorData>): ChainLink {
  const { sessions, forwardId, backwardId, saved, runBlock } = chain;
  return {
    forward: async (x) => {
      const keep = saved && { keep: { key: blockKey(saved.stash, j), names: saved.names } };
      return (await runBlock(forwardId, j, sessions.feeds(forwardId, { ...positions, [SEGMENT_IN]: x }), [SEGMENT_OUT], keep))[SEGMENT_OUT]!;
    },
    backward: async (x, grad) => {
      const feeds = sessions.feeds(backwardId, { ...positions, [SEGMENT_IN]: x, [gradName(SEGMENT_OUT)]: grad });
      const take = saved && { take: [blockKey(saved.stash, j)], prefetch: j > 0 ? [blockKey(saved.stash, j - 1)] : [] };
      const out = await runBlock(backwardId, j, feeds, [gradName(SEGMENT_IN), ...(chain.blockFetches ?? [])], take);
      chain.onBlock?.(j, out);
      return out[gradName(SEGMENT_IN)]!;
    },
  };
}
