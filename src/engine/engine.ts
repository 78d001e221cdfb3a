/**
 * The engine host: a handle on one worker thread running ONNX Runtime. Sessions and weight blobs live
 * in the worker; calls are asynchronous messages, so inference never blocks this thread.
 */
import { Worker } from 'node:worker_threads';
import type { BlobSpec, EngineOptions, Reply, Request, TensorData } from './protocol.js';

export type { EngineOptions, TensorData } from './protocol.js';

export class EngineError extends Error {}

export class Engine {
  private seq = 0;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closed = false;
  /** Sessions created, so that closing ends their profiling (ONNX Runtime writes the profile then). */
  private sessions = new Set<string>();

  private constructor(private readonly worker: Worker, readonly options: EngineOptions) {
    worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.seq);
      if (!p) return;
      this.pending.delete(reply.seq);
      if (reply.ok) p.resolve(reply.result);
      else {
        // The worker's stack is kept as the cause (printed by --debug); the message stays one line.
        const cause = reply.stack ? Object.assign(new Error(reply.error), { stack: `${reply.stack}\n    (in the engine worker)` }) : undefined;
        p.reject(new EngineError(reply.error, cause ? { cause } : undefined));
      }
    });
    worker.on('error', (e) => this.failAll(e instanceof Error ? e : new Error(String(e))));
    worker.on('exit', (code) => {
      if (!this.closed) this.failAll(new EngineError(`engine worker exited (code ${code})`));
    });
    worker.unref();
  }

  static start(options: EngineOptions = {}): Engine {
    const worker = new Worker(new URL('./worker.js', import.meta.url));
    return new Engine(worker, options);
  }

  private failAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  private call<T>(req: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new EngineError('engine is closed'));
    const seq = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      // Keep the process alive while a call is in flight.
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ seq, req }, transfer);
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }

  /** Assembles a weight blob inside the worker (file ranges are read there, not here). */
  loadBlob(name: string, spec: BlobSpec): Promise<void> {
    return this.call({ op: 'blob', name, spec }, spec.buffer ? [spec.buffer] : []);
  }

  /** Frees a blob once every session that needs it exists. */
  dropBlob(name: string, opts: { poison?: boolean } = {}): Promise<void> {
    return this.call({ op: 'dropBlob', name, poison: opts.poison });
  }

  createSession(id: string, model: Uint8Array, blobs: string[]): Promise<{ inputs: string[]; outputs: string[] }> {
    this.sessions.add(id);
    return this.call({ op: 'session', id, model, blobs, options: this.options });
  }

  async run(id: string, feeds: Record<string, TensorData>, fetches: string[]): Promise<Record<string, TensorData>> {
    return this.call({ op: 'run', id, feeds, fetches });
  }

  async release(id: string): Promise<void> {
    if (this.options.profilePrefix !== undefined && this.sessions.has(id)) await this.endProfiling(id);
    this.sessions.delete(id);
    return this.call({ op: 'release', id });
  }

  endProfiling(id: string): Promise<void> {
    return this.call({ op: 'endProfiling', id });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.options.profilePrefix !== undefined) {
      for (const id of this.sessions) await this.endProfiling(id).catch(() => {});
    }
    this.sessions.clear();
    this.closed = true;
    await this.worker.terminate();
  }
}
