/**
 * `seq2track merge OUT SHARD…`: joins the shards of a sharded run into the file(s) the unsharded run
 * writes, byte for byte. Two kinds of shards: `score-variants --shard` TSVs (rows concatenated under
 * one header, score-variants.ts) and `predict --genome --shard` shard files (their rows written
 * through the genome job's writers, tasks/predict/genome-shards.ts). The kind is told by the shards
 * (a genome shard's metadata) and the output (only TSV is both).
 */
import { mergeScoreTsv } from './score-variants.js';
import { isGenomeShard, mergeGenomeShards } from '../tasks/predict/genome-shards.js';
import { outputKind } from '../tasks/predict/output-kind.js';
import { UsageError } from './errors.js';

async function genomeOutput(out: string): Promise<boolean> {
  try {
    return (await outputKind(out)) !== 'tsv';
  } catch {
    return false;
  }
}

export async function runMerge(out: string, shards: string[]): Promise<void> {
  if (shards.length === 0) throw new UsageError('merge needs the shard files, in shard order');
  if (!(await genomeOutput(out)) && !(await isGenomeShard(shards[0]!))) {
    await mergeScoreTsv(out, shards);
    return;
  }
  const r = await mergeGenomeShards(out, shards);
  const files = r.files.length === 1 ? r.files[0] : `${out} (${r.files.length} files)`;
  process.stderr.write(`seq2track: merged ${r.shards} shard${r.shards === 1 ? '' : 's'} (${r.bins} bins × ${r.tracks} track${r.tracks === 1 ? '' : 's'}) -> ${files}\n`);
}
