/** Gene options and commands: `predict-genes`, and `score-variants --gtf` (variant → gene scores). */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Option, type Command } from 'commander';
import { openGenome } from '../genome/reference.js';
import { GeneIndex, readGtf } from '../genome/gtf.js';
import { GENE_STATS, parseGeneStats, UNTRANSFORM_MODES, type ExonBinRule, type GeneStat, type UntransformMode } from '../tasks/genes/gene-stats.js';
import { predictGenes } from '../tasks/genes/predict-genes.js';
import { VariantGeneScoring } from '../tasks/variants/gene-scores.js';
import type { PendingRecord, Sink } from '../tasks/variants/score-vcf.js';
import type { VariantScorer } from '../tasks/variants/scorer.js';
import { geneTsvHeader, geneTsvWriter, openGeneParquet, openSedH5, type GeneScoreRow, type GeneWriter } from '../formats/gene-score-writers.js';
import { writeGenePredictions } from '../formats/gene-prediction-writers.js';
import { TsvScores } from '../formats/score-tsv.js';
import { ensembleOptions, ensembleOptionSet, GENOME_HELP, genomeArgs, jobFingerprint, modelOptions, resolveModels, type GenomeArgs } from './model-options.js';
import { positiveInteger, repeatable } from './parsers.js';
import { fileIdentity } from '../tasks/job/fingerprint.js';
import { UsageError } from './errors.js';
import { Progress } from './progress.js';
import { DEFAULT_GRADIENT_TRANSFORM, type GradientTransform } from '../tasks/genes/gene-gradients.js';
import { attributeGenes, geneNpzPaths } from '../tasks/genes/gene-job.js';

export interface GeneArgs {
  gtf: string;
  span: boolean;
  untransform: UntransformMode;
  exonBins: ExonBinRule;
}

/** The options every gene command takes. */
export function geneOptions(command: Command, gtfRequired: boolean): Command {
  const gtf = gtfRequired ? command.requiredOption.bind(command) : command.option.bind(command);
  gtf('--gtf <file>', 'genes: GTF (GENCODE/Ensembl, plain or gzip); exon rows, genes by gene_id, unioned over transcripts');
  return command
    .option('--span', 'a gene is its whole span [first exon start, last exon end) instead of its exons')
    .addOption(new Option('--untransform <mode>', 'undo the squashed scale per track from the targets table (scale, clip_soft, sum_stat): legacy (published Borzoi), new, none').choices([...UNTRANSFORM_MODES]).default('legacy'))
    .addOption(new Option('--exon-bins <rule>', 'exon → bin mapping: majority (round-half-even of the bin edges, borzoi_sed.py) or overlap (any bp)').choices(['majority', 'overlap']).default('majority'));
}

export function geneArgs(opts: Record<string, any>): GeneArgs | undefined {
  if (opts.gtf === undefined) {
    for (const o of ['span', 'stats'] as const) if (opts[o] !== undefined) throw new UsageError(`--${o} needs --gtf`);
    return undefined;
  }
  return { gtf: opts.gtf, span: opts.span === true, untransform: opts.untransform, exonBins: opts.exonBins };
}

async function geneIndex(args: GeneArgs): Promise<GeneIndex> {
  return new GeneIndex(await readGtf(args.gtf, { span: args.span }));
}

// ------------------------------------------------------------------------------------ score-variants --gtf

export interface VariantGeneJob {
  expandTracks: VariantGeneScoring['expandTracks'];
  scoreChunk: (scorer: VariantScorer, chunk: PendingRecord[]) => Promise<GeneScoreRow[][][]>;
  openSink: (scorer: VariantScorer) => Promise<Sink<GeneScoreRow[]>>;
  /** For the run's fingerprint. */
  fingerprint: Record<string, unknown>;
  /** Output columns (strand-matched tracks), once the scorer has opened. */
  columnCount: () => number;
  /** After a failure: drop a TSV that never committed a record (see TsvScores.abandon), remove a binary output's partial files. */
  abandon: () => Promise<void>;
}

