/**
 * Genes from a GTF (GENCODE or Ensembl), as baskerville's gene.py reads them: only `exon` rows
 * count; a gene is keyed by `gene_id` (with its version), labelled by `gene_name`; its exons are
 * the union over its transcripts, 0-based half-open [start − 1, end); chromosome and strand come
 * from its exons. With `span`, a gene is the one interval [min exon start, max exon end).
 *
 * Read streamed, line by line (plain or gzip, by magic bytes). A hand-written reader rather than
 * @gmod/gtf 0.0.9: on a 1.7 M-line GENCODE-like file (340 MB) @gmod/gtf took 153.5 s and 3.9 GB
 * RSS (it builds every transcript with its children and keeps attribute values quoted), this one
 * 3.6 s and 0.44 GB, and we need nothing of a GTF but exon rows.
 *
 * With `transcripts`, each gene also keeps its transcripts (exons grouped by `transcript_id`) and
 * their TSS as AlphaGenome's `extract_tss` places it (0-based, width 0: the transcript's start on
 * "+" and ".", its end, one past its last base, on "−"), for the gene-mask variant scorers, which
 * select genes by TSS. A transcript's extent is taken from its exons: in GENCODE and Ensembl the
 * `transcript` row spans exactly its exons.
 *
 * `GeneIndex` finds the genes with an exon overlapping an interval by binary search over genes
 * sorted by their first exon start, bounded by the longest gene, without rescanning the file.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

export class GtfError extends Error {}

export interface Gene {
  /** `gene_id`, with its version. */
  id: string;
  /** `gene_name`, else the id. */
  name: string;
  chrom: string;
  strand: '+' | '-' | '.';
  /** Sorted, disjoint, 0-based half-open exon intervals (the union over transcripts), or the span. */
  exons: [number, number][];
  /** Order of first appearance in the GTF. */
  order: number;
  /** Its transcripts, in order of first appearance (read with `transcripts: true`). */
  transcripts?: Transcript[];
}

export interface Transcript {
  /** `transcript_id` ('' for exons without one). */
  id: string;
  /** Sorted, disjoint, 0-based half-open exon intervals. */
  exons: [number, number][];
  /** 0-based TSS: the first exon's start on "+" and ".", the last exon's end (exclusive) on "−". */
  tss: number;
}

export interface GtfOptions {
  /** One interval per gene, [min exon start, max exon end), instead of its exons. */
  span?: boolean;
  /** Keep each gene's transcripts and their TSS (`Gene.transcripts`). */
  transcripts?: boolean;
}

