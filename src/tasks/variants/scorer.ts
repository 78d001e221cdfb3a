/**
 * Variant effect statistics and the model side of variant scoring.
 *
 * Per selected track, over all output bins b of the window, with ref[b] and alt[b] the (ensemble
 * mean) predictions:
 *   SAD = Σ alt − Σ ref
 *   SAR = log2(1 + Σ alt) − log2(1 + Σ ref)            (basenji_sad.py's SAR, baskerville's logSUM)
 *   D2  = sqrt(Σ_b (alt[b] − ref[b])²)
 *   SAX = alt[b*] − ref[b*] where b* maximises |alt[b] − ref[b]| (the first such bin)
 * Bins are compared by index, also for indels (as the official scripts do).
 *
 * Exact incremental scoring: the ref window's trunk is computed once per record and ensemble run;
 * for an equal-length substitution (SNV, MNV) the alt trunk is `Model.trunkPatch` of it (only the
 * tile its receptive field reaches is recomputed), and only the head runs again. Indels change the
 * window everywhere after the variant, so they take two full passes, as does `bruteForce`.
 */
import { Model } from '../../models/model.js';
import type { TensorData } from '../../engine/engine.js';
import type { TargetsTable, Track } from '../../formats/targets.js';
import { accumulate, checkBatchSize, runSequence, type EnsembleOptions, type Setup } from '../job/ensemble.js';
import { openModels } from '../job/model-dirs.js';
import { runBatches, type Batch, type Ensemble } from '../job/run-core.js';
import { diffRange } from './windows.js';
import type { VariantModels } from './score-vcf.js';

export const STATS = ['SAD', 'SAR', 'D2', 'SAX'] as const;
export type StatName = (typeof STATS)[number];
export type Stats = Record<StatName, Float32Array>;

/** The statistics of one variant from mean predictions `ref`, `alt`, each [bins, K] row-major. */
export function variantStats(ref: ArrayLike<number>, alt: ArrayLike<number>, bins: number, K: number): Stats {
  const out: Stats = { SAD: new Float32Array(K), SAR: new Float32Array(K), D2: new Float32Array(K), SAX: new Float32Array(K) };
  for (let k = 0; k < K; k++) {
    // Σ ref, Σ alt, Σ (alt − ref)², the largest |alt − ref| so far and its signed value.
    let [sumRef, sumAlt, sq, max, sax] = [0, 0, 0, 0, 0];
    for (let b = 0; b < bins; b++) {
      const r = ref[b * K + k]!;
      const a = alt[b * K + k]!;
      sumRef += r;
      sumAlt += a;
      const d = a - r;
      sq += d * d;
      if (Math.abs(d) > max) [max, sax] = [Math.abs(d), d];
    }
    out.SAD[k] = sumAlt - sumRef;
    out.SAR[k] = Math.log2(1 + sumAlt) - Math.log2(1 + sumRef);
    out.D2[k] = Math.sqrt(sq);
    out.SAX[k] = sax;
  }
  return out;
}

/** A record ready to score: its ref window and one window per scorable ALT. */
export interface PreparedRecord {
  ref: string;
  /** Genomic (0-based) start of the ref window, when known. */
  start?: number;
  alts: { alt: string; window: string; /** equal length to REF: alt differs from ref only there */ substitution: boolean }[];
}

export interface ScorerOptions extends EnsembleOptions {
  /** Two full passes for every variant (no trunk reuse). */
  bruteForce?: boolean;
}

/** Rows `rows` of every trunk tensor ([B, P, C]) as a new batch. */
function gatherRows(trunk: Record<string, TensorData>, rows: number[]): Record<string, TensorData> {
  const out: Record<string, TensorData> = {};
  for (const [name, t] of Object.entries(trunk)) {
    const [, P, C] = t.dims as [number, number, number];
    const row = P * C;
    const src = t.data as Float32Array;
    const data = new Float32Array(rows.length * row);
    rows.forEach((r, i) => data.set(src.subarray(r * row, (r + 1) * row), i * row));
    out[name] = { dtype: 'float32', dims: [rows.length, P, C], data };
  }
  return out;
}

function groups<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * All replicate models, loaded together (the variant stream is scored chunk by chunk, each chunk
 * through every model: a resident schedule of the run core), with the head, tracks and window they
 * agree on.
 */
export class VariantScorer implements VariantModels {
  private constructor(
    private readonly models: Ensemble,
    private readonly batchSize: number,
    private readonly bruteForce: boolean,
  ) {}

  static async open(opts: ScorerOptions): Promise<VariantScorer> {
    const batchSize = checkBatchSize(opts.batchSize);
    return new VariantScorer(await openModels(opts, { resident: true }), batchSize, opts.bruteForce === true);
  }

