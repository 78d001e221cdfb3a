/**
 * VCF input for variant scoring: plain, gzip or bgzip files, streamed line by line (bounded memory),
 * or — with regions and a tabix index (`X.vcf.gz.tbi` or `.csi`) beside a bgzip file — read region by
 * region through @gmod/tabix. Lines are parsed by @gmod/vcf. The file (and its index) may be an
 * HTTP(S) URL: it is then read by range requests through the retrying reader the genome uses
 * (`RetryingRemoteFile`), streamed a chunk at a time, never downloaded whole.
 *
 * A record is in a region when its POS (its first REF base) lies inside it, so the indexed and the
 * streamed reads return the same records, in file order, each once. Multi-allelic records are split
 * by `alleles()` into one scorable allele per ALT; `*`, symbolic (`<DEL>`), breakend and missing ALTs
 * are reported and skipped.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import VCF from '@gmod/vcf';
import { TabixIndexedFile } from '@gmod/tabix';
import type { Region } from './regions.js';
import { isHttpUrl } from './http-retry.js';
import { remoteFailure, RetryingRemoteFile, urlExists, type RemoteIdentity } from './remote-file.js';

export class VcfError extends Error {}

export interface VcfRecord {
  chrom: string;
  /** 1-based position of the first REF base, as in the file. */
  pos: number;
  /** The ID column ('.' when missing; several IDs joined by ';'). */
  id: string;
  /** REF, upper case. */
  ref: string;
  /** ALT alleles as written (upper-cased bases); empty when ALT is '.'. */
  alts: string[];
  /** Where the record is, for messages: `file:line`, or `file (chrom:pos)` for an indexed read. */
  where: string;
}

export interface VcfReader {
  readonly path: string;
  /** 'tbi' / 'csi' when regions are read through the index, else undefined (streamed). */
  readonly index: 'tbi' | 'csi' | undefined;
  /** The records in file order (restricted to the regions, if any). */
  records(): AsyncGenerator<VcfRecord>;
  /** Number of records `records()` yields, counted without parsing INFO. */
  count(): Promise<number>;
  /** What identifies this version of the file, for job fingerprints: path, size and mtime, or URL, size and validators. */
  readonly identity: LocalIdentity | RemoteIdentity;
}

export interface LocalIdentity {
  path: string;
  size: number;
  mtime: number;
}

export interface OpenVcfOptions {
  /** Bytes per range request when a URL is streamed (default 1 MiB). */
  chunkBytes?: number;
}

const MINIMAL_HEADER = '##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO';
/** bp per indexed request: bounds the lines held at once on dense files. */
const INDEX_STEP = 100_000;

/** Where the VCF's bytes come from: a local file or a URL read by retried range requests. */
interface Source {
  readonly location: string;
  /** The file's bytes, in order, a chunk at a time. */
  chunks(): AsyncIterable<Uint8Array>;
  firstBytes(n: number): Promise<Uint8Array>;
  /** Whether a sibling (`.tbi`, `.csi`) exists. */
  hasSibling(suffix: string): Promise<boolean>;
  tabix(index: 'tbi' | 'csi'): TabixIndexedFile;
  readonly identity: LocalIdentity | RemoteIdentity;
}

