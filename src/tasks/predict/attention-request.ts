/** An attention-map request and the size check made before any model runs (no I/O: the CLI and the page share it). */
import { writtenHeads, type AttentionMapSpec } from '../../models/attention-maps.js';

export class AttentionSizeError extends Error {}

export interface AttentionRequest {
  /** Layers and heads; the model is loaded with it. */
  spec: AttentionMapSpec;
  /** Query rows (0-based transformer positions, ascending); default: those of the central output bins. */
  rows?: number[];
  /** Refuse maps larger than this many bytes (default DEFAULT_ATTENTION_MAX_BYTES). */
  maxBytes?: number;
}

/** 256 MiB: a full single-window head-mean Enformer map (11 × 1,536² floats, 104 MB) fits, all 8 heads (830 MB) do not. */
export const DEFAULT_ATTENTION_MAX_BYTES = 256 * 2 ** 20;

function size(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} bytes`;
}

/** Throws a one-line error when the map of `records` records would exceed the limit. */
export function checkAttentionSize(request: AttentionRequest, records: number, rows: number, positions: number): number {
  const { spec } = request;
  const heads = writtenHeads(spec);
  const bytes = records * spec.layers.length * heads * rows * positions * 4;
  const limit = request.maxBytes ?? DEFAULT_ATTENTION_MAX_BYTES;
  if (bytes > limit) {
    throw new AttentionSizeError(
      `--attention: the map would be ${size(bytes)} (${records} records × ${spec.layers.length} layers × ${heads} heads × ${rows} rows × ${positions} positions float32), above the limit of ${size(limit)}; select fewer --attention-layers/--attention-heads/--attention-rows or raise --attention-max-bytes`,
    );
  }
  return bytes;
}
