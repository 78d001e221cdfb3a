/**
 * The variant job: a VCF streamed through the models chunk by chunk, scores handed to a writer as
 * they are made.
 *
 * Chunks and shards are fixed by record ordinals, so every way of running gives the same model
 * batches and therefore the same bytes: chunk c holds records [c·B, (c+1)·B) of the (region-
 * restricted) VCF, B = batch size; `--shard i/N` (1-based) takes chunks [⌊(i−1)·C/N⌋, ⌊i·C/N⌋) of
 * the C chunks, a contiguous block, so the shards' outputs concatenated in order are the unsharded
 * output. A resumed run starts at a chunk boundary (the writer commits whole chunks).
 *
 * The model side is pluggable (`openModels`): the per-position runner (`VariantScorer`, the
 * default: SAD and the track and gene scorers) or AlphaGenome's whole model (ContactMap,
 * SpliceJunction); the VCF stream, windows, chunks, shards, resume and writers stay this one loop.
 */
import type { Reference } from '../../genome/reference.js';
import { alleles, type VcfReader, type VcfRecord } from '../../genome/vcf.js';
import type { ScoreColumns } from '../../formats/score-writers.js';
import { VariantScorer, type PreparedRecord, type ScorerOptions, type Stats } from './scorer.js';
import { borzoiVariantWindows, variantWindows, type Anchor } from './windows.js';
import { shardRange, type Shard } from '../job/shard.js';

export class VariantInputError extends Error {}

export { parseShard, shardRange, type Shard } from '../job/shard.js';

/** Takes the scores of one variant (ALT) at a time: SAD-type statistics, or gene rows. */
export interface RowWriter<R> {
  write(variant: ScoreColumns, scores: R): Promise<void>;
  close(): Promise<void>;
}

export interface Sink<R = Stats> {
  writer: RowWriter<R>;
  /** Records (of this shard) done by an earlier run; the job skips them. */
  recordsDone: number;
  /** Called after each chunk's rows are written, with the records done so far. */
  commit?: (records: number) => void;
}

/** A record ready for the models, with the VCF record it came from. */
export interface PendingRecord {
  record: VcfRecord;
  prepared: PreparedRecord;
}

/** What the job needs of a model side, beyond what its own `scoreChunk` and `openSink` read. */
export interface VariantModels {
  /** Window length in bp (the variant's first REF base at index ⌊L/2⌋). */
  readonly windowLength: number;
  /** What the summary line names: the head scored. */
  readonly head: string;
  /** Tracks per variant, for the summary line. */
  readonly trackCount: number;
  /** Model runs averaged per window. */
  readonly ensemble: number;
  close(): Promise<void>;
}

export interface ScoreVcfOptions<R = Stats, M extends VariantModels = VariantScorer> extends ScorerOptions {
  genome: Reference;
  vcf: VcfReader;
  /** A REF mismatch (or unknown chromosome) stops the run instead of being skipped. */
  strict?: boolean;
  shard?: Shard;
  /** Count the records first (for a progress total); implied by `shard`. */
  count?: boolean;
  /** Window placement (default 'center', ours). */
  anchor?: Anchor;
  /** Opens the model side (default: `VariantScorer.open` of these options); another side needs its own `scoreChunk`. */
  openModels?: () => Promise<M>;
  // NoInfer: the model side's type comes from openModels (else VariantScorer), never from a hook's parameter.
  /** Scores a chunk: per record, per scored ALT (default: the SAD statistics). */
  scoreChunk?: (models: NoInfer<M>, chunk: PendingRecord[]) => Promise<R[][]>;
  /** Opens the output once the tracks are known. */
  openSink: (models: NoInfer<M>) => Promise<Sink<R>>;
  warn: (line: string) => void;
  onProgress?: (done: number, total: number | undefined) => void;
  /** Called once the models are loaded. */
  onReady?: (models: NoInfer<M>) => void;
}

export interface ScoreVcfResult {
  head: string;
  tracks: number;
  ensemble: number;
  /** Records of this run (shard), ALTs scored and ALTs skipped in this invocation. */
  records: number;
  scored: number;
  skipped: number;
  resumedAt: number;
}

