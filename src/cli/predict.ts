/** `seq2track predict`: options in, FASTA through the model, one output file out. */
import { extname } from 'node:path';
import { loadModel } from '../models/load.js';
import { readFastaRecords } from '../genome/fasta.js';
import { predictRecords } from '../tasks/predict-fasta.js';
import { writeTsv } from '../formats/tsv.js';
import { writePredictionSafetensors } from '../formats/safetensors-out.js';
import { UsageError } from './errors.js';
import { Progress } from './progress.js';
import { resolveModelArg } from './weights.js';
import { attentionRequest, checkAttentionUsage, type AttentionArgs } from './attention-options.js';
import { writeAttentionFile } from '../tasks/attention-output.js';
import { centreCrop } from '../genome/sequence.js';

export interface PredictArgs {
  /** A model directory or a published model name. */
  model: string;
  cacheDir?: string;
  fasta: string;
  out: string;
  heads?: string[];
  embeddings?: boolean;
  batchSize: number;
  threads?: number;
  tileLength?: number;
  gammaTablePath?: string;
  device: 'cpu' | 'cuda';
  /** --output and --attention*; absent: softplus, no maps. */
  maps?: AttentionArgs;
  /** Centre-crop each record to this many bp (Enformer's TF-hub input form: 393,216 → 196,608). */
  cropInput?: number;
}

const FORMATS = { '.safetensors': 'safetensors', '.tsv': 'tsv' } as const;

export async function runPredict(args: PredictArgs): Promise<void> {
  const started = Date.now();
  // Cheap checks first: a typo in --out should not cost a model load.
  const format = FORMATS[extname(args.out).toLowerCase() as keyof typeof FORMATS];
  if (!format) throw new UsageError(`--out ${args.out}: unknown output format (use a .safetensors or .tsv file name)`);
  if (args.maps) checkAttentionUsage(args.maps, false);
  const read = await readFastaRecords(args.fasta);
  const cropped = args.cropInput === undefined ? undefined : read.map((r) => centreCrop(r.sequence, args.cropInput!, `${args.fasta}: record '${r.name}'`));
  const records = cropped ? read.map((r, i) => ({ ...r, sequence: cropped[i]!.sequence })) : read;

  const dir = await resolveModelArg(args.model, args.cacheDir);
  const attention = args.maps ? await attentionRequest(args.maps, dir) : undefined;
  const output = args.maps?.output ?? 'softplus';
  const model = await loadModel(dir, {
    attention: attention?.spec,
    logits: output === 'logits',
    threads: args.threads,
    tileLength: args.tileLength,
    gammaTablePath: args.gammaTablePath,
    executionProvider: args.device,
  });
  const progress = new Progress('records');
  try {
    const p = await predictRecords(model, records, args.fasta, {
      heads: args.heads,
      embeddings: args.embeddings,
      batchSize: args.batchSize,
      output,
      attention,
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done();
    if (cropped) {
      // Coordinates stay those of the records as given: lengths uncropped, offsets from the record start.
      p.records.forEach((r, i) => {
        r.length = read[i]!.sequence.length;
        r.offset += cropped[i]!.trimmed;
      });
    }
    const tensors = Object.entries(p.heads).map(([name, tensor]) => ({ name, tensor }));
    if (p.embeddings) tensors.push({ name: 'embeddings', tensor: p.embeddings });
    if (format === 'tsv') {
      await writeTsv(args.out, { records: p.records, binSize: p.binSize, tensors });
    } else {
      await writePredictionSafetensors(args.out, tensors, {
        producer: 'seq2track predict',
        records: JSON.stringify(p.records.map((r) => r.name)),
        lengths: JSON.stringify(p.records.map((r) => r.length)),
        first_bin_offsets: JSON.stringify(p.records.map((r) => r.offset)),
        bin_size: String(p.binSize),
        output,
      });
    }
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
  } finally {
    progress.done();
    await model.close();
  }
}
