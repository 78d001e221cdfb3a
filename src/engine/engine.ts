/**
 * The Node session runner: a handle on one worker thread running onnxruntime-node. Sessions and
 * weight blobs live in the worker; calls are asynchronous messages, so inference never blocks this thread.
 */
import { Worker } from 'node:worker_threads';
import type { EngineOptions, Reply } from './protocol.js';
import { EngineError, WorkerHost } from './runner.js';

export type { EngineOptions, TensorData } from './protocol.js';
export { EngineError, type SessionRunner } from './runner.js';

export class Engine extends WorkerHost {
  /** Sessions created, so that closing ends their profiling (ONNX Runtime writes the profile then). */
  private sessions = new Set<string>();

  private constructor(worker: Worker, options: EngineOptions) {
    super(
      {
        post: (message, transfer) => worker.postMessage(message, transfer),
        terminate: () => worker.terminate(),
        // Keep the process alive while a call is in flight, and only then.
        inFlight: (busy) => (busy ? worker.ref() : worker.unref()),
      },
      options,
    );
    worker.on('message', (reply: Reply) => this.receive(reply));
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

  endProfiling(id: string): Promise<void> {
    return this.call({ op: 'endProfiling', id });
  }

  override createSession(id: string, model: Uint8Array, blobs: string[]): Promise<{ inputs: string[]; outputs: string[] }> {
    this.sessions.add(id);
    return super.createSession(id, model, blobs);
  }

  override async release(id: string): Promise<void> {
    if (this.options.profilePrefix !== undefined && this.sessions.has(id)) await this.endProfiling(id);
    this.sessions.delete(id);
    return super.release(id);
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    if (this.options.profilePrefix !== undefined) {
      for (const id of this.sessions) await this.endProfiling(id).catch(() => {});
    }
    this.sessions.clear();
    await super.close();
  }
}
