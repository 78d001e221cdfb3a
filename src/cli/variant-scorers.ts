/**
 * `score-variants --scorer SPEC …`: AlphaGenome's variant scorers on the variant job. Variant
 * scorers (CenterMask) write the SAD layout with one column per scorer; gene scorers (GeneMaskLFC,
 * GeneMaskActive, GeneMaskSplicing; genes from --gtf) write the gene-score layout with one column
 * per scorer. The whole-model scorers run the job on AlphaGenome's whole model instead of the
 * per-position runner: ContactMap writes the SAD layout on the contact-map tracks, SpliceJunction
 * (genes from --gtf) the junction layout (formats/junction-score-writers.ts).
 */
import { extname } from 'node:path';
import type { Command } from 'commander';
import { GeneIndex, readGtf } from '../genome/gtf.js';
import { geneTsvHeader, geneTsvWriter, openGeneParquet, openSedH5 } from '../formats/gene-score-writers.js';
import { openH5Scores, openParquetScores, type ScoreTrack } from '../formats/score-writers.js';
import { TsvScores, variantTsvHeader } from '../formats/score-tsv.js';
import { fileIdentity } from '../tasks/job/fingerprint.js';
import { scoreVcf, type RowWriter, type ScoreVcfOptions, type ScoreVcfResult, type Sink } from '../tasks/variants/score-vcf.js';
import type { VariantScorer } from '../tasks/variants/scorer.js';
import { parseScorers } from '../tasks/variants/scorers/spec.js';
import { scoreGeneChunk, scoreTrackChunk, scorerRows, type GeneScores, type ScorerRows, type TrackScores } from '../tasks/variants/scorers/scorer-set.js';
import { scoreContactMapChunk, scoreJunctionChunk } from '../tasks/variants/scorers/whole-model-set.js';
import { AlphaGenomeVariantModel } from '../tasks/variants/alphagenome-variants.js';
import { junctionTsvHeader, junctionTsvWriter, openJunctionParquet, type JunctionScoreRow } from '../formats/junction-score-writers.js';
import { UsageError } from './errors.js';

/** Gene options of `score-variants --gtf` that belong to borzoi_sed gene scores, not to --scorer. */
const SED_ONLY = ['stats', 'span', 'untransform', 'exonBins'] as const;

/** Refuses the borzoi_sed gene options (given on the command line) alongside --scorer. */
export function checkScorerOptions(opts: Record<string, unknown>, command: Pick<Command, 'getOptionValueSource'>): void {
  for (const o of SED_ONLY) {
    const given = opts[o] !== undefined && command.getOptionValueSource(o) !== 'default';
    if (given) throw new UsageError(`--${o.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for borzoi_sed gene scores (--gtf without --scorer); the scorers read the model's outputs as they are`);
  }
  if (opts.anchor === 'borzoi') throw new UsageError('--scorer builds windows as AlphaGenome does (--anchor center): ALT replaces REF with the reference to its left unchanged');
}

export interface ScorerJob {
  /** The variant job with the scorers' scoreChunk and sink. */
  run: (opts: Omit<ScoreVcfOptions, 'scoreChunk' | 'openSink' | 'openModels' | 'onReady'>) => Promise<ScoreVcfResult>;
  fingerprint: Record<string, unknown>;
  /** Output columns' names, for the summary line. */
  columns: string[];
  rows: ScorerRows['rows'];
  abandon: () => Promise<void>;
}

