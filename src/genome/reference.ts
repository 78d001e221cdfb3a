/**
 * Reference genomes through the GMOD readers: indexed FASTA (`.fai`), bgzipped indexed FASTA
 * (`.fai` + `.gzi`) and `.2bit`, from a local path or an HTTP(S) URL (read by range requests, never
 * downloaded whole). `hg38` and `mm10` name the public UCSC 2bit files.
 *
 * Coordinates are 0-based, half-open; a request that runs past a chromosome end is padded with N.
 */
import { stat } from 'node:fs/promises';
import { IndexedFasta, BgzipIndexedFasta } from '@gmod/indexedfasta';
import { TwoBitFile } from '@gmod/twobit';
import { RemoteFile, type GenericFilehandle } from 'generic-filehandle2';
import { BoundedLocalFile } from './bounded-file.js';
import type { GenomeKind, Reference } from './reference-type.js';
import { retryingFetch } from './http-retry.js';
import { checkTwoBitRecord } from './twobit-check.js';

export class GenomeError extends Error {}

export const PUBLIC_GENOMES: Record<string, string> = {
  hg38: 'https://hgdownload.soe.ucsc.edu/goldenPath/hg38/bigZips/hg38.2bit',
  mm10: 'https://hgdownload.soe.ucsc.edu/goldenPath/mm10/bigZips/mm10.2bit',
};

export type { GenomeKind, Reference } from './reference-type.js';

interface Backend {
  getSequenceNames(): Promise<string[]>;
  getSequenceSize(name: string): Promise<number | undefined>;
  getSequence(name: string, start: number, end: number): Promise<string | undefined>;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/** The kind of genome file a name denotes, from its extension (a URL's query string ignored). */
export function genomeKind(location: string): GenomeKind {
  const path = (isUrl(location) ? new URL(location).pathname : location).toLowerCase();
  if (path.endsWith('.2bit')) return '2bit';
  if (path.endsWith('.gz') || path.endsWith('.bgz')) return 'bgzip-fasta';
  return 'fasta';
}

function handle(location: string): GenericFilehandle {
  return isUrl(location) ? new RemoteFile(location, { fetch: retryingFetch() }) : new BoundedLocalFile(location);
}

async function checkLocal(path: string, what: string, hint: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new GenomeError(`${path}: cannot read ${what} (not a file)`);
  } catch (e) {
    if (e instanceof GenomeError) throw e;
    throw new GenomeError(`${path}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? e})${hint}`);
  }
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.code ?? err.cause?.message ?? err.message ?? String(e);
}

/** Opens a genome (path, URL, `hg38` or `mm10`) and reads its index, so a bad genome fails here. */
export async function openGenome(spec: string): Promise<Reference> {
  const location = PUBLIC_GENOMES[spec] ?? spec;
  const kind = genomeKind(location);
  const remote = isUrl(location);
  if (!remote) {
    await checkLocal(location, 'genome', '');
    if (kind !== '2bit') await checkLocal(`${location}.fai`, 'FASTA index', ` (index the genome with \`samtools faidx ${location}\`)`);
    if (kind === 'bgzip-fasta') await checkLocal(`${location}.gzi`, 'bgzip index', ` (compress with \`bgzip -i\` and index with \`samtools faidx\`)`);
  }
  let backend: Backend;
  if (kind === '2bit') {
    backend = new CheckedTwoBit(handle(location));
  } else if (kind === 'bgzip-fasta') {
    backend = new BgzipIndexedFasta({ fasta: handle(location), fai: handle(`${location}.fai`), gzi: handle(`${location}.gzi`) });
  } else {
    backend = new IndexedFasta({ fasta: handle(location), fai: handle(`${location}.fai`) });
  }
  let names: string[];
  try {
    names = await backend.getSequenceNames();
  } catch (e) {
    throw new GenomeError(`${location}: cannot read genome (${describe(e)})`);
  }
  if (names.length === 0) throw new GenomeError(`${location}: the genome index lists no sequences`);
  // A sequence name is the first word of a FASTA header: control characters (e.g. CR of a CRLF index) mean a damaged index.
  const bad = names.find((n) => /[\u0000-\u001f\u007f]/.test(n));
  if (bad !== undefined) throw new GenomeError(`${location}: the index lists a sequence name with control characters (${JSON.stringify(bad)}); rebuild it (samtools faidx)`);
  return new GmodReference(spec, location, kind, backend, names);
}

/** @gmod/twobit, with each sequence's block tables checked once before its bases are decoded. */
class CheckedTwoBit implements Backend {
  private readonly file: TwoBitFile;
  private readonly checked = new Set<string>();

  constructor(private readonly handle: GenericFilehandle) {
    this.file = new TwoBitFile({ filehandle: handle });
  }

  getSequenceNames(): Promise<string[]> {
    return this.file.getSequenceNames();
  }

  getSequenceSize(name: string): Promise<number | undefined> {
    return this.file.getSequenceSize(name);
  }

  async getSequence(name: string, start: number, end: number): Promise<string | undefined> {
    if (!this.checked.has(name)) {
      const offset = (await this.file.getIndex())[name];
      if (offset !== undefined) await checkTwoBitRecord(this.handle, offset);
      this.checked.add(name);
    }
    return this.file.getSequence(name, start, end);
  }
}

class GmodReference implements Reference {
  private sizes = new Map<string, number>();

  constructor(
    readonly source: string,
    readonly location: string,
    readonly kind: GenomeKind,
    private readonly backend: Backend,
    private readonly names: string[],
  ) {}

  async getSequenceNames(): Promise<string[]> {
    return [...this.names];
  }

  async getSequenceSize(chrom: string): Promise<number | undefined> {
    const known = this.sizes.get(chrom);
    if (known !== undefined) return known;
    if (!this.names.includes(chrom)) return undefined;
    let size: number | undefined;
    try {
      size = await this.backend.getSequenceSize(chrom);
    } catch (e) {
      throw new GenomeError(`${this.location}: cannot read the length of ${chrom} (${describe(e)})`);
    }
    if (size === undefined) return undefined;
    this.sizes.set(chrom, size);
    return size;
  }

  async getSequenceSizes(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const n of this.names) out.set(n, (await this.getSequenceSize(n))!);
    return out;
  }

  async getSequence(chrom: string, start: number, end: number): Promise<string> {
    if (!Number.isInteger(start) || !Number.isInteger(end) || end < start) throw new GenomeError(`invalid range ${chrom}:${start}-${end}`);
    const size = await this.getSequenceSize(chrom);
    if (size === undefined) throw new GenomeError(`${this.location}: unknown chromosome '${chrom}'`);
    const s = Math.max(0, Math.min(size, start));
    const e = Math.max(s, Math.min(size, end));
    let bases = '';
    if (e > s) {
      try {
        bases = (await this.backend.getSequence(chrom, s, e)) ?? '';
      } catch (err) {
        throw new GenomeError(`${this.location}: cannot read ${chrom}:${s + 1}-${e} (${describe(err)})`);
      }
      if (bases.length !== e - s) throw new GenomeError(`${this.location}: read ${bases.length} bp of ${chrom}:${s + 1}-${e}, expected ${e - s} (is the index out of date?)`);
    }
    const left = Math.max(0, Math.min(end, 0) - start);
    return 'N'.repeat(left) + bases + 'N'.repeat(end - start - left - bases.length);
  }
}
