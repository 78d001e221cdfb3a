/**
 * `npm run bench -- … --profile PREFIX`: an engine whose sessions write ONNX Runtime's JSON profile,
 * one file per session, `PREFIX_<session id>_<date>_<time>.json` (read by profile-summary.ts).
 * ONNX Runtime completes a profile only when its session is released, and closing an engine ends
 * its worker without releasing anything: so close() first releases every session still open.
 */
import { Engine, type EngineOptions } from '../engine/engine.js';
import type { SessionOpts } from '../engine/protocol.js';
import { profilingOptions } from './session-options.js';

export class ProfilingEngine extends Engine {
  private readonly open = new Set<string>();

  constructor(
    options: EngineOptions,
    private readonly prefix: string,
  ) {
    super(options);
  }

  override createSession(id: string, model: Uint8Array, blobs: string[], opts?: SessionOpts): Promise<{ inputs: string[]; outputs: string[] }> {
    this.open.add(id);
    return super.createSession(id, model, blobs, opts);
  }

  protected override sessionEngineOptions(id: string): EngineOptions {
    // The session id in the name tells the parts apart (profile-summary.ts reads trunk and head),
    // also when two sessions are made within the same millisecond (the time in ORT's file name).
    return { ...this.options, sessionOptions: { ...this.options.sessionOptions, ...profilingOptions(`${this.prefix}_${id}`) } };
  }

  override release(id: string): Promise<void> {
    this.open.delete(id);
    return super.release(id);
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    for (const id of [...this.open]) await this.release(id).catch(() => {});
    await super.close();
  }
}
