/** `seq2track predict --genome …`: options in, regions through the model(s), tracks out. */
import { openGenome } from '../genome/reference.js';
import { parseRegion, readBed, type Region } from '../genome/regions.js';
import { predictRegions } from '../tasks/predict-region.js';
import type { EnsembleOptions } from '../tasks/ensemble.js';
import { checkNoOverlap, outputKind, writeRegionOutputs } from '../tasks/region-outputs.js';
import { resolveModelArg } from './weights.js';
import { UsageError } from './errors.js';
import { Progress } from './progress.js';
import { attentionRequest, checkAttentionUsage, type AttentionArgs } from './attention-options.js';
import { writeAttentionFile } from '../tasks/attention-output.js';
import { checkPlotWindows, plotAttention } from '../tasks/attention-plot.js';

/** Options shared by the commands that run models on windows of a genome (predict --genome, score-variants). */
export interface GenomeJobArgs {
  models: string[];
  genome: string;
  region?: string[];
  bed?: string;
  tracks?: string;
  targets?: string;
  head?: string;
  windowLength?: number;
  rc: boolean;
  shifts?: number[];
  batchSize: number;
  threads?: number;
  tileLength?: number;
  gammaTablePath?: string;
  cacheDir?: string;
  device: 'cpu' | 'cuda';
  /** Borzoi: all bins but 16 each end instead of the centre crop. */
  fullOutput?: boolean;
}

/** The model-side options of a genome job, with `--model` resolved to directories. */
export function ensembleOptions(args: GenomeJobArgs, models: string[]): EnsembleOptions {
  return {
    models,
    head: args.head,
    windowLength: args.windowLength,
    tracks: args.tracks,
    targets: args.targets,
    rc: args.rc,
    shifts: args.shifts,
    batchSize: args.batchSize,
    load: { threads: args.threads, tileLength: args.tileLength, gammaTablePath: args.gammaTablePath, executionProvider: args.device, fullOutput: args.fullOutput },
    cacheDir: args.cacheDir,
  };
}

export interface PredictGenomeArgs extends GenomeJobArgs {
  out: string;
  /** --output, --attention*, --plot*; absent: softplus, no maps. */
  maps?: AttentionArgs;
}

export async function runPredictGenome(args: PredictGenomeArgs): Promise<void> {
  const started = Date.now();
  if (!args.region?.length && !args.bed) throw new UsageError('--genome needs --region chr:start-end or --bed FILE');
  if (args.region?.length && args.bed) throw new UsageError('give --region or --bed, not both');
  const kind = await outputKind(args.out);
  if (args.maps) checkAttentionUsage(args.maps, true);
  const regions: Region[] = args.bed ? await readBed(args.bed) : args.region!.map(parseRegion);
  const models: string[] = [];
  for (const m of args.models) models.push(await resolveModelArg(m, args.cacheDir));
  const genome = await openGenome(args.genome);
  const attention = args.maps ? await attentionRequest(args.maps, models[0]!) : undefined;

  const progress = new Progress('windows');
  try {
    const p = await predictRegions({
      ...ensembleOptions(args, models),
      genome,
      regions,
      output: args.maps?.output,
      attention,
      checkPlan: (plans) => {
        if (kind === 'bigwig' || kind === 'bedgraph') checkNoOverlap(plans);
        if (args.maps?.plot) checkPlotWindows(plans.reduce((a, p) => a + p.windows.length, 0));
      },
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done();
    const files = await writeRegionOutputs(args.out, kind, p);
    if (p.attention && attention) {
      const file = args.maps!.attention!;
      await writeAttentionFile(file, { ...p.attention.map, spec: attention.spec, resolution: p.attention.resolution, records: p.attention.records, producer: 'seq2track predict --genome' });
      files.push(file);
      if (args.maps!.plot) {
        await plotAttention(args.maps!.plot, p.attention, { gtf: args.maps!.plotGtf, bigwig: args.maps!.plotBigwig });
        files.push(args.maps!.plot);
      }
    }
    const bins = p.results.reduce((a, r) => a + r.plan.bins, 0);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const ens = p.ensemble > 1 ? `, mean of ${p.ensemble} runs per window` : '';
    process.stderr.write(
      `seq2track: predicted ${regions.length} region${regions.length === 1 ? '' : 's'} (${p.windows} window${p.windows === 1 ? '' : 's'}${ens}) × ${bins} bins × ${p.tracks.length} track${p.tracks.length === 1 ? '' : 's'} of ${p.head} in ${seconds} s -> ${files.length === 1 ? files[0] : `${args.out} (${files.length} files)`}\n`,
    );
  } finally {
    progress.done();
  }
}
