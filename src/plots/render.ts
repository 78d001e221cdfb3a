/**
 * Renders a Vega specification to a file: SVG from Vega's own headless renderer, PNG by rasterising
 * that SVG with resvg (no canvas or browser needed). Every figure of the project goes through here,
 * so plots are declarative Vega specs, not hand-drawn pixels.
 */
import { writeFile, rename, rm } from 'node:fs/promises';
import { extname } from 'node:path';
import * as vega from 'vega';
import { Resvg } from '@resvg/resvg-js';

export type PlotFormat = 'svg' | 'png';

/** The format a plot path asks for, from its extension; throws a one-line error otherwise. */
export function plotFormat(path: string): PlotFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.svg') return 'svg';
  if (ext === '.png') return 'png';
  throw new Error(`plot ${path}: the file name must end in .svg or .png`);
}

/** Renders a Vega spec to SVG text. */
export async function renderSvg(spec: vega.Spec): Promise<string> {
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders a Vega spec to PNG bytes (`scale` multiplies the spec's pixel size). */
export async function renderPng(spec: vega.Spec, scale = 2): Promise<Uint8Array> {
  const svg = await renderSvg(spec);
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, background: 'white', font: { loadSystemFonts: true } }).render();
  return png.asPng();
}

/** Writes the spec as SVG or PNG (by the path's extension), atomically: `X.partial`, then renamed. */
export async function writePlot(spec: vega.Spec, path: string): Promise<void> {
  const format = plotFormat(path);
  const bytes = format === 'svg' ? await renderSvg(spec) : await renderPng(spec);
  const partial = `${path}.partial`;
  try {
    await writeFile(partial, bytes);
    await rename(partial, path);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}
