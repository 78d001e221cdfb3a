/**
 * Writing `attribute` and `ism` results. Every file is written as `X.partial` and renamed only when
 * all of a command's files are complete, so a failure leaves nothing half-written.
 *
 * Genome form (`--out DIR`): per-base bigWigs over the region, plus the tensors of the FASTA form for
 * the one window (`attribute.safetensors` / `ism.safetensors`, coordinates in the metadata):
 *   attribute: grad_x_input.bw, grad_centered_x_input.bw
 *   ism:       ism_mean.bw (mean effect of the substitutions at each base: the three alternative
 *              bases, all four at N), ism_max_effect.bw (the signed effect of largest magnitude)
 */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Spec } from 'vega';
import { encodeBigWig } from '../../formats/bigwig.js';
import { plotFormat, renderPng, renderSvg } from '../../plots/render.js';
import { writeSafetensors, type TensorToWrite } from '../../weights/safetensors.js';
import type { PreparedJob } from './runs.js';
import type { GenomeWindow } from './genome-window.js';

export class AttributionOutputError extends Error {}

/** A file to write: its bytes come from `write(partialPath)`. */
export interface PendingFile {
  path: string;
  write: (partial: string) => Promise<void>;
}

/** Writes every file to `X.partial`, then renames them all; on failure removes the partials. */
export async function writeAll(files: PendingFile[]): Promise<string[]> {
  const partials = files.map((f) => `${f.path}.partial`);
  try {
    for (const [i, f] of files.entries()) await f.write(partials[i]!);
    for (const [i, f] of files.entries()) await rename(partials[i]!, f.path);
  } catch (e) {
    for (const p of partials) await rm(p, { force: true });
    throw e;
  }
  return files.map((f) => f.path);
}

/** `--out` of the FASTA form: a .safetensors file name. */
export function checkSafetensorsOut(out: string): void {
  if (extname(out).toLowerCase() !== '.safetensors') throw new AttributionOutputError(`--out ${out}: the FASTA form writes a .safetensors file (use X.safetensors)`);
}

/** `--out` of the genome form: a directory (created if missing); an existing file is an error. */
export async function checkDirectoryOut(out: string): Promise<void> {
  try {
    if (!(await stat(out)).isDirectory()) throw new AttributionOutputError(`--out ${out}: exists and is not a directory (the genome form writes bigWigs into a directory)`);
  } catch (e) {
    if (e instanceof AttributionOutputError) throw e;
  }
}

/** Metadata describing the objective and the ensemble. */
export function jobMetadata(job: PreparedJob, producer: string): Record<string, string> {
  const o = job.objective;
  return {
    producer,
    head: o.head,
    tracks: JSON.stringify(o.tracks.map((t) => t.identifier)),
    track_indices: JSON.stringify(o.tracks.map((t) => t.index)),
    bins: JSON.stringify(o.bins),
    aggregate: o.aggregate,
    ...(o.logPseudocount !== undefined ? { log_pseudocount: String(o.logPseudocount) } : {}),
    ensemble: String(job.ensemble),
  };
}

export function safetensorsFile(path: string, tensors: TensorToWrite[], metadata: Record<string, string>): PendingFile {
  return { path, write: (partial) => writeSafetensors(partial, tensors, metadata) };
}

/** A per-base bigWig of `values` at window positions [a, b] of `w`. */
export function perBaseBigWig(path: string, w: GenomeWindow, a: number, values: ArrayLike<number>): PendingFile {
  const n = values.length;
  const starts = Array.from({ length: n }, (_, i) => w.start + a + i);
  const ends = starts.map((s) => s + 1);
  return {
    path,
    write: (partial) => writeFile(partial, encodeBigWig([{ chrom: w.chrom, starts, ends, values }], new Map([[w.chrom, w.chromSize]]))),
  };
}

/** Per-position summaries of an ISM [W, 4]: mean substitution effect and the signed largest effect. */
export function ismSummaries(ism: ArrayLike<number>, refBase: ArrayLike<number>, W: number): { mean: Float32Array; maxEffect: Float32Array } {
  const mean = new Float32Array(W);
  const maxEffect = new Float32Array(W);
  for (let i = 0; i < W; i++) {
    // The alternative bases (all four at N, whose reference base is -1), in base order.
    const alts = [0, 1, 2, 3].filter((k) => k !== refBase[i]).map((k) => ism[i * 4 + k]!);
    mean[i] = alts.reduce((a, v) => a + v, 0) / alts.length;
    maxEffect[i] = alts.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
  }
  return { mean, maxEffect };
}

export async function ensureDir(out: string): Promise<void> {
  await mkdir(out, { recursive: true });
}

/** A plot rendered by the project's Vega renderer (.svg or .png by the name). */
export function plotFile(path: string, spec: Spec): PendingFile {
  const format = plotFormat(path);
  return { path, write: async (partial) => writeFile(partial, format === 'svg' ? await renderSvg(spec) : await renderPng(spec)) };
}
