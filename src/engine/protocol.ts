/** Messages between a session runner (main thread) and its worker, which owns ONNX Runtime (Node or web). */

export type BlobPiece =
  | { to: number; length: number; kind: 'file'; path: string; from: number }
  | { to: number; length: number; kind: 'bytes'; bytes: Uint8Array };

/**
 * How the engine assembles an external-data blob: pieces copied into a buffer of `size` bytes, or,
 * when the weights already sit packed in one buffer, that buffer itself (transferred, not copied).
 */
export interface BlobSpec {
  size: number;
  pieces: BlobPiece[];
  buffer?: ArrayBuffer;
}

export type TensorDType = 'float32' | 'int64';

export interface TensorData {
  dtype: TensorDType;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

/**
 * Float32 graph inputs read in place from a loaded blob (offset in bytes, 4-byte aligned): weights fed
 * as inputs to a session that holds none, without passing through the calling thread.
 */
export interface BlobFeeds {
  blob: string;
  tensors: Record<string, { offset: number; dims: number[] }>;
}

/**
 * Tensors kept in the worker between runs: `keep` stores the named outputs of this run under `key`
 * (fetched whether listed in the fetches or not, and not returned); `take` feeds the tensors stored under these keys (and forgets them);
 * `prefetch` starts reading back keys a later run will take (those that went to the spill file).
 * Keys are 'group/name'; `dropStash(group)` forgets a group's leftovers.
 */
export interface RunStash {
  keep?: { key: string; names: string[] };
  take?: string[];
  prefetch?: string[];
}

/**
 * `EngineOptions.stashMemory` when not set: a quarter of the memory the system reports available when
 * the first value is stashed (what the saved activations may take from what is left beside the
 * sessions), and at least 512 MiB. Measured (BENCHMARKS.md): a value read back from the spill file
 * costs about what recomputing it would, so a machine with memory to spare keeps them all in memory.
 */
export function defaultStashMemory(availableBytes: number): number {
  return Math.max(512 * 2 ** 20, Math.floor(availableBytes / 4));
}

/**
 * ONNX Runtime session options, as onnxruntime-common's `InferenceSession.SessionOptions` names them,
 * passed to the worker as they are.
 */
export type OrtSessionOptions = Readonly<Record<string, unknown>>;

export interface EngineOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /**
   * Node: 'cpu' (default) or 'cuda' (needs the CUDA provider libraries, docs/internals.md).
   * Browser: 'wasm' (default) or 'webgpu'.
   */
  executionProvider?: 'cpu' | 'cuda' | 'wasm' | 'webgpu';
  /**
   * Bytes of stashed tensors (`RunStash`) the worker holds in memory (default `defaultStashMemory`: a
   * quarter of the available memory); the rest goes to a temporary file, unlinked at once (Node; the
   * browser holds them in memory).
   */
  stashMemory?: number;
  /**
   * More session options, laid over the engine's own: the switches of measurements (src/bench/:
   * profiling, optimisation level, intra-op spinning), which models themselves never set.
   */
  sessionOptions?: OrtSessionOptions;
}

/** What one session asks of the runtime beyond the engine's options. */
export interface SessionOpts {
  /**
   * Keep the session's freed buffers for its later tensors (ONNX Runtime's CPU memory arena) instead
   * of returning them to the system: `true`, or `{ ifAvailable: bytes }` when the system reports at
   * least that much memory available as the session is made (Node; the browser's WASM heap never
   * shrinks anyway, so there it stays off). Off by default, since the arena keeps its high-water mark
   * (rounded up to powers of two) for the session's lifetime. Worth it where a session runs many times
   * with large intermediates: without it each one above glibc's mmap threshold (32 MiB) comes as
   * fresh pages, a page fault at every first write (BENCHMARKS.md, "Fresh pages in the block backward").
   */
  memoryArena?: boolean | { ifAvailable: number };
}

/** Whether a session with `opts` keeps an arena, `available` bytes being free now. */
export function wantsArena(opts: SessionOpts, available: number): boolean {
  const a = opts.memoryArena;
  return a === true || (typeof a === 'object' && available >= a.ifAvailable);
}

export type Request =
  | { op: 'blob'; name: string; spec: BlobSpec }
  | { op: 'dropBlob'; name: string; poison?: boolean; reuse?: boolean }
  | ({ op: 'session'; id: string; model: Uint8Array; blobs: string[]; options: EngineOptions } & SessionOpts)
  | { op: 'run'; id: string; feeds: Record<string, TensorData>; fetches: string[]; blobFeeds?: BlobFeeds; stash?: RunStash }
  | { op: 'dropStash'; group: string }
  | { op: 'release'; id: string };

export type Reply = { seq: number; ok: true; result: unknown } | { seq: number; ok: false; error: string; stack?: string };
