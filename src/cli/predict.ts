/** `seq2track predict --fasta`: options in, FASTA records through the model, one output file out. */
import { dirname, extname, join, resolve } from 'node:path';
import { loadModel, readConfig } from '../models/load.js';
import { isAlphaGenomeConfig, loadAlphaGenome } from '../models/alphagenome/load.js';
import { ORGANISMS } from '../models/alphagenome/config.js';
import type { Organism } from '../models/alphagenome/model.js';
import { predictAlphaGenomeFasta } from '../tasks/predict/alphagenome-fasta.js';
import { readFasta } from '../genome/fasta.js';
import { centreCrop } from '../genome/sequence.js';
import { selectTracks, type Track } from '../formats/targets.js';
import { SafetensorsPredictionSink, TsvPredictionSink } from '../formats/prediction-stream.js';
import { streamFastaPrediction } from '../tasks/predict/fasta-stream.js';
import { writeAttentionFile } from '../tasks/predict/attention-file.js';
import { checkWritableDir } from '../tasks/job/job-dir.js';
import { tableFor } from '../tasks/job/model-dirs.js';
import { UsageError } from './errors.js';
import { Progress } from './progress.js';
import { resolveModelArg } from './weights.js';
import { attentionRequest, checkAttentionUsage, type AttentionArgs } from './attention-options.js';
import { loadOptions, type ModelArgs } from './model-options.js';

export interface PredictArgs extends ModelArgs {
  /** A model directory or a published model name. */
  model: string;
  fasta: string;
  out: string;
  heads?: string[];
  /** Tracks of one head (the one `heads` names, else the first), named by its targets table. */
  tracks?: string;
  embeddings?: boolean;
  batchSize: number;
  /** --output and --attention*; absent: softplus, no maps. */
  maps?: AttentionArgs;
  /** Centre-crop each record to this many bp (Enformer's TF-hub input form: 393,216 → 196,608). */
  cropInput?: number;
  /** AlphaGenome: the organism, human (default) or mouse. */
  head?: string;
}

const FORMATS = { '.safetensors': 'safetensors', '.tsv': 'tsv' } as const;

export async function runPredict(args: PredictArgs): Promise<void> {
  const started = Date.now();
  // Cheap checks first: a typo in --out should not cost a model load.
  const format = FORMATS[extname(args.out).toLowerCase() as keyof typeof FORMATS];
  if (!format) throw new UsageError(`--out ${args.out}: unknown output format (use a .safetensors or .tsv file name)`);
  if (args.tracks !== undefined && args.heads !== undefined && args.heads.length !== 1) throw new UsageError('--tracks selects the tracks of one head: give --heads NAME');
  if (args.targets !== undefined && args.tracks === undefined) throw new UsageError('--targets names the tracks of --tracks; with --fasta give both');
  if (args.maps) checkAttentionUsage(args.maps, false);
  checkWritableDir(dirname(resolve(args.out)), `--out ${args.out}`);
  if (args.maps?.attention) checkWritableDir(dirname(resolve(args.maps.attention)), `--attention ${args.maps.attention}`);
  // The file is parsed once before the model loads (a syntax error costs no load); records are streamed, never all held.
  for await (const r of readFasta(args.fasta)) {
    if (args.cropInput !== undefined) centreCrop(r.sequence, args.cropInput, `${args.fasta}: record '${r.name}'`);
  }

  const dir = await resolveModelArg(args.model, args.cacheDir);
  const alphaGenome = isAlphaGenomeConfig(await readConfig(join(dir, 'config.json')));
  // AlphaGenome's whole set of outputs (contact maps, junctions too) unless per-position tracks are asked for: a TSV, --tracks, --resolution, --embeddings or maps.
  const alphaGenomeTracks = format === 'tsv' || args.tracks !== undefined || args.resolution !== undefined || args.embeddings || args.maps?.attention !== undefined || args.maps?.plot !== undefined;
  if (alphaGenome && !alphaGenomeTracks) return runAlphaGenomePredict(args, dir, format, started);
  if (args.head !== undefined && !alphaGenome) throw new UsageError('--head with --fasta selects the organism of an AlphaGenome model; for this model choose heads with --heads');
  const attention = args.maps ? await attentionRequest(args.maps, dir) : undefined;
  const output = args.maps?.output ?? 'softplus';
  const model = await loadModel(dir, loadOptions(args, { attention: attention?.spec, logits: output === 'logits' }));
  const progress = new Progress('records');
  const sink = format === 'tsv' ? new TsvPredictionSink(args.out) : new SafetensorsPredictionSink(args.out);
  try {
    let heads = args.heads;
    let tracks: Track[] | undefined;
    if (args.tracks !== undefined) {
      heads ??= [model.headNames[0]!];
      const head = heads[0]!;
      if (!model.headNames.includes(head)) throw new UsageError(`unknown head '${head}' (the model has: ${model.headNames.join(', ')})`);
      tracks = selectTracks(await tableFor(model.arch.kind, head, model.arch.tracks(head), args.targets, args.cacheDir, dir, model.arch.defaultTrackTable?.(head)), args.tracks);
    }
    const p = await streamFastaPrediction(model, args.fasta, sink, {
      heads,
      tracks,
      embeddings: args.embeddings,
      batchSize: args.batchSize,
      output,
      attention,
      cropInput: args.cropInput,
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done();
    const tensors = p.tensors;
    if (p.attention && attention) {
      await writeAttentionFile(args.maps!.attention!, {
        ...p.attention,
        spec: attention.spec,
        resolution: model.arch.transformer.resolution,
        records: p.records.map((r) => ({ name: r.name, length: r.length })),
        producer: 'seq2track predict --fasta',
      });
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `seq2track: predicted ${p.records.length} record${p.records.length === 1 ? '' : 's'} × ${p.bins} bins (${tensors.map((t) => t.name).join(', ')}${output === 'logits' ? ', logits' : ''}) in ${seconds} s -> ${args.out}${p.attention ? `, attention [${p.attention.shape.join(', ')}] -> ${args.maps!.attention}` : ''}\n`,
    );
  } catch (e) {
    sink.abort();
    throw e;
  } finally {
    progress.done();
    await model.close();
  }
}

/**
 * AlphaGenome: every head (or those --heads names) for the organism --head names, one tensor per
 * output stacked over the records, written as X.safetensors (via X.safetensors.partial).
 */
async function runAlphaGenomePredict(args: PredictArgs, dir: string, format: 'safetensors' | 'tsv', started: number): Promise<void> {
  if (args.targets !== undefined) throw new UsageError('--targets names the tracks of --tracks');
  if (args.maps?.output === 'logits') throw new UsageError('--output logits: not offered for AlphaGenome models');
  const organism = (args.head ?? 'human') as Organism;
  if (!(ORGANISMS as readonly string[]).includes(organism)) throw new UsageError(`--head ${args.head}: an AlphaGenome organism is human or mouse`);
  const model = await loadAlphaGenome(dir, { threads: args.threads, executionProvider: args.device, tileLength: args.tileLength });
  const progress = new Progress('records');
  try {
    const p = await predictAlphaGenomeFasta(model, args.fasta, args.out, {
      organism,
      heads: args.heads,
      batchSize: args.batchSize,
      cropInput: args.cropInput,
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(`seq2track: AlphaGenome (${organism}) on ${p.records.length} record${p.records.length === 1 ? '' : 's'} of ${p.records[0]!.length} bp (${p.tensors.join(', ')}) in ${seconds} s -> ${args.out}\n`);
  } finally {
    progress.done();
    await model.close();
  }
}
