/**
 * `seq2track motifs discover`: TF-MoDISco-lite's motif discovery on contribution scores (our
 * attribution safetensors, or tfmodisco-lite's .npz inputs), writing modisco_results.h5, motifs.meme
 * and report.html. `registerMotifsDiscover(motifs)` adds the subcommand to the `motifs` command.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { discoverToFiles, type DiscoveryFiles, type DiscoveryFilesOptions } from '../motifs/discover/to-files.js';
import type { MotifNamer } from '../motifs/discover/report.js';
import { UsageError } from './errors.js';
import { integer, positiveInteger } from './parsers.js';

export interface MotifsDiscoverArgs {
  scores?: string[];
  fasta?: string;
  npzOnehot?: string;
  npzAttr?: string;
  out: string;
  maxSeqlets?: number;
  window?: number;
  size?: number;
  flank?: number;
  trimSize?: number;
  initialFlank?: number;
  finalFlank?: number;
  nLeiden?: number;
  fdr?: number;
  orient?: boolean;
  quiet?: boolean;
  /** A MEME motif database to name the motifs by (only with a `namerFor`). */
  db?: string;
}

/** Builds the report's namer from a motif database file (the TomTom-style matcher). */
export type NamerFactory = (db: string) => Promise<MotifNamer> | MotifNamer;

function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError('must be a number between 0 and 1');
  return n;
}

/** The job's options from the flags (checked before anything is read). */
export function discoverOptions(args: MotifsDiscoverArgs): DiscoveryFilesOptions {
  const npz = args.npzOnehot !== undefined || args.npzAttr !== undefined;
  if (npz && (args.npzOnehot === undefined || args.npzAttr === undefined)) throw new UsageError('--npz-onehot and --npz-attr go together (tfmodisco-lite\'s -s and -a files)');
  if (npz === (args.scores !== undefined && args.scores.length > 0)) throw new UsageError('give --scores DIR|FILES (seq2track attribute output) or --npz-onehot F --npz-attr F');
  if (npz && args.fasta !== undefined) throw new UsageError('--fasta goes with --scores (the .npz one-hot file holds the sequences)');
  return {
    input: npz ? { kind: 'npz', oneHot: args.npzOnehot!, attributions: args.npzAttr! } : { kind: 'scores', sources: args.scores!, fasta: args.fasta },
    out: args.out,
    window: args.window,
    ...(args.maxSeqlets !== undefined ? { maxSeqletsPerMetacluster: args.maxSeqlets } : {}),
    ...(args.size !== undefined ? { windowSize: args.size } : {}),
    ...(args.flank !== undefined ? { flank: args.flank } : {}),
    ...(args.trimSize !== undefined ? { trimToWindowSize: args.trimSize } : {}),
    ...(args.initialFlank !== undefined ? { initialFlankToAdd: args.initialFlank } : {}),
    ...(args.finalFlank !== undefined ? { finalFlankToAdd: args.finalFlank } : {}),
    ...(args.nLeiden !== undefined ? { nLeidenRuns: args.nLeiden } : {}),
    ...(args.fdr !== undefined ? { targetFdr: args.fdr } : {}),
    ...(args.orient === false ? { orientByStrand: false } : {}),
  };
}

export async function runMotifsDiscover(args: MotifsDiscoverArgs, o: { namer?: MotifNamer; namerFor?: NamerFactory } = {}): Promise<DiscoveryFiles> {
  const options = discoverOptions(args);
  let namer = o.namer;
  if (args.db !== undefined) {
    if (!o.namerFor) throw new UsageError('--db needs the motif matcher');
    namer = await o.namerFor(args.db);
  }
  const started = Date.now();
  const log = args.quiet ? undefined : (m: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${m}\n`);
  const r = await discoverToFiles({ ...options, namer, onProgress: log });
  const count = (m: 'pos_patterns' | 'neg_patterns') => r.patterns.filter((p) => p.metacluster === m).length;
  if (!args.quiet) process.stdout.write(`${r.sequences} sequences of ${r.length} bp: ${count('pos_patterns')} positive and ${count('neg_patterns')} negative patterns → ${r.files.join(', ')}\n`);
  return r;
}

/**
 * Adds `discover` to the `seq2track motifs` command. With `namerFor` (a MEME file → namer, e.g. the
 * TomTom-style matcher), it also takes `--db FILE` and the report names each motif by its best matches.
 */
export function registerMotifsDiscover(motifs: Command, o: { namer?: MotifNamer; namerFor?: NamerFactory } = {}): Command {
  const command = motifs
    .command('discover')
    .description("find motifs in contribution scores as TF-MoDISco-lite does (seqlets, Leiden clustering, patterns); writes modisco_results.h5 (tfmodisco-lite's layout), motifs.meme and report.html")
    .option('--scores <paths...>', 'seq2track attribution outputs: an attribute --bed directory (onehot.npz + hypothetical.npz), attribute-gene X.h5 (X.onehot.npz + X.hypothetical.npz beside it), or attribute safetensors files / directories of them (the gradient centred over the bases)')
    .option('--fasta <file>', "--scores: the records the scores were computed on, for the one-hot (when the files hold no 'one_hot' tensor)")
    .option('--npz-onehot <file>', "tfmodisco-lite's -s input: one-hot sequences, [N, 4, L] .npz (arr_0) or .npy")
    .option('--npz-attr <file>', "tfmodisco-lite's -a input: hypothetical contributions, [N, 4, L]")
    .requiredOption('--out <dir>', 'output directory (created if missing)')
    .option('--max-seqlets <n>', 'seqlets clustered per metacluster at most (default 20000)', positiveInteger)
    .option('--window <bp>', 'use the central WINDOW bp of each sequence (modisco -w; default: all)', positiveInteger)
    .option('--size <bp>', 'seqlet core window (sliding_window_size; default 20)', positiveInteger)
    .option('--flank <bp>', 'flank added to each side of a seqlet (default 5)', integer(0, 'a non-negative integer'))
    .option('--trim-size <bp>', 'patterns are trimmed to this many bp of highest information (default 30)', positiveInteger)
    .option('--initial-flank <bp>', 'flank added to patterns while building them (default 10)', integer(0, 'a non-negative integer'))
    .option('--final-flank <bp>', 'flank added to the final patterns (default 0)', integer(0, 'a non-negative integer'))
    .option('--n-leiden <n>', 'Leiden runs with different seeds, best kept (default 2)', positiveInteger)
    .option('--fdr <x>', 'target false discovery rate of seqlet windows (default 0.05)', fraction)
    .option('--no-orient', "leave each pattern in the orientation clustering gave it (TF-MoDISco-lite's behaviour) instead of turning it to the strand most of its seqlets lie on")
    .option('--quiet', 'no progress lines or summary');
  if (o.namerFor) command.option('--db <meme>', 'name each motif in the report by its best matches in this MEME motif file (JASPAR, HOCOMOCO, …)');
  return command.action(async (opts) => {
    await runMotifsDiscover(opts as MotifsDiscoverArgs, o);
  });
}
