/**
 * The page in a real headless Chromium, served by `seq2track serve`: the automation hook reproduces
 * every fixture model's heads (Enformer, Borzoi, Flashzoi) on onnxruntime-web (WASM, SIMD, threads),
 * at the CLI's acceptance tolerance (atol 5e-5 + rtol 1e-4: the references' own float32-vs-float64
 * spread is 2–4e-6, and WASM kernels differ from native ones only by float32 rounding); the igv view
 * shows a region's tracks and a variant's ref/alt/difference; wrong model directories are reported
 * in the page. Screenshots are saved to dist/test/screenshots/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { SafetensorsFile } from '../weights/safetensors.js';
import { loadModel } from '../models/load.js';
import { predictRecords } from '../tasks/predict/records.js';
import { parseFastaText } from '../genome/fasta-parse.js';
import { brokenModelDir, compare, fixture, REPO_ROOT, runCli } from './fixtures.js';
import { launchChromium, skipWithoutChromium, startServe, type ServeProcess } from './chromium.js';
import { colourCount, decodePng } from './png.js';
import { writeFastaFai } from './genome-files.js';

// Page globals, as the callbacks of page.evaluate() see them (this file compiles without the DOM library).
interface HookHead {
  dims: number[];
  data: Float32Array;
}
declare const window: {
  seq2track: {
    ready: Promise<void>;
    models(): string[];
    predictFasta(args: { model: string; fasta: string; tileLength?: number; organism?: string; resolution?: 1 | 128 }): Promise<Record<string, HookHead>>;
    predictRegion(args: { model: string; region: string; tracks?: string }): Promise<{ tracks: string[]; start: number; binSize: number; bins: number; values: Float32Array }>;
  };
};
declare const document: { body: { dataset: Record<string, string | undefined> }; getElementById(id: string): { textContent: string | null } | null };
declare const crossOriginIsolated: boolean;

const FIXTURES = ['enformer-small', 'borzoi-small', 'flashzoi-small'].filter((n) => fixture(n));
const skip = skipWithoutChromium() || (FIXTURES.length === 3 ? false : 'fixtures ../shared/fixtures/*-small not found');
/** AlphaGenome's fixture is optional on its own: its tests skip without it, the others run. */
const AG = 'alphagenome-small';
const agSkip = skip || (fixture(AG) ? false : `fixture ../shared/fixtures/${AG} not found`);
const SCREENSHOTS = join(REPO_ROOT, 'dist', 'test', 'screenshots');
const VIEWPORT = { width: 1280, height: 900 };

let tmp = '';
let serve: ServeProcess | undefined;
let browser: Browser | undefined;
let page: Page;
/** What the page logged as errors (an offline page must log none: igv.js's genome list is not fetched). */
const consoleErrors: string[] = [];

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), 'seq2track-browser-'));
  // Wrong model directories: no weights file; a config that is not JSON; weights that do not match.
  const noWeights = join(tmp, 'no-weights');
  mkdirSync(noWeights);
  copyFileSync(join(fixture('enformer-small')!, 'config.json'), join(noWeights, 'config.json'));
  const badConfig = join(tmp, 'bad-config');
  mkdirSync(badConfig);
  writeFileSync(join(badConfig, 'config.json'), '{"model_type": "enformer", "dim": ');
  copyFileSync(join(fixture('enformer-small')!, 'weights.safetensors'), join(badConfig, 'weights.safetensors'));
  const mismatched = join(tmp, 'mismatched');
  mkdirSync(mismatched);
  await brokenModelDir(mismatched);
  const models = [...FIXTURES, ...(agSkip ? [] : [AG])].map((n) => `--model=${n}=${fixture(n)}`);
  serve = await startServe([...models, `--model=no-weights=${noWeights}`, `--model=bad-config=${badConfig}`, `--model=mismatched=${mismatched}`]);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: VIEWPORT });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(serve.url);
  await page.evaluate(() => window.seq2track.ready);
});

