#!/usr/bin/env node
/**
 * seq2track command line: argument parsing and error reporting only; the work is in tasks/.
 * Every failure ends as one line `seq2track: error: …` and exit code 1, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { runPredict } from './predict.js';
import { runConvert, runFetch, runList } from './weights.js';
import { runPredictGenome } from './predict-genome.js';
import { runScoreVariants } from './score-variants.js';
import { checkScorerOptions } from './variant-scorers.js';
import { runMerge } from './merge.js';
import { runEvaluate, runFinetune } from './train.js';
import { runServe } from './serve.js';
import { UsageError } from './errors.js';
import { registerAttributionCommands } from './attribution-commands.js';
import { registerMotifCommands } from './motifs.js';
import { attentionArgs, attentionOptions } from './attention-options.js';
import { geneArgs, geneOptions, GENE_STATS, registerGeneCommands } from './genes.js';
import { fullReport, oneLine } from './errors.js';
import { ensembleArgs, ensembleOptionSet, GENOME_HELP, genomeArgs, modelArgs, modelOptions } from './model-options.js';
import { headList, integer, positiveInteger, positiveNumber, repeatable, shiftList } from './parsers.js';

/** `--debug` anywhere on the command line, or SEQ2TRACK_DEBUG=1: failures print their full stack. */
const DEBUG = process.argv.includes('--debug') || /^(1|true|yes)$/i.test(process.env.SEQ2TRACK_DEBUG ?? '');

