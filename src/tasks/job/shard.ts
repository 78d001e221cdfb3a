/**
 * `--shard i/N`: a job cut into N contiguous blocks of its units (VCF chunks for score-variants,
 * whole model batches of windows for predict --genome), so that the shards run exactly the model
 * batches of the unsharded run and their outputs, laid together in order, are its output.
 */

export class ShardError extends Error {}

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** Parses `i/N` (1 ≤ i ≤ N). */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count) throw new ShardError(`--shard ${JSON.stringify(text)}: expected i/N with 1 ≤ i ≤ N (1-based), e.g. 1/4`);
  return { index, count };
}

/**
 * Items [first, end) of shard i/N over `total` items in chunks of `chunk`: chunks
 * [⌊(i−1)·C/N⌋, ⌊i·C/N⌋) of the C = ⌈total/chunk⌉ chunks. Every item is in exactly one shard, shards
 * are in item order, and a shard boundary is always a chunk boundary (a shard may be empty when N > C).
 */
export function shardRange(total: number, chunk: number, shard: Shard | undefined): [number, number] {
  if (!shard) return [0, total];
  const chunks = Math.ceil(total / chunk);
  const a = Math.floor(((shard.index - 1) * chunks) / shard.count);
  const b = Math.floor((shard.index * chunks) / shard.count);
  return [Math.min(total, a * chunk), Math.min(total, b * chunk)];
}
