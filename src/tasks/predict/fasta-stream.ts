/**
 * The `predict --fasta` job: the records of a FASTA file (plain or gzip), streamed twice (a check
 * pass, then the run: records.ts), each batch's outputs written at once by a sink, so only one batch
 * of sequences and outputs is in memory. `cropInput` centre-crops each record before the model;
 * lengths and offsets stay those of the records as given.
 */
import { readFasta } from '../../genome/fasta.js';
import { centreCrop } from '../../genome/sequence.js';
import type { AttentionMap, Model } from '../../models/model.js';
import { predictRecordStream, type FastaLayout, type FastaSink, type ModelRecord, type PredictFastaOptions } from './records.js';

export type { FastaLayout, FastaSink };

export interface StreamFastaOptions extends PredictFastaOptions {
  /** Centre-crop each record to this many bp before the model; lengths and offsets stay those of the records as given. */
  cropInput?: number;
}

export interface StreamedFasta extends FastaLayout {
  /** Attention maps [records, layers, heads, rows, positions] when asked for (bounded by checkAttentionSize). */
  attention?: AttentionMap;
}

/** The records of a FASTA file as the model sees them (centre-cropped with `cropInput`). */
async function* modelRecords(path: string, cropInput: number | undefined): AsyncGenerator<ModelRecord> {
  for await (const r of readFasta(path)) {
    if (cropInput === undefined) yield { ...r, length: r.sequence.length, trimmed: 0 };
    else {
      const c = centreCrop(r.sequence, cropInput, `${path}: record '${r.name}'`);
      yield { name: r.name, sequence: c.sequence, length: r.sequence.length, trimmed: c.trimmed };
    }
  }
}

/** Predicts every record of a FASTA file into `sink`; returns the layout. */
export function streamFastaPrediction(model: Model, path: string, sink: FastaSink, options: StreamFastaOptions = {}): Promise<StreamedFasta> {
  return predictRecordStream(model, () => modelRecords(path, options.cropInput), path, sink, options);
}
