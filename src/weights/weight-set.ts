/**
 * The named float32 tensors a model is built from, and where their bytes live. A model graph refers to
 * them by offset into one packed blob; `pack()` describes how the engine worker assembles that blob
 * (reading file ranges itself), so the main thread never holds the weights. A file piece's `path` is
 * whatever the engine can read: a file path on Node, a URL or picked-file key in the browser.
 */
import { toFloat32, type TensorInfo } from './safetensors-format.js';
import { pickNaming, resolveTensorNames, type Naming } from './weight-names.js';

/** What `fromSafetensors` needs of a safetensors file: its path (or URL), header and bytes of non-F32 tensors. */
export interface SafetensorsSource {
  readonly path: string;
  readonly tensors: Map<string, TensorInfo>;
  readBytes(name: string): Uint8Array;
}

export type WeightBytes =
  | { kind: 'file'; path: string; offset: number; length: number }
  | { kind: 'bytes'; bytes: Uint8Array };

export interface WeightEntry {
  shape: number[];
  source: WeightBytes;
  /** The tensor's name in the file, where it differs from the canonical name (for error messages). */
  stored?: string;
  /** The tensor's shape in the file, where a layout change (e.g. a transpose) made `shape` differ from it. */
  storedShape?: number[];
}

// The blob description is the engine's (engine/ imports nothing of ours); the weights fill it in.
export type { BlobPiece, BlobSpec } from '../engine/protocol.js';
import type { BlobPiece, BlobSpec } from '../engine/protocol.js';

export class WeightSet {
  readonly entries = new Map<string, WeightEntry>();

  /**
   * Wraps a safetensors file; `naming` maps file names to canonical ones (null drops a tensor), and a
   * name spelled as the canonical one wins over aliases mapped to it (`resolveTensorNames`).
   */
  static fromSafetensors(file: SafetensorsSource, naming: Naming = (n) => n): WeightSet {
    const set = new WeightSet();
    const tensors = [...file.tensors.values()];
    const names = resolveTensorNames(tensors, pickNaming(naming, tensors), file.path);
    for (const info of file.tensors.values()) {
      const name = names.get(info.name);
      if (name === undefined) continue;
      const source: WeightBytes =
        info.dtype === 'F32'
          ? { kind: 'file', path: file.path, offset: info.offset, length: info.length }
          : (() => {
              const f32 = toFloat32(file.readBytes(info.name), info.dtype, `${file.path}: ${info.name}`);
              return { kind: 'bytes' as const, bytes: new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength) };
            })();
      set.entries.set(name, { shape: info.shape, source, ...(name !== info.name ? { stored: info.name } : {}) });
    }
    return set;
  }

  static fromArrays(tensors: Iterable<[string, { shape: number[]; data: Float32Array }]>): WeightSet {
    const set = new WeightSet();
    for (const [name, t] of tensors) {
      set.entries.set(name, { shape: t.shape, source: { kind: 'bytes', bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) } });
    }
    return set;
  }

  /**
   * Allocates tensors packed exactly as `pack()` lays them out, one buffer per group, filled by
   * `fill`, so that `pack(group)` hands the engine that buffer instead of copying (generated weights).
   */
  static allocatePacked(groups: { name: string; shape: number[] }[][], fill: (name: string, shape: number[], data: Float32Array) => void): WeightSet {
    const set = new WeightSet();
    for (const tensors of groups) {
      let size = 0;
      const placed = tensors.map((t) => {
        const length = t.shape.reduce((a, b) => a * b, 1) * 4;
        const at = size;
        size += Math.ceil(length / 64) * 64;
        return { ...t, at, length };
      });
      const buffer = new ArrayBuffer(size);
      for (const t of placed) {
        fill(t.name, t.shape, new Float32Array(buffer, t.at, t.length / 4));
        set.entries.set(t.name, { shape: t.shape, source: { kind: 'bytes', bytes: new Uint8Array(buffer, t.at, t.length) } });
      }
    }
    return set;
  }

  /** Every tensor's shape by name. */
  shapes(): Map<string, number[]> {
    return new Map([...this.entries].map(([name, e]) => [name, e.shape]));
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  shape(name: string): number[] {
    const e = this.entries.get(name);
    if (!e) throw new Error(`weight '${name}' is missing`);
    return e.shape;
  }

  /** Packs the named tensors (64-byte aligned) and returns each one's offset in the blob. */
  pack(names: Iterable<string>): { spec: BlobSpec; offsets: Map<string, { offset: number; length: number }> } {
    const offsets = new Map<string, { offset: number; length: number }>();
    const pieces: BlobPiece[] = [];
    let size = 0;
    for (const name of names) {
      if (offsets.has(name)) continue;
      const e = this.entries.get(name);
      if (!e) throw new Error(`weight '${name}' is missing`);
      const length = e.source.kind === 'file' ? e.source.length : e.source.bytes.length;
      offsets.set(name, { offset: size, length });
      pieces.push(
        e.source.kind === 'file'
          ? { to: size, length, kind: 'file', path: e.source.path, from: e.source.offset }
          : { to: size, length, kind: 'bytes', bytes: e.source.bytes },
      );
      size += Math.ceil(length / 64) * 64;
    }
    const first = pieces[0];
    const packed =
      first?.kind === 'bytes' &&
      first.bytes.buffer.byteLength >= size &&
      pieces.every((p) => p.kind === 'bytes' && p.bytes.buffer === first.bytes.buffer && p.bytes.byteOffset === p.to);
    if (packed) return { spec: { size, pieces: [], buffer: first.bytes.buffer as ArrayBuffer }, offsets };
    return { spec: { size, pieces }, offsets };
  }
}

export interface ExpectedTensor {
  name: string;
  shape: number[];
}

/** Compares a weight set with what an architecture needs; lists every problem by name. */
export function checkWeights(weights: WeightSet, expected: ExpectedTensor[], source: string): void {
  const problems: string[] = [];
  const wanted = new Set<string>();
  for (const t of expected) {
    wanted.add(t.name);
    const e = weights.entries.get(t.name);
    if (!e) problems.push(`missing ${t.name} [${t.shape}]`);
    else if (e.shape.length !== t.shape.length || e.shape.some((d, i) => d !== t.shape[i])) {
      const found = e.storedShape ? `read as [${e.shape}]` : `[${e.shape}] in the file`;
      problems.push(`mis-shaped ${t.name}${storedAs(e)}: ${found}, the config needs [${t.shape}]`);
    }
  }
  for (const [name, e] of weights.entries) if (!wanted.has(name)) problems.push(`unexpected ${name}${storedAs(e)} [${e.shape}]`);
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('; ');
    const more = problems.length > 20 ? `; … and ${problems.length - 20} more` : '';
    throw new WeightsMismatchError(`${source}: weights do not match the config (${problems.length} problems): ${shown}${more}`, problems);
  }
}

/**
 * " (stored as NAME)" for a tensor the file holds under another name, with its shape there when that
 * differs too, so that the message names what is in the file.
 */
function storedAs(e: WeightEntry): string {
  const shape = e.storedShape ? ` [${e.storedShape}]` : '';
  if (e.stored === undefined) return shape === '' ? '' : ` (stored as${shape})`;
  return ` (stored as ${e.stored}${shape})`;
}

export class WeightsMismatchError extends Error {
  constructor(message: string, readonly problems: string[]) {
    super(message);
  }
}
