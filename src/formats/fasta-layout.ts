/** The layout of a FASTA prediction's outputs and the sink that writes them as batches come (no I/O here: the page shares it). */
import type { Tensor3D } from './tensor.js';

export interface FastaLayout {
  records: { name: string; length: number; offset: number }[];
  bins: number;
  binSize: number;
  /**
   * Output tensors in file order: the heads asked for, then `embeddings`; `selected` names the head's
   * tracks a selection kept (column k is head track selected[k].index).
   */
  tensors: { name: string; tracks: number; selected?: { index: number; identifier: string }[] }[];
  /** The heads' values: 'softplus' (coverage) or 'logits'; recorded in the safetensors metadata when given. */
  output?: 'softplus' | 'logits';
}

export interface FastaSink {
  /** Called once, after the check pass, before any model run. */
  begin(layout: FastaLayout): void;
  /** Outputs of records [first, first + n) as [n, bins, tracks] per tensor. */
  write(first: number, outputs: Record<string, Tensor3D>): void;
  finish(): void;
}
