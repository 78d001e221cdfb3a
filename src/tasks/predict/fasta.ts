/** The `predict` job on a FASTA file read whole (records.ts holds the job; fasta-stream.ts streams the file). */
import { readFastaRecords } from '../../genome/fasta.js';
import type { Model } from '../../models/model.js';
import { predictRecords, type FastaPrediction, type PredictFastaOptions } from './records.js';

export * from './records.js';

/** Reads a FASTA file and predicts every record. */
export async function predictFasta(model: Model, fastaPath: string, options: PredictFastaOptions = {}): Promise<FastaPrediction> {
  return predictRecords(model, await readFastaRecords(fastaPath), fastaPath, options);
}