/** Hooks that turn the variant job into variant → gene scoring, writing `out` (.tsv resumable, .parquet, .h5). */
export async function variantGeneJob(args: GeneArgs, statsText: string | undefined, out: string, fingerprint: () => { hash: string; args: Record<string, unknown> }, onResume: (records: number) => void): Promise<VariantGeneJob> {
  const stats: GeneStat[] = parseGeneStats(statsText ?? 'SED');
  const genes = await geneIndex(args);
  const scoring = new VariantGeneScoring({ genes, untransform: args.untransform, exonBins: args.exonBins, stats });
  const kind = extname(out).toLowerCase();
  let tsv: TsvScores | undefined;
  let binary: GeneWriter | undefined;
  return {
    abandon: async () => {
      tsv?.abandon();
      await binary?.abort?.().catch(() => {});
    },
    columnCount: () => scoring.columns?.columns.length ?? 0,
    expandTracks: scoring.expandTracks,
    scoreChunk: scoring.scoreChunk,
    fingerprint: { '--gtf': fileIdentity(args.gtf), '--span': args.span, '--untransform': args.untransform, '--exon-bins': args.exonBins, '--stats': stats },
    openSink: async () => {
      const tracks = scoring.columns!.columns.map((t) => ({ identifier: t.identifier, description: t.description }));
      if (kind === '.tsv') {
        const fp = fingerprint();
        const w = TsvScores.open(out, tracks, fp.hash, fp.args, geneTsvHeader(stats));
        tsv = w;
        if (w.recordsDone > 0) onResume(w.recordsDone);
        return { writer: geneTsvWriter(w, tracks, stats), recordsDone: w.recordsDone, commit: (n) => w.commit(n) };
      }
      const writer = kind === '.parquet' ? await openGeneParquet(out, tracks, stats) : await openSedH5(out, tracks, stats);
      binary = writer;
      return { writer, recordsDone: 0 };
    },
  };
}

// ------------------------------------------------------------------------------------------ predict-genes

export interface PredictGenesArgs extends GenomeArgs, GeneArgs {
  gene?: string[];
  genesFile?: string;
  out: string;
}

