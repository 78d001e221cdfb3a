/**
 * `seq2track attribute` and `seq2track ism`: options in, the job (tasks/attribution/to-files.ts) run,
 * one summary line out. Flags are checked before any model is resolved.
 */
import { openGenome } from '../genome/reference.js';
import { parseRegion } from '../genome/regions.js';
import { plotFormat } from '../plots/render.js';
import { parseRange, type Aggregate } from '../tasks/attribution/objective.js';
import { checkSafetensorsOut } from '../tasks/attribution/outputs.js';
import { attributeToFiles, integratedGradientsToFiles, ismToFiles, shuffleIsmToFiles, type AttributionFiles, type AttributionFilesOptions } from '../tasks/attribution/to-files.js';
import { attributeBed } from '../tasks/attribution/bed-job.js';
import { checkIgSettings, type IgBaseline } from '../tasks/attribution/integrated-gradients.js';
import type { ShuffleKind } from '../tasks/attribution/shuffle.js';
import { readBed } from '../genome/bed.js';
import { UsageError } from './errors.js';
import { Progress } from './progress.js';
import { ensembleOptions, jobFingerprint, resolveModels, type EnsembleArgs } from './model-options.js';

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

function report(what: string, started: number, r: Pick<AttributionFiles, 'files'>): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`seq2track: ${what} in ${seconds} s -> ${r.files.join(', ')}\n`);
}

/** `attribute`'s own flags: the method and its settings, the BED form. */
export interface AttributeArgs extends AttributionArgs {
  method?: 'gradient' | 'integrated-gradients' | 'shuffle-ism';
  bed?: string;
  steps?: number;
  baseline?: IgBaseline;
  seed?: number;
  window?: string;
  shuffleWindow?: number;
  samples?: number;
  shuffle?: ShuffleKind;
}

/** Refuses a method's settings given to another method, before anything runs. */
function checkMethodFlags(args: AttributeArgs, method: NonNullable<AttributeArgs['method']>): void {
  const only = (flags: [keyof AttributeArgs, string][], allowed: boolean, what: string) => {
    for (const [k, flag] of flags) if (args[k] !== undefined && !allowed) throw new UsageError(`${flag} is for ${what}`);
  };
  only([['steps', '--steps'], ['baseline', '--baseline']], method === 'integrated-gradients', '--method integrated-gradients');
  only([['window', '--window'], ['shuffleWindow', '--shuffle-window'], ['samples', '--samples'], ['shuffle', '--shuffle']], method === 'shuffle-ism', '--method shuffle-ism');
  only([['seed', '--seed']], method === 'shuffle-ism' || (method === 'integrated-gradients' && args.baseline === 'shuffle'), '--method shuffle-ism and --method integrated-gradients --baseline shuffle');
  if (method === 'shuffle-ism') {
    if (args.bed !== undefined) throw new UsageError('--bed runs --method gradient or integrated-gradients');
    if (args.plot !== undefined) throw new UsageError('--plot draws gradient and integrated-gradients scores (shuffle-ism writes shuffle_ism.bw)');
    if (args.fasta !== undefined && args.window === undefined) throw new UsageError('--method shuffle-ism --fasta needs --window a-b (0-based, inclusive positions to score)');
    if (args.genome !== undefined && args.window !== undefined) throw new UsageError('--window is for --fasta; with --genome the positions scored are --region');
  }
}

export async function runAttribute(args: AttributeArgs): Promise<void> {
  const started = Date.now();
  const method = args.method ?? 'gradient';
  checkMethodFlags(args, method);
  if (args.bed !== undefined) return runAttributeBed(args, method === 'shuffle-ism' ? 'gradient' : method, started);
  checkForm(args, method === 'shuffle-ism' ? [', positions with --window'] : []);
  const progress = new Progress('sequence runs');
  try {
    const o = await jobOptions(args, progress);
    if (method === 'integrated-gradients') {
      const r = await integratedGradientsToFiles({ ...o, batchSize: args.batchSize, steps: args.steps, baseline: args.baseline, seed: args.seed });
      progress.done();
      reportGaps(r.gaps, r.settings.steps);
      report(`integrated gradients of ${r.records} sequence${r.records === 1 ? '' : 's'} × ${r.positions} bp (${r.settings.steps} steps, ${r.settings.baseline} baseline; ensemble of ${r.ensemble})`, started, r);
    } else if (method === 'shuffle-ism') {
      const window = args.window !== undefined ? parseRange(args.window, '--window') : undefined;
      const r = await shuffleIsmToFiles({ ...o, window, batchSize: args.batchSize, shuffleWindow: args.shuffleWindow, samples: args.samples, shuffle: args.shuffle, seed: args.seed });
      progress.done();
      report(`shuffle ISM of ${r.records} sequence${r.records === 1 ? '' : 's'} × ${r.positions} positions (ensemble of ${r.ensemble})`, started, r);
    } else {
      const r = await attributeToFiles({ ...o, batchSize: args.batchSize });
      progress.done();
      report(`attributed ${r.records} sequence${r.records === 1 ? '' : 's'} × ${r.positions} bp (ensemble of ${r.ensemble})`, started, r);
    }
  } finally {
    progress.done();
  }
}

