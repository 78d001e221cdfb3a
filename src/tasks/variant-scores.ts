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
import { loadModel } from '../models/load.js';
import { Model } from '../models/model.js';
import type { TensorData } from '../engine/engine.js';
import { reverseComplement, shiftSequence } from '../genome/sequence.js';
import { selectTracks, type TargetsTable, type Track } from '../formats/targets.js';
import { accumulate, checkShifts, sameSetup, setupFor, tableFor, type EnsembleOptions, type Setup } from './ensemble.js';
import { diffRange } from './variant-windows.js';

export const STATS = ['SAD', 'SAR', 'D2', 'SAX'] as const;
export type StatName = (typeof STATS)[number];
export type Stats = Record<StatName, Float32Array>;

/** The statistics of one variant from mean predictions `ref`, `alt`, each [bins, K] row-major. */
export function variantStats(ref: ArrayLike<number>, alt: ArrayLike<number>, bins: number, K: number): Stats {
  const out: Stats = { SAD: new Float32Array(K), SAR: new Float32Array(K), D2: new Float32Array(K), SAX: new Float32Array(K) };
  for (let k = 0; k < K; k++) {
    let sumRef = 0;
    let sumAlt = 0;
    let sq = 0;
    let max = 0;
    let sax = 0;
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
 * through every model), with the head, tracks and window they agree on.
 */
export class VariantScorer {
  private constructor(
    private readonly models: Model[],
    readonly setup: Setup,
    readonly table: TargetsTable,
    readonly tracks: Track[],
    private readonly shifts: number[],
    private readonly strands: boolean[],
    private readonly batchSize: number,
    private readonly bruteForce: boolean,
  ) {}

  static async open(opts: ScorerOptions): Promise<VariantScorer> {
    const shifts = checkShifts(opts.shifts);
    const models: Model[] = [];
    try {
      let setup: Setup | undefined;
      for (const dir of opts.models) {
        const model = await loadModel(dir, opts.load);
        models.push(model);
        const s = setupFor(model, setup?.head ?? opts.head, setup?.geometry.length ?? opts.windowLength, opts.rc === true);
        if (setup) sameSetup(setup, s, dir);
        else setup = s;
      }
      if (!setup) throw new Error('no model given');
      const table = await tableFor(setup.kind, setup.head, setup.headTracks, opts.targets, opts.cacheDir, opts.models[0]);
      const selected = selectTracks(table, opts.tracks);
      const tracks = opts.expandTracks ? opts.expandTracks(table, selected) : selected;
      return new VariantScorer(models, setup, table, tracks, shifts, opts.rc ? [false, true] : [false], opts.batchSize ?? 1, opts.bruteForce === true);
    } catch (e) {
      for (const m of models) await m.close();
      throw e;
    }
  }

  get windowLength(): number {
    return this.setup.geometry.length;
  }

  /** Model runs averaged per window (models × shifts × strands). */
  get ensemble(): number {
    return this.models.length * this.shifts.length * this.strands.length;
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

    for (const model of this.models) {
      for (const shift of this.shifts) {
        for (const rc of this.strands) {
          const tx = (s: string) => {
            const t = shiftSequence(s, shift);
            return rc ? reverseComplement(t) : t;
          };
          const refSeqs = chunk.map((r) => tx(r.ref));
          const refTrunk = await model.trunk(Model.encode(refSeqs));
          const refOut = (await model.head(refTrunk, length, { heads: [head] })).heads[head]!.data;
          chunk.forEach((_, j) => accumulate(refSum[j]!, 0, refOut, j, bins, T, this.tracks, rc));

          for (const group of incremental) {
            const altSeqs = group.map((it) => tx(it.window));
            // The union of the changed stretches: exact for every member, whatever else it covers.
            let lo = length;
            let hi = 0;
            group.forEach((it, j) => {
              const d = diffRange(refSeqs[it.ri]!, altSeqs[j]!);
              if (d) [lo, hi] = [Math.min(lo, d[0]), Math.max(hi, d[1])];
            });
            if (hi <= lo) [lo, hi] = [Math.floor(length / 2), Math.floor(length / 2) + 1];
            const trunk = await model.trunkPatch(gatherRows(refTrunk, group.map((it) => it.ri)), Model.encode(altSeqs), lo, hi);
            const out = (await model.head(trunk, length, { heads: [head] })).heads[head]!.data;
            group.forEach((it, j) => accumulate(altSum[it.i]!, 0, out, j, bins, T, this.tracks, rc));
          }
          for (const group of brute) {
            const out = (await model.predict(Model.encode(group.map((it) => tx(it.window))), { heads: [head] })).heads[head]!.data;
            group.forEach((it, j) => accumulate(altSum[it.i]!, 0, out, j, bins, T, this.tracks, rc));
          }
        }
      }
    }

    const n = this.ensemble;
    const mean = (s: Float64Array) => s.map((v) => v / n);
    const alt: Float64Array[][] = chunk.map(() => []);
    items.forEach((it, i) => alt[it.ri]!.push(mean(altSum[i]!)));
    return { ref: refSum.map(mean), alt };
  }

  async close(): Promise<void> {
    for (const m of this.models) await m.close();
  }
}