async function geneList(args: Pick<PredictGenesArgs, 'gene' | 'genesFile'>): Promise<string[]> {
  if ((args.gene?.length ?? 0) > 0 === (args.genesFile !== undefined)) throw new UsageError('give --gene ID|NAME (repeatable) or --genes FILE, one of them');
  if (args.gene?.length) return args.gene;
  let text: string;
  try {
    text = await readFile(args.genesFile!, 'utf8');
  } catch (e) {
    throw new UsageError(`${args.genesFile}: cannot read gene list (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const list = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(/\s+/)[0]!);
  if (list.length === 0) throw new UsageError(`${args.genesFile}: no genes listed (one gene_id or gene_name per line)`);
  return list;
}


export async function runPredictGenes(args: PredictGenesArgs): Promise<void> {
  const started = Date.now();
  const kind = extname(args.out).toLowerCase();
  if (kind !== '.tsv' && kind !== '.parquet') throw new UsageError(`--out ${args.out}: unknown output kind (X.tsv or X.parquet)`);
  if (args.region?.length || args.bed) throw new UsageError('predict-genes takes genes (--gene/--genes), not --region/--bed');
  const select = await geneList(args);
  const genes = await geneIndex(args);
  for (const key of select) genes.find(key); // an unknown gene fails before any model is loaded
  const models = await resolveModels(args);
  const genome = await openGenome(args.genome);
  const progress = new Progress('windows');
  try {
    const r = await predictGenes({ ...ensembleOptions(args, models), genome, genes, select, untransform: args.untransform, exonBins: args.exonBins, onProgress: (d, t) => progress.update(d, t) });
    progress.done();
    const rows = r.genes.flatMap((g) =>
      r.columns.map((t, k) => ({ g: g.gene, start: g.gene.exons[0]![0], end: g.gene.exons[g.gene.exons.length - 1]![1], bins: g.bins, track: t.identifier, value: g.values[k]! })),
    );
    await writeGenePredictions(
      args.out,
      rows.map((x) => ({ geneId: x.g.id, geneName: x.g.name, chrom: x.g.chrom, start: x.start, end: x.end, strand: x.g.strand, bins: x.bins, track: x.track, value: x.value })),
      kind,
    );
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const ens = r.ensemble > 1 ? `, mean of ${r.ensemble} runs per window` : '';
    process.stderr.write(
      `seq2track: predicted ${r.genes.length} gene${r.genes.length === 1 ? '' : 's'} × ${r.columns.length} strand-matched track${r.columns.length === 1 ? '' : 's'} of ${r.head} (${args.untransform} untransform${ens}) in ${seconds} s -> ${args.out}\n`,
    );
  } finally {
    progress.done();
  }
}

export { GENE_STATS };

// ------------------------------------------------------------------------------------------ attribute-gene

export interface AttributeGeneArgs extends GenomeArgs {
  gtf: string;
  span: boolean;
  gene?: string[];
  genesFile?: string;
  out: string;
  transform: GradientTransform;
  pseudo: number;
  exonBins: ExonBinRule;
}

function positiveNumber(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number (got ${JSON.stringify(v)})`);
  return n;
}

/** Parsed options of attribute-gene. */
export function attributeGeneArgs(opts: Record<string, any>): Pick<AttributeGeneArgs, 'transform' | 'pseudo' | 'exonBins'> {
  const pseudo = opts.pseudo === undefined ? 0 : Number(opts.pseudo);
  if (!Number.isFinite(pseudo) || pseudo < 0) throw new UsageError(`--pseudo must be a non-negative number (got ${JSON.stringify(opts.pseudo)})`);
  return {
    transform: {
      mode: opts.untransform,
      scale: positiveNumber('--track-scale', opts.trackScale, DEFAULT_GRADIENT_TRANSFORM.scale),
      exponent: positiveNumber('--track-transform', opts.trackTransform, DEFAULT_GRADIENT_TRANSFORM.exponent),
      clipSoft: opts.clipSoft === undefined ? undefined : positiveNumber('--clip-soft', opts.clipSoft, 0),
    },
    pseudo,
    exonBins: opts.exonBins,
  };
}

export async function runAttributeGene(args: AttributeGeneArgs): Promise<void> {
  const started = Date.now();
  if (!/\.(h5|hdf5)$/i.test(args.out)) throw new UsageError(`--out ${args.out}: gene gradients are written as X.h5`);
  if (args.region?.length || args.bed) throw new UsageError('attribute-gene takes genes (--gene/--genes), not --region/--bed');
  const select = await geneList(args);
  const genes = await geneIndex({ gtf: args.gtf, span: args.span, untransform: 'none', exonBins: args.exonBins });
  for (const key of select) genes.find(key);
  const models = await resolveModels(args);
  const genome = await openGenome(args.genome);
  const npz = geneNpzPaths(args.out);
  const fp = await jobFingerprint({ ...args, region: undefined, bed: undefined }, models, {
    '--out': 'attribute-gene',
    '--gtf': fileIdentity(args.gtf),
    '--span': args.span,
    '--gene': select,
    '--untransform': args.transform,
    '--pseudo': args.pseudo,
    '--exon-bins': args.exonBins,
  });
  const progress = new Progress('runs');
  try {
    const r = await attributeGenes({
      ...ensembleOptions(args, models),
      genome,
      genes,
      select,
      transform: args.transform,
      pseudo: args.pseudo,
      exonBins: args.exonBins,
      out: args.out,
      npz,
      fingerprint: fp,
      onResume: (done, total) => process.stderr.write(`seq2track: resuming an interrupted run of this command: ${done} of ${total} model runs already done\n`),
      onProgress: (d, t) => progress.update(d, t),
    });
    progress.done();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const resumed = r.resumedAt > 0 ? ` (resumed: ${r.ran} model runs this time)` : '';
    process.stderr.write(
      `seq2track: gene gradients for ${r.genes} gene${r.genes === 1 ? '' : 's'} (${r.length} bp windows, ensemble of ${r.ensemble})${resumed} in ${seconds} s -> ${args.out}, ${npz.onehot}, ${npz.hypothetical}\n`,
    );
  } finally {
    progress.done();
  }
}

/** The genome and the genes a gene command runs on. */
function geneSelection(command: Command): Command {
  return command
    .requiredOption('--genome <file|url>', GENOME_HELP)
    .option('--gene <id|name>', 'gene_id (with or without version) or gene_name; repeatable', repeatable)
    .option('--genes <file>', 'file of gene_ids / gene_names, one per line');
}

/** Registers predict-genes and attribute-gene. */
export function registerGeneCommands(program: Command): void {
  geneOptions(
    modelOptions(
      geneSelection(
        ensembleOptionSet(program.command('predict-genes').description("predict each gene's summed untransformed coverage over its exon bins, per strand-matched track"), {
          model: 'model directory or published name; repeat or comma-separate to average replicates',
          tracks: 'tracks: indices, a-b ranges, identifiers, or description regexes (default: all); "−" tracks give no column',
          head: 'head (default: the first, e.g. human)',
          rc: 'average with the reverse-complement prediction (flipped back, stranded tracks swapped)',
          shifts: 'average over these shifts in bp, e.g. 0,1,-1',
        }),
      )
        .requiredOption('--out <file>', 'X.tsv or X.parquet: one row per gene × strand-matched track')
        .option('--batch-size <n>', 'windows per model run', positiveInteger, 1),
      { fullOutput: true },
    ),
    true,
  )
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .action(async (opts) => {
      await runPredictGenes({ ...genomeArgs(opts), ...geneArgs(opts)!, gene: opts.gene, genesFile: opts.genes, out: opts.out });
    });

  modelOptions(
    geneSelection(
      ensembleOptionSet(program.command('attribute-gene').description('gene-focused input gradients (borzoi_satg_gene.py): d log(summed untransformed exon coverage) / d one-hot, mean-centred; a resumable job'), {
        model: 'model directory or published name; repeat or comma-separate to average replicates',
        tracks: 'tracks averaged in the objective (strand-matched to the gene; default: all)',
        head: 'head (default: the first, e.g. human)',
        rc: 'average with the reverse-complement run (its gradient flipped back)',
        shifts: 'average over these shifts in bp, e.g. 0,1,-1',
      }),
    )
      .requiredOption('--gtf <file>', 'genes: GTF (GENCODE/Ensembl, plain or gzip)')
      .requiredOption('--out <file>', 'X.h5: grads (G, L, 4), seqs, gene, chr, strand, start, end; beside it X.onehot.npz and X.hypothetical.npz (tfmodisco-lite\'s inputs); resumable (X.h5.partial/)')
      .option('--batch-size <n>', 'gene runs per model run (default 1)', positiveInteger)
      .option('--span', 'a gene is its whole span instead of its exons')
      .addOption(new Option('--untransform <mode>', 'U(x) with one setting for all tracks: legacy (unclip(x/s)^(1/τ)) or new').choices(['legacy', 'new']).default('legacy'))
      .option('--track-scale <s>', 's of U (default 0.02)')
      .option('--track-transform <τ>', 'τ of U (default 0.75)')
      .option('--clip-soft <c>', 'soft clip of U (default: none)')
      .option('--pseudo <p>', 'pseudocount added inside the log (default 0; 1e-6 is always added)')
      .addOption(new Option('--exon-bins <rule>', 'exon → bin mapping').choices(['overlap', 'majority']).default('overlap')),
    { fullOutput: true },
  )
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .action(async (opts) => {
      await runAttributeGene({ ...genomeArgs(opts), ...attributeGeneArgs(opts), gtf: opts.gtf, span: opts.span === true, gene: opts.gene, genesFile: opts.genes, out: opts.out });
    });
}
