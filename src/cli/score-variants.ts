/** `seq2track score-variants` and `seq2track merge`: options in, VCF through the models, scores out. */
import { createReadStream, existsSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { openGenome } from '../genome/reference.js';
import { parseRegion, type Region } from '../genome/regions.js';
import { readBed } from '../genome/bed.js';
import { openVcf } from '../genome/vcf.js';
import { openH5Scores, openParquetScores } from '../formats/score-writers.js';
import { progressPath, TSV_HEADER, TsvScores } from '../formats/score-tsv.js';
import { parseShard, scoreVcf, type Sink } from '../tasks/variants/score-vcf.js';
import { UsageError } from './errors.js';
import { Progress } from './progress.js';
import { ensembleOptions, jobFingerprint, resolveModels, type GenomeArgs } from './model-options.js';
import type { Fingerprint } from '../tasks/job/job-dir.js';
import { variantGeneJob, type GeneArgs } from './genes.js';
import { isGeneTsvHeader } from '../formats/gene-score-writers.js';
import { isVariantTsvHeader } from '../formats/score-tsv.js';
import { isJunctionTsvHeader } from '../formats/junction-score-writers.js';
import { variantScorerJob } from './variant-scorers.js';
import type { Anchor } from '../tasks/variants/windows.js';
import { checkWritableDir } from '../tasks/job/job-dir.js';

export interface ScoreVariantsArgs extends GenomeArgs {
  vcf: string;
  out: string;
  shard?: string;
  strict: boolean;
  bruteForce: boolean;
  /** Window placement: ours (default) or baskerville's vcf.py. */
  anchor?: Anchor;
  /** Variant → gene scores instead of SAD. */
  genes?: GeneArgs;
  /** --stats (gene scores). */
  stats?: string;
  /** --scorer: AlphaGenome's variant scorers instead of SAD (with `genes.gtf` for the gene scorers). */
  scorers?: string[];
}

type ScoreOutput = 'tsv' | 'parquet' | 'h5';

export function scoreOutputKind(out: string): ScoreOutput {
  const ext = extname(out).toLowerCase();
  if (ext === '.tsv') return 'tsv';
  if (ext === '.parquet') return 'parquet';
  if (ext === '.h5' || ext === '.hdf5') return 'h5';
  throw new UsageError(`--out ${out}: unknown output kind (X.tsv, X.parquet or X.h5)`);
}

export async function runScoreVariants(args: ScoreVariantsArgs): Promise<void> {
  const started = Date.now();
  if (args.region?.length && args.bed) throw new UsageError('give --region or --bed, not both');
  const kind = scoreOutputKind(args.out);
  checkWritableDir(dirname(resolve(args.out)), `--out ${args.out}`);
  const shard = args.shard === undefined ? undefined : parseShard(args.shard);
  const regions: Region[] | undefined = args.bed ? await readBed(args.bed) : args.region?.map(parseRegion);
  const vcf = await openVcf(args.vcf, regions);
  const models = await resolveModels(args);
  const genome = await openGenome(args.genome);
  let fp: Fingerprint | undefined;
  const onResume = (n: number) => process.stderr.write(`seq2track: resuming ${args.out} after ${n} records (${progressPath(args.out)})\n`);
  const scorerJob = args.scorers?.length ? await variantScorerJob(args.scorers, args.genes?.gtf, args.out, () => fp!, onResume) : undefined;
  const geneJob = args.genes && !scorerJob
    ? await variantGeneJob(args.genes, args.stats, args.out, () => fp!, onResume)
    : undefined;
  fp = await jobFingerprint(args, models, {
    '--vcf': vcf.identity,
    '--shard': args.shard,
    '--strict': args.strict,
    '--brute-force': args.bruteForce,
    '--anchor': args.anchor,
    ...geneJob?.fingerprint,
    ...scorerJob?.fingerprint,
  });

  const progress = new Progress('records');
  const tty = process.stderr.isTTY === true;
  const warn = (line: string) => {
    progress.done();
    process.stderr.write(`seq2track: warning: ${line}\n`);
  };
  let tsv: TsvScores | undefined;
  let other: { abort?: () => Promise<void> } | undefined;
  const openSink = async (scorer: { tracks: { identifier: string; description: string }[] }): Promise<Sink> => {
    const tracks = scorer.tracks.map((t) => ({ identifier: t.identifier, description: t.description }));
    if (kind === 'tsv') {
      const w = TsvScores.open(args.out, tracks, fp!.hash, fp!.args);
      tsv = w;
      if (w.recordsDone > 0) onResume(w.recordsDone);
      return { writer: w, recordsDone: w.recordsDone, commit: (n) => w.commit(n) };
    }
    const writer = kind === 'parquet' ? await openParquetScores(args.out, tracks) : await openH5Scores(args.out, tracks);
    other = writer;
    return { writer, recordsDone: 0 };
  };
  try {
    const common = {
      ...ensembleOptions(args, models),
      genome,
      vcf,
      bruteForce: args.bruteForce,
      strict: args.strict,
      shard,
      count: tty,
      anchor: args.anchor,
      warn,
      onProgress: (done: number, total: number | undefined) => {
        if (total !== undefined) progress.update(done, total);
      },
    };
    const r = scorerJob
      ? await scorerJob.run(common)
      : geneJob
        ? await scoreVcf({ ...common, expandTracks: geneJob.expandTracks, scoreChunk: geneJob.scoreChunk, openSink: geneJob.openSink })
        : await scoreVcf({ ...common, openSink });
    progress.done();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const ens = r.ensemble > 1 ? `, mean of ${r.ensemble} runs per window` : '';
    const skipped = r.skipped ? `, ${r.skipped} skipped` : '';
    const what = geneJob ? ' (gene scores)' : scorerJob ? ` (${scorerJob.columns.join(', ')}${scorerJob.rows === 'gene' ? ', per gene' : scorerJob.rows === 'junction' ? ', per gene and junction' : ''})` : '';
    const tracks = geneJob ? geneJob.columnCount() : r.tracks;
    const resumed = r.resumedAt ? ` (resumed after ${r.resumedAt} records)` : '';
    const sh = shard ? ` shard ${shard.index}/${shard.count}:` : '';
    process.stderr.write(
      `seq2track:${sh} scored ${r.scored} variant${r.scored === 1 ? '' : 's'} from ${r.records} VCF record${r.records === 1 ? '' : 's'}${skipped}${resumed} × ${tracks} ${geneJob ? 'strand-matched ' : ''}track${tracks === 1 ? '' : 's'} of ${r.head}${ens}${what} in ${seconds} s -> ${args.out}\n`,
    );
  } catch (e) {
    tsv?.abandon();
    await geneJob?.abandon();
    await scorerJob?.abandon();
    await other?.abort?.().catch(() => {});
    throw e;
  } finally {
    progress.done();
  }
}

/** The first shard's header when it is a score-variants header (SAD, --scorer variant, gene or junction rows, --gtf gene scores), else the SAD header. */
async function mergeHeader(shard: string): Promise<string> {
  let first = '';
  try {
    const fh = await open(shard, 'r');
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    await fh.close();
    first = buf.subarray(0, bytesRead).toString('utf8').split('\n')[0]! + '\n';
  } catch {
    return TSV_HEADER; // reported when the shard is read
  }
  return isGeneTsvHeader(first) || isVariantTsvHeader(first) || isJunctionTsvHeader(first) ? first : TSV_HEADER;
}

/** `seq2track merge OUT SHARD...` of score-variants shards: the shards' TSVs, in the order given, under one header. */
export async function mergeScoreTsv(out: string, shards: string[]): Promise<void> {
  if (!out.toLowerCase().endsWith('.tsv')) throw new UsageError(`merge: ${out} is neither X.tsv (score-variants shards) nor a predict --genome output (DIR/, X.bedGraph, X.tsv, X.safetensors)`);
  if (shards.length === 0) throw new UsageError('merge needs the shard files, in shard order');
  for (const s of shards) {
    if (resolve(s) === resolve(out)) throw new UsageError(`merge: the output ${out} is also a shard`);
    if (existsSync(progressPath(s))) throw new UsageError(`${s}: unfinished (${progressPath(s)} exists); finish that shard first`);
  }
  const header = await mergeHeader(shards[0]!);
  const tmp = `${out}.merging`;
  const fh = await open(tmp, 'w');
  let rows = 0;
  try {
    await fh.write(header);
    for (const s of shards) {
      let first = true;
      let rest = '';
      const take = async (text: string) => {
        if (first) {
          if (!text.startsWith(header)) throw new UsageError(`${s}: not a score-variants TSV (its first line is not the header ${JSON.stringify(header.trim())})`);
          text = text.slice(header.length);
          first = false;
        }
        rows += (text.match(/\n/g) ?? []).length;
        await fh.write(text);
      };
      try {
        for await (const chunk of createReadStream(s, { encoding: 'utf8' })) {
          if (first) {
            rest += chunk as string;
            if (rest.length < header.length && !rest.includes('\n')) continue;
            const text = rest;
            rest = '';
            await take(text);
          } else await take(chunk as string);
        }
      } catch (e) {
        if (e instanceof UsageError) throw e;
        throw new UsageError(`${s}: cannot read shard (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      if (first) await take(rest);
    }
    await fh.close();
    await rename(tmp, out);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  process.stderr.write(`seq2track: merged ${shards.length} shard${shards.length === 1 ? '' : 's'} (${rows} rows) -> ${out}\n`);
}
