/**
 * The `predict` job on records already read: every record is one batch item, in order. All records
 * are validated before the first model run, so a bad record 900 fails in seconds, not after hours.
 * No I/O here: the CLI (predict-fasta.ts) and the browser page share it.
 */
import type { FastaRecord } from '../genome/fasta-parse.js';
import { oneHotInto } from '../genome/one-hot.js';
import { Model, type AttentionMap, type HeadOutput, type Track3D } from '../models/model-core.js';
import { checkAttentionRows, writtenHeads } from '../models/attention-maps.js';
import { checkAttentionSize, type AttentionRequest } from './attention-request.js';

export class PredictInputError extends Error {}

export interface PredictFastaOptions {
  /** Heads to compute (default: all of the model's). */
  heads?: string[];
  /** Also return the trunk embeddings [records, bins, 2·dim]. */
  embeddings?: boolean;
  /** 'logits': the heads' pre-softplus values instead of the coverage (default 'softplus'); the model must be loaded with `logits`. */
  output?: HeadOutput;
  /** Also return attention maps [records, layers, heads, rows, positions] (the model must be loaded with `request.spec`). */
  attention?: AttentionRequest;
  /** Records per model run; consecutive records of one length share a run (default 1). */
  batchSize?: number;
  /** Called after each batch with records done and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface FastaPrediction {
  records: { name: string; length: number; /** bp from the record start to its first output bin */ offset: number }[];
  bins: number;
  binSize: number;
  heads: Record<string, Track3D>;
  embeddings?: Track3D;
  attention?: AttentionMap;
}

/** Checks the requested heads against the model; returns them in the order asked. */
export function resolveHeads(model: Model, heads: string[] | undefined): string[] {
  if (heads === undefined) return model.headNames;
  if (heads.length === 0) throw new PredictInputError(`no heads requested (the model has: ${model.headNames.join(', ')})`);
  for (const h of heads) {
    if (!model.headNames.includes(h)) throw new PredictInputError(`unknown head '${h}' (the model has: ${model.headNames.join(', ')})`);
  }
  return heads;
}

/** Validates every record's length and letters; returns the common number of output bins. */
export function validateRecords(model: Model, records: FastaRecord[], source: string): number {
  if (records.length === 0) throw new PredictInputError(`${source}: no records`);
  let bins = -1;
  let first = '';
  let scratch = new Float32Array(0);
  for (const r of records) {
    const what = `${source}: record '${r.name}'`;
    model.checkLength(r.sequence.length, what);
    const b = model.outputBins(r.sequence.length);
    if (bins === -1) [bins, first] = [b, r.name];
    else if (b !== bins) {
      throw new PredictInputError(
        `${what} (${r.sequence.length} bp) gives ${b} output bins but record '${first}' gives ${bins}; all records must give the same number of bins to share one output tensor`,
      );
    }
    // Encoding is the letter check, so errors name the position exactly as prediction would.
    if (scratch.length < r.sequence.length * 4) scratch = new Float32Array(r.sequence.length * 4);
    oneHotInto(r.sequence, scratch, 0, what);
    scratch.fill(0, 0, r.sequence.length * 4);
  }
  return bins;
}

/** Consecutive runs of at most `size` records of equal length, as [start, end) index pairs. */
export function batches(records: FastaRecord[], size: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 1; i <= records.length; i++) {
    if (i === records.length || i - start === size || records[i]!.sequence.length !== records[start]!.sequence.length) {
      out.push([start, i]);
      start = i;
    }
  }
  return out;
}

export async function predictRecords(model: Model, records: FastaRecord[], source: string, options: PredictFastaOptions = {}): Promise<FastaPrediction> {
  const batchSize = options.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PredictInputError(`batch size must be a positive integer, not ${batchSize}`);
  const heads = resolveHeads(model, options.heads);
  const bins = validateRecords(model, records, source);
  const n = records.length;
  const alloc = (tracks: number): Track3D => ({ data: new Float32Array(n * bins * tracks), shape: [n, bins, tracks] });
  const result: FastaPrediction = {
    records: records.map((r) => ({ name: r.name, length: r.sequence.length, offset: model.outputOffset(r.sequence.length) })),
    bins,
    binSize: model.binSize,
    heads: Object.fromEntries(heads.map((h) => [h, alloc(model.arch.tracks(h))])),
  };
  if (options.embeddings) result.embeddings = alloc(model.arch.embeddingSize);
  const place = (into: Track3D, from: Track3D, at: number) => into.data.set(from.data, at * bins * into.shape[2]);
  const rows = options.attention ? attentionRows(model, records, source, options.attention) : undefined;
  if (rows) {
    const spec = model.attentionSpec!;
    const positions = model.transformerPositions(records[0]!.sequence.length);
    const bytes = checkAttentionSize(options.attention!, n, rows.length, positions);
    const shape: AttentionMap['shape'] = [n, spec.layers.length, writtenHeads(spec), rows.length, positions];
    result.attention = { data: new Float32Array(bytes / 4), shape, layers: spec.layers, heads: spec.heads, rows };
  }

  options.onProgress?.(0, n);
  for (const [start, end] of batches(records, batchSize)) {
    const group = records.slice(start, end);
    const input = Model.encode(
      group.map((r) => r.sequence),
      group.map((r) => `${source}: record '${r.name}'`),
    );
    const p = await model.predict(input, { heads, embeddings: options.embeddings, output: options.output, attentionRows: rows });
    for (const h of heads) place(result.heads[h]!, p.heads[h]!, start);
    if (result.embeddings && p.embeddings) place(result.embeddings, p.embeddings, start);
    if (result.attention && p.attention) result.attention.data.set(p.attention.data, start * (result.attention.data.length / n));
    options.onProgress?.(end, n);
  }
  return result;
}

/** The attention rows of a FASTA job: one length for every record (one positions axis), rows checked. */
function attentionRows(model: Model, records: FastaRecord[], source: string, request: AttentionRequest): number[] {
  if (!model.attentionSpec) throw new PredictInputError('attention maps need the model loaded with the attention layers and heads');
  const length = records[0]!.sequence.length;
  const other = records.find((r) => r.sequence.length !== length);
  if (other) {
    throw new PredictInputError(`${source}: record '${other.name}' has ${other.sequence.length} bp but '${records[0]!.name}' ${length} bp; --attention needs records of one length (one positions axis)`);
  }
  const rows = request.rows ?? model.centralRows(length);
  checkAttentionRows(rows, model.transformerPositions(length));
  return rows;
}
