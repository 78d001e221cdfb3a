/**
 * Per-window embeddings of a frozen trunk, computed once and kept on disk, so that every epoch of
 * head training costs only the head. One split (train or valid) is three files in the work folder:
 *   <split>.emb  float32 [examples, variants, bins, embedding]   (one block per augmented variant)
 *   <split>.tgt  float32 [examples, bins, tracks]                 (forward strand, unshifted)
 *   <split>.json what they were computed from (the cache key) and how many examples they hold
 * The data files are written as `.partial` and renamed once complete, the JSON last: a run killed
 * while caching recomputes the split, a finished cache whose key matches is reused.
 */
import { open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Model } from '../../models/model.js';
import { runBatches, scheduleOf } from '../job/run-core.js';
import type { Variant } from './training-data.js';

export interface Example {
  sequence: string;
  /** [bins, tracks] forward-strand targets. */
  targets: Float32Array;
}

export interface SplitShape {
  bins: number;
  embedding: number;
  tracks: number;
}

export class CachedSplit {
  private constructor(
    readonly name: string,
    readonly count: number,
    readonly variants: Variant[],
    readonly shape: SplitShape,
    private readonly emb: FileHandle,
    private readonly tgt: FileHandle,
  ) {}

  static async open(dir: string, name: string, count: number, variants: Variant[], shape: SplitShape): Promise<CachedSplit> {
    const emb = await open(join(dir, `${name}.emb`), 'r');
    const tgt = await open(join(dir, `${name}.tgt`), 'r');
    return new CachedSplit(name, count, variants, shape, emb, tgt);
  }

  /** Embeddings [bins, embedding] of example `i`, variant `v`. */
  async embeddings(i: number, v: number): Promise<Float32Array> {
    const n = this.shape.bins * this.shape.embedding;
    return this.read(this.emb, (i * this.variants.length + v) * n, n);
  }

  /** Targets [bins, tracks] of example `i` (forward strand). */
  async targets(i: number): Promise<Float32Array> {
    const n = this.shape.bins * this.shape.tracks;
    return this.read(this.tgt, i * n, n);
  }

  private async read(h: FileHandle, at: number, n: number): Promise<Float32Array> {
    const out = new Float32Array(n);
    const bytes = new Uint8Array(out.buffer);
    const { bytesRead } = await h.read(bytes, 0, bytes.length, at * 4);
    if (bytesRead !== bytes.length) throw new Error(`embedding cache ${this.name}: short read (cache truncated?)`);
    return out;
  }

  async close(): Promise<void> {
    await this.emb.close();
    await this.tgt.close();
  }
}

async function readKey(path: string): Promise<{ key: string; count: number } | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Opens the cached split `name` when its key matches, else computes it from `examples` with `model`
 * (opened lazily through `getModel`, so a complete cache never loads the model).
 */
export async function cachedSplit(
  dir: string,
  name: string,
  key: string,
  variants: Variant[],
  shape: SplitShape,
  examples: () => AsyncIterable<Example>,
  getModel: () => Promise<Model>,
  onProgress?: (done: number) => void,
): Promise<CachedSplit> {
  const meta = join(dir, `${name}.json`);
  const known = await readKey(meta);
  if (known?.key === key) return CachedSplit.open(dir, name, known.count, variants, shape);
  await rm(meta, { force: true });
  const model = await getModel();
  const embPath = join(dir, `${name}.emb`);
  const tgtPath = join(dir, `${name}.tgt`);
  const emb = await open(`${embPath}.partial`, 'w');
  const tgt = await open(`${tgtPath}.partial`, 'w');
  let count = 0;
  try {
    // One batch per example: its augmented variants, through the run core on the one model.
    async function* plan() {
      for await (const ex of examples()) {
        if (ex.targets.length !== shape.bins * shape.tracks) throw new Error(`example ${count}: ${ex.targets.length} target values, expected ${shape.bins} × ${shape.tracks}`);
        yield { model: 0, items: variants.map((run) => ({ unit: ex, run })) };
      }
    }
    await runBatches({
      schedule: scheduleOf(model),
      batches: plan(),
      sequence: (ex: Example) => ex.sequence,
      request: (m, { input }) => m.predict(input, { heads: [], embeddings: true }),
      sink: async (out, batch) => {
        const ex = batch.items[0]!.unit;
        const e = out.embeddings!;
        if (e.shape[1] !== shape.bins || e.shape[2] !== shape.embedding) throw new Error(`embeddings of shape [${e.shape}], expected [${variants.length}, ${shape.bins}, ${shape.embedding}]`);
        await emb.write(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength));
        await tgt.write(new Uint8Array(ex.targets.buffer, ex.targets.byteOffset, ex.targets.byteLength));
        count++;
        onProgress?.(count);
      },
    });
  } finally {
    await emb.close();
    await tgt.close();
  }
  if (count === 0) throw new Error(`${name}: no training examples`);
  await rename(`${embPath}.partial`, embPath);
  await rename(`${tgtPath}.partial`, tgtPath);
  await writeFile(`${meta}.partial`, JSON.stringify({ key, count }));
  await rename(`${meta}.partial`, meta);
  return CachedSplit.open(dir, name, count, variants, shape);
}
