/**
 * The options of every command that runs models, in one place: registered on a command (only those
 * it honours), read back into typed arguments, mapped to load options and ensemble options, and
 * turned into the fingerprint a resumable run must match.
 */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { GAMMA_NORMALISATIONS, type GammaNormalisation } from '../models/positional.js';
import type { LoadOptions } from '../models/load-options.js';
import { cacheDir } from '../cache.js';
import type { EnsembleOptions } from '../tasks/job/ensemble.js';
import type { Fingerprint } from '../tasks/job/job-dir.js';
import { fileIdentity, fingerprint, hashCacheFile, modelContent } from '../tasks/job/fingerprint.js';
import { integer, modelList, shiftList } from './parsers.js';
import { resolveModelArg } from './weights.js';

/** What `--genome` takes, for every command that reads a reference. */
export const GENOME_HELP = 'reference: FASTA + .fai, bgzip FASTA + .fai + .gzi, or .2bit; path or http(s) URL; hg38 / mm10 for the UCSC 2bit';

/** A command's own words for the options that choose what it predicts and what it averages. */
export interface EnsembleHelp {
  model: string;
  tracks: string;
  head: string;
  rc: string;
  shifts: string;
}

/** Registers --model (repeatable, comma lists), --tracks, --head, --rc and --shifts. */
export function ensembleOptionSet(command: Command, help: EnsembleHelp): Command {
  return command
    .requiredOption('--model <dir|name>', help.model, modelList)
    .option('--tracks <list>', help.tracks)
    .option('--head <name>', help.head)
    .option('--rc', help.rc)
    .option('--shifts <list>', help.shifts, shiftList);
}

/** Options a command may or may not honour, beyond the ones every model command takes. */
export interface ModelFeatures {
  /** Borzoi/Flashzoi `--full-output`: for commands whose outputs follow the model's output bins. */
  fullOutput?: boolean;
}

/** Registers the model options (where models are cached, their window, tracks, how ONNX Runtime runs them). */
export function modelOptions(command: Command, features: ModelFeatures = {}): Command {
  command
    .option('--cache-dir <dir>', 'model cache (default: $SEQ2TRACK_CACHE, else $XDG_CACHE_HOME/seq2track, else ~/.cache/seq2track)')
    .option('--targets <file|url>', "targets table naming the head's tracks (default: targets_<head>.txt beside the weights, else the published table when its track count matches)")
    .option('--window-length <bp>', "model window in bp (default: the config's sequence_length, else the published input length)", integer(1, 'a positive integer'))
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', integer(1, 'a positive integer'))
    .option('--tile-length <bp>', 'run the convolutional trunk in tiles of this many bp (0: no tiling)', integer(0, 'a non-negative integer'))
    .option('--tf-gamma <file>', 'Enformer with use_tf_gamma: the TF gamma table (default: tf_gammas.safetensors in the model dir)')
    .addOption(
      new Option(
        '--gamma <normalisation>',
        'Enformer gamma positional features: tf (TensorFlow original; published weights; default), torch (enformer-pytorch use_tf_gamma=False, for checkpoints trained from scratch in that port since mid-2022) or torch-global-max (that port before 2022-05-31: EleutherAI enformer-preview, enformer-191k, enformer-corr_coef_obj); overrides config.json positional_gamma',
      ).choices([...GAMMA_NORMALISATIONS]),
    )
    .addOption(new Option('--device <device>', 'execution provider').choices(['cpu', 'cuda']).default('cpu'))
    .addOption(new Option('--resolution <bp>', "AlphaGenome: per-position outputs at 128 bp (default: the track heads' 128-bp outputs) or 1 bp (the 1-bp tracks, splice-site probabilities and usage)").choices(['1', '128']));
  if (features.fullOutput) command.option('--full-output', 'Borzoi/Flashzoi: output all bins but 16 at each end (16,352 at 524,288 bp, upstream params_pred.json) instead of the centre 6,144');
  return command;
}

export interface ModelArgs {
  cacheDir?: string;
  targets?: string;
  windowLength?: number;
  threads?: number;
  tileLength?: number;
  gammaTablePath?: string;
  /** --gamma (Enformer positional normalisation); absent: the config's. */
  gamma?: GammaNormalisation;
  device: 'cpu' | 'cuda';
  /** Borzoi: all bins but 16 each end instead of the centre crop. */
  fullOutput?: boolean;
  /** AlphaGenome: output resolution in bp. */
  resolution?: 1 | 128;
}

