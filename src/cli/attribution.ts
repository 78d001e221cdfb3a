/**
 * `seq2track attribute` and `seq2track ism`: options in, sequences (FASTA records, or one genome
 * window) through the model(s), scores out. Cheap checks (flags, output names, regions, bins,
 * windows) run before any model run.
 */
import type { GammaNormalisation } from '../models/positional.js';
import { join } from 'node:path';
import { readFastaRecords } from '../genome/fasta.js';
import { openGenome } from '../genome/reference.js';
import { parseRegion, type Region } from '../genome/regions.js';
import { plotFormat } from '../plots/render.js';
import { logoSpec } from '../plots/logo.js';
import { ismHeatmapSpec } from '../plots/ism-heatmap.js';
import { attributeRecords } from '../tasks/attribute.js';
import { ismRecords } from '../tasks/ism.js';
import { centralBins, parseRange, type Aggregate } from '../tasks/objective.js';
import { architectureOf, binSpan, genomeWindow, plotWindow, targetBins, type GenomeWindow } from '../tasks/attribution-window.js';
import {
  checkDirectoryOut,
  checkSafetensorsOut,
  ensureDir,
  ismSummaries,
  jobMetadata,
  perBaseBigWig,
  plotFile,
  safetensorsFile,
  writeAll,
  type PendingFile,
} from '../tasks/attribution-outputs.js';
import type { AttributionOptions } from '../tasks/attribution-runs.js';
import { UsageError } from './errors.js';
import { Progress } from './progress.js';
import { resolveModelArg } from './weights.js';

export interface AttributionArgs {
  models: string[];
  fasta?: string;
  genome?: string;
  region?: string;
  targetRegion?: string;
  plot?: string;
  plotWindow?: string;
  head?: string;
  tracks?: string;
  bins?: string;
  aggregate?: Aggregate;
  logPseudocount?: number;
  targets?: string;
  windowLength?: number;
  rc: boolean;
  shifts?: number[];
  batchSize?: number;
  threads?: number;
  tileLength?: number;
  /** `attribute`: how the backward gets the forward's activations (ModelOptions.backwardActivations). */
  activations?: 'saved' | 'recompute';
  /** `attribute`: MB of saved activations held in memory (EngineOptions.stashMemory). */
  stashMemoryMb?: number;
  gammaTablePath?: string;
  gamma?: GammaNormalisation;
  cacheDir?: string;
  device: 'cpu' | 'cuda';
  out: string;
}

export interface IsmArgs extends AttributionArgs {
  window?: string;
  bruteForce: boolean;
}

/** Bases either side of the objective's span in the default logo window; the longest plots. */
const LOGO_MARGIN = 16;
const LOGO_DEFAULT_MAX = 200;
const LOGO_MAX = 2000;
const HEATMAP_DEFAULT_MAX = 500;
const HEATMAP_MAX = 2000;

/** What the command runs on: FASTA records, or one genome window. */
type Input =
  | { kind: 'fasta'; records: { name: string; sequence: string }[]; source: string }
  | { kind: 'genome'; window: GenomeWindow; bins: [number, number]; plotRegion?: Region; source: string };

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

async function resolveModels(args: AttributionArgs): Promise<string[]> {
  const dirs: string[] = [];
  for (const m of args.models) dirs.push(await resolveModelArg(m, args.cacheDir));
  return dirs;
}

async function readInput(args: AttributionArgs, models: string[], bins: [number, number] | undefined): Promise<{ input: Input; bins?: [number, number] }> {
  if (args.fasta !== undefined) return { input: { kind: 'fasta', records: await readFastaRecords(args.fasta), source: args.fasta }, bins };
  await checkDirectoryOut(args.out);
  const region = parseRegion(args.region!);
  const plotRegion = args.plotWindow !== undefined ? parseRegion(args.plotWindow) : undefined;
  const genome = await openGenome(args.genome!);
  const window = await genomeWindow(genome, region, await architectureOf(models[0]!), args.windowLength);
  const b = args.targetRegion !== undefined ? targetBins(window, parseRegion(args.targetRegion)) : (bins ?? centralBins(window.bins));
  const name = `${window.chrom}:${window.start + 1}-${window.start + window.length}`;
  return { input: { kind: 'genome', window, bins: b, plotRegion, source: `${genome.source} ${name}` }, bins: b };
}

function options(args: AttributionArgs, models: string[], bins: [number, number] | undefined): AttributionOptions {
  return {
    models,
    head: args.head,
    tracks: args.tracks,
    targets: args.targets,
    rc: args.rc,
    shifts: args.shifts,
    bins,
    aggregate: args.aggregate,
    logPseudocount: args.logPseudocount,
    load: {
      threads: args.threads,
      tileLength: args.tileLength,
      gammaTablePath: args.gammaTablePath,
      gamma: args.gamma,
      executionProvider: args.device,
      backwardActivations: args.activations,
      stashMemory: args.stashMemoryMb === undefined ? undefined : args.stashMemoryMb * 2 ** 20,
    },
    cacheDir: args.cacheDir,
  };
}

function records(input: Input): { name: string; sequence: string }[] {
  return input.kind === 'fasta' ? input.records : [{ name: input.source, sequence: input.window.sequence }];
}

function report(what: string, started: number, files: string[]): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(`seq2track: ${what} in ${seconds} s -> ${files.join(', ')}\n`);
}