  get setup(): Setup {
    return this.models.setup;
  }

  get table(): TargetsTable {
    return this.models.table;
  }

  get tracks(): Track[] {
    return this.models.tracks;
  }

  get windowLength(): number {
    return this.setup.geometry.length;
  }

  get head(): string {
    return this.setup.head;
  }

  get trackCount(): number {
    return this.tracks.length;
  }

  /** Model runs averaged per window (models × shifts × strands). */
  get ensemble(): number {
    return this.models.size;
  }

  /**
   * Scores a chunk of records (at most `batchSize` of them: their ref windows are one batch);
   * returns per record the statistics of each of its ALTs.
   */
  async score(chunk: PreparedRecord[]): Promise<Stats[][]> {
    const { bins } = this.setup.geometry;
    const K = this.tracks.length;
    const { ref, alt } = await this.predictions(chunk);
    return chunk.map((_, i) => alt[i]!.map((a) => variantStats(ref[i]!, a, bins, K)));
  }

  /**
   * The ensemble-mean predictions of a chunk of records, [bins, tracks] row-major in float64: per
   * record its ref window, and per record and ALT its alt window.
   */
  async predictions(chunk: PreparedRecord[]): Promise<{ ref: Float64Array[]; alt: Float64Array[][] }> {
    const { bins, length } = this.setup.geometry;
    const head = this.setup.head;
    const T = this.setup.headTracks;
    const K = this.tracks.length;
    const refSum = chunk.map(() => new Float64Array(bins * K));
    const items = chunk.flatMap((r, ri) => r.alts.map((a) => ({ ri, window: a.window, incremental: a.substitution && !this.bruteForce })));
    const altSum = items.map(() => new Float64Array(bins * K));
    const indexed = items.map((it, i) => ({ ...it, i }));
    const incremental = groups(indexed.filter((it) => it.incremental), this.batchSize);
    const brute = groups(indexed.filter((it) => !it.incremental), this.batchSize);
    const { models } = this;

    // Per model and run, the chunk's ref windows are one batch; its alt windows follow in the request.
    function* plan(): Generator<Batch<number>> {
      for (let model = 0; model < models.schedule.count; model++) for (const run of models.runs) yield { model, items: chunk.map((_, unit) => ({ unit, run })) };
    }
    await runBatches({
      schedule: models.schedule,
      batches: plan(),
      sequence: (i) => chunk[i]!.ref,
      request: async (model, { input, sequences: refSeqs }, batch) => {
        const { run } = batch.items[0]!;
        const refTrunk = await model.trunk(input);
        const refOut = (await model.head(refTrunk, length, { heads: [head] })).heads[head]!.data;
        const alts: { group: typeof indexed; out: Float32Array }[] = [];
        for (const group of incremental) {
          const altSeqs = group.map((it) => runSequence(it.window, run));
          // The union of the changed stretches: exact for every member, whatever else it covers.
          let lo = length;
          let hi = 0;
          group.forEach((it, j) => {
            const d = diffRange(refSeqs[it.ri]!, altSeqs[j]!);
            if (d) [lo, hi] = [Math.min(lo, d[0]), Math.max(hi, d[1])];
          });
          if (hi <= lo) [lo, hi] = [Math.floor(length / 2), Math.floor(length / 2) + 1];
          const trunk = await model.trunkPatch(gatherRows(refTrunk, group.map((it) => it.ri)), Model.encode(altSeqs), lo, hi);
          alts.push({ group, out: (await model.head(trunk, length, { heads: [head] })).heads[head]!.data });
        }
        for (const group of brute) {
          alts.push({ group, out: (await model.predict(Model.encode(group.map((it) => runSequence(it.window, run))), { heads: [head] })).heads[head]!.data });
        }
        return { refOut, alts };
      },
      sink: ({ refOut, alts }, batch) => {
        const { rc } = batch.items[0]!.run;
        chunk.forEach((_, j) => accumulate(refSum[j]!, 0, refOut, j, bins, T, this.tracks, rc));
        for (const { group, out } of alts) group.forEach((it, j) => accumulate(altSum[it.i]!, 0, out, j, bins, T, this.tracks, rc));
      },
    });

    const n = this.ensemble;
    const mean = (s: Float64Array) => s.map((v) => v / n);
    const alt: Float64Array[][] = chunk.map(() => []);
    items.forEach((it, i) => alt[it.ri]!.push(mean(altSum[i]!)));
    return { ref: refSum.map(mean), alt };
  }

  async close(): Promise<void> {
    await this.models.schedule.close();
  }
}
