/**
 * Worker side of `RunStash` (Node and web workers alike): outputs a run keeps in the worker's
 * `TensorStore` instead of returning them, and stored tensors a later run takes as feeds. A
 * forward's saved activations thus never travel to the calling thread and back (GBs at full size).
 */
import type { RunStash, TensorData } from './protocol.js';
import type { TensorStore } from './tensor-store.js';

/**
 * The stored tensors a run takes as feeds (removed from the store); then starts reading the keys
 * `stash.prefetch` names (a later run's), which proceeds while this run computes.
 */
export async function takeStashed(store: TensorStore, stash: RunStash | undefined): Promise<Record<string, TensorData>> {
  const feeds: Record<string, TensorData> = {};
  for (const key of stash?.take ?? []) Object.assign(feeds, await store.take(key));
  for (const key of stash?.prefetch ?? []) store.prefetch(key);
  return feeds;
}

/**
 * Keeps the outputs `stash.keep` names (views of the runtime's output data: not copied) and returns
 * the names kept, once the store's pending spill writes are back under its limit.
 */
export async function keepStashed(store: TensorStore, stash: RunStash | undefined, outputs: Record<string, TensorData>): Promise<Set<string>> {
  const keep = stash?.keep;
  if (!keep) return new Set();
  const kept: Record<string, TensorData> = {};
  for (const name of keep.names) {
    const t = outputs[name];
    if (!t) throw new Error(`stash: the run has no output '${name}'`);
    kept[name] = t;
  }
  store.put(keep.key, kept);
  await store.backpressure();
  return new Set(keep.names);
}
