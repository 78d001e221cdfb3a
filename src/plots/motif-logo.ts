/**
 * A sequence logo of a position matrix ([length, 4] rows, A C G T) as a Vega spec: at each position
 * the four letters stacked, each as tall as its value, the largest on top. 'bits': a probability
 * matrix drawn as information content (letter height p × (2 − H) bits, uniform background);
 * 'weights': signed values as they are (a contribution weight matrix): positive letters stacked up
 * from the zero line, negative ones down from it, upside down (logomaker's convention, as logo.ts).
 */
import type { Spec } from 'vega';
import { BASE_COLOURS, GLYPHS } from './logo.js';

export interface MatrixLogoInput {
  /** Row-major [length, 4]. */
  matrix: ArrayLike<number>;
  length: number;
  mode: 'bits' | 'weights';
  title: string;
  /** Label of each position (default 1, 2, …). */
  positions?: number[];
  yTitle?: string;
  /** Pixels per position (default 18). */
  letterWidth?: number;
  height?: number;
}

interface Letter {
  i: number;
  base: string;
  lo: number;
  hi: number;
  flip: boolean;
  value: number;
}

/** Letter boxes of one matrix: [lo, hi] in y units, stacked per position. */
export function logoLetters(input: Pick<MatrixLogoInput, 'matrix' | 'length' | 'mode'>): Letter[] {
  const out: Letter[] = [];
  for (let i = 0; i < input.length; i += 1) {
    let row = [0, 1, 2, 3].map((b) => input.matrix[i * 4 + b]!);
    if (input.mode === 'bits') {
      const sum = row.reduce((a, b) => a + b, 0);
      row = sum > 0 ? row.map((v) => v / sum) : [0, 0, 0, 0];
      const entropy = -row.reduce((a, p) => a + (p > 0 ? p * Math.log2(p) : 0), 0);
      const ic = sum > 0 ? Math.max(0, 2 - entropy) : 0;
      row = row.map((p) => p * ic);
    }
    const letters = row.map((v, b) => ({ b, v })).filter((x) => x.v !== 0 && Number.isFinite(x.v));
    let top = 0;
    for (const { b, v } of letters.filter((x) => x.v > 0).sort((a, c) => a.v - c.v)) {
      out.push({ i, base: 'ACGT'[b]!, lo: top, hi: top + v, flip: false, value: v });
      top += v;
    }
    let bottom = 0;
    for (const { b, v } of letters.filter((x) => x.v < 0).sort((a, c) => c.v - a.v)) {
      out.push({ i, base: 'ACGT'[b]!, lo: bottom + v, hi: bottom, flip: true, value: v });
      bottom += v;
    }
  }
  return out;
}

export function matrixLogoSpec(input: MatrixLogoInput): Spec {
  const n = input.length;
  const letterWidth = input.letterWidth ?? 18;
  const letters = logoLetters(input);
  const positions = input.positions ?? Array.from({ length: n }, (_, i) => i + 1);
  const lo = Math.min(0, ...letters.map((l) => l.lo));
  let hi = Math.max(0, ...letters.map((l) => l.hi));
  if (input.mode === 'bits') hi = Math.max(hi, 2);
  if (lo === hi) hi = 1;
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    width: Math.max(120, n * letterWidth),
    height: input.height ?? 120,
    padding: 6,
    title: { text: input.title, anchor: 'start', fontSize: 12 },
    data: [{ name: 'letters', values: letters }],
    scales: [
      { name: 'x', type: 'linear', domain: [-0.5, n - 0.5], range: 'width', zero: false, nice: false },
      { name: 'y', type: 'linear', domain: [lo, hi], range: 'height', nice: false, zero: true },
      { name: 'colour', type: 'ordinal', domain: Object.keys(BASE_COLOURS), range: Object.values(BASE_COLOURS) },
    ],
    axes: [
      {
        orient: 'bottom',
        scale: 'x',
        values: positions.map((_, i) => i),
        encode: { labels: { update: { text: { signal: `${JSON.stringify(positions)}[datum.value]` } } } },
        labelOverlap: true,
        labelFontSize: 9,
      },
      { orient: 'left', scale: 'y', title: input.yTitle ?? (input.mode === 'bits' ? 'bits' : 'contribution'), tickCount: 4, labelFontSize: 9 },
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
            x: { signal: `scale('x', datum.i - 0.46)` },
            scaleX: { signal: `scale('x', datum.i + 0.46) - scale('x', datum.i - 0.46)` },
            // Upright: from the top of the box down; flipped (below zero): from its bottom, mirrored.
            y: { signal: `datum.flip ? scale('y', datum.lo) : scale('y', datum.hi)` },
            scaleY: { signal: `datum.flip ? -(scale('y', datum.lo) - scale('y', datum.hi)) : scale('y', datum.lo) - scale('y', datum.hi)` },
            tooltip: { signal: `{position: ${JSON.stringify(positions)}[datum.i], base: datum.base, value: datum.value}` },
          },
        },
      },
    ],
  };
}
