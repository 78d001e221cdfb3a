/**
 * Vega spec of an attention heat map in genome coordinates: one row per layer (or layer × head), the
 * window's transformer positions along x, colour = attention weight from the query rows (their mean),
 * with the query positions marked and, optionally, gene models and a signal track underneath on the
 * same x axis. Rendered by render.ts `writePlot`.
 */
import type * as vega from 'vega';
import { markFrom, SPAN_X } from './marks.js';

export interface HeatmapRow {
  label: string;
  /** One weight per transformer position of the window. */
  values: ArrayLike<number>;
}

export interface GeneFeature {
  name: string;
  start: number;
  end: number;
  strand: string;
  exons: { start: number; end: number }[];
}

export interface SignalTrack {
  name: string;
  points: { start: number; end: number; value: number }[];
}

export interface AttentionHeatmapInput {
  title: string;
  chrom: string;
  /** Genomic start of position 0 and bp per position. */
  start: number;
  resolution: number;
  rows: HeatmapRow[];
  /** Title of the row axis, e.g. 'layer' or 'layer · head'. */
  rowTitle: string;
  /** Genomic [start, end) spans of the query rows. */
  queries: { start: number; end: number }[];
  genes?: GeneFeature[];
  signal?: SignalTrack;
  width?: number;
}

const ROW_HEIGHT = 16;
const LANE_HEIGHT = 22;
const SIGNAL_HEIGHT = 70;
const GAP = 14;

/** Greedy lanes so that gene labels and bodies do not overlap (in bp, with room for a label). */
function assignLanes(genes: GeneFeature[], bpPerChar: number): number[] {
  const laneEnds: number[] = [];
  return genes.map((g) => {
    const end = Math.max(g.end, g.start + (g.name.length + 2) * bpPerChar);
    let lane = laneEnds.findIndex((e) => e < g.start);
    if (lane === -1) lane = laneEnds.push(end) - 1;
    else laneEnds[lane] = end;
    return lane;
  });
}

