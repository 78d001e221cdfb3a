/**
 * Engine worker: owns the ONNX Runtime sessions and the external-data blobs (model weights), so the
 * synchronous `run()` never blocks the main thread's event loop.
 */
import { parentPort } from 'node:worker_threads';
import { openSync, readSync, closeSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import v8 from 'node:v8';
import { freemem } from 'node:os';
import { runInNewContext } from 'node:vm';
import { defaultStashMemory, wantsArena, type BlobSpec, type Reply, type Request, type TensorData } from './protocol.js';
import { blobFeedViews } from './blob-feeds.js';
import { transferable } from './tensor-copy.js';
import { keepStashed, takeStashed } from './run-stash.js';
import { openSpillFile } from './spill-file.js';
import { TensorStore } from './tensor-store.js';
import { OutputScratch, sharesMemory } from './output-scratch.js';

const blobs = new Map<string, Uint8Array>();

// A dropped weight blob is hundreds of MB that V8 would free only at its next major GC, maybe after
// the next blob is allocated; collecting right away keeps peak memory at one blob.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const sessions = new Map<string, ort.InferenceSession>();
/** Stashed run outputs; made on first use with the options of the sessions made before (`stashMemory`). */
let stash: TensorStore | undefined;
let stashMemory: number | undefined;
/**
 * Where kept outputs are written, run after run (output-scratch.ts), for the sessions made with the
 * memory arena: those that trade retained memory for warm pages.
 */
const scratch = new OutputScratch();
const theStash = () => (stash ??= new TensorStore({ memoryBudget: stashMemory ?? defaultStashMemory(freemem()), openSpill: () => openSpillFile() }));

/** A dropped blob's memory kept for the next blob of its size (`dropBlob` with `reuse`). */
let spare: Uint8Array | undefined;

function assemble(spec: BlobSpec): Uint8Array {
  if (spec.buffer) return new Uint8Array(spec.buffer, 0, spec.size);
  // Every byte a tensor reads is overwritten by the pieces; alignment gaps are never read.
  const blob = spare?.byteLength === spec.size ? spare : new Uint8Array(spec.size);
  spare = undefined;
  const fds = new Map<string, number>();
  try {
    for (const piece of spec.pieces) {
      if (piece.kind === 'bytes') {
        blob.set(piece.bytes.subarray(0, piece.length), piece.to);
        continue;
      }
      let fd = fds.get(piece.path);
      if (fd === undefined) {
        fd = openSync(piece.path, 'r');
        fds.set(piece.path, fd);
      }
      let done = 0;
      while (done < piece.length) {
        const n = readSync(fd, blob, piece.to + done, piece.length - done, piece.from + done);
        if (n === 0) throw new Error(`${piece.path}: unexpected end of file at byte ${piece.from + done}`);
        done += n;
      }
    }
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
  return blob;
}

function toOrt(t: TensorData): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data, t.dims);
}

/** An output as TensorData without a copy (kept in this worker). */
function viewOf(t: ort.Tensor): TensorData {
  return { dtype: t.type as TensorData['dtype'], dims: [...t.dims], data: t.data as Float32Array | BigInt64Array };
}

async function handle(req: Request): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  switch (req.op) {
    case 'blob':
      blobs.set(req.name, assemble(req.spec));
      return { result: null, transfer: [] };
    case 'dropBlob':
      // ONNX Runtime copies in-memory external data into its own initializers at session creation,
      // so the blob is garbage once the sessions exist. `poison` overwrites it first (tests prove the copy).
      if (req.poison) blobs.get(req.name)?.fill(0xff);
      spare = req.reuse && !req.poison ? blobs.get(req.name) : undefined;
      blobs.delete(req.name);
      collectGarbage();
      return { result: null, transfer: [] };
    case 'session': {
      const externalData = req.blobs.map((name) => {
        const data = blobs.get(name);
        if (!data) throw new Error(`unknown blob ${name}`);
        return { path: name, data };
      });
      const o = req.options;
      stashMemory = o.stashMemory;
      const arena = wantsArena(req, freemem());
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [o.executionProvider ?? 'cpu'],
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        // Off unless asked: the arena keeps its high-water mark for the session's lifetime.
        enableCpuMemArena: arena,
        externalData,
      };
      if (o.threads !== undefined) sessionOptions.intraOpNumThreads = o.threads;
      Object.assign(sessionOptions, o.sessionOptions);
      const session = await ort.InferenceSession.create(req.model, sessionOptions);
      sessions.get(req.id)?.release();
      scratch.open(req.id, arena);
      sessions.set(req.id, session);
      return { result: { inputs: session.inputNames, outputs: session.outputNames }, transfer: [] };
    }
    case 'run': {
      const session = sessions.get(req.id);
      if (!session) throw new Error(`no session ${req.id}`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries({ ...req.feeds, ...(await takeStashed(theStash(), req.stash)) })) feeds[k] = toOrt(v);
      if (req.blobFeeds) {
        for (const [k, v] of Object.entries(blobFeedViews(req.blobFeeds, blobs))) feeds[k] = new ort.Tensor('float32', v.data, v.dims);
      }
      const keepNames = req.stash?.keep?.names ?? [];
      // Kept outputs go into this session's reused buffers (arena sessions); the rest are the runtime's (null).
      const preset = scratch.outputs(req.id, feeds, keepNames);
      const fetches: Record<string, ort.Tensor | null> = {};
      for (const name of new Set([...req.fetches, ...keepNames])) fetches[name] = preset[name] ? new ort.Tensor('float32', preset[name].data, preset[name].dims) : null;
      const out: Record<string, ort.Tensor> = { ...(await session.run(feeds, fetches)) } as Record<string, ort.Tensor>;
      scratch.learn(req.id, feeds, out, keepNames);
      // onnxruntime-node 1.30 returns copies of pre-allocated outputs; one that hands back their memory
      // would have the next run overwrite what is kept, so that is copied here.
      for (const [name, t] of Object.entries(preset)) if (sharesMemory(t.data, out[name]!.data as Float32Array)) out[name] = new ort.Tensor('float32', new Float32Array(t.data), t.dims);
      const kept = await keepStashed(theStash(), req.stash, Object.fromEntries(Object.entries(out).map(([k, t]) => [k, viewOf(t)])));
      const result: Record<string, TensorData> = {};
      for (const name of req.fetches) if (!kept.has(name)) result[name] = transferable(out[name]!);
      for (const t of Object.values(out)) t.dispose();
      return { result, transfer: Object.values(result).map((t) => t.data.buffer as ArrayBuffer) };
    }
    case 'dropStash':
      return { result: await theStash().drop(req.group), transfer: [] };
    case 'release':
      // Also where ONNX Runtime completes a profiled session's JSON profile.
      await sessions.get(req.id)?.release();
      sessions.delete(req.id);
      scratch.release(req.id);
      return { result: null, transfer: [] };
  }
}

parentPort!.on('message', async (msg: { seq: number; req: Request }) => {
  try {
    const { result, transfer } = await handle(msg.req);
    parentPort!.postMessage({ seq: msg.seq, ok: true, result } satisfies Reply, transfer);
  } catch (e) {
    parentPort!.postMessage({ seq: msg.seq, ok: false, error: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined } satisfies Reply);
  }
});
