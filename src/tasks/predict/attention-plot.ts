/**
 * The heat map of a genome job's attention: the window's positions along the genome, one row per
 * layer (or layer × head), each the mean over the query rows (and over replicate models), with genes
 * and a signal track when given.
 */
import { attentionHeatmapSpec, type HeatmapRow } from '../../plots/attention-heatmap.js';
import { writePlot } from '../../plots/render.js';
import { genesInWindow, signalInWindow } from './plot-annotations.js';
import type { RegionAttention } from './regions.js';

export class AttentionPlotError extends Error {}

export interface AttentionPlotOptions {
  gtf?: string;
  bigwig?: string;
}

/** Heat-map rows: per layer (and head), the mean over query rows and over the records of the window. */
export function heatmapRows(att: RegionAttention): HeatmapRow[] {
  const [records, layers, heads, rows, positions] = att.map.shape;
  const out: HeatmapRow[] = [];
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      const values = new Float64Array(positions);
      for (let rec = 0; rec < records; rec++) {
        for (let r = 0; r < rows; r++) {
          const at = ((((rec * layers + l) * heads + h) * rows + r) * positions);
          for (let p = 0; p < positions; p++) values[p] += att.map.data[at + p]!;
        }
      }
      for (let p = 0; p < positions; p++) values[p]! /= records * rows;
      const layer = att.map.layers[l]!;
      const label = att.map.heads === 'mean' ? `${layer}` : `${layer} · head ${att.map.heads[h]}`;
      out.push({ label, values });
    }
  }
  return out;
}

/** A plot shows one window: throws before any model run when the regions need more. */
export function checkPlotWindows(windows: number): void {
  if (windows !== 1) throw new AttentionPlotError(`--plot draws one window; these regions need ${windows} (give one --region that fits in one window, or drop --plot)`);
}

/** Draws the one window of `att` to `path` (.png/.svg). Several windows are refused: a plot shows one window. */
export async function plotAttention(path: string, att: RegionAttention, opts: AttentionPlotOptions = {}): Promise<void> {
  checkPlotWindows(new Set(att.records.map((r) => `${r.chrom}:${r.start}`)).size);
  const { chrom, start, end, region } = att.records[0]!;
  const positions = att.map.shape[4];
  const genes = opts.gtf ? await genesInWindow(opts.gtf, chrom, start, end) : undefined;
  const signal = opts.bigwig ? await signalInWindow(opts.bigwig, chrom, start, end, positions) : undefined;
  const models = new Set(att.records.map((r) => r.model)).size;
  const rows = att.map.rows;
  const heads = att.map.heads === 'mean' ? 'mean of heads' : `heads ${att.map.heads.join(', ')}`;
  const spec = attentionHeatmapSpec({
    title: `Attention from positions ${rows.length > 1 ? `${rows[0]}–${rows[rows.length - 1]}` : rows[0]} (red) over ${region} window ${chrom}:${start + 1}-${end} · ${heads}${models > 1 ? ` · mean of ${models} models` : ''}`,
    chrom,
    start,
    resolution: att.resolution,
    rows: heatmapRows(att),
    rowTitle: att.map.heads === 'mean' ? 'layer' : 'layer · head',
    queries: rows.map((r) => ({ start: start + r * att.resolution, end: start + (r + 1) * att.resolution })),
    genes,
    signal,
  });
  await writePlot(spec, path);
}
