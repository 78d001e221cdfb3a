/** The `attribute` and `ism` commands' options. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { runAttribute, runIsm, type AttributionArgs } from './attribution.js';
import { ensembleArgs, ensembleOptionSet, modelOptions } from './model-options.js';
import { integer, positiveInteger } from './parsers.js';

function pseudocount(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number >= 0');
  return n;
}

function common(c: Command): Command {
  return modelOptions(
    ensembleOptionSet(c, {
      model: 'model directory or published name; repeat or comma-separate to average replicates (loaded one at a time)',
      tracks: 'tracks of the objective, averaged: indices (0-based, a-b ranges), identifiers, or description regexes (default: all)',
      head: 'head of the objective (default: the first, e.g. human)',
      rc: 'average with the reverse-complement run (mapped back to forward positions and bases, stranded tracks swapped)',
      shifts: 'average over these shifts in bp, e.g. 0,1,-1 (N-padded)',
    })
      .option('--fasta <file>', 'input FASTA (plain or gzip); every record is one sequence, all of one length')
      .option('--genome <file|url>', 'reference genome (FASTA + .fai, bgzip FASTA, .2bit; path or URL; hg38 / mm10): score one model window centred on --region')
      .option('--region <chr:start-end>', '--genome: the bases to score (1-based inclusive); the model window is centred on it')
      .option('--target-region <chr:start-end>', '--genome: the objective reads the output bins overlapping this region (default: the central bin(s))')
      .option('--bins <a-b>', 'output bins of the objective, 0-based inclusive (default: the central bin of an odd count, the central two of an even count)')
      .addOption(new Option('--aggregate <how>', 'how the bins of a track combine').choices(['mean', 'sum']).default('mean'))
      .option('--log-pseudocount <x>', 'objective per track log(aggregate + x) before averaging the tracks', pseudocount)
      .requiredOption('--out <path>', '--fasta: X.safetensors; --genome: a directory (per-base bigWigs + safetensors)')
      .option('--plot <file>', '--genome: draw the scores (X.svg or X.png)')
      .option('--plot-window <chr:start-end>', '--genome: the positions to draw (1-based inclusive)'),
    { fullOutput: true },
  );
}

function args(opts: Record<string, any>): AttributionArgs {
  return {
    ...ensembleArgs(opts),
    fasta: opts.fasta,
    genome: opts.genome,
    region: opts.region,
    targetRegion: opts.targetRegion,
    plot: opts.plot,
    plotWindow: opts.plotWindow,
    bins: opts.bins,
    aggregate: opts.aggregate,
    logPseudocount: opts.logPseudocount,
    out: opts.out,
  };
}

export function registerAttributionCommands(program: Command): void {
  common(program.command('attribute').description('contribution scores: the gradient of an objective (head, tracks, bins) w.r.t. the input (grad × input, centred grad × input), integrated gradients, or shuffle ISM'))
    .addOption(new Option('--method <method>', 'gradient (d objective / d one-hot), integrated-gradients, or shuffle-ism (windows of bases shuffled)').choices(['gradient', 'integrated-gradients', 'shuffle-ism']).default('gradient'))
    .option('--bed <file>', '--genome: one window centred on every BED region (gradient or integrated gradients), resumable; --out is a directory (safetensors + the NumPy files tfmodisco-lite reads)')
    .option('--batch-size <n>', 'gradient: sequences per model run (default 1); integrated gradients: interpolation points per gradient run (default 4); shuffle-ism: shuffled sequences per model run (default 4)', positiveInteger)
    .option('--steps <m>', 'integrated gradients: Riemann steps (default 32)', positiveInteger)
    .addOption(new Option('--baseline <kind>', 'integrated gradients: all-zero rows (N) or a seeded dinucleotide shuffle of the input').choices(['zero', 'shuffle']))
    .option('--seed <n>', 'integrated gradients --baseline shuffle, shuffle-ism: the shuffles\' seed (default 0)', integer(0, 'a non-negative integer'))
    .option('--window <a-b>', 'shuffle-ism --fasta: positions to score, 0-based inclusive')
    .option('--shuffle-window <bp>', 'shuffle-ism: bp per shuffled window, stride = window (default 5)', positiveInteger)
    .option('--samples <n>', 'shuffle-ism: shuffles per window (default 8)', positiveInteger)
    .addOption(new Option('--shuffle <kind>', 'shuffle-ism: dinucleotide (Altschul–Erikson, default) or mononucleotide shuffles').choices(['dinuc', 'mono']))
    .addOption(
      new Option('--activations <how>', "saved: the backward reads the forward's conv/matrix outputs instead of recomputing them (faster, more memory); recompute: each tile's forward again inside its backward")
        .choices(['saved', 'recompute'])
        .default('saved'),
    )
    .option('--stash-memory <MB>', 'saved activations held in memory (MB, default 1536); the rest goes to a temporary file', integer(0, 'a non-negative integer'))
    .action(async (opts) =>
      runAttribute({
        ...args(opts),
        activations: opts.activations,
        stashMemoryMb: opts.stashMemory,
        method: opts.method,
        bed: opts.bed,
        steps: opts.steps,
        baseline: opts.baseline,
        seed: opts.seed,
        window: opts.window,
        shuffleWindow: opts.shuffleWindow,
        samples: opts.samples,
        shuffle: opts.shuffle,
      }),
    );
  common(program.command('ism').description('in-silico mutagenesis: objective(mutant) - objective(reference) for every substitution in a window (exact, incremental)'))
    .option('--window <a-b>', '--fasta: positions to mutate, 0-based inclusive')
    .option('--batch-size <n>', 'mutant sequences per model run', positiveInteger, 4)
    .option('--brute-force', 'a full forward pass per mutant instead of reusing the reference trunk (for checks and benchmarks)')
    .action(async (opts) => runIsm({ ...args(opts), window: opts.window, bruteForce: opts.bruteForce === true }));
}
