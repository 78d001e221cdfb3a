/**
 * Browser benchmark: a full-size model with random weights (as the forward benchmark makes them,
 * written once as a model directory in a temporary folder) predicts one window in headless Chromium
 * (onnxruntime-web, WASM SIMD + threads, through the page's automation hook) and, in the same run,
 * in Node (onnxruntime-node). Reports seconds (model load, one window), the browser's peak memory
 * (proportional set size of all Chromium processes, and of the largest one: the page's renderer,
 * which holds the engine worker and its WebAssembly heap), Node's peak RSS, and how far apart the two
 * outputs are.
 *   npm run bench -- browser [enformer|borzoi|alphagenome] [--threads N] [--tile-length BP] [--length BP] [--resolution 128|1]
 * AlphaGenome (full size: 450.6 M parameters) runs for human at 128 bp (default) or 1 bp, 16,384 bp
 * by default: its published 1 Mb does not fit WebAssembly's 4 GB (src/models/alphagenome/wasm-fit.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { architectureFromConfig, loadModel } from '../models/load.js';
import { encodeSafetensorsHeader } from '../weights/safetensors.js';
import { startServer } from '../serve/server.js';

/** The published configurations (as the forward benchmark's) and their input lengths. */
const CONFIGS: Record<string, { config: Record<string, unknown>; length: number }> = {
  enformer: {
    config: { model_type: 'enformer', dim: 1536, depth: 11, heads: 8, output_heads: { human: 5313, mouse: 1643 }, target_length: 896, attn_dim_key: 64, num_downsamples: 7, dim_divisible_by: 128 },
    length: 196_608,
  },
  borzoi: { config: { model_type: 'borzoi' }, length: 524_288 },
  alphagenome: { config: { model_type: 'alphagenome' }, length: 16_384 },
};

