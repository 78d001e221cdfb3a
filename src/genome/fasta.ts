/**
 * Streaming FASTA reader (plain or gzip, detected from the magic bytes rather than the name, so a
 * mis-named file still reads). Yields one record at a time; only the current record is held.
 */
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface FastaRecord {
  /** First word of the header line. */
  name: string;
  sequence: string;
}

export class FastaError extends Error {}

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
  let name: string | undefined;
  let headerLine = 0;
  let chunks: string[] = [];
  let lineNo = 0;
  const finish = (): FastaRecord => {
    if (chunks.length === 0) throw new FastaError(`${path}:${headerLine}: record '${name}' has no sequence`);
    const record = { name: name!, sequence: chunks.join('') };
    chunks = [];
    return record;
  };
  try {
    for await (const rawLine of lines) {
      lineNo++;
      const line = rawLine.trim();
      if (line === '') continue;
      if (line.startsWith('>')) {
        if (name !== undefined) yield finish();
        name = line.slice(1).trim().split(/\s+/)[0] ?? '';
        if (name === '') throw new FastaError(`${path}:${lineNo}: header line has no record name`);
        headerLine = lineNo;
      } else {
        if (name === undefined) throw new FastaError(`${path}:${lineNo}: text before the first '>' header line (is this a FASTA file?)`);
        // Internal spaces are not part of the sequence; letters are checked later, with their position.
        chunks.push(line.replace(/\s+/g, ''));
      }
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
  if (name === undefined) throw new FastaError(`${path}: no FASTA records (empty file)`);
  yield finish();
}

/** Reads every record of a FASTA file, in order. */
export async function readFastaRecords(path: string): Promise<FastaRecord[]> {
  const records: FastaRecord[] = [];
  for await (const r of readFasta(path)) records.push(r);
  return records;
}
