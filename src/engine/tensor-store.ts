/**
 * Tensors kept between two runs of a job (a forward pass's saved activations, read back by its
 * backward), by key, each taken once. Up to `memoryBudget` bytes stay in memory; beyond that they go
 * to a spill file (`openSpill`, e.g. a temporary file on disk: see spill-file.ts), so a full-size
 * window's activations (GBs) cost disk and page cache rather than the process's memory. Spill
 * writes and reads are asynchronous: they proceed while the runtime computes (a write holds its
 * tensor until it is done; `prefetch` starts reading a key the next run will take).
 */
import type { TensorData } from './protocol.js';

/** Append-only scratch storage: `append` reserves where the bytes go and writes them in the background. */
export interface SpillFile {
  append(bytes: Uint8Array): { offset: number; written: Promise<void> };
  read(offset: number, into: Uint8Array): Promise<void>;
  /** Discards everything written (the store is empty again); no write may be pending. */
  reset(): void;
  close(): void;
}

/** What was stored under one key group (the part of a key before its first '/'). */
export interface StashTotals {
  bytes: number;
  spilledBytes: number;
}

export interface TensorStoreOptions {
  /** Bytes held in memory before tensors go to the spill file (default: no limit). */
  memoryBudget?: number;
  /** Opens the spill file on the first tensor over the budget (none: everything stays in memory). */
  openSpill?: () => SpillFile;
}

interface Spilled {
  kind: 'spilled';
  dtype: TensorData['dtype'];
  dims: number[];
  offset: number;
  bytes: number;
  written: Promise<void>;
  /** The bytes read back, once a prefetch or take started reading. */
  read?: Promise<ArrayBuffer>;
}
type Held = { kind: 'memory'; tensor: TensorData } | Spilled;

export class TensorStore {
  private entries = new Map<string, Record<string, Held>>();
  private totals = new Map<string, StashTotals>();
  private spill?: SpillFile;
  private held = 0;
  /** Bytes handed to spill writes that have not completed (their tensors are still in memory). */
  private writing = 0;
  private writes = new Set<Promise<void>>();
  /** Most bytes held in memory at once. */
  peakMemoryBytes = 0;

  constructor(private readonly opts: TensorStoreOptions = {}) {}

  put(key: string, tensors: Record<string, TensorData>): void {
    if (this.entries.has(key)) throw new Error(`tensor store: '${key}' is already stored`);
    const budget = this.opts.memoryBudget ?? Infinity;
    const entry: Record<string, Held> = {};
    const group = groupOf(key);
    const totals = this.totals.get(group) ?? { bytes: 0, spilledBytes: 0 };
    this.totals.set(group, totals);
    for (const [name, t] of Object.entries(tensors)) {
      const bytes = t.data.byteLength;
      totals.bytes += bytes;
      if (this.held + bytes <= budget || !this.opts.openSpill) {
        entry[name] = { kind: 'memory', tensor: t };
        this.held += bytes;
        this.peakMemoryBytes = Math.max(this.peakMemoryBytes, this.held);
        continue;
      }
      this.spill ??= this.opts.openSpill();
      // `t.data` stays referenced by the write until it completes.
      const { offset, written } = this.spill.append(new Uint8Array(t.data.buffer, t.data.byteOffset, bytes));
      this.writing += bytes;
      const settled = written.then(
        () => undefined,
        () => undefined,
      );
      this.writes.add(settled);
      void settled.then(() => {
        this.writing -= bytes;
        this.writes.delete(settled);
      });
      totals.spilledBytes += bytes;
      entry[name] = { kind: 'spilled', dtype: t.dtype, dims: [...t.dims], offset, bytes, written };
    }
    this.entries.set(key, entry);
  }

  /**
   * Waits until pending spill writes hold at most `limit` bytes (default: a quarter of the memory
   * budget), so a disk slower than the runs that fill it does not pile tensors up in memory.
   */
  async backpressure(limit = (this.opts.memoryBudget ?? Infinity) / 4): Promise<void> {
    while (this.writing > limit && this.writes.size > 0) await Promise.race(this.writes);
  }

  /** Starts reading a key's spilled tensors back, so that `take` finds them ready. */
  prefetch(key: string): void {
    for (const h of Object.values(this.entries.get(key) ?? {})) if (h.kind === 'spilled') this.startRead(h);
  }

  /** The tensors stored under `key`, removed from the store. */
  async take(key: string): Promise<Record<string, TensorData>> {
    const entry = this.entries.get(key);
    if (!entry) throw new Error(`tensor store: nothing stored under '${key}'`);
    this.entries.delete(key);
    const out: Record<string, TensorData> = {};
    for (const [name, h] of Object.entries(entry)) {
      if (h.kind === 'memory') {
        this.held -= h.tensor.data.byteLength;
        out[name] = h.tensor;
        continue;
      }
      const buffer = await this.startRead(h);
      out[name] = { dtype: h.dtype, dims: h.dims, data: h.dtype === 'int64' ? new BigInt64Array(buffer) : new Float32Array(buffer) };
    }
    this.reclaim();
    return out;
  }

  /** Drops what is left of a key group and returns what the group stored. */
  async drop(group: string): Promise<StashTotals> {
    const pending: Promise<unknown>[] = [];
    for (const [key, entry] of this.entries) {
      if (groupOf(key) !== group) continue;
      for (const h of Object.values(entry)) {
        if (h.kind === 'memory') this.held -= h.tensor.data.byteLength;
        else pending.push(h.written, h.read ?? Promise.resolve());
      }
      this.entries.delete(key);
    }
    await Promise.allSettled(pending);
    const totals = this.totals.get(group) ?? { bytes: 0, spilledBytes: 0 };
    this.totals.delete(group);
    this.reclaim();
    return totals;
  }

  private startRead(h: Spilled): Promise<ArrayBuffer> {
    h.read ??= h.written.then(async () => {
      const buffer = new ArrayBuffer(h.bytes);
      await this.spill!.read(h.offset, new Uint8Array(buffer));
      return buffer;
    });
    return h.read;
  }

  /** An empty store gives its spill file's space back. */
  private reclaim(): void {
    if (this.entries.size === 0) this.spill?.reset();
  }

  /** Drops everything and closes (removes) the spill file. */
  close(): void {
    this.entries.clear();
    this.totals.clear();
    this.held = 0;
    this.spill?.close();
    this.spill = undefined;
  }
}

const groupOf = (key: string) => key.split('/', 1)[0]!;
