/**
 * The gradients bench's forwards, in a child process of their own: it loads the same weights file
 * with the prediction sessions and runs a forward whenever the parent asks, while the parent holds
 * the gradients-only model (`ModelOptions.gradientsOnly`, as `attribute` loads it). Each process's
 * peak RSS is then its own job's, and the two still alternate on one machine, so a load that changes
 * during the bench shows in both figures.
 *
 * Protocol (Node IPC): the child sends `{ ready, rssMb }` once its sessions exist; the parent sends
 * `{ run: 'forward' }` and gets `{ wall, cpu, peakRssMb }`, or `{ run: 'close' }` and the child exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Architecture } from '../models/architecture.js';
import type { ConvLayout } from '../models/layers.js';
import { Model } from '../models/model.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';

/** What parent and child must agree on to run the same forward. */
export interface ForwardChildSpec {
  /** A model name of the bench (`MODELS` in main.ts): the child builds the same architecture. */
  model: string;
  weightsPath: string;
  length: number;
  threads?: number;
  tileLength?: number;
  layout: ConvLayout;
}

export interface ForwardTiming {
  wall: number;
  /** CPU seconds of the child (all its threads). */
  cpu: number;
  peakRssMb: number;
}

type ChildMessage = { ready: true; rssMb: number } | ({ done: true } & ForwardTiming) | { error: string };

/** The parent's handle on the forward child. */
export class ForwardChild {
  private constructor(
    private readonly child: ChildProcess,
    readonly readyRssMb: number,
  ) {}

  /** Starts `node <bench main> gradients-forward-child …` and waits until its sessions are made. */
  static async start(spec: ForwardChildSpec): Promise<ForwardChild> {
    const main = fileURLToPath(new URL('./main.js', import.meta.url));
    const child = fork(main, ['gradients-forward-child', '--spec', JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const first = await nextMessage(child);
    if (!('ready' in first)) {
      child.kill();
      throw new Error(`forward child: ${'error' in first ? first.error : 'unexpected message'}`);
    }
    return new ForwardChild(child, first.rssMb);
  }

  async forward(): Promise<ForwardTiming> {
    this.child.send({ run: 'forward' });
    const m = await nextMessage(this.child);
    if (!('done' in m)) throw new Error(`forward child: ${'error' in m ? m.error : 'unexpected message'}`);
    return { wall: m.wall, cpu: m.cpu, peakRssMb: m.peakRssMb };
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ run: 'close' });
    await exited;
  }
}

function nextMessage(child: ChildProcess): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      child.off('exit', onExit);
      resolve(m as ChildMessage);
    };
    const onExit = (code: number | null) => {
      child.off('message', onMessage);
      reject(new Error(`forward child exited (code ${code}) before answering`));
    };
    child.once('message', onMessage);
    child.once('exit', onExit);
  });
}

/** The child's side: load, say ready, run forwards on request. */
export async function forwardChildMain(spec: ForwardChildSpec, arch: Architecture, sequence: string): Promise<void> {
  const send = (m: ChildMessage) => new Promise<void>((resolve) => process.send!(m, () => resolve()));
  try {
    const weights = WeightSet.fromSafetensors(await SafetensorsFile.open(spec.weightsPath), (n) => arch.canonicalName(n));
    const model = await Model.create(arch, weights, `${spec.model} (random weights, forward process)`, { threads: spec.threads, tileLength: spec.tileLength, layout: spec.layout });
    const batch = Model.encode([sequence]);
    await send({ ready: true, rssMb: process.memoryUsage().rss / 2 ** 20 });
    for (;;) {
      const request = await new Promise<{ run: string }>((resolve) => process.once('message', (m) => resolve(m as { run: string })));
      if (request.run === 'close') break;
      const c = process.cpuUsage();
      const t0 = performance.now();
      await model.predict(batch);
      const wall = (performance.now() - t0) / 1000;
      const u = process.cpuUsage(c);
      await send({ done: true, wall, cpu: (u.user + u.system) / 1e6, peakRssMb: process.resourceUsage().maxRSS / 1024 });
    }
    await model.close();
  } catch (e) {
    await send({ error: (e as Error).stack ?? String(e) });
  }
  process.disconnect();
}
