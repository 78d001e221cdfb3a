/** The logo and ISM heatmap specs render through the project's Vega renderer as real figures. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSvg } from '../plots/render.js';
import { GLYPHS, logoSpec } from '../plots/logo.js';
import { ismHeatmapSpec } from '../plots/ism-heatmap.js';

test('logo: one glyph per scored base, positive letters upright, negative ones flipped below zero', async () => {
  const svg = await renderSvg(logoSpec({ positions: [101, 102, 103, 104, 105], bases: ['A', 'C', 'N', 'G', 'T'], values: [0.5, -0.25, 0.9, 0, 1], title: 'logo' }));
  // N and a zero score draw nothing: A, C and T remain.
  const glyphs = [...svg.matchAll(/transform="translate\(([-\d.]+),([-\d.]+)\) scale\(([-\d.]+),([-\d.]+)\)" d="([^"]+)"/g)];
  assert.equal(glyphs.length, 3);
  assert.deepEqual(glyphs.map((m) => m[5]), [GLYPHS.A, GLYPHS.C, GLYPHS.T]);
  const [a, c, t] = glyphs.map((m) => ({ y: Number(m[2]), sx: Number(m[3]), sy: Number(m[4]) }));
  assert.ok(a!.sy > 0 && t!.sy > 0 && c!.sy < 0, 'negative score flips its letter');
  assert.ok(Math.abs(t!.sy / a!.sy - 2) < 0.01, 'heights are proportional to the scores');
  assert.ok(Math.abs(c!.sy / a!.sy + 0.5) < 0.01);
  // The zero line is where A stands (its y + height); C's box starts there and hangs below it.
  assert.ok(Math.abs(c!.y + c!.sy - (a!.y + a!.sy)) < 1e-6, 'a negative letter hangs from the zero line');
  assert.ok(a!.sx > 0);
});

test('ism heatmap: 4 cells per position, a dot on each reference base, diverging colours', async () => {
  const svg = await renderSvg(ismHeatmapSpec({ positions: [10, 11, 12], refBase: [0, -1, 3], ism: [0, 0.1, -0.2, 0.05, 0.3, 0.1, -0.1, 0.2, -0.3, 0, 0, 0], title: 'ism' }));
  const cells = svg.match(/<path [^>]*fill="rgb\(/g) ?? [];
  assert.ok(cells.length >= 12, `${cells.length} coloured cells`);
  // Two reference bases (the N position has none) get a dot.
  assert.equal((svg.match(/class="mark-symbol/g) ?? []).length, 1);
  assert.equal((svg.match(/<path transform="translate\([^)]*\)" d="M[^"]*" fill="#333"/g) ?? []).length, 2);
});
