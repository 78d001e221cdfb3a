/**
 * The browser's session runner: onnxruntime-web in a Web Worker (worker.ts), driven through the same
 * protocol as the Node engine. Weight pieces name byte sources (picked files or URLs) registered
 * with `addSource`; `cancel()` stops a long run at once by ending the worker.
 */
import type { EngineOptions, Reply } from '../protocol.js';
import { EngineError, WorkerHost } from '../runner.js';
import type { ByteSource, WebRequest } from './protocol.js';

export class CancelledError extends EngineError {
  constructor() {
    super('cancelled');
  }
}

export interface WebEngineOptions extends EngineOptions {
  /** URL (ending in /) where ort.min.mjs and its .wasm files are served. */
  ortBase: string;
}

export class WebEngine extends WorkerHost<WebRequest> {
  private constructor(
    private readonly worker: Worker,
    options: EngineOptions,
  ) {
    super(
      {
        post: (message, transfer) => worker.postMessage(message, transfer),
        terminate: () => worker.terminate(),
      },
      options,
    );
    worker.onmessage = (ev: MessageEvent<Reply>) => this.receive(ev.data);
    worker.onerror = (ev: ErrorEvent) => this.failAll(new EngineError(`engine worker failed: ${ev.message || 'unknown error (see the console)'}`));
  }

  static async start(options: WebEngineOptions): Promise<WebEngine> {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'seq2track-engine' });
    const { ortBase, ...rest } = options;
    const engine = new WebEngine(worker, rest);
    await engine.call({ op: 'init', ortBase });
    return engine;
  }

  /** Registers where pieces whose path is `key` are read from. */
  addSource(key: string, source: ByteSource): Promise<void> {
    return this.call({ op: 'source', key, source });
  }

  /** Ends the worker now: calls in flight reject with CancelledError; the engine is closed. */
  cancel(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.terminate();
    this.failAll(new CancelledError());
  }
}
