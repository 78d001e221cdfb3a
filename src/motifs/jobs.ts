/**
 * The two motif jobs from files to files: scan sequences (FASTA records, or regions of a genome) with
 * the motifs of a MEME file, and match query motifs against a MEME database. The CLI
 * (`seq2track motifs scan|match`) is a thin layer over these.
 */
import { writeFile } from 'node:fs/promises';
import { readFasta } from '../genome/fasta.js';
import { openGenome, type Reference } from '../genome/reference.js';
import { readBed } from '../genome/bed.js';
import { checkRegion, parseRegion, type Region } from '../genome/regions.js';
import { readBackground, readMeme, type MemeMotif } from './meme-format.js';
import { countBases, formatHitsTsv, MotifScanError, scanSequences, UNIFORM_BACKGROUND, type ScanResult, type SequenceRecord } from './scan.js';
import type { Motif } from './motif.js';
import { formatMatchesTsv, matchMotifs, type ColumnDistance, type MotifMatch } from './tomtom.js';

/** Where the sequences come from: FASTA records, or regions of a genome (merged where they overlap). */
export type SequenceSource = { fasta: string } | { genome: string | Reference; regions: Region[] };

/** Regions sorted and merged per chromosome (overlapping or touching regions become one). */
export function mergeRegions(regions: readonly Region[]): Region[] {
  const byChrom = new Map<string, Region[]>();
  for (const r of regions) byChrom.set(r.chrom, [...(byChrom.get(r.chrom) ?? []), r]);
  const out: Region[] = [];
  for (const [chrom, list] of byChrom) {
    list.sort((a, b) => a.start - b.start || a.end - b.end);
    let cur: Region | undefined;
    for (const r of list) {
      if (cur && r.start <= cur.end) {
        cur = { ...cur, end: Math.max(cur.end, r.end), label: `${chrom}:${cur.start + 1}-${Math.max(cur.end, r.end)}` };
      } else {
        if (cur) out.push(cur);
        cur = { ...r };
      }
    }
    if (cur) out.push(cur);
  }
  return out;
}

/** The records of a source, read anew on each call (the sequence background needs a first pass). */
export async function sequenceRecords(source: SequenceSource): Promise<() => AsyncIterable<SequenceRecord>> {
  if ('fasta' in source) {
    const path = source.fasta;
    return async function* () {
      for await (const r of readFasta(path)) yield { name: r.name, sequence: r.sequence };
    };
  }
  const genome = typeof source.genome === 'string' ? await openGenome(source.genome) : source.genome;
  const regions = mergeRegions(source.regions);
  if (regions.length === 0) throw new MotifScanError('no regions to scan');
  const names = await genome.getSequenceNames();
  for (const r of regions) checkRegion(r, await genome.getSequenceSize(r.chrom), names, genome.source);
  return async function* () {
    for (const r of regions) yield { name: r.chrom, sequence: await genome.getSequence(r.chrom, r.start, r.end), offset: r.start };
  };
}

/** A, C, G, T frequencies of every record of a source. */
export async function sourceComposition(records: () => AsyncIterable<SequenceRecord>): Promise<Float64Array> {
  const counts = new Float64Array(4);
  for await (const r of records()) countBases(r.sequence, counts);
  const total = counts[0]! + counts[1]! + counts[2]! + counts[3]!;
  if (total === 0) throw new MotifScanError('the sequences hold no A, C, G or T: no sequence background (use --background uniform)');
  return counts.map((c) => c / total);
}

export type BackgroundChoice = 'sequence' | 'uniform' | 'motif' | { file: string };

export interface ScanJob {
  motifs: string;
  source: SequenceSource;
  /** Motif identifiers to use (default: all). */
  only?: string[];
  threshold?: number;
  background?: BackgroundChoice;
  pseudocount?: number;
  bothStrands?: boolean;
  out?: string;
}

export interface ScanJobResult extends ScanResult {
  motifs: MemeMotif[];
  backgroundSource: string;
}

