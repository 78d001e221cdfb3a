/**
 * Motif discovery as a job that writes files, for the CLI and for code alike: the inputs (our
 * attribution safetensors, or tfmodisco-lite's .npz pair), the discovery, and in `out/`:
 *   modisco_results.h5   tfmodisco-lite's layout (h5.ts)
 *   motifs.meme          the trimmed probability matrices (results.ts)
 *   report.html          logos and seqlet counts, best database matches with a namer (report.ts)
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFile, rename, rm } from 'node:fs/promises';
import type { Motif } from '../motif.js';
import { discoverMotifs, type DiscoveryOptions, type DiscoveryResult } from './discover.js';
import { writeModiscoH5 } from './h5.js';
import { readAttributionInputs, readNpzInputs } from './inputs.js';
import { patternMotif, summarizeResult, type PatternSummary } from './results.js';
import { formatMeme } from '../meme-format.js';
import { writeReport, type MotifNamer } from './report.js';
import type { TrackSet } from './track-set.js';

export type DiscoveryInput =
  | { kind: 'scores'; sources: string[]; fasta?: string }
  | { kind: 'npz'; oneHot: string; attributions: string }
  | { kind: 'tracks'; tracks: TrackSet };

export interface DiscoveryFilesOptions extends Partial<DiscoveryOptions> {
  input: DiscoveryInput;
  out: string;
  /** Central window of each sequence to use, bp (`modisco motifs -w`; default: all of it). */
  window?: number;
  /** Names each motif in the report (e.g. by its best database matches). */
  namer?: MotifNamer;
  /** Writes the MEME file (default: meme-format.ts's writer, through an atomic write). */
  writeMeme?: (path: string, motifs: Motif[]) => Promise<void>;
}

export interface DiscoveryFiles {
  files: string[];
  sequences: number;
  length: number;
  result: DiscoveryResult;
  patterns: PatternSummary[];
  motifs: Motif[];
}

async function atomicWrite(path: string, text: string): Promise<void> {
  try {
    await writeFile(`${path}.partial`, text);
    await rename(`${path}.partial`, path);
  } catch (e) {
    await rm(`${path}.partial`, { force: true });
    throw e;
  }
}

export async function loadDiscoveryInput(input: DiscoveryInput, window?: number): Promise<TrackSet> {
  if (input.kind === 'tracks') return input.tracks;
  if (input.kind === 'npz') return readNpzInputs(input.oneHot, input.attributions, { window });
  return readAttributionInputs(input.sources, { fasta: input.fasta, window });
}

export async function discoverToFiles(o: DiscoveryFilesOptions): Promise<DiscoveryFiles> {
  const tracks = await loadDiscoveryInput(o.input, o.window);
  const result = discoverMotifs(tracks, o);
  const patterns = summarizeResult(result);
  const motifs = patterns.map((p) => patternMotif(p));
  await mkdir(o.out, { recursive: true });
  const h5 = join(o.out, 'modisco_results.h5');
  const meme = join(o.out, 'motifs.meme');
  const html = join(o.out, 'report.html');
  await writeModiscoH5(h5, result, tracks.length);
  if (o.writeMeme) await o.writeMeme(meme, motifs);
  else await atomicWrite(meme, formatMeme(motifs));
  const calls = result.seqlets;
  await writeReport(html, patterns, {
    title: 'seq2track motifs discover',
    namer: o.namer,
    facts: [
      `${tracks.n} sequences of ${tracks.length} bp; ${calls.positive.length} positive and ${calls.negative.length} negative seqlets (window sums: thresholds ${calls.posThreshold.toPrecision(4)} / ${calls.negThreshold.toPrecision(4)}; sign threshold ${calls.threshold.toPrecision(4)}).`,
      `Clustered: ${result.pos ? `${result.clustered.pos} positive seqlets` : 'no positive metacluster (too few seqlets)'}; ${result.neg ? `${result.clustered.neg} negative seqlets` : 'no negative metacluster (too few seqlets)'}.`,
    ],
  });
  return { files: [h5, meme, html], sequences: tracks.n, length: tracks.length, result, patterns, motifs };
}
