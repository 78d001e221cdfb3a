/**
 * The page: loads a model (served, picked folder or URL) into onnxruntime-web in a Web Worker,
 * opens a genome in igv.js, and shows predicted tracks for a region, with ref, alt and difference
 * tracks for a variant. `window.seq2track.predictFasta` is the automation hook for tests and notebooks.
 */
import type { Model } from '../models/model-core.js';
import { parseFastaText } from '../genome/fasta-parse.js';
import { predictRecords } from '../tasks/predict-records.js';
import { altWindow, windowStart } from '../tasks/variant-windows.js';
import { parseTargets, selectTracks, unnamedTracks, TargetsError, type TargetsTable } from '../formats/track-selection.js';
import { CancelledError, WebEngine } from '../engine/web/engine.js';
import { openModel, type ModelLocation } from './model-loader.js';
import { GenomeView, type WigTrack } from './view.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  runtime: $('runtime'),
  served: $<HTMLSelectElement>('model-served'),
  modelFiles: $<HTMLInputElement>('model-files'),
  modelUrl: $<HTMLInputElement>('model-url'),
  backend: $<HTMLSelectElement>('backend'),
  genomeFiles: $<HTMLInputElement>('genome-files'),
  genomeUrl: $<HTMLInputElement>('genome-url'),
  genomeOpen: $<HTMLButtonElement>('genome-open'),
  region: $<HTMLInputElement>('region'),
  head: $<HTMLInputElement>('head'),
  tracks: $<HTMLInputElement>('tracks'),
  targets: $<HTMLInputElement>('targets'),
  variant: $<HTMLInputElement>('variant'),
  predict: $<HTMLButtonElement>('predict'),
  cancel: $<HTMLButtonElement>('cancel'),
  progress: $<HTMLProgressElement>('progress'),
  message: $('message'),
  error: $('error'),
};

const ORT_BASE = new URL('ort/', document.baseURI).href;
const THREADS = crossOriginIsolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1;
/** Predicted tracks drawn at once at most (each is an igv track). */
const MAX_SHOWN = 24;

let served: { name: string; files: string[] }[] = [];
let current: { key: string; model: Model } | undefined;
let busy = false;
/** Set by Cancel: the running job's failure (whichever call notices the ended worker) is a cancel. */
let cancelled = false;
const view = new GenomeView($('igv'));

function say(text: string): void {
  ui.message.textContent = text;
}

function showError(e: unknown): void {
  const text = e instanceof CancelledError ? '' : e instanceof Error ? e.message : String(e);
  ui.error.textContent = text;
  ui.error.hidden = text === '';
  if (e instanceof CancelledError) say('Cancelled.');
  document.body.dataset.state = text === '' ? 'idle' : 'error';
}

function progress(done: number, total: number): void {
  ui.progress.max = Math.max(1, total);
  ui.progress.value = done;
}

/** The location the controls name: a picked folder, else a URL, else the served model chosen. */
function chosenLocation(): ModelLocation {
  const files = [...(ui.modelFiles.files ?? [])];
  if (files.length > 0) {
    const folder = files[0]!.webkitRelativePath.split('/')[0] || 'picked folder';
    return { kind: 'files', name: folder, files };
  }
  const url = ui.modelUrl.value.trim();
  if (url !== '') return { kind: 'url', name: url, base: url.endsWith('/') ? url : `${url}/` };
  if (ui.served.value !== '') return servedLocation(ui.served.value);
  throw new Error('choose a model: a served one, a folder (config.json + *.safetensors) or a URL');
}

function servedLocation(name: string): ModelLocation {
  const entry = served.find((m) => m.name === name);
  if (!entry) throw new Error(`no served model named '${name}' (served: ${served.map((m) => m.name).join(', ') || 'none'})`);
  return { kind: 'url', name, base: new URL(`models/${encodeURIComponent(name)}/`, document.baseURI).href, files: entry.files };
}

