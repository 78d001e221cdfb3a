/**
 * Sessions a model makes on first need (the backward and training sessions: forward-only use never
 * builds them), each once, with the graph inputs it takes (ONNX Runtime rejects any other feed) and,
 * for a graph split into a forward that saves activations and a backward that reads them, which
 * values travel between the two.
 */
import type { Graph } from '../engine/graph.js';
import type { SessionRunner } from '../engine/runner.js';
import type { SessionOpts, TensorData } from '../engine/protocol.js';
import { splitForwardBackward } from '../engine/split.js';

export interface SplitSessions {
  /** Outputs of `${id}_forward` that `${id}_backward` takes (kept in the engine's stash between the two). */
  saved: string[];
  /** Inputs of the unsplit graph (besides its seeds) that the backward half reads too. */
  backwardInputs: string[];
}

export class SessionSet {
  private made = new Map<string, Promise<void>>();
  private inputs = new Map<string, Set<string>>();
  private splits = new Map<string, SplitSessions>();

  constructor(private readonly engine: SessionRunner) {}

  /** Runs `make` the first time `key` is asked for; later calls share its promise (a failure is retried next time). */
  once(key: string, make: () => Promise<void>): Promise<void> {
    let made = this.made.get(key);
    if (!made) {
      made = make();
      made.catch(() => this.made.delete(key));
      this.made.set(key, made);
    }
    return made;
  }

  /**
   * Makes the session `id` for `graph`, or with `splitAt` (its seeds) the two sessions of its split:
   * `${id}_forward` (saves activations) and `${id}_backward` (reads them). `backwardOpts`: the
   * session options of the backward (the whole graph's when not split); `forwardOpts`: the split
   * forward's.
   */
  async create(id: string, graph: Graph, blobs: string[], splitAt?: string[], backwardOpts?: SessionOpts, forwardOpts?: SessionOpts): Promise<void> {
    const make = async (sessionId: string, g: Graph, opts?: SessionOpts) => this.inputs.set(sessionId, new Set((await this.engine.createSession(sessionId, g.toModel(), blobs, opts)).inputs));
    if (!splitAt) return void (await make(id, graph, backwardOpts));
    const parts = splitForwardBackward(graph, { seeds: splitAt });
    await make(`${id}_forward`, parts.forward, forwardOpts);
    await make(`${id}_backward`, parts.backward, backwardOpts);
    this.splits.set(id, { saved: parts.saved.map((v) => v.name), backwardInputs: parts.backwardInputs });
  }

  /** `feeds` restricted to a session's graph inputs. */
  feeds(id: string, feeds: Record<string, TensorData>): Record<string, TensorData> {
    const inputs = this.inputsOf(id);
    return Object.fromEntries(Object.entries(feeds).filter(([name]) => inputs.has(name)));
  }

  /** Whether session `id` (made) takes an input of this name; undefined when no such session was made. */
  takes(id: string, input: string): boolean | undefined {
    return this.inputs.get(id)?.has(input);
  }

  inputsOf(id: string): Set<string> {
    const inputs = this.inputs.get(id);
    if (!inputs) throw new Error(`no session ${id}`);
    return inputs;
  }

  /** What the split of graph `id` saves and re-reads. */
  split(id: string): SplitSessions {
    const s = this.splits.get(id);
    if (!s) throw new Error(`no split sessions ${id}`);
    return s;
  }
}
