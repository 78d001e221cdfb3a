/**
 * The `predict` job on sequence records (FASTA records, or records the page parsed), through the run
 * core on one model: a first pass checks every record (length, letters, equal bin counts, one length
 * for attention maps) without keeping sequences, so a bad record 900 fails in seconds, not after
 * hours; a second pass predicts consecutive records of one length `batchSize` at a time and hands each
 * batch's outputs to a sink (files written as they come, or tensors in memory). Only one batch of
 * sequences and outputs is in memory beyond what the sink keeps. No I/O here: the CLI (fasta-stream.ts)
 * and the browser page share it.
 */
import type { FastaRecord } from '../../genome/fasta-parse.js';
import { oneHotInto } from '../../genome/one-hot.js';
import type { AttentionMap, HeadOutput, Model, Track3D } from '../../models/model-core.js';
import { checkAttentionRows, writtenHeads } from '../../models/attention-maps.js';
import type { Track } from '../../formats/track-selection.js';
import type { FastaLayout, FastaSink } from '../../formats/fasta-layout.js';
import { checkAttentionSize, type AttentionRequest } from './attention-request.js';
import { runBatches, scheduleOf, type Batch } from '../job/run-core.js';

export type { FastaLayout, FastaSink };

export class PredictInputError extends Error {}

