/**
 * AlphaGenome on the records of a FASTA file: every head for one organism, each output stacked over
 * the records into one tensor named as the port's outputs ([records, …]; the records must have one
 * length). Positions are int64, masks 0/1 bytes, everything else float32.
 */
import { readFasta } from '../../genome/fasta.js';
import { centreCrop } from '../../genome/sequence.js';
import { Model } from '../../models/model-core.js';
import type { AlphaGenomeModel, Organism } from '../../models/alphagenome/model.js';
import { TRACK_HEADS } from '../../models/alphagenome/config.js';
import type { TensorToWrite } from '../../weights/safetensors.js';

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

export async function predictAlphaGenomeFasta(model: AlphaGenomeModel, fasta: string, opts: AlphaGenomeFastaOptions = {}): Promise<{ tensors: TensorToWrite[]; records: { name: string; length: number }[] }> {
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
  const batchSize = opts.batchSize ?? 1;
  const parts = new Map<string, { dims: number[]; chunks: (Float32Array | BigInt64Array)[] }>();
  for (let i = 0; i < records.length; i += batchSize) {
    const chunk = records.slice(i, i + batchSize);
    const out = await model.predict(Model.encode(chunk.map((r) => r.sequence), chunk.map((r) => r.name)), opts.organism ?? 'human');
    for (const name of model.outputNames) {
      if (!wanted.has(name)) continue;
      const t = out[name]!;
      const p = parts.get(name) ?? { dims: t.dims.slice(1), chunks: [] };
      p.chunks.push(t.data);
      parts.set(name, p);
    }
    opts.onProgress?.(Math.min(i + batchSize, records.length), records.length);
  }
  const tensors: TensorToWrite[] = [];
  for (const [name, p] of parts) {
    const shape = [records.length, ...p.dims];
    if (p.chunks[0] instanceof BigInt64Array) {
      tensors.push({ name, dtype: 'I64', shape, data: concat(p.chunks as BigInt64Array[], (n) => new BigInt64Array(n)) });
    } else if (name.endsWith('_mask')) {
      const all = concat(p.chunks as Float32Array[], (n) => new Float32Array(n));
      tensors.push({ name, dtype: 'U8', shape, data: Uint8Array.from(all, (v) => (v !== 0 ? 1 : 0)) });
    } else {
      tensors.push({ name, dtype: 'F32', shape, data: concat(p.chunks as Float32Array[], (n) => new Float32Array(n)) });
    }
  }
  return { tensors, records: records.map((r) => ({ name: r.name, length: r.sequence.length })) };
}

function concat<T extends Float32Array | BigInt64Array>(chunks: T[], make: (n: number) => T): T {
  const out = make(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    (out as Float32Array).set(c as Float32Array, at);
    at += c.length;
  }
  return out;
}
