/**
 * Writing a genome prediction. The kind follows `--out`: a directory (an existing one, or a name
 * ending in `/`) gets one bigWig per track named by identifier; `X.bedGraph`, `X.tsv`, and
 * `X.safetensors` (with `X.bins.bed` beside it) are single files.
 */
import { mkdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { writeBigWig } from '../formats/bigwig.js';
import { formatValue, writeBedGraph, writeLines } from '../formats/bedgraph.js';
import { writeSafetensors } from '../weights/safetensors.js';
import { writeAtomically } from '../formats/partial-file.js';
import type { RegionPlan } from '../genome/regions.js';
import type { RegionJobResult } from './predict-region.js';

export class OutputError extends Error {}

export type RegionOutputKind = 'bigwig' | 'bedgraph' | 'tsv' | 'safetensors';

const EXTENSIONS: Record<string, RegionOutputKind> = { '.bedgraph': 'bedgraph', '.bg': 'bedgraph', '.tsv': 'tsv', '.safetensors': 'safetensors' };

export async function outputKind(out: string): Promise<RegionOutputKind> {
  if (out.endsWith('/')) return 'bigwig';
  try {
    if ((await stat(out)).isDirectory()) return 'bigwig';
  } catch {
    // a new file
  }
  const kind = EXTENSIONS[extname(out).toLowerCase()];
  if (!kind) throw new OutputError(`--out ${out}: unknown output kind (a directory ending in / for bigWigs, or X.bedGraph, X.tsv, X.safetensors)`);
  return kind;
}

/** bigWig and bedGraph tracks must not overlap: regions whose written bins overlap are an error. */
export function checkNoOverlap(plans: RegionPlan[]): void {
  const sorted = plans.filter((p) => p.bins > 0).sort((a, b) => (a.region.chrom < b.region.chrom ? -1 : a.region.chrom > b.region.chrom ? 1 : a.starts[0]! - b.starts[0]!));
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.region.chrom === b.region.chrom && b.starts[0]! < a.ends[a.bins - 1]!) {
      throw new OutputError(`regions ${a.region.label} and ${b.region.label} overlap in their output bins; merge them (e.g. bedtools merge) or write .tsv/.safetensors`);
    }
  }
}

/** A file name from a track identifier: path separators and odd characters become _. */
export function trackFileName(identifier: string, used: Set<string>): string {
  let base = identifier.replace(/[^A-Za-z0-9._+-]/g, '_') || 'track';
  if (base.startsWith('.')) base = `_${base}`;
  let name = base;
  for (let i = 2; used.has(name.toLowerCase()); i++) name = `${base}_${i}`;
  used.add(name.toLowerCase());
  return `${name}.bw`;
}

function column(values: Float32Array, k: number, K: number): Float32Array {
  const out = new Float32Array(values.length / K);
  for (let i = 0; i < out.length; i++) out[i] = values[i * K + k]!;
  return out;
}

/** Writes the prediction, each file as `X.partial` renamed when complete; returns the files written. */
export async function writeRegionOutputs(out: string, kind: RegionOutputKind, p: RegionJobResult): Promise<string[]> {
  const K = p.tracks.length;
  const blocksOf = (k: number) => p.results.map((r) => ({ chrom: r.plan.region.chrom, starts: r.plan.starts, ends: r.plan.ends, values: column(r.values, k, K) }));
  if (kind === 'bigwig') {
    await mkdir(out, { recursive: true });
    const used = new Set<string>();
    const files: string[] = [];
    for (const [k, t] of p.tracks.entries()) {
      const path = join(out, trackFileName(t.identifier, used));
      await writeAtomically(path, (partial) => writeBigWig(partial, blocksOf(k), p.chromSizes));
      files.push(path);
    }
    return files;
  }
  if (kind === 'bedgraph') {
    await writeAtomically(out, (partial) =>
      writeBedGraph(
        partial,
        p.tracks.map((t, k) => ({ name: t.identifier, description: t.description, blocks: blocksOf(k) })),
      ),
    );
    return [out];
  }
  if (kind === 'tsv') {
    await writeAtomically(out, (partial) => writeLines(partial, tsvChunks(p)));
    return [out];
  }
  const totalBins = p.results.reduce((a, r) => a + r.plan.bins, 0);
  const values = new Float32Array(totalBins * K);
  let at = 0;
  for (const r of p.results) {
    values.set(r.values, at);
    at += r.values.length;
  }
  await writeAtomically(out, (partial) => writeSafetensors(partial, [{ name: p.head, dtype: 'F32', shape: [totalBins, K], data: values }], {
    producer: 'seq2track predict --genome',
    head: p.head,
    bin_size: String(p.binSize),
    window_length: String(p.windowLength),
    ensemble: String(p.ensemble),
    tracks: JSON.stringify(p.tracks.map((t) => t.identifier)),
    track_indices: JSON.stringify(p.tracks.map((t) => t.index)),
    descriptions: JSON.stringify(p.tracks.map((t) => t.description)),
    regions: JSON.stringify(p.results.map((r) => ({ region: r.plan.region.label, chrom: r.plan.region.chrom, bins: r.plan.bins }))),
  }));
  const bed = out.replace(/\.safetensors$/i, '') + '.bins.bed';
  await writeAtomically(bed, (partial) => writeLines(partial, bedChunks(p)));
  return [out, bed];
}

function* tsvChunks(p: RegionJobResult): Generator<string> {
  yield 'region\tchrom\tstart\tend\ttrack\tdescription\tvalue\n';
  const K = p.tracks.length;
  for (const r of p.results) {
    const { plan } = r;
    for (let b = 0; b < plan.bins; b++) {
      const rows: string[] = [];
      const prefix = `${plan.region.label}\t${plan.region.chrom}\t${plan.starts[b]}\t${plan.ends[b]}\t`;
      for (const [k, t] of p.tracks.entries()) rows.push(`${prefix}${t.identifier}\t${t.description}\t${formatValue(r.values[b * K + k]!)}\n`);
      yield rows.join('');
    }
  }
}

/** One row per bin of the safetensors tensor, in order: chrom, start, end, region. */
function* bedChunks(p: RegionJobResult): Generator<string> {
  for (const r of p.results) {
    const rows: string[] = [];
    for (let b = 0; b < r.plan.bins; b++) rows.push(`${r.plan.region.chrom}\t${r.plan.starts[b]}\t${r.plan.ends[b]}\t${r.plan.region.label.replace(/\s+/g, '_')}\n`);
    yield rows.join('');
  }
}
