/**
 * Annotations for a plotted window: genes and exons of a GTF, and a bigWig signal binned to the plot's
 * positions. The GTF lookup is deliberately minimal (one streaming pass keeping only gene/exon lines
 * that overlap the window); the project's full GTF reader lives in genome/.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { BigWig } from '@gmod/bbi';
import { BoundedLocalFile } from '../../genome/bounded-file.js';
import type { GeneFeature, SignalTrack } from '../../plots/attention-heatmap.js';

export class AnnotationError extends Error {}

function attribute(attrs: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${key}\\s+"([^"]*)"`).exec(attrs);
  return m?.[1];
}

/** Genes (with their exons) of a GTF overlapping [start, end) of `chrom`, 0-based half-open coordinates. */
export async function genesInWindow(path: string, chrom: string, start: number, end: number): Promise<GeneFeature[]> {
  const genes = new Map<string, GeneFeature & { declared: boolean }>();
  const raw = createReadStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', (e: NodeJS.ErrnoException) => reject(new AnnotationError(`--plot-gtf ${path}: cannot read (${e.code ?? e.message})`)));
  });
  await opened;
  const stream = /\.gz$/i.test(path) ? raw.pipe(createGunzip()) : raw;
  const failed = new Promise<never>((_, reject) => stream.once('error', (e: Error) => reject(new AnnotationError(`--plot-gtf ${path}: ${e.message}`))));
  failed.catch(() => {});
  let lineNo = 0;
  const read = (async () => {
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
      lineNo++;
      if (line === '' || line.startsWith('#')) continue;
      const f = line.split('\t');
      if (f.length < 9) throw new AnnotationError(`--plot-gtf ${path}: line ${lineNo}: ${f.length} tab-separated fields, a GTF line has 9`);
      if (f[0] !== chrom || (f[2] !== 'gene' && f[2] !== 'exon')) continue;
      const s = Number(f[3]) - 1;
      const e = Number(f[4]);
      if (!Number.isInteger(s) || !Number.isInteger(e) || e <= s) throw new AnnotationError(`--plot-gtf ${path}: line ${lineNo}: bad start/end ${f[3]}-${f[4]}`);
      if (e <= start || s >= end) continue;
      const id = attribute(f[8]!, 'gene_id') ?? attribute(f[8]!, 'gene_name') ?? `${chrom}:${s}`;
      const name = attribute(f[8]!, 'gene_name') ?? id;
      let g = genes.get(id);
      if (!g) genes.set(id, (g = { name, start: s, end: e, strand: f[6]!, exons: [], declared: false }));
      if (f[2] === 'gene') Object.assign(g, { start: s, end: e, declared: true });
      else {
        g.exons.push({ start: s, end: e });
        if (!g.declared) Object.assign(g, { start: Math.min(g.start, s), end: Math.max(g.end, e) });
      }
    }
  })();
  await Promise.race([read, failed]);
  return [...genes.values()].map(({ declared: _, ...g }) => g).sort((a, b) => a.start - b.start);
}

/** Mean bigWig signal over each of `count` equal bins of [start, end) (bases without data count as absent). */
export async function signalInWindow(path: string, chrom: string, start: number, end: number, count: number): Promise<SignalTrack> {
  // BoundedLocalFile: a damaged bigWig's impossible reads are errors, not a process abort in Node's fs.
  const bw = new BigWig({ filehandle: new BoundedLocalFile(path) });
  let refs: Record<string, unknown>;
  try {
    refs = (await bw.getHeader()).refsByName;
  } catch (e) {
    throw new AnnotationError(`--plot-bigwig ${path}: not a readable bigWig (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!(chrom in refs)) throw new AnnotationError(`--plot-bigwig ${path}: no chromosome ${chrom} (it has ${Object.keys(refs).slice(0, 5).join(', ')}${Object.keys(refs).length > 5 ? ', …' : ''})`);
  const features = (await bw.getFeatures(chrom, Math.max(0, start), end)) as { start: number; end: number; score: number }[];
  const width = (end - start) / count;
  const sum = new Float64Array(count);
  const covered = new Float64Array(count);
  for (const f of features) {
    const s = Math.max(f.start, start);
    const e = Math.min(f.end, end);
    for (let b = Math.floor((s - start) / width); b < count && start + b * width < e; b++) {
      const overlap = Math.min(e, start + (b + 1) * width) - Math.max(s, start + b * width);
      if (overlap <= 0) continue;
      sum[b] += f.score * overlap;
      covered[b] += overlap;
    }
  }
  const points = Array.from({ length: count }, (_, b) => ({ start: start + b * width, end: start + (b + 1) * width, value: covered[b]! > 0 ? sum[b]! / covered[b]! : 0 }));
  return { name: path.replace(/^.*\//, '').replace(/\.(bw|bigwig)$/i, ''), points };
}
