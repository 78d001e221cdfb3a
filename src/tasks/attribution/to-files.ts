/**
 * `attribute` and `ism` as jobs that write files, for the CLI and for code alike: the sequences (the
 * records of a FASTA file, or one model window of a genome centred on a region), the objective's bins
 * (`bins`, a target region's output bins, or the central ones), the scores through the run core, and
 * the files (outputs.ts): the FASTA form writes one safetensors file; the genome form a directory of
 * per-base bigWigs over the region plus the tensors, and optionally a plot (a logo of grad × input, or
 * an ISM heat map) of a sub-window. Every input is checked before the first model run.
 */
import { join } from 'node:path';
import { architectureOf } from '../../models/load.js';
import { readFastaRecords } from '../../genome/fasta.js';
import type { Reference } from '../../genome/reference.js';
import type { Region } from '../../genome/regions.js';
import { logoSpec } from '../../plots/logo.js';
import { ismHeatmapSpec } from '../../plots/ism-heatmap.js';
import { plotFormat } from '../../plots/render.js';
import { attributeRecords, integratedGradientsRecords } from './attribute.js';
import { checkIgSettings, type IgSettings } from './integrated-gradients.js';
import { shuffleIsmRecords, type ShuffleIsmSettings } from './shuffle-ism.js';
import { ismRecords, type SequenceRecord } from './ism.js';
import { centralBins } from './objective.js';
import { binSpan, genomeWindow, plotWindow, targetBins, type GenomeWindow } from './genome-window.js';
import { checkDirectoryOut, checkSafetensorsOut, ensureDir, ismSummaries, jobMetadata, perBaseBigWig, plotFile, safetensorsFile, writeAll, type PendingFile } from './outputs.js';
import type { AttributionOptions } from './runs.js';

/** What the scores are computed on. */
export type AttributionInput =
  | { kind: 'fasta'; fasta: string }
  | {
      kind: 'genome';
      genome: Reference;
      /** The bases to score; the model window is centred on it. */
      region: Region;
      /** The objective reads the output bins overlapping it (default: `bins`, else the central bin(s)). */
      targetRegion?: Region;
    };

export interface AttributionFilesOptions extends AttributionOptions {
  input: AttributionInput;
  /** FASTA form: X.safetensors; genome form: a directory. */
  out: string;
  /** Genome form: draw the scores (X.svg or X.png)… */
  plot?: string;
  /** …over these positions (default: around the objective's bins, or the region). */
  plotWindow?: Region;
  onProgress?: (done: number, total: number) => void;
}

export interface AttributionFiles {
  files: string[];
  records: number;
  /** Positions scored per record (attribute: the sequence length; ism: the window). */
  positions: number;
  ensemble: number;
}

/**
 * Positions a plot draws at most, by default and with --plot-window (a logo of more is unreadable,
 * a heat map's cells shrink to nothing); a default logo adds `margin` bases either side of the bins.
 */
const LOGO = { margin: 16, byDefault: 200, max: 2000 };
const HEATMAP = { byDefault: 500, max: 2000 };

/** The sequences and the objective's bins of a job (the FASTA records, or the genome window). */
type Prepared =
  | { kind: 'fasta'; records: SequenceRecord[]; source: string; bins?: [number, number] }
  | { kind: 'genome'; records: SequenceRecord[]; source: string; window: GenomeWindow; bins: [number, number] };

async function prepare(o: AttributionFilesOptions): Promise<Prepared> {
  if (o.input.kind === 'fasta') {
    checkSafetensorsOut(o.out);
    return { kind: 'fasta', records: await readFastaRecords(o.input.fasta), source: o.input.fasta, bins: o.bins };
  }
  await checkDirectoryOut(o.out);
  if (o.plot !== undefined) plotFormat(o.plot);
  const { genome, region, targetRegion } = o.input;
  const window = await genomeWindow(genome, region, await architectureOf(o.models[0]!, o.load), o.windowLength);
  const bins = targetRegion !== undefined ? targetBins(window, targetRegion) : (o.bins ?? centralBins(window.bins));
  const source = `${genome.source} ${window.chrom}:${window.start + 1}-${window.start + window.length}`;
  return { kind: 'genome', records: [{ name: source, sequence: window.sequence }], source, window, bins };
}

