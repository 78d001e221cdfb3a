/**
 * A sequence logo of contribution scores as a Vega spec: at each position the letter of the
 * reference base, as tall as its score, standing on the zero line when positive and hanging upside
 * down below it when negative (logomaker's convention). Letters are vector glyphs in a unit box,
 * drawn as Vega path marks stretched by `scaleX`/`scaleY`, so their height is exact on the y axis.
 */
import type { Spec } from 'vega';

/** Block-letter outlines in a unit box (x right, y down); holes wind opposite to their outline. */
export const GLYPHS: Record<string, string> = {
  A: 'M0,1 L0.38,0 L0.62,0 L1,1 L0.77,1 L0.68,0.74 L0.32,0.74 L0.23,1 Z M0.39,0.55 L0.61,0.55 L0.5,0.22 Z',
  C: 'M0.97,0.3 A0.48,0.5 0 1 0 0.97,0.7 L0.77,0.62 A0.27,0.31 0 1 1 0.77,0.38 Z',
  G: 'M0.97,0.3 A0.48,0.5 0 1 0 0.98,0.52 L0.98,0.45 L0.55,0.45 L0.55,0.6 L0.76,0.6 A0.27,0.31 0 1 1 0.77,0.38 Z',
  T: 'M0,0 L1,0 L1,0.19 L0.61,0.19 L0.61,1 L0.39,1 L0.39,0.19 L0,0.19 Z',
};

/** Colours of the classic DNA logo. */
export const BASE_COLOURS: Record<string, string> = { A: '#109648', C: '#255c99', G: '#f7b32b', T: '#d62839' };

export interface LogoInput {
  /** Coordinate of each position (e.g. genomic, 1-based), shown on the x axis. */
  positions: number[];
  /** Reference base of each position ('A', 'C', 'G', 'T'; anything else draws nothing). */
  bases: string[];
  /** Score of each position (e.g. grad × input). */
  values: ArrayLike<number>;
  title: string;
  xTitle?: string;
  yTitle?: string;
  /** Pixels per position (default 12). */
  letterWidth?: number;
  height?: number;
}

export function logoSpec(input: LogoInput): Spec {
  const n = input.positions.length;
  const letterWidth = input.letterWidth ?? 12;
  const rows = input.positions.map((position, i) => ({ i, position, base: input.bases[i]!.toUpperCase(), value: input.values[i]! }));
  const letters = rows.filter((r) => r.base in GLYPHS && r.value !== 0 && Number.isFinite(r.value));
  const extent = Math.max(1e-12, ...letters.map((r) => Math.abs(r.value)));
  const lo = Math.min(0, ...letters.map((r) => r.value));
  const hi = Math.max(0, ...letters.map((r) => r.value));
  const tickEvery = Math.max(1, Math.ceil(n / 20 / 5) * 5);
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    width: Math.max(200, n * letterWidth),
    height: input.height ?? 180,
    padding: 8,
    title: { text: input.title, anchor: 'start', fontSize: 13 },
    data: [{ name: 'letters', values: letters }],
    scales: [
      { name: 'x', type: 'linear', domain: [-0.5, n - 0.5], range: 'width', zero: false, nice: false },
      { name: 'y', type: 'linear', domain: [lo === hi ? -extent : lo, lo === hi ? extent : hi], range: 'height', nice: true, zero: true },
      { name: 'colour', type: 'ordinal', domain: Object.keys(BASE_COLOURS), range: Object.values(BASE_COLOURS) },
    ],
    axes: [
      {
        orient: 'bottom',
        scale: 'x',
        title: input.xTitle ?? 'position',
        values: input.positions.map((_, i) => i).filter((i) => (input.positions[i]! % tickEvery === 0)),
        encode: { labels: { update: { text: { signal: `${JSON.stringify(input.positions)}[datum.value]` } } } },
        labelOverlap: true,
      },
      { orient: 'left', scale: 'y', title: input.yTitle ?? 'grad × input', grid: true, tickCount: 5 },
    ],
    marks: [
      {
        type: 'rule',
        encode: { update: { x: { value: 0 }, x2: { signal: 'width' }, y: { scale: 'y', value: 0 }, stroke: { value: '#888' }, strokeWidth: { value: 1 } } },
      },
      {
        type: 'path',
        from: { data: 'letters' },
        encode: {
          update: {
            path: { signal: `${JSON.stringify(GLYPHS)}[datum.base]` },
            fill: { scale: 'colour', field: 'base' },
            // The glyph box spans one position (minus a small gap), from the zero line to the value;
            // a negative value gets a negative scaleY, which mirrors the letter upside down.
            x: { signal: `scale('x', datum.i - 0.46)` },
            scaleX: { signal: `scale('x', datum.i + 0.46) - scale('x', datum.i - 0.46)` },
            y: { scale: 'y', field: 'value' },
            scaleY: { signal: `datum.value >= 0 ? scale('y', 0) - scale('y', datum.value) : -(scale('y', datum.value) - scale('y', 0))` },
            tooltip: { signal: `{position: ${JSON.stringify(input.positions)}[datum.i], base: datum.base, score: datum.value}` },
          },
        },
      },
    ],
  };
}
