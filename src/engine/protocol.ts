/** Messages between a session runner (main thread) and its worker, which owns ONNX Runtime (Node or web). */
import type { BlobSpec } from '../weights/weight-set.js';

export type TensorDType = 'float32' | 'int64';

export interface TensorData {
  dtype: TensorDType;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface EngineOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /**
   * Node: 'cpu' (default) or 'cuda' (needs the CUDA provider libraries, see README).
   * Browser: 'wasm' (default) or 'webgpu'.
   */
  executionProvider?: 'cpu' | 'cuda' | 'wasm' | 'webgpu';
  /** Write ONNX Runtime's JSON profile with this file prefix. */
  profilePrefix?: string;
  /** ORT graph optimisation level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

export type Request =
  | { op: 'blob'; name: string; spec: BlobSpec }
  | { op: 'dropBlob'; name: string; poison?: boolean }
  | { op: 'session'; id: string; model: Uint8Array; blobs: string[]; options: EngineOptions }
  | { op: 'run'; id: string; feeds: Record<string, TensorData>; fetches: string[] }
  | { op: 'release'; id: string }
  | { op: 'endProfiling'; id: string };

export type Reply = { seq: number; ok: true; result: unknown } | { seq: number; ok: false; error: string };