export interface PredictFastaOptions {
  /** Heads to compute (default: all of the model's). */
  heads?: string[];
  /** Only these tracks of the one head in `heads` (a selection from its targets table). */
  tracks?: Track[];
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

/** A record as the model sees it, with its length as given and the bp cut from its start (`--crop-input`). */
export interface ModelRecord extends FastaRecord {
  length: number;
  trimmed: number;
}

/** Records read twice (a check pass, then the run), from memory or a file. */
export type RecordSource = () => AsyncIterable<ModelRecord> | Iterable<ModelRecord>;

/** Checks the requested heads against the model; returns them in the order asked. */
export function resolveHeads(model: Model, heads: string[] | undefined): string[] {
  if (heads === undefined) return model.headNames;
  if (heads.length === 0) throw new PredictInputError(`no heads requested (the model has: ${model.headNames.join(', ')})`);
  for (const h of heads) {
    if (!model.headNames.includes(h)) throw new PredictInputError(`unknown head '${h}' (the model has: ${model.headNames.join(', ')})`);
  }
  return heads;
}

/** Consecutive runs of at most `size` records of equal length, as [start, end) index pairs. */
export function batches(records: { sequence: string }[], size: number): [number, number][] {
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

/** First pass: every record checked; returns the layout and the model's sequence length. */
async function checkRecords(model: Model, records: RecordSource, source: string, tensors: FastaLayout['tensors'], options: PredictFastaOptions): Promise<FastaLayout & { modelLength: number }> {
  const checked: FastaLayout['records'] = [];
  let bins = -1;
  let first = '';
  let firstLength = 0;
  let scratch = new Float32Array(0);
  for await (const r of records()) {
    const what = `${source}: record '${r.name}'`;
    if (options.attention) {
      if (checked.length === 0) firstLength = r.sequence.length;
      else if (r.sequence.length !== firstLength) {
        throw new PredictInputError(`${source}: record '${r.name}' has ${r.sequence.length} bp but '${first}' ${firstLength} bp; --attention needs records of one length (one positions axis)`);
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
    // Encoding is the letter check, so errors name the position exactly as prediction would.
    if (scratch.length < r.sequence.length * 4) scratch = new Float32Array(r.sequence.length * 4);
    oneHotInto(r.sequence, scratch, 0, what);
    scratch.fill(0, 0, r.sequence.length * 4);
    checked.push({ name: r.name, length: r.length, offset: model.outputOffset(r.sequence.length) + r.trimmed });
    firstLength ||= r.sequence.length;
  }
  if (checked.length === 0) throw new PredictInputError(`${source}: no records`);
  return { records: checked, bins, binSize: model.binSize, tensors, output: options.output ?? 'softplus', modelLength: firstLength };
}

/** The selected columns of a head output [B, bins, T]: [B, bins, K]. */
function selectColumns(t: Track3D, tracks: Track[]): Track3D {
  const [B, bins, T] = t.shape;
  const K = tracks.length;
  const data = new Float32Array(B * bins * K);
  for (let r = 0; r < B * bins; r++) for (let k = 0; k < K; k++) data[r * K + k] = t.data[r * T + tracks[k]!.index]!;
  return { data, shape: [B, bins, K] };
}

/** Predicts every record into `sink`; returns the layout (and the attention maps, held in memory). */
export async function predictRecordStream(model: Model, records: RecordSource, source: string, sink: FastaSink, options: PredictFastaOptions = {}): Promise<FastaLayout & { attention?: AttentionMap }> {
  const batchSize = options.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PredictInputError(`batch size must be a positive integer, not ${batchSize}`);
  const heads = resolveHeads(model, options.heads);
  const selected = options.tracks;
  if (selected && heads.length !== 1) throw new PredictInputError(`--tracks selects the tracks of one head; name it (the model has: ${model.headNames.join(', ')})`);
  const tensors: FastaLayout['tensors'] = heads.map((h) =>
    selected ? { name: h, tracks: selected.length, selected: selected.map((t) => ({ index: t.index, identifier: t.identifier })) } : { name: h, tracks: model.arch.tracks(h) },
  );
  if (options.embeddings) tensors.push({ name: 'embeddings', tracks: model.arch.embeddingSize });
  if (options.attention && !model.attentionSpec) throw new PredictInputError('attention maps need the model loaded with the attention layers and heads');
  const { modelLength, ...layout } = await checkRecords(model, records, source, tensors, options);
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

  // Consecutive records of one length, `batchSize` at a time: the plan of the second pass.
  let count = 0;
  async function* plan(): AsyncGenerator<Batch<ModelRecord & { at: number }>> {
    let group: (ModelRecord & { at: number })[] = [];
    for await (const r of records()) {
      if (group.length > 0 && (group.length === batchSize || r.sequence.length !== group[0]!.sequence.length)) {
        yield { model: 0, items: group.map((unit) => ({ unit, run: { shift: 0, rc: false } })) };
        group = [];
      }
      group.push({ ...r, at: count++ });
    }
    if (group.length > 0) yield { model: 0, items: group.map((unit) => ({ unit, run: { shift: 0, rc: false } })) };
  }
  await runBatches({
    schedule: scheduleOf(model),
    batches: plan(),
    sequence: (r) => r.sequence,
    name: (r) => `${source}: record '${r.name}'`,
    request: (m, { input }) => m.predict(input, { heads, embeddings: options.embeddings, output: options.output, attentionRows: attention?.rows }),
    sink: (p, batch) => {
      const start = batch.items[0]!.unit.at;
      const outputs: Record<string, Track3D> = {};
      for (const h of heads) outputs[h] = selected ? selectColumns(p.heads[h]!, selected) : p.heads[h]!;
      if (options.embeddings && p.embeddings) outputs.embeddings = p.embeddings;
      sink.write(start, outputs);
      if (attention && p.attention) attention.data.set(p.attention.data, start * (attention.data.length / n));
      options.onProgress?.(start + batch.items.length, n);
    },
  });
  if (count !== n) throw new PredictInputError(`${source}: changed while it was read (${count} records now, ${n} at the check)`);
  sink.finish();
  return attention ? { ...layout, attention } : layout;
}

/** Outputs in memory: one [records, bins, tracks] tensor per head (and the embeddings). */
class MemorySink implements FastaSink {
  tensors: Record<string, Track3D> = {};
  private bins = 0;

  begin(layout: FastaLayout): void {
    this.bins = layout.bins;
    const n = layout.records.length;
    for (const t of layout.tensors) this.tensors[t.name] = { data: new Float32Array(n * layout.bins * t.tracks), shape: [n, layout.bins, t.tracks] };
  }

  write(first: number, outputs: Record<string, Track3D>): void {
    for (const [name, t] of Object.entries(outputs)) this.tensors[name]!.data.set(t.data, first * this.bins * t.shape[2]);
  }

  finish(): void {}
}

/** Every record (already read) through the model, outputs in memory. */
export async function predictRecords(model: Model, records: FastaRecord[], source: string, options: PredictFastaOptions = {}): Promise<FastaPrediction> {
  const sink = new MemorySink();
  const r = await predictRecordStream(model, () => records.map((x) => ({ ...x, length: x.sequence.length, trimmed: 0 })), source, sink, options);
  const { embeddings, ...heads } = sink.tensors;
  const result: FastaPrediction = { records: r.records, bins: r.bins, binSize: r.binSize, heads };
  if (options.embeddings) result.embeddings = embeddings;
  if (r.attention) result.attention = r.attention;
  return result;
}