/** Merges overlapping or touching intervals (sorted copy). */
export function unionIntervals(intervals: [number, number][]): [number, number][] {
  const sorted = intervals.map(([a, b]) => [a, b] as [number, number]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

function attribute(text: string, key: string): string | undefined {
  // `key "value";` (GENCODE/Ensembl) or `key value;`
  const re = new RegExp(`(?:^|;)\\s*${key}\\s+(?:"([^"]*)"|([^;\\s]+))`);
  const m = re.exec(text);
  return m ? (m[1] ?? m[2]) : undefined;
}

async function lines(path: string): Promise<AsyncIterable<string>> {
  let head: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      head = Buffer.alloc(2);
      await fh.read(head, 0, 2, 0);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new GtfError(`${path}: cannot read GTF (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  let input: Readable = createReadStream(path);
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip();
    input.on('error', (e) => gunzip.destroy(e));
    input = input.pipe(gunzip);
  }
  return createInterface({ input, crlfDelay: Infinity });
}

/** Reads the genes of a GTF (see the file comment). Throws a GtfError naming the file and line. */
export async function readGtf(path: string, options: GtfOptions = {}): Promise<Gene[]> {
  interface Building {
    id: string;
    name: string;
    chrom: string;
    strand: string;
    exons: [number, number][];
    transcripts?: Map<string, [number, number][]>;
  }
  const genes = new Map<string, Building>();
  let n = 0;
  try {
    for await (const line of await lines(path)) {
      n++;
      if (line === '' || line.charCodeAt(0) === 35) continue; // '#'
      const f = line.split('\t');
      if (f.length < 9) throw new GtfError(`${path}:${n}: expected 9 tab-separated columns (found ${f.length})`);
      if (f[2] !== 'exon') continue;
      const start = Number(f[3]);
      const end = Number(f[4]);
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 1 || end < start) {
        throw new GtfError(`${path}:${n}: exon start/end must be integers with 1 ≤ start ≤ end (found ${JSON.stringify(f[3])}, ${JSON.stringify(f[4])})`);
      }
      const strand = f[6]!;
      if (strand !== '+' && strand !== '-' && strand !== '.') throw new GtfError(`${path}:${n}: strand must be +, - or . (found ${JSON.stringify(strand)})`);
      const id = attribute(f[8]!, 'gene_id');
      if (id === undefined || id === '') throw new GtfError(`${path}:${n}: exon without a gene_id attribute`);
      let g = genes.get(id);
      if (!g) {
        g = { id, name: attribute(f[8]!, 'gene_name') ?? id, chrom: f[0]!, strand, exons: [] };
        genes.set(id, g);
      } else if (g.chrom !== f[0] || g.strand !== strand) {
        throw new GtfError(`${path}:${n}: gene ${id} has exons on ${g.chrom}${g.strand} and ${f[0]}${strand}`);
      }
      g.exons.push([start - 1, end]);
      if (options.transcripts) {
        g.transcripts ??= new Map();
        const tid = attribute(f[8]!, 'transcript_id') ?? '';
        const list = g.transcripts.get(tid);
        if (list) list.push([start - 1, end]);
        else g.transcripts.set(tid, [[start - 1, end]]);
      }
    }
  } catch (e) {
    if (e instanceof GtfError) throw e;
    throw new GtfError(`${path}: cannot read GTF (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (genes.size === 0) throw new GtfError(`${path}: no exon rows (a GTF with feature type 'exon' in column 3 is needed)`);
  let order = 0;
  return [...genes.values()].map((g) => {
    // Sorted and disjoint: the last interval ends furthest (no Math.max(...), whose argument count is bounded).
    const exons = unionIntervals(g.exons);
    const span: [number, number] = [exons[0]![0], exons[exons.length - 1]![1]];
    const gene: Gene = { id: g.id, name: g.name, chrom: g.chrom, strand: g.strand as Gene['strand'], exons: options.span ? [span] : exons, order: order++ };
    if (g.transcripts) {
      gene.transcripts = [...g.transcripts].map(([id, list]) => {
        const t = unionIntervals(list);
        return { id, exons: t, tss: g.strand === '-' ? t[t.length - 1]![1] : t[0]![0] };
      });
    }
    return gene;
  });
}

/** Genes per chromosome sorted by their first exon start, for overlap queries. */
export class GeneIndex {
  private readonly byChrom = new Map<string, { genes: Gene[]; starts: number[]; longest: number }>();
  private readonly byId = new Map<string, Gene>();
  private readonly byName = new Map<string, Gene[]>();

  constructor(readonly genes: Gene[]) {
    for (const g of genes) {
      let c = this.byChrom.get(g.chrom);
      if (!c) this.byChrom.set(g.chrom, (c = { genes: [], starts: [], longest: 0 }));
      c.genes.push(g);
      this.byId.set(g.id, g);
      const list = this.byName.get(g.name) ?? [];
      list.push(g);
      this.byName.set(g.name, list);
    }
    for (const c of this.byChrom.values()) {
      c.genes.sort((a, b) => a.exons[0]![0] - b.exons[0]![0] || a.order - b.order);
      c.starts = c.genes.map((g) => g.exons[0]![0]);
      c.longest = c.genes.reduce((m, g) => Math.max(m, g.exons[g.exons.length - 1]![1] - g.exons[0]![0]), 0);
    }
  }

  /** Genes with an exon overlapping [start, end) by at least 1 bp, in order of first appearance in the GTF. */
  overlapping(chrom: string, start: number, end: number): Gene[] {
    const c = this.byChrom.get(chrom);
    if (!c) return [];
    // First gene whose first exon starts at or after start − longest: none before it can reach start.
    let lo = 0;
    let hi = c.starts.length;
    const from = start - c.longest;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c.starts[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    const out: Gene[] = [];
    for (let i = lo; i < c.genes.length && c.starts[i]! < end; i++) {
      const g = c.genes[i]!;
      if (g.exons.some(([a, b]) => a < end && b > start)) out.push(g);
    }
    return out.sort((a, b) => a.order - b.order);
  }

  /** A gene by `gene_id` (with or without its version) or by `gene_name` (which must name one gene). */
  find(key: string): Gene {
    const exact = this.byId.get(key);
    if (exact) return exact;
    const named = this.byName.get(key);
    if (named?.length === 1) return named[0]!;
    if (named && named.length > 1) throw new GtfError(`gene name '${key}' names ${named.length} genes (${named.map((g) => g.id).join(', ')}); give a gene_id`);
    const unversioned = this.genes.filter((g) => g.id.replace(/\.\d+$/, '') === key);
    if (unversioned.length === 1) return unversioned[0]!;
    throw new GtfError(`gene '${key}' not found in the GTF (by gene_id or gene_name)`);
  }
}
