/**
 * Writes a weight set as float32 safetensors, streaming each tensor from where it lives (a byte range of
 * the source file, or memory), so converting a 1 GB checkpoint never holds it all at once.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { WeightSet } from './weight-set.js';
import { encodeSafetensorsHeader } from './safetensors.js';

const CHUNK = 16 * 1024 * 1024;

export async function writeWeightSet(path: string, weights: WeightSet, names: string[], metadata?: Record<string, string>): Promise<void> {
  const header = encodeSafetensorsHeader(
    names.map((name) => {
      const e = weights.entries.get(name);
      if (!e) throw new Error(`weight '${name}' is missing`);
      return { name, dtype: 'F32' as const, shape: e.shape, length: e.source.kind === 'file' ? e.source.length : e.source.bytes.length };
    }),
    metadata,
  );
  const out = await open(path, 'w');
  const inputs = new Map<string, FileHandle>();
  try {
    await out.write(header);
    const buffer = Buffer.alloc(CHUNK);
    for (const name of names) {
      const s = weights.entries.get(name)!.source;
      if (s.kind === 'bytes') {
        await out.write(s.bytes);
        continue;
      }
      let input = inputs.get(s.path);
      if (!input) inputs.set(s.path, (input = await open(s.path, 'r')));
      for (let done = 0; done < s.length; ) {
        const n = Math.min(CHUNK, s.length - done);
        const { bytesRead } = await input.read(buffer, 0, n, s.offset + done);
        if (bytesRead !== n) throw new Error(`${s.path}: short read for '${name}' (file truncated?)`);
        await out.write(buffer.subarray(0, n));
        done += n;
      }
    }
    await out.sync();
  } finally {
    await out.close();
    for (const h of inputs.values()) await h.close();
  }
}
