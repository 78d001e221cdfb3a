/**
 * The `predict --fasta` job with bounded memory: a first pass over the FASTA checks every record
 * (length, letters, equal bin counts) without keeping sequences, so a bad record 900 still fails
 * before the first model run; a second pass predicts batch by batch and hands each batch's outputs
 * to a sink that writes them at once. Only one batch of sequences and outputs is in memory.
 * Batches are those of `batches()` in predict-fasta.ts (consecutive equal-length records), so the
 * model calls, and the bytes written, are those of the in-memory job.
 */
import { readFasta, type FastaRecord } from '../genome/fasta.js';
import { oneHotInto } from '../genome/one-hot.js';
import { Model, type AttentionMap, type Track3D } from '../models/model.js';
import { checkAttentionRows, writtenHeads } from '../models/attention-maps.js';
import { centreCrop } from '../genome/sequence.js';
import { checkAttentionSize } from './attention-output.js';
import { PredictInputError, resolveHeads, type PredictFastaOptions } from './predict-fasta.js';
import type { FastaLayout, FastaSink } from '../formats/prediction-stream.js';

export type { FastaLayout, FastaSink };

export interface StreamFastaOptions extends PredictFastaOptions {
  /** Centre-crop each record to this many bp before the model; lengths and offsets stay those of the records as given. */
  cropInput?: number;
}

export interface StreamedFasta extends FastaLayout {
  /** Attention maps [records, layers, heads, rows, positions] when asked for (bounded by checkAttentionSize). */
  attention?: AttentionMap;
}

/** The records of a FASTA file as the model sees them (centre-cropped with --crop-input), with the bp trimmed from each start. */
async function* modelRecords(path: string, cropInput: number | undefined): AsyncGenerator<FastaRecord & { length: number; trimmed: number }> {
  for await (const r of readFasta(path)) {
    if (cropInput === undefined) yield { ...r, length: r.sequence.length, trimmed: 0 };
    else {
      const c = centreCrop(r.sequence, cropInput, `${path}: record '${r.name}'`);
      yield { name: r.name, sequence: c.sequence, length: r.sequence.length, trimmed: c.trimmed };
    }
  }
}

/** First pass: every record checked as predictRecords checks them; returns the layout and the model's sequence length. */
async function checkRecords(model: Model, path: string, tensors: FastaLayout['tensors'], options: StreamFastaOptions): Promise<FastaLayout & { modelLength: number }> {
  const records: FastaLayout['records'] = [];
  let bins = -1;
  let first = '';
  let firstLength = 0;
  let scratch = new Float32Array(0);
  for await (const r of modelRecords(path, options.cropInput)) {
    const what = `${path}: record '${r.name}'`;
    if (options.attention) {
      if (records.length === 0) firstLength = r.sequence.length;
      else if (r.sequence.length !== firstLength) {
        throw new PredictInputError(`${path}: record '${r.name}' has ${r.sequence.length} bp but '${first}' ${firstLength} bp; --attention needs records of one length (one positions axis)`);
      }
    }
    model.checkLength(r.sequence.length, what);
    const b = model.outputBins(r.sequence.length);
    if (bins === -1) [bins, first] = [b, r.name];
    else if (b !== bins) {
      throw new PredictInputError(
        `${what} (${r.sequence.length} bp) gives ${b} output bins but record '${first}' gives ${bins}; all records must give the same number of bins to share one output tensor`,
      );
    }
    if (scratch.length < r.sequence.length * 4) scratch = new Float32Array(r.sequence.length * 4);
    oneHotInto(r.sequence, scratch, 0, what);
    scratch.fill(0, 0, r.sequence.length * 4);
    records.push({ name: r.name, length: r.length, offset: model.outputOffset(r.sequence.length) + r.trimmed });
    firstLength ||= r.sequence.length;
  }
  if (records.length === 0) throw new PredictInputError(`${path}: no records`);
  return { records, bins, binSize: model.binSize, tensors, output: options.output ?? 'softplus', modelLength: firstLength };
}

/** Predicts every record of a FASTA file into `sink`; returns the layout. */
export async function streamFastaPrediction(model: Model, path: string, sink: FastaSink, options: StreamFastaOptions = {}): Promise<StreamedFasta> {
  const batchSize = options.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PredictInputError(`batch size must be a positive integer, not ${batchSize}`);
  const heads = resolveHeads(model, options.heads);
  const tensors = heads.map((h) => ({ name: h, tracks: model.arch.tracks(h) }));
  if (options.embeddings) tensors.push({ name: 'embeddings', tracks: model.arch.embeddingSize });
  if (options.attention && !model.attentionSpec) throw new PredictInputError('attention maps need the model loaded with the attention layers and heads');
  const { modelLength, ...layout } = await checkRecords(model, path, tensors, options);
  const n = layout.records.length;
  let attention: AttentionMap | undefined;
  if (options.attention) {
    const spec = model.attentionSpec!;
    const positions = model.transformerPositions(modelLength);
    const rows = options.attention.rows ?? model.centralRows(modelLength);
    checkAttentionRows(rows, positions);
    const bytes = checkAttentionSize(options.attention, n, rows.length, positions);
    attention = { data: new Float32Array(bytes / 4), shape: [n, spec.layers.length, writtenHeads(spec), rows.length, positions], layers: spec.layers, heads: spec.heads, rows };
  }
  sink.begin(layout);
  options.onProgress?.(0, n);

  let group: FastaRecord[] = [];
  let start = 0;
  const run = async () => {
    const input = Model.encode(
      group.map((r) => r.sequence),
      group.map((r) => `${path}: record '${r.name}'`),
    );
    const p = await model.predict(input, { heads, embeddings: options.embeddings, output: options.output, attentionRows: attention?.rows });
    const outputs: Record<string, Track3D> = { ...p.heads };
    if (options.embeddings && p.embeddings) outputs.embeddings = p.embeddings;
    sink.write(start, outputs);
    if (attention && p.attention) attention.data.set(p.attention.data, start * (attention.data.length / n));
    start += group.length;
    group = [];
    options.onProgress?.(start, n);
  };
  for await (const r of modelRecords(path, options.cropInput)) {
    if (group.length > 0 && (group.length === batchSize || r.sequence.length !== group[0]!.sequence.length)) await run();
    group.push(r);
  }
  if (group.length > 0) await run();
  if (start !== n) throw new PredictInputError(`${path}: changed while it was read (${start} records now, ${n} at the check)`);
  sink.finish();
  return attention ? { ...layout, attention } : layout;
}
