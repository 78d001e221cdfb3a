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
import { Model, type Track3D } from '../models/model.js';
import { PredictInputError, resolveHeads, type PredictFastaOptions } from './predict-fasta.js';
import type { FastaLayout, FastaSink } from '../formats/prediction-stream.js';

export type { FastaLayout, FastaSink };

/** First pass: every record checked as predictRecords checks them; returns the layout. */
async function checkRecords(model: Model, path: string, tensors: FastaLayout['tensors']): Promise<FastaLayout> {
  const records: FastaLayout['records'] = [];
  let bins = -1;
  let first = '';
  let scratch = new Float32Array(0);
  for await (const r of readFasta(path)) {
    const what = `${path}: record '${r.name}'`;
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
    records.push({ name: r.name, length: r.sequence.length, offset: model.outputOffset(r.sequence.length) });
  }
  if (records.length === 0) throw new PredictInputError(`${path}: no records`);
  return { records, bins, binSize: model.binSize, tensors };
}

/** Predicts every record of a FASTA file into `sink`; returns the layout. */
export async function streamFastaPrediction(model: Model, path: string, sink: FastaSink, options: PredictFastaOptions = {}): Promise<FastaLayout> {
  const batchSize = options.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PredictInputError(`batch size must be a positive integer, not ${batchSize}`);
  const heads = resolveHeads(model, options.heads);
  const tensors = heads.map((h) => ({ name: h, tracks: model.arch.tracks(h) }));
  if (options.embeddings) tensors.push({ name: 'embeddings', tracks: model.arch.embeddingSize });
  const layout = await checkRecords(model, path, tensors);
  sink.begin(layout);
  const n = layout.records.length;
  options.onProgress?.(0, n);

  let group: FastaRecord[] = [];
  let start = 0;
  const run = async () => {
    const input = Model.encode(
      group.map((r) => r.sequence),
      group.map((r) => `${path}: record '${r.name}'`),
    );
    const p = await model.predict(input, { heads, embeddings: options.embeddings });
    const outputs: Record<string, Track3D> = { ...p.heads };
    if (options.embeddings && p.embeddings) outputs.embeddings = p.embeddings;
    sink.write(start, outputs);
    start += group.length;
    group = [];
    options.onProgress?.(start, n);
  };
  for await (const r of readFasta(path)) {
    if (group.length > 0 && (group.length === batchSize || r.sequence.length !== group[0]!.sequence.length)) await run();
    group.push(r);
  }
  if (group.length > 0) await run();
  if (start !== n) throw new PredictInputError(`${path}: changed while it was read (${start} records now, ${n} at the check)`);
  sink.finish();
  return layout;
}
