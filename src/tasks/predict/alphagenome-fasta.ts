/**
 * AlphaGenome on the records of a FASTA file: every head for one organism, each output stacked over
 * the records into one tensor of a safetensors file named as the port's outputs ([records, …]; the
 * records must have one length). Positions are int64, masks 0/1 bytes, everything else float32.
 * The file's header is written first and each output lands at its place as the model's sink hands it
 * over (1-bp outputs tile by tile), so neither a record's outputs nor the file is held in memory
 * (at 1 Mb the 1-bp outputs alone are ≈ 15 GB per record). It is written as X.partial and renamed
 * when complete.
 */
import { readFasta } from '../../genome/fasta.js';
import { centreCrop } from '../../genome/sequence.js';
import { Model } from '../../models/model-core.js';
import { alphaGenomeOutputShapes, type AlphaGenomeModel, type AlphaGenomeSink, type Organism } from '../../models/alphagenome/model.js';
import { TRACK_HEADS } from '../../models/alphagenome/config.js';
import { encodeSafetensorsHeader } from '../../weights/safetensors.js';
import { PartialFile } from '../../formats/partial-file.js';

/** Head names `--heads` may select, and the outputs each one writes. */
export function alphaGenomeHeadOutputs(outputNames: string[]): Map<string, string[]> {
  const heads = new Map<string, string[]>();
  const headOf = (name: string) => TRACK_HEADS.find((h) => name.startsWith(`${h}_`) && /_\d+bp$/.test(name)) ?? ['splice_site_usage', 'splice_sites', 'splice_junctions', 'contact_maps'].find((h) => name.startsWith(h))!;
  for (const name of outputNames) {
    const head = headOf(name);
    heads.set(head, [...(heads.get(head) ?? []), name]);
  }
  return heads;
}

export interface AlphaGenomeFastaOptions {
  organism?: Organism;
  /** Heads to write (see `alphaGenomeHeadOutputs`); default all. */
  heads?: string[];
  batchSize?: number;
  cropInput?: number;
  onProgress?: (done: number, total: number) => void;
}

interface Slot {
  /** Byte offset of the tensor's data in the file. */
  at: number;
  /** Elements per record, per position (last axis) and bytes per element. */
  perRecord: number;
  channels: number;
  dtype: 'F32' | 'I64' | 'U8';
}

/** Writes every output of the records of `fasta` to `out` (safetensors); returns the records and the tensors written. */
export async function predictAlphaGenomeFasta(model: AlphaGenomeModel, fasta: string, out: string, opts: AlphaGenomeFastaOptions = {}): Promise<{ records: { name: string; length: number }[]; tensors: string[] }> {
  const byHead = alphaGenomeHeadOutputs(model.outputNames);
  for (const h of opts.heads ?? []) if (!byHead.has(h)) throw new Error(`unknown head '${h}' (AlphaGenome has: ${[...byHead.keys()].join(', ')})`);
  const wanted = new Set((opts.heads ?? [...byHead.keys()]).flatMap((h) => byHead.get(h)!));
  const records: { name: string; sequence: string }[] = [];
  for await (const r of readFasta(fasta)) {
    const sequence = opts.cropInput !== undefined ? centreCrop(r.sequence, opts.cropInput, `${fasta}: record '${r.name}'`).sequence : r.sequence;
    if (records.length > 0 && sequence.length !== records[0]!.sequence.length) {
      throw new Error(`${fasta}: record '${r.name}' has ${sequence.length} bp, the first '${records[0]!.name}' ${records[0]!.sequence.length}: AlphaGenome's outputs are stacked over records, which need one length`);
    }
    model.checkLength(sequence.length, `${fasta}: record '${r.name}'`);
    records.push({ name: r.name, sequence });
  }
  if (records.length === 0) throw new Error(`${fasta}: no records`);

  const organism = opts.organism ?? 'human';
  const shapes = alphaGenomeOutputShapes(model.config, records[0]!.sequence.length);
  const names = model.outputNames.filter((n) => wanted.has(n));
  const n = records.length;
  const tensors = names.map((name) => {
    const { dims, dtype } = shapes.get(name)!;
    const type = dtype === 'int64' ? ('I64' as const) : name.endsWith('_mask') ? ('U8' as const) : ('F32' as const);
    const perRecord = dims.reduce((a, b) => a * b, 1);
    return { name, dtype: type, shape: [n, ...dims], length: n * perRecord * BYTES[type], perRecord, channels: dims.at(-1)! };
  });
  const header = encodeSafetensorsHeader(tensors, { producer: 'seq2track predict --fasta', model: 'alphagenome', organism, records: records.map((r) => r.name).join(',') });
  const file = new PartialFile(out);
  try {
    file.append(header);
    const slots = new Map<string, Slot>();
    let at = header.length;
    for (const t of tensors) {
      slots.set(t.name, { at, perRecord: t.perRecord, channels: t.channels, dtype: t.dtype });
      at += t.length;
    }
    file.size = at;
    const batchSize = opts.batchSize ?? 1;
    for (let i = 0; i < n; i += batchSize) {
      const chunk = records.slice(i, i + batchSize);
      await model.predict(Model.encode(chunk.map((r) => r.sequence), chunk.map((r) => r.name)), organism, { sink: fileSink(file, slots, i) });
      opts.onProgress?.(Math.min(i + batchSize, n), n);
    }
    file.commit();
  } catch (e) {
    file.abort();
    throw e;
  }
  return { records: records.map((r) => ({ name: r.name, length: r.sequence.length })), tensors: names };
}

const BYTES = { F32: 4, I64: 8, U8: 1 } as const;

/** A sink writing the outputs of batch item `item` (record `first + item`) into their places in `file`; outputs without a slot are not written. */
function fileSink(file: PartialFile, slots: Map<string, Slot>, first: number): AlphaGenomeSink {
  const put = (name: string, item: number, element: number, data: Float32Array | BigInt64Array) => {
    const slot = slots.get(name);
    if (!slot) return;
    const offset = slot.at + ((first + item) * slot.perRecord + element) * BYTES[slot.dtype];
    const bytes = slot.dtype === 'U8' ? Uint8Array.from(data as Float32Array, (v) => (v !== 0 ? 1 : 0)) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    file.writeAt(offset, bytes);
  };
  return {
    rows: (name, item, firstRow, data) => put(name, item, firstRow * (slots.get(name)?.channels ?? 0), data),
    whole: (name, item, data) => put(name, item, 0, data),
  };
}
