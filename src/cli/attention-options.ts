/** The `predict` options for pre-softplus outputs and attention maps, and their resolution against a model. */
import { extname, join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { architectureFromConfig, readConfig } from '../models/load.js';
import { parseIndexList } from '../models/attention-maps.js';
import type { HeadOutput } from '../models/model.js';
import { DEFAULT_ATTENTION_MAX_BYTES, type AttentionRequest } from '../tasks/predict/attention-file.js';
import { UsageError } from './errors.js';

/** Bytes with an optional K/M/G (binary) suffix, e.g. 2G. */
function byteCount(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?)?\s*$/i.exec(value);
  if (!m) throw new InvalidArgumentError('must be a number of bytes, e.g. 1000000000 or 2G');
  const unit = (m[2] ?? '').toLowerCase()[0];
  const scale = unit === 'k' ? 2 ** 10 : unit === 'm' ? 2 ** 20 : unit === 'g' ? 2 ** 30 : 1;
  return Math.floor(Number(m[1]) * scale);
}

export function attentionOptions(command: Command): Command {
  return command
    .addOption(new Option('--output <kind>', "heads' values: softplus (coverage) or logits (pre-softplus, straight from the graph)").choices(['softplus', 'logits']).default('softplus'))
    .option('--attention <file>', 'also write attention weights to FILE.safetensors (tensor "attention" [records, layers, heads, rows, positions])')
    .option('--attention-layers <list>', 'transformer layers of --attention, 0-based indices and a-b ranges (default: all)')
    .option('--attention-heads <list>', 'heads of --attention written separately, e.g. 0-3 (default: their mean, as one)')
    .option('--attention-rows <list>', 'query positions of the transformer, 0-based, e.g. 760-775 (default: those of the central output bins)')
    .option('--attention-max-bytes <n>', `refuse larger attention maps (default ${DEFAULT_ATTENTION_MAX_BYTES / 2 ** 20}M; suffixes K, M, G)`, byteCount)
    .option('--plot <file>', '--genome with --attention: heat map of the attention from the query rows over the window, X.png or X.svg')
    .option('--plot-gtf <file>', '--plot: draw the genes and exons of this GTF (plain or .gz) under the heat map')
    .option('--plot-bigwig <file>', '--plot: draw this bigWig track under the heat map');
}

export interface AttentionArgs {
  output: HeadOutput;
  attention?: string;
  layers?: string;
  heads?: string;
  rows?: string;
  maxBytes?: number;
  plot?: string;
  plotGtf?: string;
  plotBigwig?: string;
}

export function attentionArgs(opts: Record<string, any>): AttentionArgs {
  return {
    output: opts.output ?? 'softplus',
    attention: opts.attention,
    layers: opts.attentionLayers,
    heads: opts.attentionHeads,
    rows: opts.attentionRows,
    maxBytes: opts.attentionMaxBytes,
    plot: opts.plot,
    plotGtf: opts.plotGtf,
    plotBigwig: opts.plotBigwig,
  };
}

/** Usage checks that need no model: the --attention-* options need --attention, the plot options need --plot. */
export function checkAttentionUsage(a: AttentionArgs, genome: boolean): void {
  if (a.attention === undefined) {
    for (const [flag, v] of [['--attention-layers', a.layers], ['--attention-heads', a.heads], ['--attention-rows', a.rows], ['--attention-max-bytes', a.maxBytes], ['--plot', a.plot]] as const) {
      if (v !== undefined) throw new UsageError(`${flag} needs --attention FILE.safetensors`);
    }
  } else if (extname(a.attention).toLowerCase() !== '.safetensors') {
    throw new UsageError(`--attention ${a.attention}: the file name must end in .safetensors`);
  }
  if (a.plot !== undefined && !genome) throw new UsageError('--plot needs --genome (the heat map is drawn in genome coordinates)');
  if (a.plot !== undefined && !/\.(png|svg)$/i.test(a.plot)) throw new UsageError(`--plot ${a.plot}: the file name must end in .png or .svg`);
  for (const [flag, v] of [['--plot-gtf', a.plotGtf], ['--plot-bigwig', a.plotBigwig]] as const) {
    if (v !== undefined && a.plot === undefined) throw new UsageError(`${flag} needs --plot`);
  }
}

/** The attention request for a model directory (its config gives the layer count); undefined without --attention. */
export async function attentionRequest(a: AttentionArgs, modelDir: string): Promise<AttentionRequest | undefined> {
  if (a.attention === undefined) return undefined;
  const configPath = join(modelDir, 'config.json');
  const { layers } = architectureFromConfig(await readConfig(configPath), configPath).transformer;
  return {
    spec: {
      layers: a.layers === undefined ? Array.from({ length: layers }, (_, i) => i) : parseIndexList(a.layers, '--attention-layers'),
      heads: a.heads === undefined ? 'mean' : parseIndexList(a.heads, '--attention-heads'),
    },
    rows: a.rows === undefined ? undefined : parseIndexList(a.rows, '--attention-rows'),
    maxBytes: a.maxBytes,
  };
}
