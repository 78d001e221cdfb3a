#!/usr/bin/env node
/**
 * seq2track command line: argument parsing and error reporting only; the work is in tasks/.
 * Every failure ends as one line `seq2track: error: …` and exit code 1, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { runPredict } from './predict.js';
import { runConvert, runFetch, runList } from './weights.js';
import { oneLine } from './errors.js';

function fail(e: unknown): never {
  process.stderr.write(`seq2track: error: ${oneLine(e)}\n`);
  // Exit now: the engine worker may still hold the event loop open after a failure.
  process.exit(1);
}

function integer(min: number, what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be ${what}`);
    return n;
  };
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function headList(value: string): string[] {
  const heads = value.split(',').map((h) => h.trim()).filter((h) => h !== '');
  if (heads.length === 0) throw new InvalidArgumentError('must name at least one head, e.g. human or human,mouse');
  return heads;
}

export function buildProgram(): Command {
  const program = new Command('seq2track')
    .description('Enformer/Borzoi genomics models on ONNX Runtime')
    .version(version())
    .showSuggestionAfterError(true)
    .exitOverride()
    // Commander's own messages are reprinted by fail() in our one-line format.
    .configureOutput({ outputError: () => {} });

  program
    .command('predict')
    .description('predict tracks for every record of a FASTA file (one batch item per record, in order)')
    .requiredOption('--model <dir|name>', 'model directory (config.json + *.safetensors), or a published name (seq2track weights list --all), fetched into the cache on first use')
    .option('--cache-dir <dir>', 'model cache (default: $SEQ2TRACK_CACHE, else $XDG_CACHE_HOME/seq2track, else ~/.cache/seq2track)')
    .requiredOption('--fasta <file>', 'input FASTA (plain or gzip); each record is one sequence')
    .requiredOption('--out <file>', 'output: FILE.safetensors (one float32 tensor per head) or FILE.tsv (table)')
    .option('--heads <list>', 'comma-separated heads to compute (default: all)', headList)
    .option('--embeddings', 'also write the trunk embeddings as tensor "embeddings"')
    .option('--batch-size <n>', 'records per model run (equal-length neighbours share a run)', integer(1, 'a positive integer'), 1)
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', integer(1, 'a positive integer'))
    .option('--tile-length <bp>', 'run the convolutional trunk in tiles of this many bp (0: no tiling)', integer(0, 'a non-negative integer'))
    .option('--tf-gamma <file>', 'Enformer with use_tf_gamma: the TF gamma table (default: tf_gammas.safetensors in the model dir)')
    .addOption(new Option('--device <device>', 'execution provider').choices(['cpu', 'cuda']).default('cpu'))
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .action(async (opts) => {
      await runPredict({
        model: opts.model,
        cacheDir: opts.cacheDir,
        fasta: opts.fasta,
        out: opts.out,
        heads: opts.heads,
        embeddings: opts.embeddings === true,
        batchSize: opts.batchSize,
        threads: opts.threads,
        tileLength: opts.tileLength,
        gammaTablePath: opts.tfGamma,
        device: opts.device,
      });
    });

  const weights = program
    .command('weights')
    .description('convert published checkpoints to model directories, fetch and cache published models')
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  weights
    .command('convert')
    .description('convert a checkpoint (PyTorch .bin, Keras .h5, safetensors incl. MultiMolecule names) into a verified model directory')
    .argument('<in>', 'model directory (config.json beside the weights file) or a weights file')
    .requiredOption('--out <dir>', 'output model directory (config.json + model.safetensors)')
    .option('--config <file>', 'config.json for a bare weights file (or to override the directory one)')
    .option('--weights <name>', 'weights file to use in a directory holding several')
    .option('--mouse-h5 <file>', 'Borzoi: merge the mouse head of this model1_best.h5 into a model0_best.h5 conversion')
    .option('--species <name>', 'MultiMolecule checkpoints: the species of token_head (default: its config, else human)')
    .option('--gamma-table <file>', 'Enformer: TF gamma table (safetensors, tensor tf_gammas) to place in the output')
    .option('--force', 'replace a model already in --out')
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .action(async (input: string, opts) => {
      await runConvert({ input, out: opts.out, config: opts.config, weights: opts.weights, mouseH5: opts.mouseH5, species: opts.species, gammaTable: opts.gammaTable, force: opts.force === true });
    });
  weights
    .command('fetch')
    .description('download, verify (size, sha256/md5) and convert published models into the cache')
    .argument('<name...>', 'published model names (see: seq2track weights list --all)')
    .option('--cache-dir <dir>', 'model cache (default: $SEQ2TRACK_CACHE, else $XDG_CACHE_HOME/seq2track, else ~/.cache/seq2track)')
    .option('--force', 'fetch again even when cached')
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .action(async (names: string[], opts) => {
      await runFetch(names, { cacheDir: opts.cacheDir, force: opts.force === true });
    });
  weights
    .command('list')
    .description('list the cached models (--all: every published name)')
    .option('--cache-dir <dir>', 'model cache (default: $SEQ2TRACK_CACHE, else $XDG_CACHE_HOME/seq2track, else ~/.cache/seq2track)')
    .option('--all', 'also list published models that are not cached')
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .action((opts) => runList({ cacheDir: opts.cacheDir, all: opts.all === true }));
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    process.exit(1);
  }
  try {
    await program.parseAsync(argv);
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
await main(process.argv);
