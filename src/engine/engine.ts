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
  /** Starts the worker; subclasses (src/bench/) add to what the engine does around its calls. */
  protected constructor(options: EngineOptions) {
    const worker = new Worker(new URL('./worker.js', import.meta.url));
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
    return new Engine(options);
  }
}
