/**
 * Inputs fed in place from a blob the worker holds (Node and web workers alike): float32 views into
 * the blob, checked to lie inside it, so a run reads e.g. one block's weights without a copy.
 */
import type { BlobFeeds } from './protocol.js';

export function blobFeedViews(spec: BlobFeeds, blobs: Map<string, Uint8Array>): Record<string, { data: Float32Array; dims: number[] }> {
  const blob = blobs.get(spec.blob);
  if (!blob) throw new Error(`unknown blob ${spec.blob}`);
  const views: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const [k, { offset, dims }] of Object.entries(spec.tensors)) {
    const n = dims.reduce((a, b) => a * b, 1);
    if (offset % 4 !== 0 || offset + 4 * n > blob.byteLength) throw new Error(`blob ${spec.blob}: input ${k} [${dims}] at byte ${offset} is outside it`);
    views[k] = { data: new Float32Array(blob.buffer, blob.byteOffset + offset, n), dims };
  }
  return views;
}