export interface BrowserBenchTools {
  fill: (name: string, shape: number[], data: Float32Array) => void;
  sequence: (length: number, seed: number) => string;
}

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Writes config.json and model.safetensors (random weights), one tensor in memory at a time. */
async function writeRandomModel(dir: string, config: Record<string, unknown>, fill: BrowserBenchTools['fill']): Promise<number> {
  const arch = architectureFromConfig(config, 'bench config');
  const tensors = arch.expectedWeights().map((t) => ({ ...t, dtype: 'F32' as const, length: t.shape.reduce((a, b) => a * b, 1) * 4 }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const handle = await open(join(dir, 'model.safetensors'), 'w');
  try {
    await handle.write(encodeSafetensorsHeader(tensors));
    for (const t of tensors) {
      const data = new Float32Array(t.length / 4);
      fill(t.name, t.shape, data);
      await handle.write(new Uint8Array(data.buffer));
    }
  } finally {
    await handle.close();
  }
  return tensors.reduce((a, t) => a + t.length, 0);
}

/** Proportional set size (MB) of the descendants of this process, all together and the largest one. */
function childrenPss(): { total: number; largest: number } {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  let largest = 0;
  for (const pid of parent.keys()) {
    if (!mine(pid)) continue;
    try {
      const kb = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
      total += kb / 1024;
      largest = Math.max(largest, kb / 1024);
    } catch {
      // exited meanwhile
    }
  }
  return { total, largest };
}

/** Every `stride`-th value of each head, to compare the two runtimes without moving 6 M floats. */
const STRIDE = 101;

export async function benchBrowser(name: string, options: { threads?: number; tileLength?: number; length?: number; resolution?: 1 | 128 }, tools: BrowserBenchTools): Promise<void> {
  const spec = CONFIGS[name];
  if (!spec) throw new Error(`browser bench: unknown model '${name}' (known: ${Object.keys(CONFIGS).join(', ')})`);
  if (options.resolution !== undefined && name !== 'alphagenome') throw new Error('browser bench: --resolution is for alphagenome');
  const length = options.length ?? spec.length;
  const resolution = options.resolution;
  const dir = mkdtempSync(join(tmpdir(), `seq2track-bench-${name}-`));
  try {
    const t0 = performance.now();
    const bytes = await writeRandomModel(dir, spec.config, tools.fill);
    console.log(`${name}: random weights written (${(bytes / 2 ** 20).toFixed(0)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const sequence = tools.sequence(length, 42);

    // Node, first, so its peak RSS is its own.
    const n0 = performance.now();
    const model = await loadModel(dir, { threads: options.threads, tileLength: options.tileLength, resolution });
    const n1 = performance.now();
    const nodeOut = await model.predict([sequence]);
    const n2 = performance.now();
    await model.close();
    const nodeRss = process.resourceUsage().maxRSS / 1024;
    const nodeLoad = (n1 - n0) / 1000;
    const nodeRun = (n2 - n1) / 1000;
    console.log(`node: sessions ready in ${nodeLoad.toFixed(1)} s; one window ${nodeRun.toFixed(2)} s; peak RSS ${nodeRss.toFixed(0)} MB`);

    const server = await startServer({ port: 0, models: { [name]: dir } });
    const browser = await chromium.launch({ executablePath: process.env.SEQ2TRACK_CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
    let peak = { total: 0, largest: 0 };
    const sampler = setInterval(() => {
      const now = childrenPss();
      peak = { total: Math.max(peak.total, now.total), largest: Math.max(peak.largest, now.largest) };
    }, 500);
    try {
      const page = await browser.newPage();
      await page.goto(server.url);
      const threads = await page.evaluate(async () => {
        const w = globalThis as unknown as { seq2track: { ready: Promise<void> } };
        await w.seq2track.ready;
        return (globalThis as unknown as { crossOriginIsolated: boolean; navigator: { hardwareConcurrency: number } }).crossOriginIsolated ? (globalThis as unknown as { navigator: { hardwareConcurrency: number } }).navigator.hardwareConcurrency : 1;
      });
      const b0 = performance.now();
      await page.evaluate(async (args) => {
        const w = globalThis as unknown as { seq2track: { loadModel(a: { model: string; tileLength?: number; resolution?: number }): Promise<unknown> } };
        await w.seq2track.loadModel(args);
      }, { model: name, tileLength: options.tileLength, resolution });
      const b1 = performance.now();
      const sample = await page.evaluate(
        async ({ model, fasta, stride, tileLength, resolution }) => {
          const w = globalThis as unknown as { seq2track: { predictFasta(a: object): Promise<Record<string, { data: Float32Array }>> } };
          const out = await w.seq2track.predictFasta({ model, fasta, tileLength, resolution });
          return Object.fromEntries(Object.entries(out).map(([h, t]) => [h, Array.from(t.data.filter((_, i) => i % stride === 0))]));
        },
        { model: name, fasta: `>window\n${sequence}\n`, stride: STRIDE, tileLength: options.tileLength, resolution },
      );
      const b2 = performance.now();
      clearInterval(sampler);
      peak = { total: Math.max(peak.total, childrenPss().total), largest: Math.max(peak.largest, childrenPss().largest) };
      let maxAbs = 0;
      let maxRel = 0;
      for (const [h, values] of Object.entries(sample)) {
        const ref = nodeOut.heads[h]!.data;
        values.forEach((v, k) => {
          const d = Math.abs(v - ref[k * STRIDE]!);
          maxAbs = Math.max(maxAbs, d);
          maxRel = Math.max(maxRel, d / Math.max(Math.abs(ref[k * STRIDE]!), 1));
        });
      }
      const load = (b1 - b0) / 1000;
      const run = (b2 - b1) / 1000;
      console.log(`browser (headless Chromium, onnxruntime-web WASM, ${threads} threads): model loaded in ${load.toFixed(1)} s; one window ${run.toFixed(2)} s`);
      console.log(`browser peak memory (PSS): all Chromium processes ${peak.total.toFixed(0)} MB, page renderer ${peak.largest.toFixed(0)} MB`);
      console.log(`browser vs node outputs: max abs difference ${maxAbs.toExponential(2)} (relative to max(|node|, 1): ${maxRel.toExponential(2)}) over every ${STRIDE}th value`);
      console.log(
        `RESULT model=${name} mode=browser length=${length}${resolution ? ` resolution=${resolution}` : ''} browser_load_s=${load.toFixed(1)} browser_window_s=${run.toFixed(2)} browser_peak_pss_mb=${peak.total.toFixed(0)} renderer_peak_pss_mb=${peak.largest.toFixed(0)} node_load_s=${nodeLoad.toFixed(1)} node_window_s=${nodeRun.toFixed(2)} node_peak_rss_mb=${nodeRss.toFixed(0)} ratio=${(run / nodeRun).toFixed(2)} max_abs_diff=${maxAbs.toExponential(2)} max_rel_diff=${maxRel.toExponential(2)}`,
      );
    } finally {
      clearInterval(sampler);
      await browser.close();
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