function locationKey(loc: ModelLocation): string {
  const where = loc.kind === 'url' ? loc.base : `${loc.name}:${loc.files.map((f) => `${f.name}/${f.size}/${f.lastModified}`).join(',')}`;
  return where;
}

/** The engine worker, started once (onnxruntime-web compiles its WebAssembly there) and again after a cancel. */
let engine: WebEngine | undefined;

async function useEngine(): Promise<WebEngine> {
  const webgpu = ui.backend.value === 'webgpu';
  if (webgpu && !(await webgpuAdapter())) throw new Error('WebGPU: this browser offers no WebGPU adapter; choose the WASM backend');
  engine ??= await WebEngine.start({ ortBase: ORT_BASE, threads: THREADS, executionProvider: webgpu ? 'webgpu' : 'wasm' });
  return engine;
}

/** Whether a WebGPU adapter exists (navigator.gpu alone is not enough: it is there with GPUs disabled). */
async function webgpuAdapter(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  return gpu ? (await gpu.requestAdapter().catch(() => null)) !== null : false;
}

/**
 * The model of a location, loaded once. A new model's sessions replace the last one's in the worker
 * (same session names), so one model is in memory at a time.
 */
async function useModel(loc: ModelLocation, tileLength?: number): Promise<Model> {
  const key = `${locationKey(loc)} tile ${tileLength ?? 'default'}`;
  if (current?.key === key) return current.model;
  current = undefined;
  say(`Loading model ${loc.name}…`);
  const eng = await useEngine();
  const { model } = await openModel(loc, eng, { threads: THREADS, tileLength });
  current = { key, model };
  return model;
}

/** Runs one job at a time with the controls, progress bar and messages kept in step. */
async function job<T>(what: string, work: () => Promise<T>): Promise<T> {
  if (busy) throw new Error('another prediction is running (cancel it first)');
  busy = true;
  cancelled = false;
  showError('');
  document.body.dataset.state = 'busy';
  ui.predict.disabled = true;
  ui.cancel.disabled = false;
  progress(0, 1);
  say(`${what}…`);
  try {
    const result = await work();
    document.body.dataset.state = 'idle';
    return result;
  } catch (e) {
    showError(cancelled ? new CancelledError() : e);
    throw e;
  } finally {
    busy = false;
    ui.predict.disabled = false;
    ui.cancel.disabled = true;
  }
}

export interface HeadOutput {
  dims: [number, number, number];
  data: Float32Array;
}

/**
 * The hook: every FASTA record through a served model; heads after softplus, [records, bins, tracks].
 * `tileLength` sets the trunk tile (bp) as the CLI's --tile-length does.
 */
async function predictFasta(args: { model: string; fasta: string; heads?: string[]; tileLength?: number }): Promise<Record<string, HeadOutput>> {
  return job(`Predicting with ${args.model}`, async () => {
    const model = await useModel(servedLocation(args.model), args.tileLength);
    const records = parseFastaText(args.fasta, 'FASTA');
    const p = await predictRecords(model, records, 'FASTA', { heads: args.heads, onProgress: progress });
    say(`Predicted ${records.length} record(s) with ${args.model}.`);
    return Object.fromEntries(Object.entries(p.heads).map(([h, t]) => [h, { dims: t.shape, data: t.data }]));
  });
}

/** Loads a served model ahead of predictions (timings, notebooks); resolves with its heads. */
async function loadModel(args: { model: string; tileLength?: number }): Promise<{ heads: string[] }> {
  return job(`Loading ${args.model}`, async () => {
    const model = await useModel(servedLocation(args.model), args.tileLength);
    say(`Model ${args.model} loaded.`);
    return { heads: model.headNames };
  });
}

