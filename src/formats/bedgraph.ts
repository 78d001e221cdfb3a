/**
 * bedGraph text, streamed: per track a `track type=bedGraph name="…" description="…"` line, then
 * `chrom start end value` rows (0-based, half-open) in the order given.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export interface BedGraphTrack {
  name: string;
  description: string;
  /** Rows of this track: one block of bins per region. */
  blocks: { chrom: string; starts: ArrayLike<number>; ends: ArrayLike<number>; values: ArrayLike<number> }[];
}

/** Seven significant digits, as the TSV output (float32 carries about that many). */
export function formatValue(v: number): string {
  return String(Number(v.toPrecision(7)));
}

export const quote = (s: string) => s.replace(/["\\]/g, "'");

/** Writes text chunks to a file with back-pressure; rejects on any stream error. */
export async function writeLines(path: string, chunks: Iterable<string>): Promise<void> {
  const out = createWriteStream(path);
  const failed = once(out, 'error').then(([e]) => {
    throw e;
  });
  failed.catch(() => {});
  try {
    await Promise.race([once(out, 'open'), failed]);
    for (const text of chunks) {
      if (!out.write(text)) await Promise.race([once(out, 'drain'), failed]);
    }
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  } finally {
    out.destroy();
  }
}

function* bedGraphChunks(tracks: BedGraphTrack[]): Generator<string> {
  for (const t of tracks) {
    yield `track type=bedGraph name="${quote(t.name)}" description="${quote(t.description)}"\n`;
    for (const b of t.blocks) {
      const rows: string[] = [];
      for (let i = 0; i < b.starts.length; i++) rows.push(`${b.chrom}\t${b.starts[i]}\t${b.ends[i]}\t${formatValue(b.values[i]!)}\n`);
      yield rows.join('');
    }
  }
}

export async function writeBedGraph(path: string, tracks: BedGraphTrack[]): Promise<void> {
  await writeLines(path, bedGraphChunks(tracks));
}
