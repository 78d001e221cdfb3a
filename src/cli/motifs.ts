/** `seq2track motifs scan | match | discover`: argument plumbing only; the work is in motifs/jobs.ts and motifs/discover/. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { databaseNamer, runMatchJob, runScanJob, regionsFrom, type BackgroundChoice } from '../motifs/jobs.js';
import { registerMotifsDiscover } from './motifs-discover.js';
import { COLUMN_DISTANCES } from '../motifs/tomtom.js';
import { formatG } from '../motifs/scan.js';
import { UsageError } from './errors.js';
import { GENOME_HELP } from './model-options.js';
import { positiveInteger, repeatable } from './parsers.js';

const say = (line: string) => process.stderr.write(`seq2track: ${line}\n`);

function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('must be a number in (0, 1], e.g. 1e-4');
  return n;
}

function positive(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number >= 0');
  return n;
}

function background(value: string): BackgroundChoice {
  if (value === 'sequence' || value === 'uniform' || value === 'motif') return value;
  return { file: value };
}

export function registerMotifCommands(program: Command): void {
  const motifs = program.command('motifs').description('motif discovery in contribution scores (TF-MoDISco-lite), scanning (FIMO-style) and comparison (Tomtom-style) with MEME motif files');
  registerMotifsDiscover(motifs, { namerFor: (db) => databaseNamer([db]) });

  motifs
    .command('scan')
    .description('find the occurrences of MEME-file motifs in FASTA records or genome regions: log-odds scores, exact p-values (FIMO\'s method), q-values; FIMO\'s TSV columns')
    .requiredOption('--motifs <file.meme>', 'motifs in MEME format (JASPAR and HOCOMOCO publish such files)')
    .option('--motif <id>', 'scan only this motif of the file; repeatable', repeatable)
    .option('--fasta <file>', 'sequences: FASTA (plain or gzip), every record scanned')
    .option('--genome <file|url>', `sequences: regions (--bed/--region) of this genome; ${GENOME_HELP}`)
    .option('--bed <file>', '--genome: regions to scan (BED, 0-based half-open; overlapping regions merged)')
    .option('--region <chr:start-end>', '--genome: a region to scan (1-based inclusive); repeatable', repeatable)
    .option('--thresh <p>', 'report windows with p-value <= this (FIMO --thresh)', probability, 1e-4)
    .option('--background <src>', "letter frequencies of the log-odds and p-values: 'sequence' (composition of the scanned sequences), 'uniform', 'motif' (the MEME file's), or a MEME background FILE; made strand-symmetric when scanning both strands", 'sequence')
    .option('--pseudocount <x>', 'pseudocount added to the motif probabilities, spread by the background (FIMO --motif-pseudo)', nonNegative, 0.1)
    .option('--norc', 'scan the given strand only (default: both, unless the MEME file says strands: +)')
    .requiredOption('--out <file.tsv>', 'hits: motif_id, motif_alt_id, sequence_name, start, stop, strand, score, p-value, q-value, matched_sequence (1-based; --genome: chromosome coordinates)')
    .action(async (opts) => {
      const hasGenome = opts.genome !== undefined;
      if (opts.fasta !== undefined && hasGenome) throw new UsageError('give --fasta or --genome, not both');
      if (opts.fasta === undefined && !hasGenome) throw new UsageError('give --fasta FILE, or --genome G with --bed/--region');
      if (!hasGenome && (opts.bed !== undefined || opts.region !== undefined)) throw new UsageError('--bed and --region need --genome');
      if (hasGenome && opts.bed === undefined && opts.region === undefined) throw new UsageError('--genome needs --bed FILE or --region chr:start-end');
      const source = hasGenome ? { genome: opts.genome as string, regions: await regionsFrom(opts.region, opts.bed) } : { fasta: opts.fasta as string };
      const r = await runScanJob({
        motifs: opts.motifs,
        only: opts.motif,
        source,
        threshold: opts.thresh,
        background: background(opts.background),
        pseudocount: opts.pseudocount,
        ...(opts.norc ? { bothStrands: false } : {}),
        out: opts.out,
      });
      const bg = [...r.background].map((v, i) => `${'ACGT'[i]} ${v.toFixed(3)}`).join(' ');
      const windows = r.scoredWindows.reduce((a, b) => a + b, 0);
      say(`${r.hits.length} hit${r.hits.length === 1 ? '' : 's'} at p <= ${formatG(opts.thresh, 3)} of ${r.motifs.length} motif${r.motifs.length === 1 ? '' : 's'} in ${windows.toLocaleString('en-US')} scored windows (background: ${r.backgroundSource}, ${bg}) -> ${opts.out}`);
    });

  motifs
    .command('match')
    .description('compare query motifs with a motif database as Tomtom does (column distance, complete scores, exact p-values over offsets and both orientations, E- and q-values)')
    .requiredOption('--query <file.meme>', 'query motifs (MEME format), e.g. discovered motifs')
    .requiredOption('--db <file.meme>', 'target motif database (MEME format, e.g. JASPAR or HOCOMOCO); repeatable, searched as one', repeatable)
    .option('--top <n>', 'at most this many matches per query', positiveInteger, 5)
    .option('--thresh <x>', 'keep matches with q-value (E-value with --evalue) <= this (Tomtom -thresh)', positive, 0.5)
    .option('--evalue', 'threshold on E-value instead of q-value')
    .addOption(new Option('--dist <name>', 'column similarity (Tomtom -dist): ed (Euclidean), pearson, sandelin').choices([...COLUMN_DISTANCES]).default('ed'))
    .option('--min-overlap <n>', 'fewest overlapping columns of an alignment (Tomtom -min-overlap)', positiveInteger, 1)
    .option('--pseudocount <x>', 'pseudocount added to query and target probabilities (Tomtom -motif-pseudo)', nonNegative, 0.1)
    .option('--norc', "don't compare with the targets' reverse complements")
    .requiredOption('--out <file.tsv>', 'matches: Query_ID, Target_ID, Target_alt_ID, Optimal_offset, p-value, E-value, q-value, Overlap, Query_consensus, Target_consensus, Orientation')
    .action(async (opts) => {
      if (!opts.evalue && opts.thresh > 1) throw new UsageError('--thresh is a q-value (at most 1) unless --evalue is given');
      const r = await runMatchJob({
        query: opts.query,
        db: opts.db,
        top: opts.top,
        threshold: opts.thresh,
        evalue: opts.evalue === true,
        distance: opts.dist,
        minOverlap: opts.minOverlap,
        pseudocount: opts.pseudocount,
        bothStrands: opts.norc !== true,
        out: opts.out,
      });
      const n = r.matches.reduce((a, m) => a + m.length, 0);
      say(`${n} match${n === 1 ? '' : 'es'} for ${r.queries.length} quer${r.queries.length === 1 ? 'y' : 'ies'} against ${r.targets.length} target motif${r.targets.length === 1 ? '' : 's'} -> ${opts.out}`);
    });
}