/** `chr:pos REF>ALT` (1-based), also `chr:pos:REF:ALT` and `chr-pos-REF-ALT`. */
function parseVariant(text: string): { chr: string; pos: number; ref: string; alt: string } {
  const m = /^\s*([^\s:]+)[:-]([\d,]+)[\s:-]+([ACGTNacgtn]+)\s*[>:/-]\s*([ACGTNacgtn]+)\s*$/.exec(text);
  if (!m) throw new Error(`variant '${text}': write it as chr:pos REF>ALT, e.g. chr1:4097 A>G`);
  return { chr: m[1]!, pos: Number(m[2]!.replace(/,/g, '')), ref: m[3]!.toUpperCase(), alt: m[4]!.toUpperCase() };
}

function parseRegion(text: string): { chr: string; start: number; end: number } {
  const m = /^\s*([^\s:]+):([\d,]+)-([\d,]+)\s*$/.exec(text);
  if (!m) throw new Error(`region '${text}': write it as chr:start-end (1-based, inclusive), e.g. chr1:1-8192`);
  const start = Number(m[2]!.replace(/,/g, '')) - 1;
  const end = Number(m[3]!.replace(/,/g, ''));
  if (!(end > start && start >= 0)) throw new Error(`region '${text}': the end must not be before the start`);
  return { chr: m[1]!, start, end };
}

async function targetsTable(head: string, count: number): Promise<TargetsTable> {
  const file = ui.targets.files?.[0];
  if (!file) return unnamedTracks(head, count);
  const table = parseTargets(await file.text(), file.name);
  if (table.tracks.length !== count) throw new TargetsError(`${file.name}: the targets table has ${table.tracks.length} tracks but the ${head} head has ${count}`);
  return table;
}

const COLORS = { ref: '#1f77b4', alt: '#d62728', diff: '#2ca02c' };

/** Predicts the window around the region (or centred on the variant) and shows the selected tracks. */
async function predictView(): Promise<void> {
  await job('Predicting', async () => {
    if (!view.ready) throw new Error('open a genome first');
    const model = await useModel(chosenLocation());
    const head = ui.head.value.trim() || model.headNames[0]!;
    if (!model.headNames.includes(head)) throw new Error(`unknown head '${head}' (the model has: ${model.headNames.join(', ')})`);
    const table = await targetsTable(head, model.arch.tracks(head));
    const tracks = selectTracks(table, ui.tracks.value.trim() || undefined);
    const variantText = ui.variant.value.trim();
    const variant = variantText ? parseVariant(variantText) : undefined;
    const region = ui.region.value.trim() ? parseRegion(ui.region.value) : undefined;
    if (!region && !variant) throw new Error('give a region (chr:start-end) or a variant');
    const chr = variant?.chr ?? region!.chr;
    const length = model.arch.defaultSequenceLength;
    const centre = variant ? variant.pos - 1 : Math.floor((region!.start + region!.end) / 2);
    const ws = windowStart(centre, length);
    const genome = view.reference();
    const refSeq = await genome.getSequence(chr, ws, ws + length);
    const windows = [refSeq];
    if (variant) {
      const h = Math.floor(length / 2);
      const onGenome = refSeq.slice(h, h + variant.ref.length).toUpperCase();
      if (onGenome !== variant.ref) throw new Error(`variant ${variantText}: REF ${variant.ref} does not match the genome (${onGenome}) at ${chr}:${variant.pos}`);
      const after = variant.pos - 1 + variant.ref.length;
      const right = await genome.getSequence(chr, after, after + length);
      windows.push(altWindow(refSeq.slice(0, h), variant.alt, right, length));
    }
    const outputs: Float32Array[] = [];
    const runs = windows.length;
    for (const [i, seq] of windows.entries()) {
      const p = await model.predict([seq.toUpperCase()], { heads: [head], onTile: (d, t) => progress(i * t + d, runs * t) });
      outputs.push(p.heads[head]!.data);
    }
    const bins = model.outputBins(length);
    const start = ws + model.outputOffset(length);
    const T = model.arch.tracks(head);
    const column = (data: Float32Array, k: number) => Float32Array.from({ length: bins }, (_, b) => data[b * T + k]!);
    const shown = tracks.slice(0, MAX_SHOWN);
    const wig: WigTrack[] = [];
    for (const t of shown) {
      const ref = column(outputs[0]!, t.index);
      const base = { chr, start, binSize: model.binSize };
      if (!variant) {
        wig.push({ ...base, name: t.identifier, values: ref, color: COLORS.ref });
        continue;
      }
      const alt = column(outputs[1]!, t.index);
      wig.push({ ...base, name: `${t.identifier} ref`, values: ref, color: COLORS.ref, scaleGroup: t.identifier });
      wig.push({ ...base, name: `${t.identifier} alt`, values: alt, color: COLORS.alt, scaleGroup: t.identifier });
      wig.push({ ...base, name: `${t.identifier} alt-ref`, values: alt.map((a, b) => a - ref[b]!), color: COLORS.diff });
    }
    const locus = region ? `${chr}:${region.start + 1}-${region.end}` : `${chr}:${start + 1}-${start + bins * model.binSize}`;
    await view.show(wig, locus);
    const more = tracks.length > shown.length ? ` (the first ${shown.length} of ${tracks.length} selected)` : '';
    say(`Showing ${shown.length} track(s)${more} of head ${head}: ${bins} bins of ${model.binSize} bp from ${chr}:${start + 1}${variant ? `, variant ${variantText}` : ''}.`);
  });
}

