/**
 * A resumable job's scratch file of fixed-size slots, one per unit of work (a genome window, an
 * attribution record): float32 means when one model runs (a slot is saved once, complete), float64
 * sums over the runs when several models are averaged (a later model pass loads and adds to them).
 * Opened for update, so a resumed job keeps what an earlier run wrote.
 */
import { closeSync, existsSync, openSync, readSync, writeSync } from 'node:fs';
import { JobError } from './ensemble.js';

export function readFully(fd: number, buf: Uint8Array, position: number, what: () => string): void {
  for (let at = 0; at < buf.length; ) {
    const n = readSync(fd, buf, at, buf.length - at, position + at);
    if (n === 0) throw new JobError(what());
    at += n;
  }
}

export function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at, position + at);
}

export class SlotFile {
  protected readonly fd: number;
  readonly float64: boolean;
  readonly slotBytes: number;

  constructor(
    readonly path: string,
    /** Values per slot. */
    readonly slotValues: number,
    /** Models averaged (more than one: float64 sums). */
    private readonly models: number,
    /** Runs averaged per slot: a float32 slot holds sum / ensemble. */
    readonly ensemble: number,
    /** Named in the error when the file is shorter than its progress says. */
    protected readonly staging: string,
  ) {
    this.float64 = models > 1;
    this.slotBytes = slotValues * (this.float64 ? 8 : 4);
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
  }

  /**
   * Where a slot's sum after model pass `pass` lives. Float64 files keep two per slot, by the pass's
   * parity: a pass reads the sum of the pass before while it writes its own, so a batch re-run after a
   * kill (its saves done, its progress not) reads what it read the first time.
   */
  private offset(slot: number, pass: number): number {
    return this.float64 ? (slot * 2 + (pass % 2)) * this.slotBytes : slot * this.slotBytes;
  }

  /** The running sum the model passes before `pass` left in a slot (float64 files only). */
  load(slot: number, pass: number): Float64Array {
    const buf = Buffer.alloc(this.slotBytes);
    readFully(this.fd, buf, this.offset(slot, pass - 1), () => `${this.path}: the scratch file is shorter than its progress records; delete ${this.staging} to start over`);
    return new Float64Array(buf.buffer, buf.byteOffset, this.slotValues).slice();
  }

  /** A slot's sum after model pass `pass` (every run of that model added). */
  save(slot: number, pass: number, sum: Float64Array): void {
    let bytes: Uint8Array;
    if (this.float64) bytes = new Uint8Array(sum.buffer, sum.byteOffset, sum.byteLength);
    else {
      const values = new Float32Array(sum.length);
      for (let i = 0; i < sum.length; i++) values[i] = sum[i]! / this.ensemble;
      bytes = new Uint8Array(values.buffer);
    }
    writeFully(this.fd, bytes, this.offset(slot, pass));
  }

  /** Values [from, to) of a complete slot as float32 means (what the outputs are made of). */
  mean(slot: number, from = 0, to = this.slotValues): Float32Array {
    const per = this.float64 ? 8 : 4;
    const buf = Buffer.alloc((to - from) * per);
    readFully(this.fd, buf, this.offset(slot, this.models - 1) + from * per, () => `${this.path}: shorter than its slots`);
    if (!this.float64) return new Float32Array(buf.buffer, buf.byteOffset, to - from);
    const sums = new Float64Array(buf.buffer, buf.byteOffset, to - from);
    const values = new Float32Array(sums.length);
    for (let i = 0; i < sums.length; i++) values[i] = sums[i]! / this.ensemble;
    return values;
  }

  close(): void {
    closeSync(this.fd);
  }
}
