/** `seq2track predict --genome …`: options in, regions through the model(s), tracks out. */
import { openGenome } from '../genome/reference.js';
import { parseRegion, type Region } from '../genome/regions.js';
import { readBed } from '../genome/bed.js';
import { mkdirSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { checkNoOverlap, outputKind } from '../tasks/predict/output-kind.js';
import { runGenomeJob } from '../tasks/predict/genome-job.js';
import { checkWritableDir } from '../tasks/job/job-dir.js';
import { fileIdentity, fingerprint } from '../tasks/job/fingerprint.js';
import { parseShard } from '../tasks/job/shard.js';
import { shardPath } from '../tasks/predict/genome-shards.js';
import { ensembleOptions, jobFingerprint, resolveModels, type GenomeArgs } from './model-options.js';
import { UsageError } from './errors.js';
import { Progress } from './progress.js';
import { attentionRequest, checkAttentionUsage, type AttentionArgs } from './attention-options.js';
import { writeAttentionFile } from '../tasks/predict/attention-file.js';
import { checkPlotWindows, plotAttention } from '../tasks/predict/attention-plot.js';

export interface PredictGenomeArgs extends GenomeArgs {
  out: string;
  /** --output, --attention*, --plot*; absent: softplus, no maps. */
  maps?: AttentionArgs;
  /** false: --no-trunk-reuse (every window's trunk in full). */
  trunkReuse?: boolean;
  /** --shard i/N: write shard i of the run's windows to `shardPath(out)`, for `seq2track merge`. */
  shard?: string;
}

export async function runPredictGenome(args: PredictGenomeArgs): Promise<void> {
  const started = Date.now();
  if (!args.region?.length && !args.bed) throw new UsageError('--genome needs --region chr:start-end or --bed FILE');
  if (args.region?.length && args.bed) throw new UsageError('give --region or --bed, not both');
  const kind = await outputKind(args.out);
  const shard = args.shard === undefined ? undefined : parseShard(args.shard);
  if (shard && (args.maps?.attention || args.maps?.plot)) throw new UsageError('--attention and --plot cannot be combined with --shard (the maps are written by an unsharded run)');
  // A shard writes its own file beside --out (never --out itself): merge writes --out from all of them.
  const out = shard ? shardPath(args.out, shard) : args.out;
  if (args.maps) checkAttentionUsage(args.maps, true);
  // The maps and their plot are written at the end of a long job: their places are checked now.
  if (args.maps?.attention) checkWritableDir(dirname(resolve(args.maps.attention)), `--attention ${args.maps.attention}`);
  if (args.maps?.plot) checkWritableDir(dirname(resolve(args.maps.plot)), `--plot ${args.maps.plot}`);
  if (kind === 'bigwig' && !shard) {
    // A bigWig directory may be new (its parents are made) or an existing one we can write into.
    const dir = args.out.replace(/[\\/]+$/, '') || args.out;
    if (existsSync(dir)) checkWritableDir(dir, `--out ${args.out}`);
    else {
      try {
        mkdirSync(dirname(resolve(dir)), { recursive: true });
      } catch (e) {
        throw new UsageError(`--out ${args.out}: cannot create ${dirname(resolve(dir))} (${(e as NodeJS.ErrnoException).code ?? e})`);
      }
    }
  }
  const regions: Region[] = args.bed ? await readBed(args.bed) : args.region!.map(parseRegion);
  const models = await resolveModels(args);
  const genome = await openGenome(args.genome);
  const attention = args.maps ? await attentionRequest(args.maps, models[0]!) : undefined;
  const fp = await jobFingerprint(args, models, {
    '--out': kind,
    // The two ways agree to float32 rounding, not byte for byte: a resumed run must not switch.
    '--no-trunk-reuse': args.trunkReuse === false ? true : undefined,
    '--output': args.maps?.output ?? 'softplus',
    '--attention': args.maps?.attention === undefined ? undefined : { file: resolve(args.maps.attention), spec: attention?.spec, rows: attention?.rows, maxBytes: attention?.maxBytes },
    '--plot': args.maps?.plot === undefined ? undefined : { file: resolve(args.maps.plot), gtf: fileIdentity(args.maps.plotGtf), bigwig: fileIdentity(args.maps.plotBigwig) },
  });
  // Every shard of one run records `fp` (merge checks they agree); its own staging directory is keyed by the shard too.
  const jobFp = shard ? fingerprint({ ...fp.args, '--shard': `${shard.index}/${shard.count}` }) : fp;

  const progress = new Progress('windows');
  try {
    const p = await runGenomeJob({
      ...ensembleOptions(args, models),
      genome,
      regions,
      out,
      kind,
      fingerprint: jobFp,
      runFingerprint: fp,
      shard,
      output: args.maps?.output,
      trunkReuse: args.trunkReuse,
      attention,
      writeAttention: attention
        ? async (att) => {
            const file = args.maps!.attention!;
            await writeAttentionFile(file, { ...att.map, spec: attention.spec, resolution: att.resolution, records: att.records, producer: 'seq2track predict --genome' });
            if (!args.maps!.plot) return [file];
            await plotAttention(args.maps!.plot, att, { gtf: args.maps!.plotGtf, bigwig: args.maps!.plotBigwig });
            return [file, args.maps!.plot];
          }
        : undefined,
      checkPlan: (plans) => {
        if (kind === 'bigwig' || kind === 'bedgraph') checkNoOverlap(plans);
        if (args.maps?.plot) checkPlotWindows(plans.reduce((a, p) => a + p.windows.length, 0));
      },
      onResume: (done, total) => process.stderr.write(`seq2track: resuming an interrupted run of this command: ${done} of ${total} model runs already done\n`),
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done();
    const files = p.files;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const ens = p.ensemble > 1 ? `, mean of ${p.ensemble} runs per window` : '';
    const resumed = p.resumedAt > 0 ? ` (resumed: ${p.ran} model runs this time)` : '';
    const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
    const what = shard
      ? `shard ${shard.index}/${shard.count}: ${plural(p.windows, 'window')} of ${plural(regions.length, 'region')}${ens}`
      : `${plural(regions.length, 'region')} (${plural(p.windows, 'window')}${ens})`;
    process.stderr.write(
      `seq2track: predicted ${what} × ${p.bins} bins × ${plural(p.tracks.length, 'track')} of ${p.head} in ${seconds} s${resumed} -> ${files.length === 1 ? files[0] : `${out} (${files.length} files)`}\n`,
    );
  } finally {
    progress.done();
  }
}
