/**
 * The seam between models and ONNX Runtime: a session runner owns sessions and their external-data
 * weight blobs somewhere off the calling thread. Two implementations speak the same protocol:
 * `Engine` (onnxruntime-node in a worker thread, engine.ts) and `WebEngine` (onnxruntime-web in a
 * Web Worker, web/engine.ts). Models see only this interface.
 */
import type { BlobFeeds, BlobSpec, EngineOptions, Reply, Request, RunStash, SessionOpts, TensorData } from './protocol.js';
import type { StashTotals } from './tensor-store.js';

export interface SessionRunner {
  /** Assembles a weight blob inside the worker (file or URL ranges are read there, not here). */
  loadBlob(name: string, spec: BlobSpec): Promise<void>;
  /**
   * Frees a blob once every session that needs it exists. `reuse`: its memory may hold the next blob
   * of the same size (weights loaded block after block), instead of a fresh allocation each time.
   */
  dropBlob(name: string, opts?: { poison?: boolean; reuse?: boolean }): Promise<void>;
  createSession(id: string, model: Uint8Array, blobs: string[], opts?: SessionOpts): Promise<{ inputs: string[]; outputs: string[] }>;
  /**
   * Runs a session; `blobFeeds` adds inputs read from a loaded blob (e.g. weights of a session that
   * holds none); `stash` keeps outputs in the worker for a later run, or feeds ones kept before.
   */
  run(id: string, feeds: Record<string, TensorData>, fetches: string[], blobFeeds?: BlobFeeds, stash?: RunStash): Promise<Record<string, TensorData>>;
  /** Forgets what is left of a stash group; returns what the group stored. */
  dropStash(group: string): Promise<StashTotals>;
  release(id: string): Promise<void>;
  close(): Promise<void>;
}

export class EngineError extends Error {}

/** How a host reaches its worker: post a request, and learn when calls are in flight (Node keeps the process alive then). */
export interface WorkerChannel {
  post(message: { seq: number; req: { op: string } }, transfer: ArrayBuffer[]): void;
  terminate(): Promise<unknown> | void;
  inFlight?(busy: boolean): void;
}

/**
 * The request/reply bookkeeping shared by both runners: one pending promise per sequence number.
 * `R` is the worker's request type beyond the shared protocol (the browser's worker takes a few more).
 */
export class WorkerHost<R extends { op: string } = Request> implements SessionRunner {
  private seq = 0;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  protected closed = false;

  constructor(
    private readonly channel: WorkerChannel,
    readonly options: EngineOptions,
  ) {}

  /** Hands a worker reply to the call waiting for it. */
  protected receive(reply: Reply): void {
    const p = this.pending.get(reply.seq);
    if (!p) return;
    this.pending.delete(reply.seq);
    if (reply.ok) p.resolve(reply.result);
    else {
      // The worker's stack is kept as the cause (printed by --debug); the message stays one line.
      const cause = reply.stack ? Object.assign(new Error(reply.error), { stack: `${reply.stack}\n    (in the engine worker)` }) : undefined;
      p.reject(new EngineError(reply.error, cause ? { cause } : undefined));
    }
  }

  /** Rejects every call in flight (the worker died or was stopped). */
  protected failAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  protected call<T>(req: Request | R, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new EngineError('engine is closed'));
    const seq = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.size === 1) this.channel.inFlight?.(true);
      this.channel.post({ seq, req }, transfer);
    }).finally(() => {
      if (this.pending.size === 0) this.channel.inFlight?.(false);
    });
  }

  loadBlob(name: string, spec: BlobSpec): Promise<void> {
    return this.call({ op: 'blob', name, spec }, spec.buffer ? [spec.buffer] : []);
  }

  dropBlob(name: string, opts: { poison?: boolean; reuse?: boolean } = {}): Promise<void> {
    return this.call({ op: 'dropBlob', name, poison: opts.poison, reuse: opts.reuse });
  }

  createSession(id: string, model: Uint8Array, blobs: string[], opts: SessionOpts = {}): Promise<{ inputs: string[]; outputs: string[] }> {
    return this.call({ op: 'session', id, model, blobs, options: this.sessionEngineOptions(id), ...opts });
  }

  /** The engine options session `id` is made with (a subclass may add its own, e.g. profiling's). */
  protected sessionEngineOptions(_id: string): EngineOptions {
    return this.options;
  }

  run(id: string, feeds: Record<string, TensorData>, fetches: string[], blobFeeds?: BlobFeeds, stash?: RunStash): Promise<Record<string, TensorData>> {
    return this.call({ op: 'run', id, feeds, fetches, blobFeeds, stash });
  }

  dropStash(group: string): Promise<StashTotals> {
    return this.call({ op: 'dropStash', group });
  }

  release(id: string): Promise<void> {
    return this.call({ op: 'release', id });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.channel.terminate();
  }
}