export async function runAttribute(args: AttributionArgs): Promise<void> {
  const started = Date.now();
  checkForm(args);
  const bins = args.bins !== undefined ? parseRange(args.bins, '--bins') : undefined;
  const models = await resolveModels(args);
  const { input, bins: objectiveBins } = await readInput(args, models, bins);
  let logo: [number, number] | undefined;
  if (input.kind === 'genome' && args.plot !== undefined) {
    const [a, b] = binSpan(input.window, input.bins);
    logo = plotWindow(input.window, input.plotRegion, [a - LOGO_MARGIN, b + LOGO_MARGIN], [0, input.window.length - 1], input.plotRegion ? LOGO_MAX : LOGO_DEFAULT_MAX);
  }

  const progress = new Progress('sequence runs');
  try {
    const r = await attributeRecords(records(input), input.source, {
      ...options(args, models, objectiveBins),
      batchSize: args.batchSize,
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done();
    const L = r.length;
    const R = records(input).length;
    const tensors = [
      { name: 'objective', dtype: 'F32' as const, shape: [R], data: r.objective },
      { name: 'grad', dtype: 'F32' as const, shape: [R, L, 4], data: r.grad },
      { name: 'grad_x_input', dtype: 'F32' as const, shape: [R, L], data: r.gradXInput },
      { name: 'grad_centered_x_input', dtype: 'F32' as const, shape: [R, L], data: r.gradCenteredXInput },
    ];
    const meta = { ...jobMetadata(r.job, 'seq2track attribute'), records: JSON.stringify(records(input).map((x) => x.name)) };
    let files: PendingFile[];
    if (input.kind === 'fasta') {
      files = [safetensorsFile(args.out, tensors, meta)];
    } else {
      const w = input.window;
      const [a, b] = w.positions;
      files = [
        perBaseBigWig(join(args.out, 'grad_x_input.bw'), w, a, r.gradXInput.subarray(a, b + 1)),
        perBaseBigWig(join(args.out, 'grad_centered_x_input.bw'), w, a, r.gradCenteredXInput.subarray(a, b + 1)),
        safetensorsFile(join(args.out, 'attribute.safetensors'), tensors, { ...meta, chrom: w.chrom, window_start: String(w.start) }),
      ];
      if (logo && args.plot !== undefined) {
        const [p, q] = logo;
        const positions = Array.from({ length: q - p + 1 }, (_, i) => w.start + p + i + 1);
        const bases = Array.from(w.sequence.slice(p, q + 1));
        const track = r.job.objective.tracks.map((t) => t.identifier).join(', ');
        const spec = logoSpec({ positions, bases, values: r.gradXInput.subarray(p, q + 1), title: `grad × input, ${track} (${r.job.objective.head} head), bins ${input.bins[0]}-${input.bins[1]}`, xTitle: `${w.chrom} (1-based)` });
        files.push(plotFile(args.plot, spec));
      }
      await ensureDir(args.out);
    }
    report(`attributed ${R} sequence${R === 1 ? '' : 's'} × ${L} bp (ensemble of ${r.job.ensemble})`, started, await writeAll(files));
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
  const bins = args.bins !== undefined ? parseRange(args.bins, '--bins') : undefined;
  const models = await resolveModels(args);
  const { input, bins: objectiveBins } = await readInput(args, models, bins);
  const positions = input.kind === 'genome' ? input.window.positions : window!;
  let heat: [number, number] | undefined;
  if (input.kind === 'genome' && args.plot !== undefined) heat = plotWindow(input.window, input.plotRegion, positions, positions, input.plotRegion ? HEATMAP_MAX : HEATMAP_DEFAULT_MAX);

  const progress = new Progress('sequence runs');
  try {
    const r = await ismRecords(records(input), input.source, {
      ...options(args, models, objectiveBins),
      window: positions,
      batchSize: args.batchSize,
      bruteForce: args.bruteForce,
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done();
    const R = records(input).length;
    const W = r.width;
    const tensors = [
      { name: 'ism', dtype: 'F32' as const, shape: [R, W, 4], data: r.ism },
      { name: 'ism_ref_base', dtype: 'I64' as const, shape: [R, W], data: BigInt64Array.from(r.refBase, (v) => BigInt(v)) },
    ];
    const meta = {
      ...jobMetadata(r.job, 'seq2track ism'),
      records: JSON.stringify(records(input).map((x) => x.name)),
      window: JSON.stringify(positions),
      objective: JSON.stringify(Array.from(r.objective)),
    };
    let files: PendingFile[];
    if (input.kind === 'fasta') {
      files = [safetensorsFile(args.out, tensors, meta)];
    } else {
      const w = input.window;
      const { mean, maxEffect } = ismSummaries(r.ism, r.refBase, W);
      files = [
        perBaseBigWig(join(args.out, 'ism_mean.bw'), w, positions[0], mean),
        perBaseBigWig(join(args.out, 'ism_max_effect.bw'), w, positions[0], maxEffect),
        safetensorsFile(join(args.out, 'ism.safetensors'), tensors, { ...meta, chrom: w.chrom, window_start: String(w.start) }),
      ];
      if (heat && args.plot !== undefined) {
        const [p, q] = heat;
        const i0 = p - positions[0];
        const n = q - p + 1;
        const spec = ismHeatmapSpec({
          positions: Array.from({ length: n }, (_, i) => w.start + p + i + 1),
          refBase: r.refBase.subarray(i0, i0 + n),
          ism: r.ism.subarray(i0 * 4, (i0 + n) * 4),
          title: `ISM, ${r.job.objective.tracks.map((t) => t.identifier).join(', ')} (${r.job.objective.head} head), bins ${input.bins[0]}-${input.bins[1]}`,
          xTitle: `${w.chrom} (1-based)`,
        });
        files.push(plotFile(args.plot, spec));
      }
      await ensureDir(args.out);
    }
    report(`ISM of ${R} sequence${R === 1 ? '' : 's'} × ${W} positions (ensemble of ${r.job.ensemble})`, started, await writeAll(files));
  } finally {
    progress.done();
  }
}
