/**
 * From similarities to a weighted graph for clustering, as TF-MoDISco-lite:
 *  - similarity s becomes the distance max(log(2/s − 1), 0) (0 for identical seqlets);
 *  - `densityAdaptation` (the main clustering): distances to the neighbours are symmetrised (mean of
 *    both directions where both exist), each seqlet gets a bandwidth from a perplexity search, and an
 *    edge weighs √(rbf_i · rbf_j) with rbf_i = exp(−d/β_i)/Z_i; each seqlet gets a self-loop 1/Z_i.
 *    (TF-MoDISco-lite's search finds β as a precision, exp(−d·β), and then divides by it,
 *    exp(−d/β); we keep that, it is what the published tool computes);
 *  - `tsneAffinities` (subclustering): t-SNE conditional probabilities over the k nearest
 *    neighbours (scikit-learn's binary search), symmetrised and normalised to sum 1.
 */

/** A square sparse matrix, compressed rows (column indices ascending within a row). */
export interface Csr {
  n: number;
  indptr: Int32Array;
  indices: Int32Array;
  data: Float64Array;
}

/**
 * A CSR matrix from (row, col, value) triples; duplicates are combined by `combine` ('sum', or
 * 'mean' of the values given for that entry).
 */
export function csrFromTriples(n: number, rows: ArrayLike<number>, cols: ArrayLike<number>, values: ArrayLike<number>, combine: 'sum' | 'mean' = 'sum'): Csr {
  const m = rows.length;
  // Bucket the triples by row, then sort each row by column.
  const start = new Int32Array(n + 1);
  for (let t = 0; t < m; t += 1) start[rows[t]! + 1]! += 1;
  for (let i = 0; i < n; i += 1) start[i + 1]! += start[i]!;
  const fill = start.slice(0, n);
  const order = new Int32Array(m);
  for (let t = 0; t < m; t += 1) order[fill[rows[t]!]!++] = t;
  const indptr = new Int32Array(n + 1);
  const indices = new Int32Array(m);
  const data = new Float64Array(m);
  let nnz = 0;
  for (let i = 0; i < n; i += 1) {
    const row = order.subarray(start[i]!, start[i + 1]!).sort((a, b) => cols[a]! - cols[b]! || a - b);
    let t = 0;
    while (t < row.length) {
      const c = cols[row[t]!]!;
      let sum = 0;
      let count = 0;
      while (t < row.length && cols[row[t]!] === c) {
        sum += values[row[t]!]!;
        count += 1;
        t += 1;
      }
      indices[nnz] = c;
      data[nnz] = combine === 'mean' ? sum / count : sum;
      nnz += 1;
    }
    indptr[i + 1] = nnz;
  }
  return { n, indptr, indices: indices.slice(0, nnz), data: data.slice(0, nnz) };
}

/** Similarity → distance: max(log(1/(0.5 · max(s, 1e-7)) − 1), 0). */
export function similarityToDistance(s: number): number {
  return Math.max(Math.log(1 / (0.5 * Math.max(s, 1e-7)) - 1), 0);
}

/** One step of the precision search (both of tfmodisco-lite's): entropy too high → larger beta, doubling until bracketed, then halving the bracket. */
function bisectBeta(diff: number, beta: number, betaMin: number, betaMax: number): [number, number, number] {
  if (diff > 0) return [betaMax === Infinity ? beta * 2 : (beta + betaMax) / 2, beta, betaMax];
  return [betaMin === -Infinity ? beta / 2 : (beta + betaMin) / 2, betaMin, beta];
}

/** TF-MoDISco-lite's `binary_search_perplexity`: β with exp(−d·β) of the given perplexity (a self term of 1 included). */
export function binarySearchPerplexity(perplexity: number, distances: ArrayLike<number>): number {
  const desired = Math.log(perplexity);
  let betaMin = -Infinity;
  let betaMax = Infinity;
  let beta = 1;
  for (let step = 0; step < 100; step += 1) {
    let sum = 1;
    for (let i = 0; i < distances.length; i += 1) sum += Math.exp(-distances[i]! * beta);
    const norm = Math.max(sum, 1e-8);
    let sumDP = 0;
    for (let i = 0; i < distances.length; i += 1) sumDP += (distances[i]! * Math.exp(-distances[i]! * beta)) / norm;
    const entropy = Math.log(sum) + beta * sumDP;
    const diff = entropy - desired;
    if (Math.abs(diff) <= 1e-5) break;
    [beta, betaMin, betaMax] = bisectBeta(diff, beta, betaMin, betaMax);
  }
  return beta;
}

