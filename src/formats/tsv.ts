/**
 * A readable table of predictions: one row per record × bin × track, written through a stream with
 * back-pressure so a large prediction never becomes one giant string.
 *
 *   record  bin  start  end  track     value
 *   seq1    0    2048   2176 human:0   0.7134
 *
 * `start`/`end` are 0-based, half-open bp coordinates of the bin within its record.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Tensor3D } from './tensor.js';

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

/** Seven significant digits: float32 carries about that many; the safetensors output is the exact one. */
function format(v: number): string {
  return String(Number(v.toPrecision(7)));
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
          for (let t = 0; t < tracks; t++) rows.push(`${prefix}${name}:${t}\t${format(tensor.data[base + t]!)}\n`);
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
