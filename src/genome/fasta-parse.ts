/**
 * FASTA text parsing, line by line, with no I/O: the file reader (fasta.ts) and the browser page feed
 * it lines. Errors name the source and the 1-based line.
 */
export interface FastaRecord {
  /** First word of the header line. */
  name: string;
  sequence: string;
}

export class FastaError extends Error {}

/** Consumes FASTA lines; `line()` returns a record when a header line completes the previous one. */
export class FastaLines {
  private name: string | undefined;
  private headerLine = 0;
  private chunks: string[] = [];
  private lineNo = 0;

  constructor(private readonly source: string) {}

  private finish(): FastaRecord {
    if (this.chunks.length === 0) throw new FastaError(`${this.source}:${this.headerLine}: record '${this.name}' has no sequence`);
    const record = { name: this.name!, sequence: this.chunks.join('') };
    this.chunks = [];
    return record;
  }

  line(rawLine: string): FastaRecord | undefined {
    this.lineNo++;
    const line = rawLine.trim();
    if (line === '') return undefined;
    if (line.startsWith('>')) {
      const done = this.name !== undefined ? this.finish() : undefined;
      this.name = line.slice(1).trim().split(/\s+/)[0] ?? '';
      if (this.name === '') throw new FastaError(`${this.source}:${this.lineNo}: header line has no record name`);
      this.headerLine = this.lineNo;
      return done;
    }
    if (this.name === undefined) throw new FastaError(`${this.source}:${this.lineNo}: text before the first '>' header line (is this a FASTA file?)`);
    // Internal spaces are not part of the sequence; letters are checked later, with their position.
    this.chunks.push(line.replace(/\s+/g, ''));
    return undefined;
  }

  /** The last record; throws when the input held none. */
  end(): FastaRecord {
    if (this.name === undefined) throw new FastaError(`${this.source}: no FASTA records (empty file)`);
    return this.finish();
  }
}

/** Every record of a FASTA text, in order. */
export function parseFastaText(text: string, source: string): FastaRecord[] {
  const parser = new FastaLines(source);
  const records: FastaRecord[] = [];
  for (const l of text.split(/\r?\n/)) {
    const r = parser.line(l);
    if (r) records.push(r);
  }
  records.push(parser.end());
  return records;
}