async function localSource(path: string): Promise<Source> {
  let size: number;
  let mtime: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new VcfError(`${path}: cannot read VCF (not a file)`);
    [size, mtime] = [s.size, s.mtimeMs];
  } catch (e) {
    if (e instanceof VcfError) throw e;
    throw new VcfError(`${path}: cannot read VCF (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return {
    location: path,
    identity: { path: resolve(path), size, mtime },
    chunks: () => createReadStream(path),
    async firstBytes(n) {
      const fh = await open(path, 'r');
      try {
        const b = Buffer.alloc(n);
        const { bytesRead } = await fh.read(b, 0, n, 0);
        return b.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
    hasSibling: (suffix) =>
      stat(path + suffix).then(
        (s) => s.isFile(),
        () => false,
      ),
    tabix: (index) => new TabixIndexedFile(index === 'tbi' ? { path, tbiPath: `${path}.tbi` } : { path, csiPath: `${path}.csi` }),
  };
}

async function remoteSource(url: string, chunkBytes: number | undefined): Promise<Source> {
  const file = new RetryingRemoteFile(url);
  let head: Uint8Array;
  try {
    head = await file.read(2, 0);
  } catch (e) {
    throw new VcfError(`${url}: cannot read VCF (${remoteFailure(e)})`);
  }
  return {
    location: url,
    get identity() {
      return file.identity();
    },
    chunks: () => file.chunks(chunkBytes),
    firstBytes: async (n) => (n <= head.length ? head.subarray(0, n) : file.read(n, 0)),
    async hasSibling(suffix) {
      try {
        return await urlExists(url + suffix);
      } catch (e) {
        throw new VcfError(`${url}${suffix}: cannot read the index (${remoteFailure(e)})`);
      }
    },
    tabix: (index) => {
      const idx = new RetryingRemoteFile(`${url}.${index}`).file;
      return new TabixIndexedFile(index === 'tbi' ? { filehandle: file.file, tbiFilehandle: idx } : { filehandle: file.file, csiFilehandle: idx });
    },
  };
}

/** Merged, sorted intervals per chromosome; `has(chrom, pos0)` answers membership. */
class RegionSet {
  readonly byChrom = new Map<string, [number, number][]>();

  constructor(regions: Region[]) {
    const raw = new Map<string, [number, number][]>();
    for (const r of regions) {
      if (!raw.has(r.chrom)) raw.set(r.chrom, []);
      raw.get(r.chrom)!.push([r.start, r.end]);
    }
    for (const [chrom, list] of raw) {
      list.sort((a, b) => a[0] - b[0]);
      const merged: [number, number][] = [];
      for (const [s, e] of list) {
        const last = merged[merged.length - 1];
        if (last && s <= last[1]) last[1] = Math.max(last[1], e);
        else merged.push([s, e]);
      }
      this.byChrom.set(chrom, merged);
    }
  }

  has(chrom: string, pos0: number): boolean {
    const list = this.byChrom.get(chrom);
    if (!list) return false;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [s, e] = list[mid]!;
      if (pos0 < s) hi = mid - 1;
      else if (pos0 >= e) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

/** Lines of a plain or gzip (incl. bgzip: concatenated members) file, with 1-based line numbers. */
async function* fileLines(file: Source, gz: boolean): AsyncGenerator<[string, number]> {
  const path = file.location;
  const input = Readable.from(file.chunks(), { objectMode: false });
  let source: NodeJS.ReadableStream = input;
  if (gz) {
    const gunzip = createGunzip();
    input.on('error', (e) => gunzip.destroy(e));
    source = input.pipe(gunzip);
  }
  const decoder = new TextDecoder('utf-8');
  let rest = '';
  let n = 0;
  try {
    for await (const chunk of source) {
      const text = rest + decoder.decode(chunk as Buffer, { stream: true });
      const parts = text.split('\n');
      rest = parts.pop()!;
      for (const p of parts) yield [p.endsWith('\r') ? p.slice(0, -1) : p, ++n];
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (gz && (err.code?.startsWith('Z_') || /incorrect header|unexpected end/i.test(err.message))) {
      throw new VcfError(`${path}: cannot decompress (${err.message}); is it gzip or bgzip?`);
    }
    throw new VcfError(`${path}: cannot read VCF (${isHttpUrl(path) ? remoteFailure(e) : (err.code ?? err.message)})`);
  } finally {
    input.destroy();
  }
  rest += decoder.decode();
  if (rest !== '') yield [rest.endsWith('\r') ? rest.slice(0, -1) : rest, ++n];
}

function makeParser(header: string, path: string): VCF {
  try {
    return new VCF({ header: header.trim() === '' ? MINIMAL_HEADER : header, strict: false });
  } catch (e) {
    // The parser's message may quote header lines: keep the error on one line.
    throw new VcfError(`${path}: bad VCF header (${(e as Error).message.replace(/\s*[\r\n]+\s*/g, ' ').trim()})`);
  }
}

/** Parses one data line into a record; throws a VcfError naming `where`. */
export function parseRecord(parser: VCF, line: string, where: string): VcfRecord {
  const columns = line.split('\t');
  if (columns.length < 5) throw new VcfError(`${where}: expected at least 5 tab-separated columns (CHROM POS ID REF ALT), found ${columns.length}`);
  let v;
  try {
    v = parser.parseLine(line);
  } catch (e) {
    throw new VcfError(`${where}: ${(e as Error).message}`);
  }
  const posText = columns[1]!;
  if (!/^\d+$/.test(posText) || !Number.isSafeInteger(Number(posText)) || Number(posText) < 1) {
    throw new VcfError(`${where}: POS must be a positive integer (found ${JSON.stringify(posText)})`);
  }
  const ref = String(v.REF ?? '').toUpperCase();
  if (!/^[ACGTN]+$/.test(ref)) throw new VcfError(`${where}: REF must be bases A, C, G, T or N (found ${JSON.stringify(v.REF ?? '')})`);
  const alts = (v.ALT ?? []).map((a) => (/^[ACGTNacgtn]+$/.test(a) ? a.toUpperCase() : a));
  return { chrom: v.CHROM ?? columns[0]!, pos: Number(posText), id: v.ID?.length ? v.ID.join(';') : '.', ref, alts, where };
}

/**
 * Opens a VCF (a path or an http(s) URL); `regions` restricts it (through the tabix index when
 * there is one).
 */
export async function openVcf(path: string, regions?: Region[], options: OpenVcfOptions = {}): Promise<VcfReader> {
  const source = isHttpUrl(path) ? await remoteSource(path, options.chunkBytes) : await localSource(path);
  const b = await source.firstBytes(2);
  const gz = b.length === 2 && b[0] === 0x1f && b[1] === 0x8b;
  const set = regions?.length ? new RegionSet(regions) : undefined;
  let index: 'tbi' | 'csi' | undefined;
  if (gz && set) {
    if (await source.hasSibling('.tbi')) index = 'tbi';
    else if (await source.hasSibling('.csi')) index = 'csi';
  }
  if (index && set) return new IndexedVcf(source, index, set);
  return new StreamedVcf(source, gz, set);
}

class StreamedVcf implements VcfReader {
  readonly index = undefined;
  readonly path: string;

  constructor(
    private readonly source: Source,
    private readonly gz: boolean,
    private readonly regions: RegionSet | undefined,
  ) {
    this.path = source.location;
  }

  get identity() {
    return this.source.identity;
  }

  private inRegions(line: string): boolean {
    if (!this.regions) return true;
    const tab1 = line.indexOf('\t');
    const tab2 = line.indexOf('\t', tab1 + 1);
    const pos = Number(line.slice(tab1 + 1, tab2 < 0 ? undefined : tab2));
    return tab1 > 0 && Number.isInteger(pos) && this.regions.has(line.slice(0, tab1), pos - 1);
  }

  async *records(): AsyncGenerator<VcfRecord> {
    const header: string[] = [];
    let parser: VCF | undefined;
    for await (const [line, n] of fileLines(this.source, this.gz)) {
      if (line.trim() === '') continue;
      if (line.startsWith('#')) {
        if (!parser) header.push(line);
        continue;
      }
      parser ??= makeParser(header.join('\n'), this.path);
      // Lines outside the regions are still checked for a readable CHROM/POS by inRegions only.
      if (!this.inRegions(line)) continue;
      yield parseRecord(parser, line, `${this.path}:${n}`);
    }
  }

  async count(): Promise<number> {
    let n = 0;
    for await (const [line] of fileLines(this.source, this.gz)) if (line.trim() !== '' && !line.startsWith('#') && this.inRegions(line)) n++;
    return n;
  }
}

class IndexedVcf implements VcfReader {
  private readonly file: TabixIndexedFile;
  readonly path: string;

  constructor(
    private readonly source: Source,
    readonly index: 'tbi' | 'csi',
    private readonly regions: RegionSet,
  ) {
    this.path = source.location;
    this.file = source.tabix(index);
  }

  get identity() {
    return this.source.identity;
  }

  /** A failed read's cause: the retrying reader's for a URL, else the parser's. */
  private why(e: unknown): string {
    return isHttpUrl(this.path) ? remoteFailure(e) : (e as Error).message;
  }

  /** Data lines of the regions in file order (index order of chromosomes, then position), each once. */
  private async *lines(): AsyncGenerator<{ line: string; chrom: string }> {
    let names: string[];
    try {
      names = await this.file.getReferenceSequenceNames();
    } catch (e) {
      throw new VcfError(`${this.path}.${this.index}: cannot read the index (${this.why(e)})`);
    }
    for (const chrom of names) {
      for (const [s, e] of this.regions.byChrom.get(chrom) ?? []) {
        for (let a = s; a < e; a += INDEX_STEP) {
          const b = Math.min(e, a + INDEX_STEP);
          const batch: string[] = [];
          try {
            await this.file.getLines(chrom, a, b, (line) => batch.push(line));
          } catch (err) {
            throw new VcfError(`${this.path}: cannot read ${chrom}:${a + 1}-${b} through the index (${this.why(err)})`);
          }
          for (const line of batch) {
            const f = line.split('\t', 2);
            const pos0 = Number(f[1]) - 1;
            if (pos0 >= a && pos0 < b) yield { line, chrom };
          }
        }
      }
    }
  }

  async *records(): AsyncGenerator<VcfRecord> {
    let header: string;
    try {
      header = await this.file.getHeader();
    } catch (e) {
      throw new VcfError(`${this.path}: cannot read the header through the index (${this.why(e)})`);
    }
    const parser = makeParser(header, this.path);
    for await (const { line, chrom } of this.lines()) {
      const pos = line.split('\t', 2)[1];
      yield parseRecord(parser, line, `${this.path} (${chrom}:${pos})`);
    }
  }

  async count(): Promise<number> {
    let n = 0;
    for await (const _ of this.lines()) n++;
    return n;
  }
}

export type Allele = { alt: string; skip?: undefined } | { alt: string; skip: string };

/** One entry per ALT: scorable (bases) or, with the reason, skipped. */
export function alleles(record: VcfRecord): Allele[] {
  if (record.alts.length === 0) return [{ alt: '.', skip: 'no ALT allele' }];
  return record.alts.map((alt): Allele => {
    if (/^[ACGTN]+$/.test(alt)) return { alt };
    if (alt === '*') return { alt, skip: "the '*' allele (a deletion upstream) has no sequence" };
    if (/^<.*>$/.test(alt)) return { alt, skip: 'symbolic alleles are not scored' };
    if (/[[\]]/.test(alt)) return { alt, skip: 'breakends are not scored' };
    return { alt, skip: 'ALT must be bases A, C, G, T or N' };
  });
}