after(async () => {
  await browser?.close();
  await serve?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('browser: the built page imports no node: module', async () => {
  const assets = join(REPO_ROOT, 'dist', 'web', 'assets');
  const scripts = readdirSync(assets).filter((f) => f.endsWith('.js'));
  assert.ok(scripts.length >= 2, 'the page and its engine worker are built (npm run build:web)');
  for (const f of scripts) {
    const text = readFileSync(join(assets, f), 'utf8');
    assert.doesNotMatch(text, /(?:from|import\(|require\()\s*["']node:/, `${f} imports a node: module`);
  }
});

test('browser: the page is cross-origin isolated (WASM threads) and lists the served models', { skip }, async () => {
  const state = await page.evaluate(() => ({ isolated: crossOriginIsolated, models: window.seq2track.models(), runtime: document.getElementById('runtime')!.textContent }));
  assert.equal(state.isolated, true);
  assert.deepEqual(state.models.slice(0, 3), FIXTURES);
  assert.match(state.runtime ?? '', /cross-origin isolated, \d+ WASM threads/);
});

for (const name of FIXTURES) {
  test(`browser: ${name} through window.seq2track.predictFasta reproduces every head`, { skip }, async () => {
    const dir = fixture(name)!;
    const sequences: string[] = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')).inputs.sequences;
    const fasta = sequences.map((s, i) => `>seq${i + 1}\n${s}\n`).join('');
    // Tiles of 2048 bp: the trunk runs tiled in the worker, as full-length windows must.
    const got = await page.evaluate(
      async ({ model, fasta }) => {
        const r = await window.seq2track.predictFasta({ model, fasta, tileLength: 2048 });
        return Object.fromEntries(Object.entries(r).map(([h, t]) => [h, { dims: t.dims, data: Array.from(t.data), isF32: t.data instanceof Float32Array }]));
      },
      { model: name, fasta },
    );
    const ref = await SafetensorsFile.open(join(dir, 'outputs.safetensors'));
    const heads = [...ref.tensors.keys()].filter((k) => k === 'human' || k === 'mouse');
    assert.deepEqual(Object.keys(got).sort(), heads.sort());
    for (const h of heads) {
      assert.deepEqual(got[h]!.dims, ref.tensors.get(h)!.shape, `${name} ${h} dims`);
      assert.ok(got[h]!.isF32, 'the hook returns Float32Array data');
      const c = compare(got[h]!.data, ref.readFloat32(h), 5e-5, 1e-4);
      assert.ok(c.ok, `${name} ${h}: element ${c.worst} is ${got[h]!.data[c.worst]}, max abs diff ${c.maxAbs.toExponential(2)}`);
    }
  });
}

/**
 * AlphaGenome through the page equals the Node model on the same records: the fixture's two 8,192-bp
 * sequences, human, at 128 bp (every 128-bp track head) and at 1 bp (the 1-bp heads and the splice
 * outputs), trunk tiled at 4,096 bp in both. The bound is the CLI's (atol 5e-5 + rtol 1e-4 of the
 * Node value): WASM and native kernels differ by float32 summation order only, but the 128-bp tracks
 * are in experimental scale (up to ≈ 9,000), so the relative term carries it.
 */
for (const resolution of [128, 1] as const) {
  test(`browser: ${AG} at ${resolution} bp through window.seq2track.predictFasta equals the Node model`, { skip: agSkip }, async () => {
    const dir = fixture(AG)!;
    const sequences: string[] = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')).inputs.sequences;
    const fasta = sequences.map((s, i) => `>seq${i + 1}\n${s}\n`).join('');
    const t0 = performance.now();
    const got = await page.evaluate(
      async ({ model, fasta, resolution }) => {
        const r = await window.seq2track.predictFasta({ model, fasta, tileLength: 4096, resolution });
        return Object.fromEntries(Object.entries(r).map(([h, t]) => [h, { dims: t.dims, data: Array.from(t.data) }]));
      },
      { model: AG, fasta, resolution },
    );
    const pageSeconds = (performance.now() - t0) / 1000;
    const model = await loadModel(dir, { resolution, tileLength: 4096, threads: 1 });
    try {
      const want = await predictRecords(model, parseFastaText(fasta, 'FASTA'), 'FASTA');
      assert.deepEqual(Object.keys(got), ['human']);
      assert.deepEqual(got.human!.dims, want.heads.human!.shape);
      const T = model.arch.tracks('human');
      assert.deepEqual(want.heads.human!.shape, [2, 8192 / resolution, T]);
      const c = compare(got.human!.data, want.heads.human!.data, 5e-5, 1e-4);
      let rel = 0;
      want.heads.human!.data.forEach((w, i) => (rel = Math.max(rel, Math.abs(got.human!.data[i]! - w) / Math.max(Math.abs(w), 1))));
      console.log(`# ${AG} ${resolution} bp: ${got.human!.data.length} values, page vs Node max abs diff ${c.maxAbs.toExponential(2)}, max rel ${rel.toExponential(2)}; page ${pageSeconds.toFixed(1)} s (load + run)`);
      assert.ok(c.ok, `${AG} ${resolution} bp: element ${c.worst} is ${got.human!.data[c.worst]} in the page, ${want.heads.human!.data[c.worst]} on Node (max abs diff ${c.maxAbs.toExponential(2)})`);
    } finally {
      await model.close();
    }
  });
}

/** The page's error box after a failed hook call for a served model. */
async function hookError(model: string): Promise<{ rejected: string; shown: string; visible: boolean }> {
  const rejected = await page.evaluate(async (model) => {
    try {
      await window.seq2track.predictFasta({ model, fasta: `>a\n${'A'.repeat(8192)}\n` });
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  }, model);
  const shown = (await page.textContent('#error')) ?? '';
  return { rejected, shown, visible: await page.isVisible('#error') };
}

test('browser: a wrong model directory is reported in the page, in one clear line', { skip }, async () => {
  const cases: [string, RegExp][] = [
    ['no-weights', /models\/no-weights\/: no \*\.safetensors weights file/],
    ['bad-config', /bad-config\/config\.json: not a JSON object/],
    ['mismatched', /mismatched\/weights\.safetensors: weights do not match the config \(\d+ problems\): missing stem\.0\.bias/],
  ];
  for (const [model, pattern] of cases) {
    const { rejected, shown, visible } = await hookError(model);
    assert.match(rejected, pattern, model);
    assert.equal(shown, rejected, `${model}: the page shows the message`);
    assert.ok(visible, `${model}: the error box is visible`);
    assert.equal(await page.getAttribute('body', 'data-state'), 'error');
  }
});

/** Waits until the page is idle again; fails with the page's error message otherwise. */
async function settled(): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.state !== 'busy', undefined, { timeout: 120_000 });
  const state = await page.getAttribute('body', 'data-state');
  if (state !== 'idle') assert.fail(`page state ${state}: ${await page.textContent('#error')}`);
}

test('browser: igv view shows predicted tracks, a variant\'s ref/alt/difference, and a screenshot', { skip }, async () => {
  // A two-chromosome genome picked as a local FASTA file (no index: igv.js reads it whole).
  let seed = 7;
  const base = () => 'ACGT'[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % 4]!;
  const chr1 = Array.from({ length: 20_000 }, base).join('');
  const chr2 = Array.from({ length: 5_000 }, base).join('');
  const fa = join(tmp, 'genome.fa');
  // The page reads the FASTA whole (only it is picked); the CLI below reads it by its index.
  writeFastaFai(fa, new Map([['chr1', chr1], ['chr2', chr2]]));
  // Before a genome: a clear error, and no "Predicting…" left beside it.
  await page.fill('#region', 'chr1:6,001-10,000');
  await page.click('#predict');
  await page.waitForFunction(() => document.body.dataset.state !== 'busy');
  assert.match((await page.textContent('#error')) ?? '', /open a genome first/);
  assert.equal(await page.textContent('#message'), '');
  // Picking the files opens them: no second click.
  await page.setInputFiles('#genome-files', fa);
  await page.waitForFunction(() => document.body.dataset.state !== 'busy' && /open/.test(document.getElementById('message')?.textContent ?? ''));
  await settled();
  assert.equal(await page.textContent('#message'), 'Genome genome.fa open.');
  await page.selectOption('#model-served', 'enformer-small');
  await page.fill('#region', 'chr1:6,001-10,000');
  await page.fill('#tracks', '0-1,human_5');
  await page.click('#predict');
  await settled();
  const labels = async () => page.$$eval('.igv-track-div, .igv-track-name, .igv-track-label', (els) => els.map((e) => e.textContent ?? '').join('|'));
  const shown = await page.textContent('#message');
  assert.match(shown ?? '', /Showing 3 track\(s\) of head human: 32 bins of 128 bp/);
  for (const t of ['human_0', 'human_1', 'human_5']) assert.ok((await labels()).includes(t), `track ${t} shown`);

  // The variant: REF read from the genome, ALT another base; three tracks per selected track.
  const pos = 8000;
  const ref = chr1[pos - 1]!;
  const alt = ref === 'A' ? 'C' : 'A';
  await page.fill('#variant', `chr1:${pos} ${ref}>${alt}`);
  await page.click('#predict');
  await settled();
  assert.match((await page.textContent('#message')) ?? '', new RegExp(`variant chr1:${pos} ${ref}>${alt}`));
  const names = await labels();
  for (const t of ['human_0 ref', 'human_0 alt', 'human_0 alt-ref', 'human_5 alt-ref']) assert.ok(names.includes(t), `track ${t} shown`);

  // A REF that is not the genome's is an error in the page, not a silent prediction.
  await page.fill('#variant', `chr1:${pos} ${alt}>${ref}`);
  await page.click('#predict');
  await page.waitForFunction(() => document.body.dataset.state !== 'busy');
  assert.match((await page.textContent('#error')) ?? '', new RegExp(`REF ${alt} does not match the genome \\(${ref}\\) at chr1:${pos}`));
  await page.fill('#variant', `chr1:${pos} ${ref}>${alt}`);
  await page.click('#predict');
  await settled();

  mkdirSync(SCREENSHOTS, { recursive: true });
  const png = await page.screenshot({ path: join(SCREENSHOTS, 'browser-view.png') });
  const img = decodePng(png);
  assert.deepEqual([img.width, img.height], [VIEWPORT.width, VIEWPORT.height]);
  assert.ok(colourCount(img) > 50, `the screenshot has ${colourCount(img)} colours: blank?`);

  // Cancel while another model loads: the page says so, stays usable, and the next run works.
  await page.selectOption('#model-served', 'borzoi-small');
  await page.fill('#variant', '');
  await page.click('#predict');
  await page.click('#cancel');
  await page.waitForFunction(() => document.body.dataset.state !== 'busy');
  assert.equal(await page.textContent('#message'), 'Cancelled.');
  assert.equal(await page.isVisible('#error'), false);
  await page.selectOption('#model-served', 'enformer-small');
  await page.click('#predict');
  await settled();
  assert.match((await page.textContent('#message')) ?? '', /Showing 3 track\(s\)/);

  // A region longer than one window is tiled as the CLI's genome job tiles it: two 8,192-bp windows
  // for 8,000 bp, bins clipped at chr1's end, the values the CLI writes (WASM vs native: float32 rounding).
  await page.fill('#region', 'chr1:12,001-20,000');
  await page.fill('#variant', '');
  await page.click('#predict');
  await settled();
  assert.match((await page.textContent('#message')) ?? '', /Showing 3 track\(s\) of head human: 64 bins of 128 bp in 2 window\(s\) from chr1:11905\./);
  const got = await page.evaluate(async () => {
    const r = await window.seq2track.predictRegion({ model: 'enformer-small', region: 'chr1:12,001-20,000', tracks: '0-1,human_5' });
    return { ...r, values: Array.from(r.values) };
  });
  const cli = await runCli(['predict', '--model', fixture('enformer-small')!, '--genome', fa, '--region', 'chr1:12,001-20,000', '--tracks', '0-1,human_5', '--out', join(tmp, 'region.tsv')]);
  assert.equal(cli.code, 0, cli.stderr);
  const rows = readFileSync(join(tmp, 'region.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
  assert.deepEqual(got.tracks, ['human_0', 'human_1', 'human_5']);
  assert.equal(got.bins, 64);
  assert.equal(got.start, Number(rows[0]![2]));
  const want = rows.map((r) => Number(r[6]));
  const c = compare(got.values, want, 5e-5, 1e-4);
  assert.ok(c.ok, `page vs CLI: element ${c.worst} is ${got.values[c.worst]}, the CLI wrote ${want[c.worst]}`);
  assert.deepEqual(consoleErrors.filter((e) => /genome|igv/i.test(e)), [], 'igv.js logs no errors (it does not fetch its online genome list)');
});
