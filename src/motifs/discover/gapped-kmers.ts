/**
 * The coarse similarity of seqlets (TF-MoDISco-lite's `cosine_similarity_from_seqlets`): each seqlet
 * becomes a sparse vector of gapped k-mers (k = 4…6 bases among its `topn` highest-contribution
 * positions, spanning < `maxLen` bp with gaps ≤ `maxGap`; a k-mer's value is the mean contribution of
 * its bases, summed over its occurrences; the `maxEntries` largest by magnitude kept), once on each
 * strand. The coarse similarity of seqlets i and j is the larger cosine of i's forward vector with
 * j's forward or reverse one, and each seqlet keeps its `k` most similar seqlets (itself included)
 * as the candidates for the fine similarity.
 */
import type { Seqlet } from './track-set.js';
import { argsortDescending, topKDescending } from './stats.js';

export interface GappedKmerOptions {
  topn: number;
  minK: number;
  maxK: number;
  maxGap: number;
  maxLen: number;
  maxEntries: number;
}

/** Occurrence numbers packed under each key (see gappedKmerVector). */
const OCCURRENCE_SLOTS = 2 ** 17;

export const DEFAULT_GKMER_OPTIONS: GappedKmerOptions = { topn: 20, minK: 4, maxK: 6, maxGap: 15, maxLen: 15, maxEntries: 500 };

/** A sparse vector: ascending keys and their values. */
export interface SparseVector {
  keys: Float64Array;
  values: Float64Array;
}

/** Gapped k-mer vector of one seqlet (contributions × `sign`; `forward` false: of its reverse complement), L2-normalised. */
export function gappedKmerVector(seqlet: Seqlet, sign: number, forward: boolean, o: GappedKmerOptions = DEFAULT_GKMER_OPTIONS): SparseVector {
  const len = seqlet.length;
  const seq = seqlet.sequence;
  const hyp = seqlet.hypothetical;
  // Per-position contribution and base, on the requested strand.
  const imp = new Float64Array(len);
  const base = new Int32Array(len);
  for (let p = 0; p < len; p += 1) {
    const src = forward ? p : len - 1 - p;
    let s = 0;
    let bestBase = 0;
    for (let b = 0; b < 4; b += 1) {
      const from = src * 4 + (forward ? b : 3 - b);
      s += Math.fround(hyp[from]! * seq[from]! * sign);
      if (seq[from]! > seq[src * 4 + (forward ? bestBase : 3 - bestBase)]!) bestBase = b;
    }
    imp[p] = s;
    base[p] = bestBase;
  }
  const top = Array.from(argsortDescending(imp).subarray(0, Math.min(o.topn, len))).sort((a, b) => a - b);
  const n = top.length;
  const pos = top;
  const bases = top.map((p) => base[p]!);
  const attrs = top.map((p) => imp[p]!);

  // Occurrences of k-mers with k >= minK, each packed as key · 2^17 + occurrence number so that one
  // native sort groups equal keys in occurrence order (keys < 5^15, occurrences < 2^17).
  let occurrences = new Float64Array(8192);
  let occValues = new Float64Array(8192);
  let occCount = 0;
  // k-mers under construction, grouped by start j (rows offsets[j]..offsets[j+1]): the index of
  // their last base, summed attribution, key; level k is built from level k − 1 in TF-MoDISco-lite's
  // loop order (k, start, next base, previous k-mer), which is also the order occurrences are counted in.
  let offsets = new Int32Array(n + 1);
  let lastIdx = new Int32Array(Math.max(n, 1));
  let lastAttr = new Float64Array(Math.max(n, 1));
  let lastKey = new Float64Array(Math.max(n, 1));
  for (let i = 0; i < n; i += 1) {
    offsets[i + 1] = i + 1;
    lastIdx[i] = i;
    lastAttr[i] = attrs[i]!;
    lastKey[i] = bases[i]! + 1;
  }
  const powers = Float64Array.from({ length: o.maxLen + 1 }, (_, i) => 5 ** i);
  let capacity = 1024;
  for (let k = 2; k <= o.maxK; k += 1) {
    const nextOffsets = new Int32Array(n + 1);
    let nextIdx = new Int32Array(capacity);
    let nextAttr = new Float64Array(capacity);
    let nextKey = new Float64Array(capacity);
    let count = 0;
    for (let j = 0; j < n; j += 1) {
      const start = pos[j]!;
      const from = offsets[j]!;
      const to = offsets[j + 1]!;
      for (let i = j + 1; i < n; i += 1) {
        const position = pos[i]!;
        if (position - start >= o.maxLen) break;
        const add = (bases[i]! + 1) * powers[position - start]!;
        const a = attrs[i]!;
        for (let g = from; g < to; g += 1) {
          const lastPosition = pos[lastIdx[g]!]!;
          if (lastPosition >= position) break;
          if (position - lastPosition > o.maxGap) continue;
          const key = lastKey[g]! + add;
          const attr = lastAttr[g]! + a;
          if (count === nextIdx.length) {
            const grownIdx = new Int32Array(count * 2);
            grownIdx.set(nextIdx);
            nextIdx = grownIdx;
            const grownAttr = new Float64Array(count * 2);
            grownAttr.set(nextAttr);
            nextAttr = grownAttr;
            const grownKey = new Float64Array(count * 2);
            grownKey.set(nextKey);
            nextKey = grownKey;
          }
          nextIdx[count] = i;
          nextAttr[count] = attr;
          nextKey[count] = key;
          count += 1;
          if (k >= o.minK) {
            if (occCount === occurrences.length) {
              const grown = new Float64Array(occCount * 2);
              grown.set(occurrences);
              occurrences = grown;
              const grownValues = new Float64Array(occCount * 2);
              grownValues.set(occValues);
              occValues = grownValues;
            }
            occurrences[occCount] = key * OCCURRENCE_SLOTS + occCount;
            occValues[occCount] = attr / k;
            occCount += 1;
          }
        }
      }
      nextOffsets[j + 1] = count;
    }
    capacity = Math.max(capacity, count);
    offsets = nextOffsets;
    lastIdx = nextIdx;
    lastAttr = nextAttr;
    lastKey = nextKey;
  }
  if (occCount >= OCCURRENCE_SLOTS) throw new RangeError(`gapped k-mers: ${occCount} occurrences in one seqlet (at most ${OCCURRENCE_SLOTS - 1})`);
  // Sum per key in occurrence order; note each key's first occurrence (its insertion order).
  const sorted = occurrences.subarray(0, occCount).sort();
  const keys: number[] = [];
  const vals: number[] = [];
  const first: number[] = [];
  for (let t = 0; t < occCount; ) {
    const key = Math.floor(sorted[t]! / OCCURRENCE_SLOTS);
    const firstOcc = sorted[t]! - key * OCCURRENCE_SLOTS;
    let sum = 0;
    while (t < occCount && Math.floor(sorted[t]! / OCCURRENCE_SLOTS) === key) {
      sum += occValues[sorted[t]! - key * OCCURRENCE_SLOTS]!;
      t += 1;
    }
    keys.push(key);
    vals.push(sum);
    first.push(firstOcc);
  }
  // The maxEntries largest |value|, ties by first occurrence; keys stay ascending.
  let keepMask = vals.map((v) => v !== 0);
  if (keys.length > o.maxEntries) {
    const mags = new Float64Array(vals.length);
    for (let i = 0; i < vals.length; i += 1) mags[i] = Math.abs(vals[i]!);
    mags.sort();
    const cut = mags[mags.length - o.maxEntries]!;
    const above = vals.filter((v) => Math.abs(v) > cut).length;
    const atCut = keys.map((_, i) => i).filter((i) => Math.abs(vals[i]!) === cut).sort((a, b) => first[a]! - first[b]!);
    const chosen = new Set(atCut.slice(0, o.maxEntries - above));
    keepMask = vals.map((v, i) => v !== 0 && (Math.abs(v) > cut || chosen.has(i)));
  }
  const keep = keys.map((_, i) => i).filter((i) => keepMask[i]);
  const out = { keys: Float64Array.from(keep, (i) => keys[i]!), values: Float64Array.from(keep, (i) => vals[i]!) };
  let norm = 0;
  for (const v of out.values) norm += v * v;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < out.values.length; i += 1) out.values[i]! /= norm;
  return out;
}