function fail(e: unknown): never {
  process.stderr.write(DEBUG ? `seq2track: error: ${fullReport(e)}\n` : `seq2track: error: ${oneLine(e)}\n`);
  // Exit now: the engine worker may still hold the event loop open after a failure.
  process.exit(1);
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('seq2track')
    .description('Enformer, Borzoi, Flashzoi and AlphaGenome genomics models on ONNX Runtime')
    .version(version())
    .showSuggestionAfterError(true)
    .addHelpText('after', '\nAny command takes --debug (or SEQ2TRACK_DEBUG=1): a failure prints its full stack trace, engine worker included.')
    // Subcommands inherit both: Commander's own messages are reprinted by fail() in our one-line format.
    .exitOverride()
    .configureOutput({ outputError: () => {} });

  attentionOptions(
    modelOptions(
      ensembleOptionSet(program.command('predict').description('predict tracks for regions of a genome (--genome), or for every record of a FASTA file (--fasta)'), {
        model: 'model directory (config.json + *.safetensors) or a published name (seq2track weights list --all), fetched into the cache on first use; repeat or comma-separate to average replicates (--genome)',
        tracks: 'tracks to write: indices (0-based, a-b ranges), identifiers, or regexes on the description; comma-separated (default: all); with --fasta, of one head (--heads NAME, default the first)',
        head: 'head to predict with --genome (default: the first, e.g. human); with --fasta on an AlphaGenome model, the organism: human (default) or mouse',
        rc: 'average with the reverse-complement prediction (flipped back, stranded tracks swapped)',
        shifts: 'average over these shifts in bp, e.g. 0,1,-1 (N-padded)',
      })
        .option('--genome <file|url>', GENOME_HELP)
        .option('--region <chr:start-end>', 'region, 1-based inclusive (commas allowed); repeatable', repeatable)
        .option('--bed <file>', 'BED file of regions (0-based half-open)')
        .option('--fasta <file>', 'input FASTA (plain or gzip); each record is one sequence')
        .option('--shard <i/N>', '--genome: predict only shard i of N (1-based; whole windows of the one-run tiling) into OUT.shardI-of-N.safetensors; seq2track merge OUT SHARDS… writes OUT')
        .requiredOption('--out <file>', '--genome: DIR/ (one bigWig per track), X.bedGraph, X.tsv or X.safetensors; --fasta: FILE.safetensors or FILE.tsv')
        .option('--heads <list>', '--fasta: comma-separated heads to compute (default: all)', headList)
        .option('--embeddings', '--fasta: also write the trunk embeddings as tensor "embeddings"')
        .option('--batch-size <n>', 'sequences per model run', positiveInteger, 1)
        .option('--no-trunk-reuse', "--genome: compute every window's trunk in full (default: once along each region's overlapping windows, each window computing only its ends; equal to float32 rounding, faster)")
        .option('--crop-input <bp>', "--fasta: centre-crop each record to this many bp before the model (Enformer's TF-hub input form: 393,216-bp records, --crop-input 196608); output offsets stay relative to the record", positiveInteger),
      { fullOutput: true },
    ),
  ).action(async (opts) => {
    if (opts.genome !== undefined) {
      if (opts.fasta !== undefined) throw new UsageError('give --genome or --fasta, not both');
      for (const o of ['heads', 'embeddings', 'cropInput'] as const) if (opts[o] !== undefined) throw new UsageError(`--${o.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for --fasta${o === 'heads' ? '; with --genome use --head' : ''}`);
      await runPredictGenome({ ...genomeArgs(opts), out: opts.out, maps: attentionArgs(opts), shard: opts.shard, trunkReuse: opts.trunkReuse !== false });
      return;
    }
    if (opts.fasta === undefined) throw new UsageError('give --genome with --region/--bed, or --fasta');
    if (opts.trunkReuse === false) throw new UsageError('--no-trunk-reuse needs --genome');
    // --head with --fasta is AlphaGenome's organism (human|mouse); runPredict refuses it for other models.
    for (const o of ['region', 'bed', 'windowLength', 'rc', 'shifts', 'shard'] as const) {
      if (opts[o] !== undefined) throw new UsageError(`--${o.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --genome`);
    }
    if (opts.model.length !== 1) throw new UsageError('--fasta takes one --model');
    await runPredict({
      ...modelArgs(opts),
      model: opts.model[0],
      fasta: opts.fasta,
      out: opts.out,
      heads: opts.heads,
      tracks: opts.tracks,
      embeddings: opts.embeddings === true,
      batchSize: opts.batchSize,
      maps: attentionArgs(opts),
      cropInput: opts.cropInput,
      head: opts.head,
    });
  });

  geneOptions(
    modelOptions(
      ensembleOptionSet(program.command('score-variants').description('score the effect of every variant of a VCF on every selected track (SAD, SAR, D2, SAX)'), {
        model: 'model directory or published name; repeat or comma-separate to average replicates (all are loaded at once)',
        tracks: 'tracks to score: indices, a-b ranges, identifiers, or description regexes (default: all)',
        head: 'head to score (default: the first, e.g. human)',
        rc: 'average ref and alt predictions with their reverse complements before scoring',
        shifts: 'average ref and alt predictions over these shifts in bp before scoring, e.g. 0,1,-1',
      })
        .requiredOption('--genome <file|url>', GENOME_HELP)
        .requiredOption('--vcf <file|url>', 'variants: VCF, plain, gzip or bgzip, path or http(s) URL (+ .tbi/.csi: --region/--bed read through the index)')
        .requiredOption('--out <file>', 'X.tsv (resumable), X.parquet or X.h5')
        .option('--region <chr:start-end>', 'only variants whose POS lies in this region (1-based inclusive); repeatable', repeatable)
        .option('--bed <file>', 'only variants whose POS lies in a region of this BED file')
        .option('--shard <i/N>', 'score only shard i of N (1-based; contiguous blocks of records); join the shards with seq2track merge')
        .option('--strict', 'stop at the first REF mismatch or unknown chromosome instead of skipping the variant')
        .option('--brute-force', 'two full forward passes per SNV instead of reusing the ref trunk (for checks and benchmarks)')
        .option('--batch-size <n>', 'VCF records per chunk: their windows share model runs', positiveInteger, 1)
        .addOption(new Option('--anchor <rule>', 'window placement: center (ours: first REF base at index L/2) or borzoi (baskerville vcf.py: at L/2 - 1, indels centre-trimmed)').choices(['center', 'borzoi']).default('center'))
        .option('--stats <list>', `with --gtf: comma-separated gene statistics (${GENE_STATS.join(', ')}; default SED)`)
        .option(
          '--scorer <spec>',
          "AlphaGenome's variant scorers instead of SAD, one column each; repeatable: CenterMask(width=501|2001|10001|100001|200001|None, aggregation=DIFF_MEAN|DIFF_SUM|DIFF_SUM_LOG2|DIFF_LOG2_SUM|L2_DIFF|L2_DIFF_LOG1P|ACTIVE_MEAN|ACTIVE_SUM) (short: center-mask:501:diff-log2-sum), GeneMaskLFC, GeneMaskActive, GeneMaskSplicing(width=None|101|1001|10001) (AlphaGenome --resolution 1 splice tracks) (genes from --gtf); ContactMap, SpliceJunction (genes from --gtf): the whole AlphaGenome model, one scorer a run",
          repeatable,
        ),
      { fullOutput: true },
    ),
    false,
  ).action(async (opts, command: Command) => {
    if (opts.scorer?.length) checkScorerOptions(opts, command);
    await runScoreVariants({
      ...genomeArgs(opts),
      vcf: opts.vcf,
      out: opts.out,
      shard: opts.shard,
      strict: opts.strict === true,
      bruteForce: opts.bruteForce === true,
      anchor: opts.anchor,
      genes: geneArgs(opts),
      stats: opts.stats,
      scorers: opts.scorer,
    });
  });

  registerGeneCommands(program);

  // Training reads its own window geometry from the data (no --full-output: heads train on the centre bins).
  modelOptions(
    program
      .command('finetune')
      .description('train a head (new or existing) on a frozen trunk from bigWig tracks or Basenji2 TFRecords; writes a model directory')
      .requiredOption('--model <dir|name>', 'base model directory or published name')
      .requiredOption('--head <name>', 'head to train: a new name (Linear + softplus on the embeddings) or an existing head')
      .requiredOption('--out <dir>', 'output model directory (config.json, model.safetensors, targets_<head>.txt); work files in <dir>.work/ until done')
      .option('--genome <file|url>', 'reference genome (any predict --genome form)')
      .option('--train <bed>', 'training regions (BED), tiled into windows as predict --genome tiles them')
      .option('--valid <bed|glob>', 'validation regions (BED); with --tfrecords: validation TFRecord files')
      .option('--tfrecords <glob>', 'train from Basenji2 TFRecords (ZLIB; statistics.json beside them or one folder up) instead of bigWigs')
      .addOption(new Option('--loss <name>', 'training loss').choices(['poisson', 'poisson-multinomial']).default('poisson'))
      .option('--epochs <n>', 'epochs (default 20)', positiveInteger)
      .option('--lr <x>', 'Adam learning rate (default 0.01, linear warm-up over 10 steps)', positiveNumber)
      .option('--batch-size <n>', 'windows per step (default 4)', positiveInteger)
      .option('--seed <n>', 'seed of data order, augmentation and initial weights (default 0)', integer(0, 'a non-negative integer'))
      .option('--rc', 'augment with reverse complements (targets flipped, stranded tracks swapped by strand_pair)')
      .option('--shifts <list>', 'augment with these shifts in bp (default -3..3 as Borzoi; 0 for none)', shiftList)
      .option('--train-trunk', 'train every weight (BatchNorm statistics aside), one window per pass with gradients accumulated over --batch-size (trunk on --tile-length tiles)'),
  ).action(async (opts) => {
    // Commander's names are FinetuneArgs' own; ensembleArgs maps the model options' (--tf-gamma, --rc…).
    await runFinetune({ ...opts, ...ensembleArgs(opts), trainTrunk: opts.trainTrunk === true });
  });

  modelOptions(
    program
      .command('evaluate')
      .description('per-track Pearson r (raw and log1p) of a head against bigWig tracks over the windows of a BED file')
      .requiredOption('--model <dir|name>', 'model directory or published name')
      .requiredOption('--genome <file|url>', 'reference genome (any predict --genome form)')
      .requiredOption('--bed <file>', 'regions to evaluate (BED), tiled into windows as predict --genome tiles them')
      .option('--head <name>', 'head to evaluate (default: the first)')
      .option('--out <file.tsv>', 'per-track table (default: stdout)')
      .option('--batch-size <n>', 'windows per model run', positiveInteger, 1),
    { fullOutput: true },
  ).action(async (opts) => {
    if (opts.targets === undefined) throw new UsageError('evaluate needs --targets TABLE (a basenji targets table with a bigWig per track)');
    await runEvaluate({ ...modelArgs(opts), model: opts.model, genome: opts.genome, targets: opts.targets, bed: opts.bed, head: opts.head, batchSize: opts.batchSize, out: opts.out });
  });
  registerAttributionCommands(program);
  registerMotifCommands(program);

  program
    .command('merge')
    .description('join the shards of a sharded run (given in shard order) into what the unsharded run writes, byte for byte: score-variants --shard TSVs, or predict --genome --shard files (into DIR/ bigWigs, X.bedGraph, X.tsv or X.safetensors, as that run\'s --out)')
    .argument('<out>', 'the output: X.tsv (score-variants); the run\'s --out (predict --genome)')
    .argument('<shard...>', 'shard files, in shard order (1/N, 2/N, ...)')
    .action(async (out: string, shards: string[]) => {
      await runMerge(out, shards);
    });

  program
    .command('serve')
    .description('serve the browser page (predictions computed in the page, shown in igv.js) and model directories')
    .option('--port <n>', 'port (0: any free port)', integer(0, 'a port number'), 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--model <NAME=DIR>', 'serve a model directory at /models/NAME/; repeatable', repeatable)
    .action(async (opts) => {
      await runServe({ port: opts.port, host: opts.host, models: opts.model ?? [] });
    });

  const weights = program
    .command('weights')
    .description('convert published checkpoints to model directories, fetch and cache published models');
  weights
    .command('convert')
    .description('convert a checkpoint (PyTorch .bin, Keras .h5, safetensors incl. MultiMolecule names, TensorFlow SavedModel of Enformer) into a verified model directory')
    .argument('<in>', 'model directory (config.json beside the weights file), a weights file, or a TensorFlow SavedModel (or its variables/ folder)')
    .requiredOption('--out <dir>', 'output model directory (config.json + model.safetensors)')
    .option('--config <file>', 'config.json for a bare weights file (or to override the directory one)')
    .option('--weights <name>', 'weights file to use in a directory holding several')
    .option('--graft-mouse-head <file|dir>', 'Borzoi: put the mouse head of this checkpoint (e.g. model1_best.h5) on the input\'s trunk; an explicit graft, the trunks of two files differ (the difference is reported)')
    .option('--species <name>', 'MultiMolecule checkpoints: the species of token_head (default: its config, else human)')
    .option('--gamma-table <file>', 'Enformer: TF gamma table (safetensors, tensor tf_gammas) to place in the output')
    .option('--force', 'replace a model already in --out')
    .action(async (input: string, opts) => {
      await runConvert({ input, out: opts.out, config: opts.config, weights: opts.weights, graftMouseHead: opts.graftMouseHead, species: opts.species, gammaTable: opts.gammaTable, force: opts.force === true });
    });
  weights
    .command('fetch')
    .description('download, verify (size; sha256 against the pinned value where the registry has one, else the server digest) and convert published models into the cache')
    .argument('<name...>', 'published model names (see: seq2track weights list --all)')
    .option('--cache-dir <dir>', 'model cache (default: $SEQ2TRACK_CACHE, else $XDG_CACHE_HOME/seq2track, else ~/.cache/seq2track)')
    .option('--force', 'fetch again even when cached')
    .option('--revision <rev>', 'fetch this hub revision (commit, branch, tag) instead of the pinned one; cached as NAME@REV, digests recorded in source.json, not checked against the registry')
    .action(async (names: string[], opts) => {
      await runFetch(names, { cacheDir: opts.cacheDir, force: opts.force === true, revision: opts.revision });
    });
  weights
    .command('list')
    .description('list the cached models (--all: every published name)')
    .option('--cache-dir <dir>', 'model cache (default: $SEQ2TRACK_CACHE, else $XDG_CACHE_HOME/seq2track, else ~/.cache/seq2track)')
    .option('--all', 'also list published models that are not cached')
    .action((opts) => runList({ cacheDir: opts.cacheDir, all: opts.all === true }));
  return program;
}

/**
 * `attribute --gene ID|--genes FILE …` is the gene-focused form of `attribute` (Borzoi's gene
 * gradients); its options are those of `attribute-gene`, so the call is routed there.
 */
function geneAttributionAlias(argv: string[]): string[] {
  const [node, script, command, ...rest] = argv;
  if (command !== 'attribute' || !rest.some((a) => a === '--gene' || a === '--genes' || a.startsWith('--gene=') || a.startsWith('--genes='))) return argv;
  return [node!, script!, 'attribute-gene', ...rest];
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    process.exit(1);
  }
  try {
    await program.parseAsync(geneAttributionAlias(argv));
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version "fail" with exit code 0 by design.
      if (e.exitCode === 0) process.exit(0);
      fail(e.message.replace(/^error:\s*/, ''));
    }
    fail(e);
  }
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
await main(process.argv.filter((a) => a !== '--debug'));