/** The ensemble a command averages and what it predicts. */
export interface EnsembleArgs extends ModelArgs {
  /** --model, as given (directories or published names). */
  models: string[];
  head?: string;
  tracks?: string;
  rc: boolean;
  shifts?: number[];
  batchSize?: number;
}

/** A command on windows of a genome (predict --genome, score-variants, the gene commands). */
export interface GenomeArgs extends EnsembleArgs {
  genome: string;
  region?: string[];
  bed?: string;
}

/** The model options as parsed by commander. */
export function modelArgs(opts: Record<string, any>): ModelArgs {
  return {
    cacheDir: opts.cacheDir,
    targets: opts.targets,
    windowLength: opts.windowLength,
    threads: opts.threads,
    tileLength: opts.tileLength,
    gammaTablePath: opts.tfGamma,
    gamma: opts.gamma,
    device: opts.device,
    fullOutput: opts.fullOutput === true ? true : undefined,
    resolution: opts.resolution === undefined ? undefined : (Number(opts.resolution) as 1 | 128),
  };
}

export function ensembleArgs(opts: Record<string, any>): EnsembleArgs {
  const model = opts.model;
  return {
    ...modelArgs(opts),
    models: Array.isArray(model) ? model : model === undefined ? [] : [model],
    head: opts.head,
    tracks: opts.tracks,
    rc: opts.rc === true,
    shifts: opts.shifts,
    batchSize: opts.batchSize,
  };
}

export function genomeArgs(opts: Record<string, any>): GenomeArgs {
  return { ...ensembleArgs(opts), genome: opts.genome, region: opts.region, bed: opts.bed };
}

/** How ONNX Runtime runs a command's models. */
export function loadOptions(a: ModelArgs & { head?: string }, extra: Partial<LoadOptions> = {}): LoadOptions {
  // An AlphaGenome model is built for one organism, its one head: --head names it (other models ignore `organism`).
  return { threads: a.threads, tileLength: a.tileLength, gammaTablePath: a.gammaTablePath, gamma: a.gamma, executionProvider: a.device, fullOutput: a.fullOutput, resolution: a.resolution, organism: a.head, ...extra };
}

/** `--model NAME|DIR …` as model directories, fetching published models on first use. */
export async function resolveModels(a: Pick<EnsembleArgs, 'models' | 'cacheDir'>): Promise<string[]> {
  const dirs: string[] = [];
  for (const m of a.models) dirs.push(await resolveModelArg(m, a.cacheDir));
  return dirs;
}

/** The model-side options of a job, with `--model` resolved to directories. */
export function ensembleOptions(a: EnsembleArgs, models: string[], extra: Partial<LoadOptions> = {}): EnsembleOptions {
  return {
    models,
    head: a.head,
    windowLength: a.windowLength,
    tracks: a.tracks,
    targets: a.targets,
    rc: a.rc,
    shifts: a.shifts,
    batchSize: a.batchSize,
    load: loadOptions(a, extra),
    cacheDir: a.cacheDir,
  };
}

/**
 * What decides a resumable run's bytes (not --threads): the weights by content (sha256), local
 * input files (genome, BED, targets table, gamma table) by path, size and mtime, and the options;
 * `extra` adds the command's own.
 */
export async function jobFingerprint(a: EnsembleArgs & Partial<Pick<GenomeArgs, 'genome' | 'region' | 'bed'>>, models: string[], extra: Record<string, unknown>): Promise<Fingerprint> {
  const hashes = hashCacheFile(cacheDir(a.cacheDir));
  const content: Record<string, unknown>[] = [];
  for (const m of models) content.push({ dir: resolve(m), files: await modelContent(m, hashes) });
  return fingerprint({
    '--model': content,
    '--genome': fileIdentity(a.genome),
    '--region': a.region,
    '--bed': fileIdentity(a.bed),
    '--tracks': a.tracks,
    '--targets': fileIdentity(a.targets),
    '--head': a.head,
    '--window-length': a.windowLength,
    '--rc': a.rc,
    '--shifts': a.shifts,
    '--batch-size': a.batchSize,
    '--tile-length': a.tileLength,
    '--tf-gamma': fileIdentity(a.gammaTablePath),
    '--gamma': a.gamma,
    '--device': a.device,
    '--full-output': a.fullOutput,
    '--resolution': a.resolution,
    ...extra,
  });
}
