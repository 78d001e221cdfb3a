/**
 * The browser's engine worker: owns onnxruntime-web (WASM with SIMD and threads, or WebGPU) and the
 * external-data weight blobs, off the page's main thread. It answers the same requests as the Node
 * worker; weight pieces are read from picked files (Blob.slice) or URLs (HTTP range requests)
 * instead of the file system. onnxruntime-web is loaded from the server at run time (not bundled),
 * so its own pthread workers find their module and .wasm beside it.
 */
import type * as Ort from 'onnxruntime-web';
import type { BlobPiece, BlobSpec, Reply, TensorData } from '../protocol.js';
import type { ByteSource, WebRequest } from './protocol.js';
import { blobFeedViews } from '../blob-feeds.js';
import { transferable } from '../tensor-copy.js';
import { keepStashed, takeStashed } from '../run-stash.js';
import { TensorStore } from '../tensor-store.js';

interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent) => void) | null;
}
const scope = self as unknown as WorkerScope;

let ortBase = '';
let ort: typeof Ort | undefined;
const sources = new Map<string, ByteSource>();
const blobs = new Map<string, Uint8Array>();
const sessions = new Map<string, Ort.InferenceSession>();
/** Stashed run outputs, held in memory (no file system here). */
const stash = new TensorStore();

async function runtime(threads: number | undefined): Promise<typeof Ort> {
  if (ort) return ort;
  const mod = (await import(/* @vite-ignore */ `${ortBase}ort.min.mjs`)) as typeof Ort;
  mod.env.wasm.wasmPaths = ortBase;
  // Threads need a cross-origin isolated page (SharedArrayBuffer); without it ORT runs on one.
  mod.env.wasm.numThreads = (self as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated ? (threads ?? navigator.hardwareConcurrency) : 1;
  mod.env.wasm.simd = true;
  ort = mod;
  return mod;
}

/** Reads bytes [from, from + length) of a source; a server that ignores Range gets read once whole. */
async function readRange(key: string, from: number, length: number): Promise<Uint8Array> {
  const source = sources.get(key);
  if (!source) throw new Error(`no byte source named ${key}`);
  if ('blob' in source) {
    if (from + length > source.blob.size) throw new Error(`${key}: unexpected end of file at byte ${source.blob.size}`);
    return new Uint8Array(await source.blob.slice(from, from + length).arrayBuffer());
  }
  const r = await fetch(source.url, { headers: { Range: `bytes=${from}-${from + length - 1}` } });
  if (r.status === 206) {
    const bytes = new Uint8Array(await r.arrayBuffer());
    if (bytes.length !== length) throw new Error(`${source.url}: unexpected end of file at byte ${from + bytes.length}`);
    return bytes;
  }
  if (!r.ok) throw new Error(`${source.url}: HTTP ${r.status} ${r.statusText}`);
  sources.set(key, { blob: await r.blob() });
  return readRange(key, from, length);
}

/** Gap (bytes) under which two pieces of one source are read with one request. */
const MERGE_GAP = 1 << 20;
const MAX_READ = 64 << 20;

async function assemble(spec: BlobSpec): Promise<Uint8Array> {
  if (spec.buffer) return new Uint8Array(spec.buffer, 0, spec.size);
  const blob = new Uint8Array(spec.size);
  const filePieces: Extract<BlobPiece, { kind: 'file' }>[] = [];
  for (const piece of spec.pieces) {
    if (piece.kind === 'bytes') blob.set(piece.bytes.subarray(0, piece.length), piece.to);
    else filePieces.push(piece);
  }
  // Pieces come in graph order; reading them in file order, neighbours merged, needs few requests.
  filePieces.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.from - b.from));
  for (let i = 0; i < filePieces.length; ) {
    const first = filePieces[i]!;
    let end = first.from + first.length;
    let j = i + 1;
    while (j < filePieces.length) {
      const p = filePieces[j]!;
      if (p.path !== first.path || p.from > end + MERGE_GAP || p.from + p.length - first.from > MAX_READ) break;
      end = Math.max(end, p.from + p.length);
      j++;
    }
    const bytes = await readRange(first.path, first.from, end - first.from);
    for (let k = i; k < j; k++) {
      const p = filePieces[k]!;
      blob.set(bytes.subarray(p.from - first.from, p.from - first.from + p.length), p.to);
    }
    i = j;
  }
  return blob;
}

async function handle(req: WebRequest): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  switch (req.op) {
    case 'init':
      ortBase = req.ortBase;
      return { result: null, transfer: [] };
    case 'source':
      sources.set(req.key, req.source);
      return { result: null, transfer: [] };
    case 'blob':
      blobs.set(req.name, await assemble(req.spec));
      return { result: null, transfer: [] };
    case 'dropBlob':
      if (req.poison) blobs.get(req.name)?.fill(0xff);
      blobs.delete(req.name);
      return { result: null, transfer: [] };
    case 'session': {
      const rt = await runtime(req.options.threads);
      const externalData = req.blobs.map((name) => {
        const data = blobs.get(name);
        if (!data) throw new Error(`unknown blob ${name}`);
        return { path: name, data };
      });
      const ep = req.options.executionProvider === 'webgpu' ? 'webgpu' : 'wasm';
      const session = await rt.InferenceSession.create(req.model, {
        // Ops WebGPU has no kernel for run on the WASM provider (ORT assigns them node by node).
        executionProviders: ep === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'],
        graphOptimizationLevel: 'all',
        // WASM memory only grows: an arena would save no page faults (SessionOpts.memoryArena).
        enableCpuMemArena: false,
        externalData,
        ...req.options.sessionOptions,
      });
      await sessions.get(req.id)?.release();
      sessions.set(req.id, session);
      return { result: { inputs: session.inputNames, outputs: session.outputNames }, transfer: [] };
    }
    case 'run': {
      const session = sessions.get(req.id);
      if (!session || !ort) throw new Error(`no session ${req.id}`);
      const feeds: Record<string, Ort.Tensor> = {};
      for (const [k, v] of Object.entries({ ...req.feeds, ...(await takeStashed(stash, req.stash)) })) feeds[k] = new ort.Tensor(v.dtype, v.data, v.dims);
      if (req.blobFeeds) {
        for (const [k, v] of Object.entries(blobFeedViews(req.blobFeeds, blobs))) feeds[k] = new ort.Tensor('float32', v.data, v.dims);
      }
      const out = await session.run(feeds, [...new Set([...req.fetches, ...(req.stash?.keep?.names ?? [])])]);
      // Kept outputs are copied (fromOrt): a WebGPU output's data is not a plain array until read.
      const kept = await keepStashed(stash, req.stash, Object.fromEntries((req.stash?.keep?.names ?? []).map((k) => [k, transferable(out[k]!)])));
      const result: Record<string, TensorData> = {};
      for (const name of req.fetches) if (!kept.has(name)) result[name] = transferable(out[name]!);
      for (const t of Object.values(out)) t.dispose();
      return { result, transfer: Object.values(result).map((t) => t.data.buffer as ArrayBuffer) };
    }
    case 'dropStash':
      return { result: await stash.drop(req.group), transfer: [] };
    case 'release':
      await sessions.get(req.id)?.release();
      sessions.delete(req.id);
      return { result: null, transfer: [] };
  }
}

scope.onmessage = async (ev: MessageEvent) => {
  const msg = ev.data as { seq: number; req: WebRequest };
  try {
    const { result, transfer } = await handle(msg.req);
    scope.postMessage({ seq: msg.seq, ok: true, result } satisfies Reply, transfer);
  } catch (e) {
    scope.postMessage({ seq: msg.seq, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies Reply);
  }
};
