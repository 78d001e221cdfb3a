/**
 * The page: loads a model (served, picked folder or URL) into onnxruntime-web in a Web Worker,
 * opens a genome in igv.js, and shows predicted tracks for a region, with ref, alt and difference
 * tracks for a variant. `window.seq2track.predictFasta` is the automation hook for tests and notebooks.
 */
import type { Model } from '../models/model-core.js';
import { parseFastaText } from '../genome/fasta-parse.js';
import { predictRecords } from '../tasks/predict/records.js';
import { predictRegionsOn } from '../tasks/predict/regions-in-memory.js';
import { loadedModels, runBatches, scheduleOf } from '../tasks/job/run-core.js';
import { variantWindows } from '../tasks/variants/windows.js';
import { parseTargets, selectTracks, unnamedTracks, TargetsError, type TargetsTable } from '../formats/track-selection.js';
import { CancelledError, WebEngine } from '../engine/web/engine.js';
import { openModel, type ModelLocation } from './model-loader.js';
import { AlphaGenomeTracks, type AlphaGenomeResolution } from '../models/alphagenome/tracks-architecture.js';
import { pageWindowLength } from './window-length.js';
import { GenomeView, type WigTrack } from './view.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  runtime: $('runtime'),
  served: $<HTMLSelectElement>('model-served'),
  modelFiles: $<HTMLInputElement>('model-files'),
  modelUrl: $<HTMLInputElement>('model-url'),
  backend: $<HTMLSelectElement>('backend'),
  resolution: $<HTMLSelectElement>('resolution'),
  genomeFiles: $<HTMLInputElement>('genome-files'),
  genomeUrl: $<HTMLInputElement>('genome-url'),
  genomeOpen: $<HTMLButtonElement>('genome-open'),
  region: $<HTMLInputElement>('region'),
  head: $<HTMLInputElement>('head'),
  tracks: $<HTMLInputElement>('tracks'),
  targets: $<HTMLInputElement>('targets'),
  variant: $<HTMLInputElement>('variant'),
  window: $<HTMLInputElement>('window'),
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
let current: { key: string; alphaGenome: string; model: Model } | undefined;
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

/** How a model is loaded: the trunk tile, and for AlphaGenome its organism (its one head) and output resolution. */
interface UseOptions {
  tileLength?: number;
  organism?: string;
  resolution?: AlphaGenomeResolution;
}

/**
 * The model of a location, loaded once. A new model's sessions replace the last one's in the worker
 * (same session names), so one model is in memory at a time. The organism and resolution build
 * AlphaGenome's graphs, so only an AlphaGenome model is reloaded when they change.
 */
