/** Fixture inputs and grads.safetensors fields shared by the attribute and ISM tests. */
import { readFileSync } from 'node:fs';
import { SafetensorsFile } from '../weights/safetensors.js';
import { fixturePath } from './fixtures.js';
import type { SequenceRecord } from '../tasks/attribution/ism.js';
import type { AttributionOptions } from '../tasks/attribution/runs.js';

/** The fixture's input sequences (reference.json) as records seq1, seq2, … */
export function fixtureRecords(name: string): SequenceRecord[] {
  const seqs = JSON.parse(readFileSync(fixturePath(name, 'reference.json'), 'utf8')).inputs.sequences as string[];
  return seqs.map((sequence, i) => ({ name: `seq${i + 1}`, sequence }));
}

/** Integer tensor of a safetensors file as numbers. */
export function int64(f: SafetensorsFile, name: string): number[] {
  return Array.from(new BigInt64Array(f.readBytes(name).slice().buffer), Number);
}

/** grads.safetensors with its objective and ISM window as 0-based inclusive ranges. */
export async function gradsOf(name: string) {
  const file = await SafetensorsFile.open(fixturePath(name, 'grads.safetensors'));
  const bins = int64(file, 'objective_bins');
  const window = int64(file, 'ism_window');
  return {
    file,
    bins: [bins[0]!, bins[1]! - 1] as [number, number],
    track: int64(file, 'objective_track')[0]!,
    window: [window[0]!, window[1]! - 1] as [number, number],
    refBase: int64(file, 'ism_ref_base'),
  };
}

/** How the attribute and ISM tasks run a fixture: its model on one thread, the human head and grads.safetensors' objective. */
export function fixtureRunOptions(name: string, g: Awaited<ReturnType<typeof gradsOf>>, batchSize: number): AttributionOptions {
  return { models: [fixturePath(name)], head: 'human', tracks: String(g.track), bins: g.bins, batchSize, load: { threads: 1 } };
}