/** Reads the motifs and sequences, scans, and writes FIMO's TSV to `out` when given. */
export async function runScanJob(job: ScanJob): Promise<ScanJobResult> {
  const file = await readMeme(job.motifs);
  let motifs = file.motifs;
  if (job.only && job.only.length > 0) {
    const want = new Set(job.only);
    motifs = motifs.filter((m) => want.has(m.id));
    const missing = job.only.filter((id) => !file.motifs.some((m) => m.id === id));
    if (missing.length > 0) throw new MotifScanError(`${job.motifs}: no motif ${missing.join(', ')} (it has ${file.motifs.slice(0, 8).map((m) => m.id).join(', ')}${file.motifs.length > 8 ? ', …' : ''})`);
  }
  const records = await sequenceRecords(job.source);
  const choice = job.background ?? 'sequence';
  let background: Float64Array;
  let backgroundSource: string;
  if (choice === 'uniform') {
    background = UNIFORM_BACKGROUND;
    backgroundSource = 'uniform';
  } else if (choice === 'motif') {
    background = file.background ?? UNIFORM_BACKGROUND;
    backgroundSource = file.background ? `${job.motifs} (Background letter frequencies)` : `uniform (${job.motifs} has no background)`;
  } else if (choice === 'sequence') {
    background = await sourceComposition(records);
    backgroundSource = 'sequence composition';
  } else {
    background = await readBackground(choice.file);
    backgroundSource = choice.file;
  }
  const bothStrands = job.bothStrands ?? !(file.strands.length === 1 && file.strands[0] === '+');
  const result = await scanSequences(motifs, records(), { threshold: job.threshold, background, pseudocount: job.pseudocount, bothStrands });
  if (job.out !== undefined) await writeFile(job.out, formatHitsTsv(result.hits));
  return { ...result, motifs, backgroundSource };
}

export interface MatchJob {
  query: string;
  /** One or more target databases (MEME files), searched as one. */
  db: string[];
  distance?: ColumnDistance;
  minOverlap?: number;
  bothStrands?: boolean;
  pseudocount?: number;
  /** Keep matches with q-value (or E-value with `evalue`) ≤ this (Tomtom's -thresh; default 0.5). */
  threshold?: number;
  evalue?: boolean;
  /** At most this many matches per query (after the threshold). */
  top?: number;
  out?: string;
}

/** Reads the queries and the database, compares, and writes the TSV to `out` when given. */
export async function runMatchJob(job: MatchJob): Promise<{ matches: MotifMatch[][]; queries: MemeMotif[]; targets: MemeMotif[] }> {
  const query = await readMeme(job.query);
  const targets: MemeMotif[] = [];
  for (const path of job.db) targets.push(...(await readMeme(path)).motifs);
  const threshold = job.threshold ?? 0.5;
  // Tomtom: the background of the pseudocounts is the query file's.
  const all = matchMotifs(query.motifs, targets, { distance: job.distance, minOverlap: job.minOverlap, bothStrands: job.bothStrands, pseudocount: job.pseudocount, background: query.background });
  const matches = all.map((list) => {
    const kept = list.filter((m) => (job.evalue ? m.eValue : m.qValue) <= threshold);
    return job.top !== undefined ? kept.slice(0, job.top) : kept;
  });
  if (job.out !== undefined) await writeFile(job.out, formatMatchesTsv(matches.flat()));
  return { matches, queries: query.motifs, targets };
}

/** `--region` values and `--bed` files as one list of regions. */
export async function regionsFrom(regionArgs: readonly string[] | undefined, bed: string | undefined): Promise<Region[]> {
  const regions = (regionArgs ?? []).map(parseRegion);
  if (bed !== undefined) regions.push(...(await readBed(bed)));
  return regions;
}

/**
 * Names discovered motifs by their best matches in MEME databases (the Tomtom-style matcher with its
 * defaults), best first: what `motifs discover --db` puts in its report.
 */
export async function databaseNamer(db: readonly string[], top = 3): Promise<(motif: Motif) => { name: string; pValue: number; eValue: number; qValue: number; strand: '+' | '-' }[]> {
  const targets: MemeMotif[] = [];
  for (const path of db) targets.push(...(await readMeme(path)).motifs);
  return (motif) =>
    matchMotifs([motif], targets)[0]!
      .slice(0, top)
      .map((m) => ({ name: m.targetAlt ? `${m.targetId} ${m.targetAlt}` : m.targetId, pValue: m.pValue, eValue: m.eValue, qValue: m.qValue, strand: m.orientation }));
}
