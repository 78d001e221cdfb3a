/**
 * Whole-tensor writers of `predict --fasta`'s outputs, kept as the tests' reference: the streaming
 * sinks (formats/prediction-stream.ts) must write the same bytes batch by batch.
 *
 * TSV: one row per record × bin × track (`record bin start end track value`, `start`/`end` 0-based
 * half-open within the record), through a stream with back-pressure.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { writeSafetensors } from '../weights/safetensors.js';
import { formatValue } from '../formats/number-text.js';
import type { Tensor3D } from '../formats/tensor.js';

export interface TsvRecord {
  name: string;
  /** bp offset of the first output bin from the record's start. */
  offset: number;
}

export interface TsvTable {
  records: TsvRecord[];
  binSize: number;
  /** Named tensors [records, bins, tracks]; tracks print as `<name>:<index>`. */
  tensors: { name: string; tensor: Tensor3D }[];
}

export async function writeTsv(path: string, table: TsvTable): Promise<void> {
  const out = createWriteStream(path);
  const failed = once(out, 'error').then(([e]) => {
    throw e;
  });
  failed.catch(() => {}); // observed below via Promise.race
  const write = async (text: string) => {
    if (!out.write(text)) await Promise.race([once(out, 'drain'), failed]);
  };
  try {
    await Promise.race([once(out, 'open'), failed]);
    await write('record\tbin\tstart\tend\ttrack\tvalue\n');
    const bins = table.tensors[0]?.tensor.shape[1] ?? 0;
    for (const [r, record] of table.records.entries()) {
      for (let b = 0; b < bins; b++) {
        const start = record.offset + b * table.binSize;
        const prefix = `${record.name}\t${b}\t${start}\t${start + table.binSize}\t`;
        const rows: string[] = [];
        for (const { name, tensor } of table.tensors) {
          const [, nb, tracks] = tensor.shape;
          const base = (r * nb + b) * tracks;
          for (let t = 0; t < tracks; t++) rows.push(`${prefix}${name}:${t}\t${formatValue(tensor.data[base + t]!)}\n`);
        }
        await write(rows.join(''));
      }
    }
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  } finally {
    out.destroy();
  }
}

/** Safetensors: one float32 tensor per name, [records, bins, tracks]. */
export async function writePredictionSafetensors(
  path: string,
  tensors: { name: string; tensor: Tensor3D }[],
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeSafetensors(
    path,
    tensors.map(({ name, tensor }) => ({ name, dtype: 'F32' as const, shape: [...tensor.shape], data: tensor.data })),
    metadata,
  );
}