/** The bases a per-base logo shows (genome windows with `--plot` only): the objective's bins and a margin, or `--plot-window`. */
function logoWindow(p: Awaited<ReturnType<typeof prepare>>, o: AttributionFilesOptions): [number, number] | undefined {
  if (p.kind !== 'genome' || o.plot === undefined) return undefined;
  const [a, b] = binSpan(p.window, p.bins);
  return plotWindow(p.window, o.plotWindow, [a - LOGO.margin, b + LOGO.margin], [0, p.window.length - 1], o.plotWindow ? LOGO.max : LOGO.byDefault);
}

/** Contribution scores (gradient, grad × input, centred grad × input) written as files. */
export async function attributeToFiles(o: AttributionFilesOptions & { batchSize?: number }): Promise<AttributionFiles> {
  const p = await prepare(o);
  const logo = logoWindow(p, o);
  const r = await attributeRecords(p.records, p.source, { ...o, bins: p.bins });
  const L = r.length;
  const R = p.records.length;
  const tensors = [
    { name: 'objective', dtype: 'F32' as const, shape: [R], data: r.objective },
    { name: 'grad', dtype: 'F32' as const, shape: [R, L, 4], data: r.grad },
    { name: 'grad_x_input', dtype: 'F32' as const, shape: [R, L], data: r.gradXInput },
    { name: 'grad_centered_x_input', dtype: 'F32' as const, shape: [R, L], data: r.gradCenteredXInput },
  ];
  const meta = { ...jobMetadata(r.job, 'seq2track attribute'), records: JSON.stringify(p.records.map((x) => x.name)) };
  let files: PendingFile[];
  if (p.kind === 'fasta') files = [safetensorsFile(o.out, tensors, meta)];
  else {
    const w = p.window;
    const [a, b] = w.positions;
    files = [
      perBaseBigWig(join(o.out, 'grad_x_input.bw'), w, a, r.gradXInput.subarray(a, b + 1)),
      perBaseBigWig(join(o.out, 'grad_centered_x_input.bw'), w, a, r.gradCenteredXInput.subarray(a, b + 1)),
      safetensorsFile(join(o.out, 'attribute.safetensors'), tensors, { ...meta, chrom: w.chrom, window_start: String(w.start) }),
    ];
    if (logo && o.plot !== undefined) {
      const [s, e] = logo;
      const positions = Array.from({ length: e - s + 1 }, (_, i) => w.start + s + i + 1);
      const bases = Array.from(w.sequence.slice(s, e + 1));
      const track = r.job.objective.tracks.map((t) => t.identifier).join(', ');
      const spec = logoSpec({ positions, bases, values: r.gradXInput.subarray(s, e + 1), title: `grad × input, ${track} (${r.job.objective.head} head), bins ${p.bins[0]}-${p.bins[1]}`, xTitle: `${w.chrom} (1-based)` });
      files.push(plotFile(o.plot, spec));
    }
    await ensureDir(o.out);
  }
  return { files: await writeAll(files), records: R, positions: L, ensemble: r.job.ensemble };
}

