/**
 * `predict --fasta` outputs written batch by batch (tasks/predict/records.ts), in the bytes of the
 * whole-tensor writers the tests keep as their reference (src/test/reference-writers.ts): the TSV's
 * rows are appended in record order; the safetensors header is known once the records are checked
 * ([records, bins, tracks] float32 per tensor), so each batch is written straight into its tensors'
 * slots. Both go through `X.partial`, renamed when complete.
 */
import { encodeSafetensorsHeader } from '../weights/safetensors.js';
import { PartialFile } from './partial-file.js';
import { formatValue } from './number-text.js';
import type { Tensor3D } from './tensor.js';
import type { FastaLayout, FastaSink } from './fasta-layout.js';

export type { FastaLayout, FastaSink };


export class TsvPredictionSink implements FastaSink {
  private file: PartialFile | undefined;
  private layout: FastaLayout | undefined;

  constructor(private readonly path: string) {}

  begin(layout: FastaLayout): void {
    this.layout = layout;
    this.file = new PartialFile(this.path);
    this.file.append('record\tbin\tstart\tend\ttrack\tvalue\n');
  }

  write(first: number, outputs: Record<string, Tensor3D>): void {
    const l = this.layout!;
    const n = outputs[l.tensors[0]!.name]!.shape[0];
    for (let i = 0; i < n; i++) {
      const record = l.records[first + i]!;
      const rows: string[] = [];
      for (let b = 0; b < l.bins; b++) {
        const start = record.offset + b * l.binSize;
        const prefix = `${record.name}\t${b}\t${start}\t${start + l.binSize}\t`;
        for (const { name, tracks, selected } of l.tensors) {
          const data = outputs[name]!.data;
          const base = (i * l.bins + b) * tracks;
          for (let t = 0; t < tracks; t++) rows.push(`${prefix}${name}:${selected ? selected[t]!.index : t}\t${formatValue(data[base + t]!)}\n`);
        }
      }
      this.file!.append(rows.join(''));
    }
  }

  finish(): void {
    this.file?.commit();
  }

  abort(): void {
    this.file?.abort();
  }
}

/** The selected tracks of a head, as the genome job names them in its metadata. */
function trackMetadata(layout: FastaLayout): Record<string, string> {
  const t = layout.tensors.find((x) => x.selected);
  return t?.selected ? { tracks: JSON.stringify(t.selected.map((s) => s.identifier)), track_indices: JSON.stringify(t.selected.map((s) => s.index)) } : {};
}

export class SafetensorsPredictionSink implements FastaSink {
  private file: PartialFile | undefined;
  private layout: FastaLayout | undefined;
  /** Byte offset of each tensor's data. */
  private offsets = new Map<string, number>();

  constructor(private readonly path: string) {}

  begin(layout: FastaLayout): void {
    this.layout = layout;
    const n = layout.records.length;
    const tensors = layout.tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: [n, layout.bins, t.tracks], length: n * layout.bins * t.tracks * 4 }));
    const header = encodeSafetensorsHeader(tensors, {
      producer: 'seq2track predict',
      records: JSON.stringify(layout.records.map((r) => r.name)),
      lengths: JSON.stringify(layout.records.map((r) => r.length)),
      first_bin_offsets: JSON.stringify(layout.records.map((r) => r.offset)),
      bin_size: String(layout.binSize),
      ...(layout.output ? { output: layout.output } : {}),
      ...trackMetadata(layout),
    });
    this.file = new PartialFile(this.path);
    this.file.append(header);
    let at = header.length;
    for (const t of tensors) {
      this.offsets.set(t.name, at);
      at += t.length;
    }
    this.file.size = at;
  }

  write(first: number, outputs: Record<string, Tensor3D>): void {
    const l = this.layout!;
    for (const { name, tracks } of l.tensors) {
      const data = outputs[name]!.data;
      this.file!.writeAt(this.offsets.get(name)! + first * l.bins * tracks * 4, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }

  finish(): void {
    this.file?.commit();
  }

  abort(): void {
    this.file?.abort();
  }
}