async function useModel(loc: ModelLocation, options: UseOptions = {}): Promise<Model> {
  const key = `${locationKey(loc)} tile ${options.tileLength ?? 'default'}`;
  const alphaGenome = `${options.organism ?? 'human'} ${options.resolution ?? 128}`;
  if (current?.key === key && (!(current.model.arch instanceof AlphaGenomeTracks) || current.alphaGenome === alphaGenome)) return current.model;
  current = undefined;
  say(`Loading model ${loc.name}…`);
  const eng = await useEngine();
  const { model } = await openModel(loc, eng, { threads: THREADS, tileLength: options.tileLength, alphaGenome: { organism: options.organism, resolution: options.resolution } });
  current = { key, alphaGenome, model };
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
    // The "…ing" line would read as still running beside the error.
    say('');
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
 * `tileLength` sets the trunk tile (bp) as the CLI's --tile-length does; for an AlphaGenome model,
 * `organism` (default human) is its one head and `resolution` (128, default, or 1 bp) its outputs'.
 */
async function predictFasta(args: { model: string; fasta: string; heads?: string[]; tileLength?: number; organism?: string; resolution?: AlphaGenomeResolution }): Promise<Record<string, HeadOutput>> {
  return job(`Predicting with ${args.model}`, async () => {
    const model = await useModel(servedLocation(args.model), args);
    const records = parseFastaText(args.fasta, 'FASTA');
    const p = await predictRecords(model, records, 'FASTA', { heads: args.heads, onProgress: progress });
    say(`Predicted ${records.length} record(s) with ${args.model}.`);
    return Object.fromEntries(Object.entries(p.heads).map(([h, t]) => [h, { dims: t.shape, data: t.data }]));
  });
}

/** Loads a served model ahead of predictions (timings, notebooks); resolves with its heads. */
async function loadModel(args: { model: string; tileLength?: number; organism?: string; resolution?: AlphaGenomeResolution }): Promise<{ heads: string[] }> {
  return job(`Loading ${args.model}`, async () => {
    const model = await useModel(servedLocation(args.model), args);
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

/** A region of the open genome through the run core, tiled into windows as the CLI's genome job tiles it. */
function predictOpenRegion(model: Model, head: string, table: TargetsTable, tracks: string | undefined, region: { chr: string; start: number; end: number }, windowLength: number) {
  const label = `${region.chr}:${region.start + 1}-${region.end}`;
  return predictRegionsOn(loadedModels([model]), async () => table, { genome: view.reference(), regions: [{ chrom: region.chr, start: region.start, end: region.end, label }], head, tracks, windowLength, onProgress: progress });
}

/** The controls' AlphaGenome choices: the head field names the organism (its one head), the select the resolution. */
function controlOptions(): UseOptions {
  return { organism: ui.head.value.trim() || undefined, resolution: Number(ui.resolution.value) as AlphaGenomeResolution };
}

/**
 * The hook for a region: the open genome's region through a served model, as the CLI's genome job
 * predicts it; the selected tracks' values [bins, tracks] and the first bin's 0-based start.
 */
async function predictRegion(args: { model: string; region: string; head?: string; tracks?: string; resolution?: AlphaGenomeResolution; windowLength?: number }): Promise<{ tracks: string[]; start: number; binSize: number; bins: number; values: Float32Array }> {
  return job(`Predicting with ${args.model}`, async () => {
    if (!view.ready) throw new Error('open a genome first');
    const model = await useModel(servedLocation(args.model), { organism: args.head, resolution: args.resolution });
    const head = args.head ?? model.headNames[0]!;
    const length = pageWindowLength(model.arch, args.windowLength).length;
    const r = await predictOpenRegion(model, head, await targetsTable(head, model.arch.tracks(head)), args.tracks, parseRegion(args.region), length);
    const { plan, values } = r.results[0]!;
    say(`Predicted ${args.region} with ${args.model}.`);
    return { tracks: r.tracks.map((t) => t.identifier), start: plan.coverStart + plan.firstBin * r.binSize, binSize: r.binSize, bins: plan.bins, values };
  });
}

/**
 * Predicts a region as the CLI's genome job does (windows tiling the whole region, through the run
 * core), or the window centred on a variant (ref and alt, as the variant job builds them), and shows
 * the selected tracks.
 */
async function predictView(): Promise<void> {
  await job('Predicting', async () => {
    if (!view.ready) throw new Error('open a genome first');
    const model = await useModel(chosenLocation(), controlOptions());
    const head = ui.head.value.trim() || model.headNames[0]!;
    if (!model.headNames.includes(head)) throw new Error(`unknown head '${head}' (the model has: ${model.headNames.join(', ')})`);
    const table = await targetsTable(head, model.arch.tracks(head));
    const selection = ui.tracks.value.trim() || undefined;
    const variantText = ui.variant.value.trim();
    const variant = variantText ? parseVariant(variantText) : undefined;
    const region = ui.region.value.trim() ? parseRegion(ui.region.value) : undefined;
    if (!region && !variant) throw new Error('give a region (chr:start-end) or a variant');
    const windowText = ui.window.value.replace(/,/g, '').trim();
    const window = pageWindowLength(model.arch, windowText === '' ? undefined : Number(windowText));
    const binSize = model.binSize;
    const wig: WigTrack[] = [];
    let shown: number;
    let selected: number;
    if (!variant) {
      const label = `${region!.chr}:${region!.start + 1}-${region!.end}`;
      const r = await predictOpenRegion(model, head, table, selection, region!, window.length);
      const { plan, values } = r.results[0]!;
      const K = r.tracks.length;
      const start = plan.coverStart + plan.firstBin * binSize;
      const tracks = r.tracks.slice(0, MAX_SHOWN);
      tracks.forEach((t, k) => wig.push({ chr: region!.chr, start, binSize, name: t.identifier, values: Float32Array.from({ length: plan.bins }, (_, b) => values[b * K + k]!), color: COLORS.ref }));
      await view.show(wig, label);
      [shown, selected] = [tracks.length, r.tracks.length];
      say(`Showing ${shown} track(s)${selected > shown ? ` (the first ${shown} of ${selected} selected)` : ''} of head ${head}: ${plan.bins} bins of ${binSize} bp in ${plan.windows.length} window(s) from ${region!.chr}:${start + 1}.${window.note}`);
      return;
    }
    const length = window.length;
    const w = await variantWindows(view.reference(), variant.chr, variant.pos - 1, variant.ref, [variant.alt], length);
    if (w.genomeRef !== variant.ref) throw new Error(`variant ${variantText}: REF ${variant.ref} does not match the genome (${w.genomeRef}) at ${variant.chr}:${variant.pos}`);
    const tracks = selectTracks(table, selection);
    const outputs: Float32Array[] = [];
    const T = model.arch.tracks(head);
    const windows = [w.ref, w.alts[0]!];
    // The ref and the alt window, one model run each (a full window is what WebAssembly memory holds).
    await runBatches({
      schedule: scheduleOf(model),
      batches: windows.map((unit) => ({ model: 0, items: [{ unit, run: { shift: 0, rc: false } }] })),
      sequence: (seq) => seq,
      request: (m, { input }) => m.predict(input, { heads: [head], onTile: (d, t) => progress(outputs.length * t + d, windows.length * t) }),
      sink: (p) => void outputs.push(p.heads[head]!.data),
    });
    const bins = model.outputBins(length);
    const start = w.refStart + model.outputOffset(length);
    const column = (data: Float32Array, k: number) => Float32Array.from({ length: bins }, (_, b) => data[b * T + k]!);
    const shownTracks = tracks.slice(0, MAX_SHOWN);
    for (const t of shownTracks) {
      const ref = column(outputs[0]!, t.index);
      const alt = column(outputs[1]!, t.index);
      const base = { chr: variant.chr, start, binSize };
      wig.push({ ...base, name: `${t.identifier} ref`, values: ref, color: COLORS.ref, scaleGroup: t.identifier });
      wig.push({ ...base, name: `${t.identifier} alt`, values: alt, color: COLORS.alt, scaleGroup: t.identifier });
      wig.push({ ...base, name: `${t.identifier} alt-ref`, values: alt.map((a, b) => a - ref[b]!), color: COLORS.diff });
    }
    const locus = region ? `${region.chr}:${region.start + 1}-${region.end}` : `${variant.chr}:${start + 1}-${start + bins * binSize}`;
    await view.show(wig, locus);
    [shown, selected] = [shownTracks.length, tracks.length];
    say(`Showing ${shown} track(s)${selected > shown ? ` (the first ${shown} of ${selected} selected)` : ''} of head ${head}: ${bins} bins of ${binSize} bp from ${variant.chr}:${start + 1}, variant ${variantText}.${window.note}`);
  });
}

/** Opens the genome files just picked, or the URL given. */
async function openGenome(from: 'files' | 'url'): Promise<void> {
  await job('Opening genome', async () => {
    const files = [...(ui.genomeFiles.files ?? [])];
    const url = ui.genomeUrl.value.trim();
    if (from === 'files' && files.length === 0) throw new Error('pick a FASTA (+ .fai) or .2bit file');
    if (from === 'url' && url === '') throw new Error('give the URL of an indexed FASTA (+ .fai) or a .2bit');
    const name = await view.open(from === 'files' ? { kind: 'files', files } : { kind: 'url', url });
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

// Picking the files is the choice: they open at once; a URL opens with its button or Enter.
ui.genomeFiles.addEventListener('change', () => void openGenome('files').catch(() => {}));
ui.genomeOpen.addEventListener('click', () => void openGenome('url').catch(() => {}));
ui.genomeUrl.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') void openGenome('url').catch(() => {});
});
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
    seq2track: { predictFasta: typeof predictFasta; predictRegion: typeof predictRegion; loadModel: typeof loadModel; ready: Promise<void>; models: () => string[] };
  }
}

window.seq2track = { predictFasta, predictRegion, loadModel, ready: start(), models: () => served.map((m) => m.name) };