/** In-silico mutagenesis written as files; `window` (positions, 0-based inclusive) is the FASTA form's, the genome form mutates the region. */
export async function ismToFiles(o: AttributionFilesOptions & { window?: [number, number]; batchSize?: number; bruteForce?: boolean }): Promise<AttributionFiles> {
  const p = await prepare(o);
  const positions = p.kind === 'genome' ? p.window.positions : o.window!;
  let heat: [number, number] | undefined;
  if (p.kind === 'genome' && o.plot !== undefined) heat = plotWindow(p.window, o.plotWindow, positions, positions, o.plotWindow ? HEATMAP.max : HEATMAP.byDefault);
  const r = await ismRecords(p.records, p.source, { ...o, bins: p.bins, window: positions });
  const R = p.records.length;
  const W = r.width;
  const tensors = [
    { name: 'ism', dtype: 'F32' as const, shape: [R, W, 4], data: r.ism },
    { name: 'ism_ref_base', dtype: 'I64' as const, shape: [R, W], data: BigInt64Array.from(r.refBase, (v) => BigInt(v)) },
  ];
  const meta = {
    ...jobMetadata(r.job, 'seq2track ism'),
    records: JSON.stringify(p.records.map((x) => x.name)),
    window: JSON.stringify(positions),
    objective: JSON.stringify(Array.from(r.objective)),
  };
  let files: PendingFile[];
  if (p.kind === 'fasta') files = [safetensorsFile(o.out, tensors, meta)];
  else {
    const w = p.window;
    const { mean, maxEffect } = ismSummaries(r.ism, r.refBase, W);
    files = [
      perBaseBigWig(join(o.out, 'ism_mean.bw'), w, positions[0], mean),
      perBaseBigWig(join(o.out, 'ism_max_effect.bw'), w, positions[0], maxEffect),
      safetensorsFile(join(o.out, 'ism.safetensors'), tensors, { ...meta, chrom: w.chrom, window_start: String(w.start) }),
    ];
    if (heat && o.plot !== undefined) {
      const [s, e] = heat;
      const i0 = s - positions[0];
      const n = e - s + 1;
      const spec = ismHeatmapSpec({
        positions: Array.from({ length: n }, (_, i) => w.start + s + i + 1),
        refBase: r.refBase.subarray(i0, i0 + n),
        ism: r.ism.subarray(i0 * 4, (i0 + n) * 4),
        title: `ISM, ${r.job.objective.tracks.map((t) => t.identifier).join(', ')} (${r.job.objective.head} head), bins ${p.bins[0]}-${p.bins[1]}`,
        xTitle: `${w.chrom} (1-based)`,
      });
      files.push(plotFile(o.plot, spec));
    }
    await ensureDir(o.out);
  }
  return { files: await writeAll(files), records: R, positions: W, ensemble: r.job.ensemble };
}

/** Integrated gradients written as files: `integrated_gradients` [R, L, 4], its sum over bases [R, L], f(x), f(x₀) and the completeness gap per record. */
export async function integratedGradientsToFiles(o: AttributionFilesOptions & IgSettings & { batchSize?: number }): Promise<AttributionFiles & { gaps: Float64Array; settings: Required<IgSettings> }> {
  const p = await prepare(o);
  checkIgSettings(o);
  const logo = logoWindow(p, o);
  const r = await integratedGradientsRecords(p.records, p.source, { ...o, bins: p.bins });
  const L = r.length;
  const R = p.records.length;
  const tensors = [
    { name: 'objective', dtype: 'F32' as const, shape: [R], data: r.objective },
    { name: 'baseline_objective', dtype: 'F32' as const, shape: [R], data: r.baseline },
    { name: 'completeness_gap', dtype: 'F32' as const, shape: [R], data: Float32Array.from(r.gap) },
    { name: 'integrated_gradients', dtype: 'F32' as const, shape: [R, L, 4], data: r.values },
    { name: 'integrated_gradients_sum', dtype: 'F32' as const, shape: [R, L], data: r.perPosition },
  ];
  const s = r.settings;
  const meta = {
    ...jobMetadata(r.job, 'seq2track attribute --method integrated-gradients'),
    records: JSON.stringify(p.records.map((x) => x.name)),
    steps: String(s.steps),
    baseline: s.baseline,
    ...(s.baseline === 'shuffle' ? { seed: String(s.seed) } : {}),
    completeness_gap: JSON.stringify(Array.from(r.gap)),
  };
  let files: PendingFile[];
  if (p.kind === 'fasta') files = [safetensorsFile(o.out, tensors, meta)];
  else {
    const w = p.window;
    const [a, b] = w.positions;
    files = [
      perBaseBigWig(join(o.out, 'integrated_gradients.bw'), w, a, r.perPosition.subarray(a, b + 1)),
      safetensorsFile(join(o.out, 'attribute.safetensors'), tensors, { ...meta, chrom: w.chrom, window_start: String(w.start) }),
    ];
    if (logo && o.plot !== undefined) {
      const [s0, e] = logo;
      const track = r.job.objective.tracks.map((t) => t.identifier).join(', ');
      const spec = logoSpec({
        positions: Array.from({ length: e - s0 + 1 }, (_, i) => w.start + s0 + i + 1),
        bases: Array.from(w.sequence.slice(s0, e + 1)),
        values: r.perPosition.subarray(s0, e + 1),
        title: `integrated gradients (${s.steps} steps, ${s.baseline} baseline), ${track} (${r.job.objective.head} head), bins ${p.bins[0]}-${p.bins[1]}`,
        xTitle: `${w.chrom} (1-based)`,
      });
      files.push(plotFile(o.plot, spec));
    }
    await ensureDir(o.out);
  }
  return { files: await writeAll(files), records: R, positions: L, ensemble: r.job.ensemble, gaps: r.gap, settings: s };
}

