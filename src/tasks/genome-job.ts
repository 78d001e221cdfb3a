/**
 * The genome job on disk: regions of a reference through one or more models, each window's
 * ensemble written to a scratch file as soon as it is complete, the outputs made from that file at
 * the end (see region-stream.ts). Memory holds one batch and its windows, whatever the region
 * lengths and the number of regions; disk holds the scratch (bins × tracks × 4 bytes, 8 when
 * several models are averaged) in the staging directory `<out>.partial/` until the outputs are done.
 *
 * Resume: model runs are cut into the same batches on every run (items in region, window, shift,
 * strand order, `batchSize` at a time), and progress is recorded after each batch as (model pass,
 * batches done), with the running sum of a window the batch boundary splits. A killed run started
 * again with the same command continues at that batch and therefore makes the same model calls as
 * an uninterrupted run: the outputs are byte-identical, and only the remaining batches run.
 *
 * Ensembling as in predict-region.ts: a float64 sum over models × shifts × strands, in that order,
 * divided by their count and rounded to float32 once.
 */
import { closeSync, openSync, readSync, writeSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { loadModel } from '../models/load.js';
import { Model, type AttentionMap, type HeadOutput } from '../models/model.js';
import { checkAttentionRows, writtenHeads } from '../models/attention-maps.js';
import { checkAttentionSize, type AttentionRequest } from './attention-output.js';
import type { RegionAttention, WindowRecord } from './predict-region.js';
import type { Reference } from '../genome/reference.js';
import { planRegion, regionChromSizes, RegionError, type Region, type RegionPlan } from '../genome/regions.js';
import { onlyAcgtn, reverseComplement, shiftSequence } from '../genome/sequence.js';
import { selectTracks, type Track } from '../formats/targets.js';
import { accumulate, checkShifts, RegionJobError, sameSetup, setupFor, tableFor, type EnsembleOptions } from './ensemble.js';
import { JobDir, writeAtomic, type Fingerprint } from './job-dir.js';
import { emitRegionOutputs, type RegionOutputKind, type ScratchLayout } from './region-stream.js';

export interface GenomeJobOptions extends EnsembleOptions {
  genome: Reference;
  regions: Region[];
  out: string;
  kind: RegionOutputKind;
  fingerprint: Fingerprint;
  /** 'logits': ensemble mean of the heads' pre-softplus values instead of the coverage. */
  output?: HeadOutput;
  /**
   * Attention maps of every window from each model's forward-strand, unshifted run, as in
   * predictRegions (records = windows × models, window-major in region order); kept in the staging
   * directory while the job runs, so a resumed job has them too.
   */
  attention?: AttentionRequest;
  /** Writes the maps (e.g. the attention file and its plot) before the staging directory goes; returns the files written. */
  writeAttention?: (attention: RegionAttention) => Promise<string[]>;
  /** Checked after the plan is made and before the first model run (e.g. output constraints). */
  checkPlan?: (plans: RegionPlan[]) => void;
  onProgress?: (done: number, total: number) => void;
  /** Called once, before any model runs, when the job continues an earlier run. */
  onResume?: (done: number, total: number) => void;
}

export interface GenomeJobResult {
  head: string;
  tracks: Track[];
  ensemble: number;
  windows: number;
  bins: number;
  files: string[];
  /** Model runs done by earlier runs of this job (0 for a fresh one). */
  resumedAt: number;
  /** Model runs done by this invocation. */
  ran: number;
}

interface JobProgress {
  /** Model pass in progress (= models.length when every model run is done). */
  model: number;
  /** Batches of that pass done. */
  batches: number;
  /** A window split by the batch boundary: its running sum is in `pending.f64`. */
  pending?: number;
}

interface Item {
  region: number;
  /** Window index over all regions (the scratch slot). */
  slot: number;
  window: number;
  shift: number;
  rc: boolean;
  /** The window's last item in a model pass. */
  last: boolean;
}

/** bigWig needs its intervals sorted by chromosome (byte order) and start: the job computes in that order. */
function byChromThenStart(a: RegionPlan, b: RegionPlan): number {
  const c = Buffer.compare(Buffer.from(a.region.chrom), Buffer.from(b.region.chrom));
  return c || a.region.start - b.region.start;
}

export async function runGenomeJob(opts: GenomeJobOptions): Promise<GenomeJobResult> {
  if (opts.models.length === 0) throw new RegionJobError('no model given');
  if (opts.regions.length === 0) throw new RegionError('no regions given');
  const shifts = checkShifts(opts.shifts);
  const strands = opts.rc ? [false, true] : [false];
  const batchSize = opts.batchSize ?? 1;

  const chromSizes = await regionChromSizes(opts.genome, opts.regions);

  // The output's place is checked (and claimed) before any model is loaded.
  const job = JobDir.open<JobProgress>(opts.out, opts.fingerprint);
  let model: Model | undefined;
  try {
    const load = { ...opts.load, attention: opts.attention?.spec, logits: opts.output === 'logits' };
    if (opts.attention && !shifts.includes(0)) throw new RegionJobError('--attention takes its maps from the unshifted run: include 0 in --shifts');
    model = await loadModel(opts.models[0]!, load);
    const setup = setupFor(model, opts.head, opts.windowLength, opts.rc === true);
    const table = await tableFor(setup.kind, setup.head, setup.headTracks, opts.targets, opts.cacheDir, opts.models[0]);
    const selected = selectTracks(table, opts.tracks);
    const tracks = opts.expandTracks ? opts.expandTracks(table, selected) : selected;
    const regionPlans = opts.regions.map((r) => planRegion(r, chromSizes.get(r.chrom)!, setup.geometry));
    opts.checkPlan?.(regionPlans);
    const plans = opts.kind === 'bigwig' ? [...regionPlans].sort(byChromThenStart) : regionPlans;
    // Attention records follow the regions as given (not the bigWig order): first record of each plan.
    const recordBase = new Map<RegionPlan, number>();
    regionPlans.reduce((a, p) => (recordBase.set(p, a), a + p.windows.length * opts.models.length), 0);
    const maps = opts.attention ? attentionLayout(model, opts.attention, regionPlans, opts.models, setup.geometry.length) : undefined;

    const { bins, length } = setup.geometry;
    const T = setup.headTracks;
    const K = tracks.length;
    const M = opts.models.length;
    const ensemble = M * shifts.length * strands.length;
    const scratch: ScratchLayout = { path: job.file('windows.bin'), plans, windowBins: bins, tracks: K, float64: M > 1, ensemble };
    const slotBytes = bins * K * (scratch.float64 ? 8 : 4);

    const items: Item[] = [];
    let slot = 0;
    plans.forEach((p, region) =>
      p.windows.forEach((_, window) => {
        const runs = shifts.length * strands.length;
        let i = 0;
        for (const shift of shifts) for (const rc of strands) items.push({ region, slot, window, shift, rc, last: ++i === runs });
        slot++;
      }),
    );
    const windows = slot;
    const batchCount = Math.ceil(items.length / batchSize);
    const total = items.length * M;

    const start: JobProgress = job.resumed ?? { model: 0, batches: 0 };
    const doneBefore = Math.min(total, start.model * items.length + Math.min(items.length, start.batches * batchSize));
    if (doneBefore > 0) opts.onResume?.(doneBefore, total);
    let done = doneBefore;
    opts.onProgress?.(done, total);

    const fd = openSync(scratch.path, existsSync(scratch.path) ? 'r+' : 'w+');
    const mapsPath = job.file('attention.f32');
    const mapsFd = maps ? openSync(mapsPath, existsSync(mapsPath) ? 'r+' : 'w+') : undefined;
    const perRecord = maps ? maps.elements / maps.records.length : 0;
    try {
      const readSlot = (s: number): Float64Array => {
        const buf = Buffer.alloc(slotBytes);
        for (let at = 0; at < slotBytes; ) {
          const n = readSync(fd, buf, at, slotBytes - at, s * slotBytes + at);
          if (n === 0) throw new RegionJobError(`${scratch.path}: the scratch file is shorter than its progress records; delete ${job.path} to start over`);
          at += n;
        }
        return new Float64Array(buf.buffer, buf.byteOffset, bins * K).slice();
      };
      const writeSlot = (s: number, sum: Float64Array) => {
        let bytes: Uint8Array;
        if (M > 1) bytes = new Uint8Array(sum.buffer, sum.byteOffset, sum.byteLength);
        else {
          const values = new Float32Array(sum.length);
          for (let i = 0; i < sum.length; i++) values[i] = sum[i]! / ensemble;
          bytes = new Uint8Array(values.buffer);
        }
        for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at, s * slotBytes + at);
      };
      const pendingFile = job.file('pending.f64');

      for (let m = start.model; m < M; m++) {
        if (m !== 0) {
          // Model 0 was loaded for the setup; the others one at a time, never two in memory.
          await model?.close();
          model = undefined;
          model = await loadModel(opts.models[m]!, load);
          sameSetup(setup, setupFor(model, setup.head, length, opts.rc === true), opts.models[m]!);
        }
        const current = model!;
        const sums = new Map<number, Float64Array>();
        if (m === start.model && start.pending !== undefined) {
          const bytes = readFileSync(pendingFile);
          sums.set(start.pending, new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8).slice());
        }
        const sumOf = (it: Item) => {
          let s = sums.get(it.slot);
          if (!s) {
            s = m === 0 ? new Float64Array(bins * K) : readSlot(it.slot);
            sums.set(it.slot, s);
          }
          return s;
        };
        let cached: { slot: number; seq: string } | undefined;
        const windowSequence = async (it: Item) => {
          if (cached?.slot !== it.slot) {
            const p = plans[it.region]!;
            const w = p.windows[it.window]!;
            cached = { slot: it.slot, seq: onlyAcgtn(await opts.genome.getSequence(p.region.chrom, w, w + length)) };
          }
          return cached.seq;
        };
        for (let b = m === start.model ? start.batches : 0; b < batchCount; b++) {
          const batch = items.slice(b * batchSize, (b + 1) * batchSize);
          const sequences: string[] = [];
          for (const it of batch) {
            const shifted = shiftSequence(await windowSequence(it), it.shift);
            sequences.push(it.rc ? reverseComplement(shifted) : shifted);
          }
          const forward = (it: Item) => it.shift === 0 && !it.rc;
          const attentionRows = maps && batch.some(forward) ? maps.rows : undefined;
          const p = await current.predict(Model.encode(sequences), { heads: [setup.head], output: opts.output, attentionRows });
          const out = p.heads[setup.head]!;
          batch.forEach((it, j) => accumulate(sumOf(it), 0, out.data, j, bins, T, tracks, it.rc));
          if (maps && p.attention) {
            batch.forEach((it, j) => {
              if (!forward(it)) return;
              const plan = plans[it.region]!;
              const record = recordBase.get(plan)! + it.window * M + m;
              const part = p.attention!.data.subarray(j * perRecord, (j + 1) * perRecord);
              const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
              for (let at = 0; at < bytes.length; ) at += writeSync(mapsFd!, bytes, at, bytes.length - at, record * perRecord * 4 + at);
            });
          }
          for (const it of batch) {
            if (!it.last) continue;
            writeSlot(it.slot, sums.get(it.slot)!);
            sums.delete(it.slot);
          }
          // At most one window is open at a batch boundary (items are in window order).
          const open = [...sums.keys()][0];
          if (open !== undefined) writeAtomic(pendingFile, new Uint8Array(sums.get(open)!.buffer));
          const next: JobProgress = b + 1 === batchCount ? { model: m + 1, batches: 0 } : { model: m, batches: b + 1, pending: open };
          job.commit(next);
          done += batch.length;
          opts.onProgress?.(done, total);
        }
        await current.close();
        model = undefined;
        rmSync(pendingFile, { force: true });
      }
      if (model) {
        await model.close();
        model = undefined;
      }
    } finally {
      closeSync(fd);
      if (mapsFd !== undefined) closeSync(mapsFd);
    }

    const files = await emitRegionOutputs({ job, out: opts.out, kind: opts.kind, scratch, head: setup.head, tracks, chromSizes, binSize: setup.geometry.binSize, windowLength: length });
    if (maps && opts.writeAttention) {
      // Bounded by checkAttentionSize: the whole map is read back once, for its writer.
      const data = new Float32Array(maps.elements);
      const bytes = new Uint8Array(data.buffer);
      const mfd = openSync(mapsPath, 'r');
      try {
        for (let at = 0; at < bytes.length; ) {
          const n = readSync(mfd, bytes, at, bytes.length - at, at);
          if (n === 0) break; // a map never written (no forward run) stays zero, as in predictRegions
          at += n;
        }
      } finally {
        closeSync(mfd);
      }
      const map: AttentionMap = { data, shape: maps.shape, layers: maps.layers, heads: maps.heads, rows: maps.rows };
      files.push(...(await opts.writeAttention({ map, records: maps.records, resolution: maps.resolution })));
    }
    job.remove();
    return {
      head: setup.head,
      tracks,
      ensemble,
      windows,
      bins: plans.reduce((a, p) => a + p.bins, 0),
      files,
      resumedAt: doneBefore,
      ran: done - doneBefore,
    };
  } catch (e) {
    job.abandon();
    throw e;
  } finally {
    await model?.close().catch(() => {});
  }
}

interface AttentionLayout {
  records: WindowRecord[];
  rows: number[];
  shape: AttentionMap['shape'];
  layers: AttentionMap['layers'];
  heads: AttentionMap['heads'];
  elements: number;
  resolution: number;
}

/** Checks rows and size before any run; the records (regions as given, window-major, then model) and the map's shape. */
function attentionLayout(model: Model, request: AttentionRequest, plans: RegionPlan[], models: string[], length: number): AttentionLayout {
  const spec = model.attentionSpec!;
  const positions = model.transformerPositions(length);
  const rows = request.rows ?? model.centralRows(length);
  checkAttentionRows(rows, positions);
  const records: WindowRecord[] = [];
  for (const p of plans) {
    for (const start of p.windows) for (const m of models) records.push({ region: p.region.label, chrom: p.region.chrom, start, end: start + length, model: m });
  }
  const bytes = checkAttentionSize(request, records.length, rows.length, positions);
  const shape: AttentionMap['shape'] = [records.length, spec.layers.length, writtenHeads(spec), rows.length, positions];
  return { records, rows, shape, layers: spec.layers, heads: spec.heads, elements: bytes / 4, resolution: model.arch.transformer.resolution };
}
