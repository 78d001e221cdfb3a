/**
 * Buffers a session's kept outputs are written into, reused from run to run (Node worker).
 *
 * A run whose outputs the worker keeps (a forward's saved activations, hundreds of MB per trunk
 * tile) would otherwise have ONNX Runtime allocate each of them afresh: large allocations are mmap'd
 * and every page faults in zeroed on first write, which costs more than the write itself
 * (BENCHMARKS.md "Fresh pages"). Given a pre-allocated output, ORT writes into it; onnxruntime-node
 * then still returns a copy in a new buffer, so one buffer per output name serves every run: the
 * runtime writes warm pages, and only the copy is fresh.
 *
 * An output's dims are learned from the session's last run with the same input dims and the same
 * values of its small int64 inputs (a crop's bounds, say: the shapes that values decide), so the
 * first run of each input shape allocates as before. A buffer grows to the largest size asked and is
 * shared by every shape of that output (tiles of different lengths).
 */
/** What the buffers are chosen by: a feed's dims, and for a small int64 feed its values. */
export interface FeedShape {
  dims: readonly number[];
  type?: string;
  data?: unknown;
}

export interface ScratchOutput {
  data: Float32Array;
  dims: number[];
}

export class OutputScratch {
  private readonly buffers = new Map<string, Float32Array>();
  /** Output dims by session and input dims. */
  private readonly shapes = new Map<string, Map<string, number[]>>();
  /** The sessions whose kept outputs go into buffers here. */
  private readonly reusing = new Set<string>();

  /** A session (re)made: forgets what an earlier one of that id had; `reuse` says whether its kept outputs use buffers here. */
  open(id: string, reuse: boolean): void {
    this.release(id);
    if (reuse) this.reusing.add(id);
  }

  /**
   * The pre-allocated outputs for a run of session `id` on `feeds`: each of `names` whose dims a run
   * on the same input dims showed (float32 only); the rest are left to the runtime. None for a
   * session not opened to reuse.
   */
  outputs(id: string, feeds: Record<string, FeedShape>, names: string[]): Record<string, ScratchOutput> {
    if (!this.reusing.has(id)) return {};
    const known = this.shapes.get(signature(id, feeds));
    const out: Record<string, ScratchOutput> = {};
    if (!known) return out;
    for (const name of names) {
      const dims = known.get(name);
      if (!dims) continue;
      const size = dims.reduce((a, b) => a * b, 1);
      const key = bufferKey(id, name);
      let buffer = this.buffers.get(key);
      if (!buffer || buffer.length < size) this.buffers.set(key, (buffer = new Float32Array(size)));
      out[name] = { data: buffer.subarray(0, size), dims };
    }
    return out;
  }

  /** Records the dims of a run's float32 outputs among `names`, for the next run on the same input dims. */
  learn(id: string, feeds: Record<string, FeedShape>, outputs: Readonly<Record<string, { type: string; dims: readonly number[] }>>, names: string[]): void {
    if (!this.reusing.has(id)) return;
    const sig = signature(id, feeds);
    const known = this.shapes.get(sig) ?? new Map<string, number[]>();
    for (const name of names) {
      const t = outputs[name];
      if (t?.type === 'float32') known.set(name, [...t.dims]);
    }
    this.shapes.set(sig, known);
  }

  /** Forgets a session's buffers (it was released or replaced). */
  release(id: string): void {
    this.reusing.delete(id);
    for (const key of [...this.buffers.keys()]) if (key.startsWith(`${id}\0`)) this.buffers.delete(key);
    for (const key of [...this.shapes.keys()]) if (key.startsWith(`${id}\0`)) this.shapes.delete(key);
  }

  /** Bytes held in buffers. */
  get bytes(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.byteLength;
    return n;
  }
}

const bufferKey = (id: string, name: string) => `${id}\0${name}`;

/** Int64 feeds up to this many elements count by their values too. */
const VALUE_FEED_ELEMENTS = 16;

function signature(id: string, feeds: Record<string, FeedShape>): string {
  const parts = Object.keys(feeds)
    .sort()
    .map((k) => {
      const f = feeds[k]!;
      const values = f.type === 'int64' && f.data instanceof BigInt64Array && f.data.length <= VALUE_FEED_ELEMENTS ? `=${f.data.join(' ')}` : '';
      return `${k}:${f.dims.join('x')}${values}`;
    });
  return `${id}\0${parts.join(',')}`;
}

/**
 * Whether two float arrays are views of the same memory (tested by flipping a's first element's bits
 * and restoring them): a runtime may wrap a pre-allocated output's memory in a new ArrayBuffer of its
 * own, so buffer identity alone cannot tell.
 */
export function sharesMemory(a: Float32Array, b: Float32Array): boolean {
  if (a.buffer === b.buffer) return true;
  if (a.length === 0 || b.length === 0) return false;
  const bitsA = new Uint32Array(a.buffer, a.byteOffset, 1);
  const bitsB = new Uint32Array(b.buffer, b.byteOffset, 1);
  const saved = bitsA[0]!;
  bitsA[0] = ~bitsB[0]! >>> 0;
  const shared = bitsA[0] === bitsB[0];
  bitsA[0] = saved;
  return shared;
}
