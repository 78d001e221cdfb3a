/** `seq2track finetune` and `seq2track evaluate`: options in, training / evaluation in tasks/, reports out. */
import { readdir, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { openGenome } from '../genome/reference.js';
import { evaluate, evaluationTsv, resultLine } from '../tasks/training/evaluate.js';
import { finetune, type EpochReport } from '../tasks/training/finetune.js';
import { finetuneWholeModel } from '../tasks/training/finetune-trunk.js';
import type { LossName } from '../train/losses.js';
import { UsageError } from './errors.js';
import { Progress, progressLine } from './progress.js';
import { resolveModelArg } from './weights.js';
import { loadOptions, type EnsembleArgs, type ModelArgs } from './model-options.js';

export interface EvaluateArgs extends ModelArgs {
  model: string;
  genome: string;
  targets: string;
  bed: string;
  head?: string;
  batchSize: number;
  out?: string;
}

export async function runEvaluate(args: EvaluateArgs): Promise<void> {
  if (args.out !== undefined && !args.out.toLowerCase().endsWith('.tsv')) throw new UsageError(`--out ${args.out}: evaluation is written as a .tsv file`);
  const genome = await openGenome(args.genome);
  const model = await resolveModelArg(args.model, args.cacheDir);
  const progress = new Progress('windows');
  let r;
  try {
    r = await evaluate({
      model,
      genome,
      targets: args.targets,
      bed: args.bed,
      head: args.head,
      windowLength: args.windowLength,
      batchSize: args.batchSize,
      load: loadOptions(args),
      onProgress: (d, t) => progress.update(d, t),
    });
  } finally {
    progress.done();
  }
  const tsv = evaluationTsv(r);
  if (args.out) {
    await writeFile(`${args.out}.partial`, tsv);
    await rename(`${args.out}.partial`, args.out);
  } else process.stdout.write(tsv);
  process.stderr.write(`seq2track: evaluated ${r.head} on ${r.windows} window${r.windows === 1 ? '' : 's'}${args.out ? ` -> ${args.out}` : ''}\n`);
  process.stdout.write(resultLine(r) + '\n');
}

/** Expands a glob with `*` and `?` in its last path component (files sorted by name). */
export async function expandGlob(pattern: string): Promise<string[]> {
  const dir = dirname(pattern);
  const base = basename(pattern);
  if (!/[*?]/.test(base)) return [pattern];
  const re = new RegExp(`^${base.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new UsageError(`--tfrecords ${pattern}: cannot read ${dir} (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const files = names.filter((n) => re.test(n)).sort().map((n) => join(dir, n));
  if (files.length === 0) throw new UsageError(`--tfrecords ${pattern}: no file matches`);
  return files;
}

export interface FinetuneArgs extends Omit<EnsembleArgs, 'models' | 'tracks'> {
  model: string;
  head: string;
  out: string;
  genome?: string;
  targets?: string;
  train?: string;
  valid?: string;
  tfrecords?: string;
  loss?: LossName;
  epochs?: number;
  lr?: number;
  seed?: number;
  trainTrunk: boolean;
}

function epochLine(e: EpochReport): string {
  const v = e.validLoss === undefined ? '' : `, valid loss ${e.validLoss.toFixed(5)}, valid pearson ${e.validPearson!.toFixed(4)}`;
  return `seq2track: epoch ${e.epoch}/${e.epochs}${e.resumed ? ' (from checkpoint)' : ''}: train loss ${e.trainLoss.toFixed(5)}${v}\n`;
}

export async function runFinetune(args: FinetuneArgs): Promise<void> {
  if (args.tfrecords === undefined) {
    const missing = (['genome', 'targets', 'train', 'valid'] as const).filter((k) => args[k] === undefined);
    if (missing.length) throw new UsageError(`finetune needs ${missing.map((m) => `--${m}`).join(', ')} (or --tfrecords GLOB)`);
  } else if (args.genome !== undefined || args.train !== undefined) {
    throw new UsageError('--tfrecords brings its own sequences: give it without --genome/--train (--valid GLOB: validation TFRecords)');
  }
  const started = Date.now();
  const tfrecords = args.tfrecords === undefined ? undefined : await expandGlob(args.tfrecords);
  const validTfrecords = args.tfrecords !== undefined && args.valid !== undefined ? await expandGlob(args.valid) : undefined;
  const genome = args.genome === undefined ? undefined : await openGenome(args.genome);
  const model = await resolveModelArg(args.model, args.cacheDir);
  const tty = process.stderr.isTTY === true;
  const status = (line: string) => tty && process.stderr.write(`\r\x1b[K${line}`);
  const stepStarted = { at: Date.now() };
  const cacheProgress = new Progress('windows embedded');
  try {
    const r = await (args.trainTrunk ? finetuneWholeModel : finetune)({
      model,
      head: args.head,
      out: args.out,
      genome,
      targets: args.targets,
      train: args.tfrecords === undefined ? args.train : undefined,
      valid: args.tfrecords === undefined ? args.valid : undefined,
      tfrecords,
      validTfrecords,
      loss: args.loss,
      epochs: args.epochs,
      lr: args.lr,
      batchSize: args.batchSize,
      seed: args.seed,
      windowLength: args.windowLength,
      rc: args.rc,
      shifts: args.shifts,
      load: loadOptions(args),
      onCache: (split, done, total) => (total ? cacheProgress.update(done, total) : status(`${split}: ${done} windows embedded`)),
      onStep: (done, total, loss) => {
        if (done === 1) stepStarted.at = Date.now();
        status(progressLine(done, total, `steps, loss ${loss.toFixed(5)}`, Date.now() - stepStarted.at));
      },
      onEpoch: (e) => {
        if (tty) process.stderr.write('\r\x1b[K');
        process.stderr.write(epochLine(e));
      },
    });
    const last = r.history.epochs.at(-1);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `seq2track: trained head ${r.head} (${r.tracks} tracks) in ${seconds} s${r.resumedFromEpoch ? ` (resumed after epoch ${r.resumedFromEpoch})` : ''}: training-set loss ${r.history.initialTrainLoss.toFixed(6)} at step 0 -> ${r.history.finalTrainLoss?.toFixed(6)} -> ${r.out}\n`,
    );
    process.stdout.write(`RESULT initial_loss=${r.history.initialTrainLoss.toPrecision(9)} final_loss=${r.history.finalTrainLoss?.toPrecision(9) ?? 'NaN'}${last?.validPearson !== undefined ? ` valid_pearson=${last.validPearson.toFixed(6)}` : ''}\n`);
  } finally {
    cacheProgress.done();
  }
}
