/**
 * In-silico mutagenesis as a Vega heatmap: one column per position, one row per base (A, C, G, T),
 * coloured by the effect objective(mutant) − objective(reference) on a diverging scale centred on 0
 * (blue: the substitution lowers the objective, red: raises it). The reference base's cell (effect 0
 * by definition) carries a dot, so the sequence reads along the plot.
 */
import type { Spec } from 'vega';
import { markFrom } from './marks.js';

export interface IsmHeatmapInput {
  /** Coordinate of each position (e.g. genomic, 1-based), shown on the x axis. */
  positions: number[];
  /** Reference base index of each position (0..3 = A, C, G, T; −1 at N). */
  refBase: ArrayLike<number>;
  /** [positions, 4] effects. */
  ism: ArrayLike<number>;
  title: string;
  xTitle?: string;
  /** Pixels per position (default 14). */
  cellWidth?: number;
}

const BASES = ['A', 'C', 'G', 'T'];

export function ismHeatmapSpec(input: IsmHeatmapInput): Spec {
  const n = input.positions.length;
  const cellWidth = input.cellWidth ?? 14;
  const cells: { i: number; base: string; effect: number; ref: boolean }[] = [];
  let extent = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 4; k++) {
      const effect = input.ism[i * 4 + k]!;
      extent = Math.max(extent, Math.abs(effect));
      cells.push({ i, base: BASES[k]!, effect, ref: input.refBase[i] === k });
    }
  }
  extent = extent > 0 ? extent : 1;
  const tickEvery = Math.max(1, Math.ceil(n / 20 / 5) * 5);
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    width: Math.max(200, n * cellWidth),
    height: 4 * cellWidth + 24,
    padding: 8,
    title: { text: input.title, anchor: 'start', fontSize: 13 },
    data: [
      { name: 'cells', values: cells },
      { name: 'refs', source: 'cells', transform: [{ type: 'filter', expr: 'datum.ref' }] },
    ],
    scales: [
      { name: 'x', type: 'band', domain: Array.from({ length: n }, (_, i) => i), range: 'width', paddingInner: 0.04 },
      { name: 'y', type: 'band', domain: BASES, range: 'height', paddingInner: 0.06 },
      { name: 'colour', type: 'linear', range: { scheme: 'redblue' }, reverse: true, domain: [-extent, extent], zero: true },
    ],
    axes: [
      {
        orient: 'bottom',
        scale: 'x',
        title: input.xTitle ?? 'position',
        values: input.positions.map((_, i) => i).filter((i) => input.positions[i]! % tickEvery === 0),
        encode: { labels: { update: { text: { signal: `${JSON.stringify(input.positions)}[datum.value]` } } } },
      },
      { orient: 'left', scale: 'y', title: 'substituted base' },
    ],
    legends: [{ fill: 'colour', title: 'ISM effect', orient: 'right', gradientLength: 4 * cellWidth + 24 }],
    marks: [
      markFrom(
        'rect',
        'cells',
        {
          x: { scale: 'x', field: 'i' },
          width: { scale: 'x', band: 1 },
          y: { scale: 'y', field: 'base' },
          height: { scale: 'y', band: 1 },
          fill: { scale: 'colour', field: 'effect' },
          tooltip: { signal: `{position: ${JSON.stringify(input.positions)}[datum.i], base: datum.base, effect: datum.effect}` },
        },
        'update',
      ),
      markFrom(
        'symbol',
        'refs',
        { xc: { scale: 'x', field: 'i', band: 0.5 }, yc: { scale: 'y', field: 'base', band: 0.5 }, size: { value: Math.max(4, cellWidth * 1.2) }, fill: { value: '#333' } },
        'update',
      ),
    ],
  };
}