/**
 * For every seqlet, its `k` nearest seqlets by the coarse similarity (descending, ties in index
 * order; itself included) and those similarities.
 */
export function coarseNeighbors(seqlets: Seqlet[], sign: number, nNeighbors: number, o: GappedKmerOptions = DEFAULT_GKMER_OPTIONS): { sims: Float64Array[]; neighbors: Int32Array[] } {
  const n = seqlets.length;
  const fwd = seqlets.map((s) => gappedKmerVector(s, sign, true, o));
  const rev = seqlets.map((s) => gappedKmerVector(s, sign, false, o));
  // Inverted indices: key → (row, value) for the forward and the reverse vectors.
  const index = (vectors: SparseVector[]) => {
    const postings = new Map<number, { rows: number[]; values: number[] }>();
    vectors.forEach((v, row) => {
      for (let t = 0; t < v.keys.length; t += 1) {
        let p = postings.get(v.keys[t]!);
        if (!p) postings.set(v.keys[t]!, (p = { rows: [], values: [] }));
        p.rows.push(row);
        p.values.push(v.values[t]!);
      }
    });
    return postings;
  };
  const fwdIndex = index(fwd);
  const revIndex = index(rev);
  const k = Math.min(nNeighbors + 1, n);
  const sims: Float64Array[] = [];
  const neighbors: Int32Array[] = [];
  const dotF = new Float64Array(n);
  const dotR = new Float64Array(n);
  const best = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    dotF.fill(0);
    dotR.fill(0);
    const v = fwd[i]!;
    for (let t = 0; t < v.keys.length; t += 1) {
      const key = v.keys[t]!;
      const x = v.values[t]!;
      const pf = fwdIndex.get(key);
      if (pf) for (let q = 0; q < pf.rows.length; q += 1) dotF[pf.rows[q]!]! += x * pf.values[q]!;
      const pr = revIndex.get(key);
      if (pr) for (let q = 0; q < pr.rows.length; q += 1) dotR[pr.rows[q]!]! += x * pr.values[q]!;
    }
    for (let j = 0; j < n; j += 1) best[j] = Math.max(dotF[j]!, dotR[j]!);
    const order = topKDescending(best, k);
    neighbors.push(order);
    sims.push(Float64Array.from(order, (j) => best[j]!));
  }
  return { sims, neighbors };
}