/** Shuffle ISM written as files; `window` (positions, 0-based inclusive) is the FASTA form's, the genome form scores the region. */
export async function shuffleIsmToFiles(o: AttributionFilesOptions & Omit<ShuffleIsmSettings, 'window'> & { window?: [number, number]; batchSize?: number; bruteForce?: boolean }): Promise<AttributionFiles> {
  const p = await prepare(o);
  const positions = p.kind === 'genome' ? p.window.positions : o.window!;
  const r = await shuffleIsmRecords(p.records, p.source, { ...o, bins: p.bins, window: positions });
  const R = p.records.length;
  const W = positions[1] - positions[0] + 1;
  // Each position takes its window's score (the windows tile the positions).
  const perBase = new Float32Array(R * W);
  for (let rec = 0; rec < R; rec++) r.windows.forEach(([a, b], wi) => perBase.fill(r.scores[rec * r.windows.length + wi]!, rec * W + a - positions[0], rec * W + b - positions[0] + 1));
  const tensors = [
    { name: 'shuffle_ism', dtype: 'F32' as const, shape: [R, r.windows.length], data: r.scores },
    { name: 'shuffle_ism_windows', dtype: 'I64' as const, shape: [r.windows.length, 2], data: BigInt64Array.from(r.windows.flat(), (v) => BigInt(v)) },
    { name: 'shuffle_ism_per_base', dtype: 'F32' as const, shape: [R, W], data: perBase },
  ];
  const s = r.settings;
  const meta = {
    ...jobMetadata(r.job, 'seq2track attribute --method shuffle-ism'),
    records: JSON.stringify(p.records.map((x) => x.name)),
    window: JSON.stringify(positions),
    objective: JSON.stringify(Array.from(r.objective)),
    shuffle: s.shuffle,
    shuffle_window: String(s.shuffleWindow),
    samples: String(s.samples),
    seed: String(s.seed),
  };
  let files: PendingFile[];
  if (p.kind === 'fasta') files = [safetensorsFile(o.out, tensors, meta)];
  else {
    const w = p.window;
    files = [
      perBaseBigWig(join(o.out, 'shuffle_ism.bw'), w, positions[0], perBase),
      safetensorsFile(join(o.out, 'shuffle_ism.safetensors'), tensors, { ...meta, chrom: w.chrom, window_start: String(w.start) }),
    ];
    await ensureDir(o.out);
  }
  return { files: await writeAll(files), records: R, positions: W, ensemble: r.job.ensemble };
}
