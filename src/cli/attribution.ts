/**
 * `seq2track attribute` and `seq2track ism`: options in, the job (tasks/attribution/to-files.ts) run,
 * one summary line out. Flags are checked before any model is resolved.
 */
import { openGenome } from '../genome/reference.js';
import { parseRegion } from '../genome/regions.js';
import { plotFormat } from '../plots/render.js';
import { parseRange, type Aggregate } from '../tasks/attribution/objective.js';
import { checkSafetensorsOut } from '../tasks/attribution/outputs.js';
import { attributeToFiles, ismToFiles, type AttributionFiles, type AttributionFilesOptions } from '../tasks/attribution/to-files.js';
import { UsageError } from './errors.js';
import { Progress } from './progress.js';
import { ensembleOptions, resolveModels, type EnsembleArgs } from './model-options.js';

export interface AttributionArgs extends EnsembleArgs {
  fasta?: string;
  genome?: string;
  region?: string;
  targetRegion?: string;
  plot?: string;
  plotWindow?: string;
  bins?: string;
  aggregate?: Aggregate;
  logPseudocount?: number;
  /** `attribute`: how the backward gets the forward's activations (ModelOptions.backwardActivations). */
  activations?: 'saved' | 'recompute';
  /** `attribute`: MB of saved activations held in memory (EngineOptions.stashMemory). */
  stashMemoryMb?: number;
  out: string;
}

export interface IsmArgs extends AttributionArgs {
  window?: string;
  bruteForce: boolean;
}

function checkForm(args: AttributionArgs, extra: string[] = []): void {
  if ((args.fasta === undefined) === (args.genome === undefined)) throw new UsageError('give --fasta FILE or --genome G with --region chr:start-end');
  if (args.fasta !== undefined) {
    const genomeOnly: [keyof AttributionArgs, string][] = [['region', '--region'], ['targetRegion', '--target-region'], ['plot', '--plot'], ['plotWindow', '--plot-window'], ['windowLength', '--window-length']];
    for (const [k, flag] of genomeOnly) if (args[k] !== undefined) throw new UsageError(`${flag} needs --genome (with --fasta, choose bins with --bins${extra.join('')})`);
    checkSafetensorsOut(args.out);
  } else {
    if (args.region === undefined) throw new UsageError('--genome needs --region chr:start-end');
    if (args.bins !== undefined && args.targetRegion !== undefined) throw new UsageError('give --bins or --target-region, not both');
    if (args.plotWindow !== undefined && args.plot === undefined) throw new UsageError('--plot-window needs --plot X.svg|X.png');
    if (args.plot !== undefined) plotFormat(args.plot);
  }
}

/** The job's options from the flags: models resolved, the input opened. */
async function jobOptions(args: AttributionArgs, progress: Progress): Promise<AttributionFilesOptions> {
  const bins = args.bins !== undefined ? parseRange(args.bins, '--bins') : undefined;
  const models = await resolveModels(args);
  const load = { backwardActivations: args.activations, stashMemory: args.stashMemoryMb === undefined ? undefined : args.stashMemoryMb * 2 ** 20 };
  return {
    ...ensembleOptions(args, models, load),
    bins,
    aggregate: args.aggregate,
    logPseudocount: args.logPseudocount,
    out: args.out,
    plot: args.plot,
    plotWindow: args.plotWindow !== undefined ? parseRegion(args.plotWindow) : undefined,
    input:
      args.fasta !== undefined
        ? { kind: 'fasta', fasta: args.fasta }
        : {
            kind: 'genome',
            region: parseRegion(args.region!),
            targetRegion: args.targetRegion !== undefined ? parseRegion(args.targetRegion) : undefined,
            genome: await openGenome(args.genome!),
          },
    onProgress: (done, total) => progress.update(done, total),
  };
}

function report(what: string, started: number, r: AttributionFiles): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`seq2track: ${what} in ${seconds} s -> ${r.files.join(', ')}\n`);
}

export async function runAttribute(args: AttributionArgs): Promise<void> {
  const started = Date.now();
  checkForm(args);
  const progress = new Progress('sequence runs');
  try {
    const r = await attributeToFiles({ ...(await jobOptions(args, progress)), batchSize: args.batchSize });
    progress.done();
    report(`attributed ${r.records} sequence${r.records === 1 ? '' : 's'} × ${r.positions} bp (ensemble of ${r.ensemble})`, started, r);
  } finally {
    progress.done();
  }
}

export async function runIsm(args: IsmArgs): Promise<void> {
  const started = Date.now();
  checkForm(args, [', positions with --window']);
  if (args.fasta !== undefined && args.window === undefined) throw new UsageError('--fasta needs --window a-b (0-based, inclusive positions to mutate)');
  if (args.genome !== undefined && args.window !== undefined) throw new UsageError('--window is for --fasta; with --genome the positions mutated are --region');
  const window = args.window !== undefined ? parseRange(args.window, '--window') : undefined;
  const progress = new Progress('sequence runs');
  try {
    const r = await ismToFiles({ ...(await jobOptions(args, progress)), window, batchSize: args.batchSize, bruteForce: args.bruteForce });
    progress.done();
    report(`ISM of ${r.records} sequence${r.records === 1 ? '' : 's'} × ${r.positions} positions (ensemble of ${r.ensemble})`, started, r);
  } finally {
    progress.done();
  }
}