/** The density-adapted affinity graph of the main clustering (`_density_adaptation`). */
export function densityAdaptation(similarities: Float64Array[], neighbors: Int32Array[], perplexity: number): Csr {
  const n = similarities.length;
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const nb = neighbors[i]!;
    for (let t = 0; t < nb.length; t += 1) {
      const d = similarityToDistance(similarities[i]![t]!);
      if (d === 0) continue; // eliminate_zeros
      rows.push(i);
      cols.push(nb[t]!);
      vals.push(d);
    }
  }
  // Symmetrise: mean of the stored directions.
  const m = rows.length;
  const symRows = new Int32Array(2 * m);
  const symCols = new Int32Array(2 * m);
  const symVals = new Float64Array(2 * m);
  for (let t = 0; t < m; t += 1) {
    symRows[2 * t] = rows[t]!;
    symCols[2 * t] = cols[t]!;
    symRows[2 * t + 1] = cols[t]!;
    symCols[2 * t + 1] = rows[t]!;
    symVals[2 * t] = vals[t]!;
    symVals[2 * t + 1] = vals[t]!;
  }
  const dist = csrFromTriples(n, symRows, symCols, symVals, 'mean');
  const betas = new Float64Array(n);
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    const row = dist.data.subarray(dist.indptr[i]!, dist.indptr[i + 1]!);
    betas[i] = binarySearchPerplexity(perplexity, row);
    let z = 1;
    for (const d of row) z += Math.exp(-d / betas[i]!);
    norms[i] = z;
  }
  const outRows: number[] = [];
  const outCols: number[] = [];
  const outVals: number[] = [];
  for (let i = 0; i < n; i += 1) {
    for (let t = dist.indptr[i]!; t < dist.indptr[i + 1]!; t += 1) {
      const j = dist.indices[t]!;
      const d = dist.data[t]!;
      const rbfI = Math.exp(-d / betas[i]!) / norms[i]!;
      const rbfJ = Math.exp(-d / betas[j]!) / norms[j]!;
      outRows.push(i);
      outCols.push(j);
      outVals.push(Math.sqrt(rbfI * rbfJ));
    }
    outRows.push(i);
    outCols.push(i);
    outVals.push(1 / norms[i]!);
  }
  return csrFromTriples(n, outRows, outCols, outVals);
}

/** scikit-learn's `_binary_search_perplexity` for one row of (float32) distances: conditional probabilities. */
export function conditionalProbabilities(distances: Float32Array, perplexity: number): Float64Array {
  const k = distances.length;
  const p = new Float64Array(k);
  const desired = Math.log(perplexity);
  let betaMin = -Infinity;
  let betaMax = Infinity;
  let beta = 1;
  for (let step = 0; step < 100; step += 1) {
    let sum = 0;
    for (let j = 0; j < k; j += 1) {
      p[j] = Math.exp(-distances[j]! * beta);
      sum += p[j]!;
    }
    if (sum === 0) sum = 1e-8;
    let sumDP = 0;
    for (let j = 0; j < k; j += 1) {
      p[j]! /= sum;
      sumDP += distances[j]! * p[j]!;
    }
    const entropy = Math.log(sum) + beta * sumDP;
    const diff = entropy - desired;
    if (Math.abs(diff) <= 1e-5) break;
    [beta, betaMin, betaMax] = bisectBeta(diff, beta, betaMin, betaMax);
  }
  return p;
}

/**
 * The subclustering graph (`NNTsneConditionalProbs` and what `compute_subpatterns` does with it):
 * conditional probabilities over each row's neighbours after the first (itself), P + Pᵀ, normalised
 * to sum 1.
 */
export function tsneAffinities(similarities: Float64Array[], neighbors: Int32Array[], perplexity: number): Csr {
  const n = similarities.length;
  const k = Math.min(n - 1, Math.trunc(3 * perplexity + 1));
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const d = new Float32Array(k);
    for (let t = 0; t < k; t += 1) d[t] = similarityToDistance(similarities[i]![t + 1]!);
    const p = conditionalProbabilities(d, perplexity);
    let s = 0;
    for (const v of p) s += v;
    if (s < 1e-8) s = 1e-8;
    for (let t = 0; t < k; t += 1) {
      const j = neighbors[i]![t + 1]!;
      rows.push(i, j);
      cols.push(j, i);
      vals.push(p[t]! / s, p[t]! / s);
    }
  }
  const m = csrFromTriples(n, rows, cols, vals);
  let total = 0;
  for (const v of m.data) total += v;
  if (total > 0) for (let i = 0; i < m.data.length; i += 1) m.data[i]! /= total;
  return m;
}