type Pending = PendingRecord;

export async function scoreVcf<R = Stats, M extends VariantModels = VariantScorer>(opts: ScoreVcfOptions<R, M>): Promise<ScoreVcfResult> {
  if (opts.openModels && !opts.scoreChunk) throw new Error('scoreVcf: a model side of its own (openModels) needs its scoreChunk');
  const batch = opts.batchSize ?? 1;
  const total = opts.shard || opts.count ? await opts.vcf.count() : undefined;
  const [first, end] = total === undefined ? [0, Infinity] : shardRange(total, batch, opts.shard);
  // Without openModels, M is VariantScorer (the default type argument).
  const scorer = opts.openModels ? await opts.openModels() : ((await VariantScorer.open(opts)) as unknown as M);
  try {
    opts.onReady?.(scorer);
    const L = scorer.windowLength;
    const sink = await opts.openSink(scorer);
    const result: ScoreVcfResult = { head: scorer.head, tracks: scorer.trackCount, ensemble: scorer.ensemble, records: 0, scored: 0, skipped: 0, resumedAt: sink.recordsDone };
    const runTotal = total === undefined ? undefined : end - first;
    const start = first + sink.recordsDone;
    let done = sink.recordsDone;
    opts.onProgress?.(done, runTotal);

    const skip = (r: VcfRecord, alt: string, why: string) => {
      const line = `${r.where}: ${r.chrom}:${r.pos} ${r.id} ${r.ref}>${alt}: ${why}`;
      if (opts.strict) throw new VariantInputError(`${line} (--strict)`);
      opts.warn(`${line}; skipped`);
      result.skipped++;
    };
    const prepare = async (r: VcfRecord): Promise<Pending | undefined> => {
      const list = alleles(r);
      const bases = list.filter((a) => a.skip === undefined).map((a) => a.alt);
      if ((await opts.genome.getSequenceSize(r.chrom)) === undefined) {
        for (const a of list) skip(r, a.alt, `chromosome '${r.chrom}' is not in the genome ${opts.genome.source}`);
        return undefined;
      }
      const windows = opts.anchor === 'borzoi' ? borzoiVariantWindows : variantWindows;
      const w = await windows(opts.genome, r.chrom, r.pos - 1, r.ref, bases, L);
      if (w.genomeRef !== r.ref) {
        for (const a of list) skip(r, a.alt, `REF ${r.ref} does not match the genome (${w.genomeRef})`);
        return undefined;
      }
      for (const a of list) if (a.skip !== undefined) skip(r, a.alt, a.skip);
      if (bases.length === 0) return undefined;
      return { record: r, prepared: { ref: w.ref, start: w.refStart, alts: bases.map((alt, i) => ({ alt, window: w.alts[i]!, substitution: alt.length === r.ref.length })) } };
    };

    let chunk: Pending[] = [];
    const flush = async (recordsDone: number) => {
      const score = opts.scoreChunk ?? (async (s: M, c: Pending[]) => (await (s as unknown as VariantScorer).score(c.map((p) => p.prepared))) as R[][]);
      const stats = chunk.length ? await score(scorer, chunk) : [];
      for (const [i, p] of chunk.entries()) {
        for (const [j, a] of p.prepared.alts.entries()) {
          const v: ScoreColumns = { chrom: p.record.chrom, pos: p.record.pos, id: p.record.id, ref: p.record.ref, alt: a.alt };
          await sink.writer.write(v, stats[i]![j]!);
          result.scored++;
        }
      }
      chunk = [];
      done = recordsDone;
      sink.commit?.(done);
      opts.onProgress?.(done, runTotal);
    };

    let k = -1;
    for await (const r of opts.vcf.records()) {
      k++;
      if (k < start) continue;
      if (k >= end) break;
      result.records++;
      const p = await prepare(r);
      if (p) chunk.push(p);
      if ((k + 1) % batch === 0) await flush(k + 1 - first);
    }
    if (k + 1 - first > done) await flush(Math.min(k + 1, end) - first);
    await sink.writer.close();
    return result;
  } finally {
    await scorer.close();
  }
}