/** IG's completeness gap per record on stderr (the first 20, then the largest). */
function reportGaps(gaps: Float64Array, steps: number): void {
  const shown = Array.from(gaps.subarray(0, 20), (g, i) => `#${i + 1} ${g.toPrecision(3)}`).join(', ');
  const max = gaps.reduce((a, g) => Math.max(a, g), 0);
  process.stderr.write(`seq2track: completeness gap |Σ IG − (f(x) − f(x₀))| at ${steps} steps: ${shown}${gaps.length > 20 ? ` … (max ${max.toPrecision(3)} over ${gaps.length} records)` : ''}\n`);
}

/** `attribute --genome G --bed FILE --out DIR/`: every region's window through the resumable job. */
async function runAttributeBed(args: AttributeArgs, method: 'gradient' | 'integrated-gradients', started: number): Promise<void> {
  if (args.genome === undefined || args.fasta !== undefined) throw new UsageError('--bed needs --genome G (and not --fasta)');
  const genomeOnly: [keyof AttributeArgs, string][] = [['region', '--region'], ['targetRegion', '--target-region'], ['plot', '--plot'], ['plotWindow', '--plot-window']];
  for (const [k, flag] of genomeOnly) if (args[k] !== undefined) throw new UsageError(`${flag} cannot be combined with --bed (each window's objective reads --bins, default the central bin(s))`);
  const bins = args.bins !== undefined ? parseRange(args.bins, '--bins') : undefined;
  const regions = await readBed(args.bed!);
  const models = await resolveModels(args);
  const genome = await openGenome(args.genome);
  const ig = method === 'integrated-gradients' ? checkIgSettings({ steps: args.steps, baseline: args.baseline, seed: args.seed, pointsPerRun: args.batchSize }) : undefined;
  const fp = await jobFingerprint({ ...args, region: undefined }, models, {
    '--out': 'attribute --bed',
    '--method': method,
    '--bins': bins,
    '--aggregate': args.aggregate,
    '--log-pseudocount': args.logPseudocount,
    '--integrated-gradients': ig,
    // The backward's activation handling changes float32 round-off, not the quantity: a resumed run must not switch.
    '--activations': args.activations,
  });
  const progress = new Progress('sequence runs');
  try {
    const load = { backwardActivations: args.activations, stashMemory: args.stashMemoryMb === undefined ? undefined : args.stashMemoryMb * 2 ** 20 };
    const r = await attributeBed({
      ...ensembleOptions(args, models, load),
      bins,
      aggregate: args.aggregate,
      logPseudocount: args.logPseudocount,
      batchSize: method === 'gradient' ? args.batchSize : 1,
      genome,
      regions,
      method: ig ? { kind: 'integrated-gradients', ig } : { kind: 'gradient' },
      out: args.out,
      fingerprint: fp,
      onResume: (done, total) => process.stderr.write(`seq2track: resuming an interrupted run of this command: ${done} of ${total} model runs already done\n`),
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done();
    if (r.gaps && ig) reportGaps(r.gaps, ig.steps);
    const resumed = r.resumedAt > 0 ? ` (resumed: ${r.ran} model runs this time)` : '';
    report(`${method === 'gradient' ? 'attributed' : 'integrated gradients of'} ${r.records} window${r.records === 1 ? '' : 's'} × ${r.length} bp (ensemble of ${r.ensemble})${resumed}`, started, r);
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