export function attentionHeatmapSpec(input: AttentionHeatmapInput): vega.Spec {
  const width = input.width ?? 820;
  const n = input.rows[0]?.values.length ?? 0;
  const end = input.start + n * input.resolution;
  const cells: { row: string; start: number; end: number; value: number }[] = [];
  let max = 0;
  let minPositive = Infinity;
  for (const r of input.rows) {
    for (let p = 0; p < r.values.length; p++) {
      const v = r.values[p]!;
      cells.push({ row: r.label, start: input.start + p * input.resolution, end: input.start + (p + 1) * input.resolution, value: v });
      max = Math.max(max, v);
      if (v > 0) minPositive = Math.min(minPositive, v);
    }
  }
  // Weights of a row sum to 1 over thousands of positions: a log scale over three decades shows
  // both the few strong targets and the background.
  const lo = Math.max(Number.isFinite(minPositive) ? minPositive : 1e-6, max * 1e-3, 1e-12);
  const hi = Math.max(max, lo * 10);
  const heatHeight = Math.max(ROW_HEIGHT * input.rows.length, 80);

  const genes = input.genes ?? [];
  const lanes = assignLanes(genes, ((end - input.start) / width) * 7);
  const laneCount = genes.length ? Math.max(...lanes) + 1 : 0;
  const geneHeight = laneCount * LANE_HEIGHT;
  const geneData = genes.map((g, i) => ({ ...g, lane: lanes[i]!, label: `${g.name} ${g.strand === '-' ? '←' : g.strand === '+' ? '→' : ''}`.trim() }));
  const exonData = genes.flatMap((g, i) => g.exons.map((e) => ({ start: e.start, end: e.end, lane: lanes[i]! })));

  const groups: vega.GroupMark[] = [];
  let y = 0;
  groups.push({
    type: 'group',
    name: 'heatmap_panel',
    encode: { enter: { x: { value: 0 }, y: { value: y }, width: { signal: 'width' }, height: { value: heatHeight } } },
    scales: [{ name: 'row', type: 'band', domain: input.rows.map((r) => r.label), range: [0, heatHeight], paddingInner: 0.05 }],
    axes: [{ orient: 'left', scale: 'row', title: input.rowTitle, labelFontSize: 10 }],
    marks: [
      markFrom('rect', 'cells', {
        ...SPAN_X,
        y: { scale: 'row', field: 'row' },
        height: { scale: 'row', band: 1 },
        fill: { scale: 'colour', field: 'value' },
        // Cells narrower than a pixel would leave anti-aliasing seams: a stroke of the same colour closes them.
        stroke: { scale: 'colour', field: 'value' },
        strokeWidth: { value: 0.6 },
      }),
      markFrom('rect', 'queries', { ...SPAN_X, y: { value: -6 }, height: { value: 5 }, fill: { value: '#d62728' } }),
    ],
  });
  y += heatHeight + GAP + 22;
  if (genes.length) {
    groups.push({
      type: 'group',
      name: 'gene_panel',
      encode: { enter: { x: { value: 0 }, y: { value: y }, width: { signal: 'width' }, height: { value: geneHeight } } },
      marks: [
        markFrom('rule', 'genes', { ...SPAN_X, y: { signal: `datum.lane * ${LANE_HEIGHT} + 6` }, stroke: { value: '#1f4e79' }, strokeWidth: { value: 1.5 } }),
        markFrom('rect', 'exons', { ...SPAN_X, y: { signal: `datum.lane * ${LANE_HEIGHT} + 1` }, height: { value: 10 }, fill: { value: '#1f4e79' } }),
        markFrom('text', 'genes', {
          x: { signal: `max(0, scale('x', datum.start))` },
          y: { signal: `datum.lane * ${LANE_HEIGHT} + 20` },
          text: { field: 'label' },
          fontSize: { value: 10 },
          fontStyle: { value: 'italic' },
          fill: { value: '#1f4e79' },
        }),
      ],
    });
    y += geneHeight + GAP;
  }
  if (input.signal) {
    groups.push({
      type: 'group',
      name: 'signal_panel',
      encode: { enter: { x: { value: 0 }, y: { value: y }, width: { signal: 'width' }, height: { value: SIGNAL_HEIGHT } } },
      scales: [{ name: 'signalY', type: 'linear', domain: { data: 'signal', field: 'value' }, range: [SIGNAL_HEIGHT, 0], nice: true, zero: true }],
      axes: [{ orient: 'left', scale: 'signalY', tickCount: 3, title: input.signal.name, titleFontSize: 10, labelFontSize: 9 }],
      marks: [
        markFrom('rect', 'signal', { ...SPAN_X, y: { scale: 'signalY', field: 'value' }, y2: { scale: 'signalY', value: 0 }, fill: { value: '#2ca02c' } }),
      ],
    });
    y += SIGNAL_HEIGHT + GAP;
  }

  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    width,
    height: y,
    padding: { left: 10, right: 10, top: 10, bottom: 10 },
    title: { text: input.title, fontSize: 13, anchor: 'start' },
    data: [
      { name: 'cells', values: cells },
      { name: 'queries', values: input.queries },
      { name: 'genes', values: geneData },
      { name: 'exons', values: exonData },
      { name: 'signal', values: input.signal?.points ?? [] },
    ],
    scales: [
      { name: 'x', type: 'linear', domain: [input.start, end], range: 'width', zero: false, nice: false },
      { name: 'colour', type: 'log', domain: [lo, hi], range: { scheme: 'viridis' }, clamp: true },
    ],
    axes: [
      {
        orient: 'top',
        scale: 'x',
        title: `${input.chrom} (bp)`,
        format: ',d',
        labelFontSize: 10,
        tickCount: 8,
      },
    ],
    legends: [{ fill: 'colour', type: 'gradient', title: 'attention', orient: 'right', format: '.0e', gradientLength: Math.min(heatHeight, 160) }],
    marks: groups,
  };
}