/** Hooks that make the variant job apply `specs`, writing `out` (.tsv resumable, .parquet, .h5). */
export async function variantScorerJob(
  specs: string[],
  gtf: string | undefined,
  out: string,
  fingerprint: () => { hash: string; args: Record<string, unknown> },
  onResume: (records: number) => void,
): Promise<ScorerJob> {
  const scorers = parseScorers(specs);
  const genes = gtf === undefined ? undefined : new GeneIndex(await readGtf(gtf, { transcripts: true }));
  const set = scorerRows(scorers, genes);
  const columns = set.scorers.map((s) => s.column);
  const kind = extname(out).toLowerCase();
  if (set.rows === 'junction' && kind !== '.tsv' && kind !== '.parquet') throw new UsageError(`--out ${out}: ${set.scorers[0].name} writes junction rows as X.tsv or X.parquet (no HDF5 layout)`);
  let tsv: TsvScores | undefined;
  let binary: { abort?: () => Promise<void> } | undefined;
  const common = {
    columns,
    rows: set.rows,
    fingerprint: { '--scorer': set.scorers.map((s) => s.name), '--gtf': gtf === undefined ? undefined : fileIdentity(gtf) },
    abandon: async () => {
      tsv?.abandon();
      await binary?.abort?.().catch(() => {});
    },
  };
  // Opens the TSV (resumable) or a binary writer, with the row layout's header.
  const open = async <R>(tracks: ScoreTrack[], header: string, asTsv: (w: TsvScores) => RowWriter<R>, openBinary: () => Promise<RowWriter<R> & { abort?: () => Promise<void> }>): Promise<Sink<R>> => {
    if (kind === '.tsv') {
      const fp = fingerprint();
      const w = TsvScores.open(out, tracks, fp.hash, fp.args, header, columns);
      tsv = w;
      if (w.recordsDone > 0) onResume(w.recordsDone);
      return { writer: asTsv(w), recordsDone: w.recordsDone, commit: (n) => w.commit(n) };
    }
    const writer = await openBinary();
    binary = writer;
    return { writer, recordsDone: 0 };
  };
  // Each scorer checks the model's tracks before any output is opened.
  const trackList = (model: VariantScorer) => {
    for (const s of set.scorers) if ('checkTracks' in s) s.checkTracks?.(model.tracks);
    return model.tracks.map((t) => ({ identifier: t.identifier, description: t.description }));
  };

  // The whole-model scorers: the job's model side is AlphaGenome's whole model.
  if (set.rows === 'contact-map') {
    const [scorer] = set.scorers;
    return {
      ...common,
      run: (opts) =>
        scoreVcf<TrackScores, AlphaGenomeVariantModel>({
          ...opts,
          openModels: () => AlphaGenomeVariantModel.open(opts, scorer),
          scoreChunk: (side, chunk) => scoreContactMapChunk(scorer, side, chunk),
          openSink: (side) =>
            open<TrackScores>(side.tracks, variantTsvHeader(columns), (w) => w, () =>
              kind === '.parquet' ? openParquetScores(out, side.tracks, { stats: columns }) : openH5Scores(out, side.tracks, { stats: columns }),
            ),
        }),
    };
  }
  if (set.rows === 'junction') {
    const [scorer] = set.scorers;
    return {
      ...common,
      run: (opts) =>
        scoreVcf<JunctionScoreRow[], AlphaGenomeVariantModel>({
          ...opts,
          openModels: () => AlphaGenomeVariantModel.open(opts, scorer),
          scoreChunk: (side, chunk) => scoreJunctionChunk(scorer, set.genes, side, chunk),
          openSink: (side) => open<JunctionScoreRow[]>(side.tracks, junctionTsvHeader(scorer.column), (w) => junctionTsvWriter(w, side.tracks), () => openJunctionParquet(out, side.tracks, scorer.column)),
        }),
    };
  }

  if (set.rows === 'variant') {
    return {
      ...common,
      run: (opts) =>
        scoreVcf<TrackScores>({
          ...opts,
          scoreChunk: (model, chunk) => scoreTrackChunk(set.scorers, model, chunk),
          openSink: (model) => {
            const tracks = trackList(model);
            return open<TrackScores>(tracks, variantTsvHeader(columns), (w) => w, () =>
              kind === '.parquet' ? openParquetScores(out, tracks, { stats: columns }) : openH5Scores(out, tracks, { stats: columns }),
            );
          },
        }),
    };
  }
  return {
    ...common,
    run: (opts) =>
      scoreVcf<GeneScores[]>({
        ...opts,
        scoreChunk: (model, chunk) => scoreGeneChunk(set.scorers, set.genes, model, chunk),
        openSink: (model) => {
          const tracks = trackList(model);
          return open<GeneScores[]>(tracks, geneTsvHeader(columns), (w) => geneTsvWriter(w, tracks, columns), () =>
            kind === '.parquet' ? openGeneParquet(out, tracks, columns) : openSedH5(out, tracks, columns),
          );
        },
      }),
  };
}
