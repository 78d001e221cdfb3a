/**
 * What a genome prediction is written as. The kind follows `--out`: a directory (an existing one, or
 * a name ending in `/`) gets one bigWig per track named by identifier; `X.bedGraph`, `X.tsv`, and
 * `X.safetensors` (with `X.bins.bed` beside it) are single files.
 */
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { RegionPlan } from '../../genome/regions.js';

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

/** bigWig needs its intervals sorted by chromosome (byte order) and start: the order bigWig outputs are made in. */
export function byChromThenStart(a: RegionPlan, b: RegionPlan): number {
  const c = Buffer.compare(Buffer.from(a.region.chrom), Buffer.from(b.region.chrom));
  return c || a.region.start - b.region.start;
}
