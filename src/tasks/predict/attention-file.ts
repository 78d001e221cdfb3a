/**
 * What the prediction jobs share about attention maps: the request, the size check made before any
 * model runs (attention-request.ts, no I/O: the page shares it), and the safetensors file (`attention` [records, layers, heads, rows, positions]).
 */
import { rename, rm } from 'node:fs/promises';
import { writeSafetensors } from '../../weights/safetensors.js';
import type { AttentionMapSpec } from '../../models/attention-maps.js';

export { AttentionSizeError, DEFAULT_ATTENTION_MAX_BYTES, checkAttentionSize, type AttentionRequest } from './attention-request.js';

export interface AttentionFile {
  data: Float32Array;
  shape: [number, number, number, number, number];
  spec: AttentionMapSpec;
  rows: number[];
  /** bp per transformer position. */
  resolution: number;
  /** One entry per record (JSON-serialisable: name, window coordinates, model…). */
  records: unknown[];
  producer: string;
  extra?: Record<string, string>;
}

/** Writes `attention` with its layout in the metadata, atomically (`X.partial`, then renamed). */
export async function writeAttentionFile(path: string, f: AttentionFile): Promise<void> {
  const partial = `${path}.partial`;
  try {
    await writeSafetensors(partial, [{ name: 'attention', dtype: 'F32', shape: [...f.shape], data: f.data }], {
      producer: f.producer,
      layout: 'records, layers, heads, rows, positions',
      layers: JSON.stringify(f.spec.layers),
      heads: f.spec.heads === 'mean' ? '"mean"' : JSON.stringify(f.spec.heads),
      rows: JSON.stringify(f.rows),
      position_bp: String(f.resolution),
      records: JSON.stringify(f.records),
      ...f.extra,
    });
    await rename(partial, path);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}
