/**
 * Streaming FASTA reader (plain or gzip, detected from the magic bytes rather than the name, so a
 * mis-named file still reads). Yields one record at a time; only the current record is held.
 */
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { FastaError, FastaLines, type FastaRecord } from './fasta-parse.js';

export { FastaError, parseFastaText, type FastaRecord } from './fasta-parse.js';

/** Reads `path` record by record. Errors name the file and the 1-based line. */
export async function* readFasta(path: string): AsyncGenerator<FastaRecord> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new FastaError(`${path}: cannot read FASTA file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const magic = Buffer.alloc(2);
  try {
    await handle.read(magic, 0, 2, 0);
  } catch (e) {
    await handle.close();
    throw new FastaError(`${path}: cannot read FASTA file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const raw = handle.createReadStream({ start: 0 });
  let input: Readable = raw;
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = createGunzip();
    raw.on('error', (e) => gunzip.destroy(e));
    input = raw.pipe(gunzip);
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  const parser = new FastaLines(path);
  try {
    for await (const rawLine of lines) {
      const record = parser.line(rawLine);
      if (record) yield record;
    }
  } catch (e) {
    if (e instanceof FastaError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new FastaError(`${path}: cannot read FASTA file (${code ?? (e as Error).message})`);
  } finally {
    lines.close();
    input.destroy();
    await handle.close().catch(() => {});
  }
  yield parser.end();
}

/** Reads every record of a FASTA file, in order. */
export async function readFastaRecords(path: string): Promise<FastaRecord[]> {
  const records: FastaRecord[] = [];
  for await (const r of readFasta(path)) records.push(r);
  return records;
}