async function openGenome(): Promise<void> {
  await job('Opening genome', async () => {
    const files = [...(ui.genomeFiles.files ?? [])];
    const url = ui.genomeUrl.value.trim();
    if (files.length === 0 && url === '') throw new Error('pick a FASTA (+ .fai) or .2bit file, or give an indexed FASTA URL');
    const name = await view.open(files.length > 0 ? { kind: 'files', files } : { kind: 'url', url });
    say(`Genome ${name} open.`);
  });
}

view.onClick(async (chr, position) => {
  if (busy) return;
  try {
    const base = (await view.reference().getSequence(chr, position - 1, position)).toUpperCase();
    const alt = base === 'A' ? 'G' : base === 'G' ? 'A' : base === 'C' ? 'T' : 'C';
    ui.variant.value = `${chr}:${position} ${base === 'N' ? 'A' : base}>${alt}`;
    await predictView();
  } catch {
    // shown by job()
  }
});

ui.genomeOpen.addEventListener('click', () => void openGenome().catch(() => {}));
ui.predict.addEventListener('click', () => void predictView().catch(() => {}));
ui.cancel.addEventListener('click', () => {
  // Ending the worker is the only way to stop a run inside ONNX Runtime; the next job starts a new one.
  const e = engine;
  engine = undefined;
  current = undefined;
  cancelled = busy;
  e?.cancel();
});
ui.backend.addEventListener('change', () => {
  const e = engine;
  engine = undefined;
  current = undefined;
  void e?.close();
});

async function start(): Promise<void> {
  const gpu = (await webgpuAdapter()) ? 'WebGPU adapter available' : 'no WebGPU adapter';
  ui.runtime.textContent = `${crossOriginIsolated ? `cross-origin isolated, ${THREADS} WASM threads` : 'not cross-origin isolated: 1 WASM thread'}; ${gpu}`;
  try {
    const r = await fetch(new URL('models/index.json', document.baseURI));
    if (r.ok) served = (await r.json()) as typeof served;
  } catch {
    // a static deployment without `seq2track serve`: folders and URLs only
  }
  for (const m of served) ui.served.add(new Option(m.name, m.name));
  if (served.length > 0) ui.served.value = served[0]!.name;
  document.body.dataset.state = 'idle';
}

declare global {
  interface Window {
    seq2track: { predictFasta: typeof predictFasta; loadModel: typeof loadModel; ready: Promise<void>; models: () => string[] };
  }
}

window.seq2track = { predictFasta, loadModel, ready: start(), models: () => served.map((m) => m.name) };
