import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Spec } from 'vega';
import { plotFormat, renderSvg, writePlot } from '../plots/render.js';

const bars: Spec = {
  width: 120,
  height: 60,
  data: [{ name: 't', values: [{ x: 0, y: 1 }, { x: 1, y: 3 }] }],
  scales: [
    { name: 'x', type: 'band', domain: { data: 't', field: 'x' }, range: 'width' },
    { name: 'y', domain: { data: 't', field: 'y' }, range: 'height' },
  ],
  marks: [{ type: 'rect', from: { data: 't' }, encode: { enter: { x: { scale: 'x', field: 'x' }, width: { scale: 'x', band: 1 }, y: { scale: 'y', field: 'y' }, y2: { scale: 'y', value: 0 } } } }],
};

test('a Vega spec renders to SVG and to a PNG of the spec size × 2', async () => {
  const svg = await renderSvg(bars);
  assert.match(svg, /^<svg/);
  assert.equal((svg.match(/<path/g) ?? []).length >= 2, true);
  const dir = await mkdtemp(join(tmpdir(), 'plot-'));
  try {
    const path = join(dir, 'bars.png');
    await writePlot(bars, path);
    const png = await readFile(path);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    assert.equal(png.readUInt32BE(16), 240);
    assert.equal(png.readUInt32BE(20), 120);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('plot paths must end in .svg or .png', () => {
  assert.throws(() => plotFormat('x.pdf'), /must end in \.svg or \.png/);
});
