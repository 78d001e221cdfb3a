/**
 * The few statistics motif discovery needs, written to give what NumPy, SciPy and scikit-learn give
 * on the same numbers: linear-interpolation percentiles, the histogram mode, weighted isotonic
 * regression (pool adjacent violators), Spearman correlation and the ROC AUC with tied ranks.
 */

/** `np.percentile(sorted, q)` (linear interpolation) of an ascending array. */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const index = (q / 100) * (n - 1);
  const lo = Math.floor(index);
  const hi = Math.min(lo + 1, n - 1);
  const frac = index - lo;
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  // NumPy's _lerp: a + (b - a) * t, from the other end when t >= 0.5.
  const diff = b - a;
  return frac >= 0.5 ? b - diff * (1 - frac) : a + diff * frac;
}

/** Ascending copy. */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** `np.linspace(start, stop, num)`. */
function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const div = num - 1;
  const step = (stop - start) / div;
  for (let i = 0; i < num; i += 1) out[i] = step === 0 ? (i / div) * (stop - start) + start : i * step + start;
  out[num - 1] = stop;
  return out;
}

/**
 * The most populated of `bins` equal bins (`np.histogram`, first maximum): its edges and the values
 * strictly inside them.
 */
export function binMode(values: ArrayLike<number>, bins = 1000): { left: number; right: number; inside: Float64Array } {
  const n = values.length;
  let first = 0;
  let last = 1;
  if (n > 0) {
    first = Infinity;
    last = -Infinity;
    for (let i = 0; i < n; i += 1) {
      const v = values[i]!;
      if (v < first) first = v;
      if (v > last) last = v;
    }
    if (first === last) {
      first -= 0.5;
      last += 0.5;
    }
  }
  const edges = linspace(first, last, bins + 1);
  const counts = new Float64Array(bins);
  const norm = bins / (last - first);
  for (let i = 0; i < n; i += 1) {
    const v = values[i]!;
    let k = Math.trunc((v - first) * norm);
    if (k === bins) k -= 1;
    if (v < edges[k]!) k -= 1;
    else if (k !== bins - 1 && v >= edges[k + 1]!) k += 1;
    counts[k]! += 1;
  }
  let peak = 0;
  for (let k = 1; k < bins; k += 1) if (counts[k]! > counts[peak]!) peak = k;
  const left = edges[peak]!;
  const right = edges[peak + 1]!;
  const inside: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const v = values[i]!;
    if (left < v && v < right) inside.push(v);
  }
  return { left, right, inside: Float64Array.from(inside) };
}

/**
 * Weighted isotonic regression as scikit-learn's `IsotonicRegression().fit(x, y, w)` followed by
 * `transform(x)` at the training points: equal x pooled first (weighted mean), then pool adjacent
 * violators. Returns the fitted value at each input point (input order) and the fitted value at the
 * smallest x (`increasing`) or the largest x (decreasing), which is where precision is lowest.
 */
export function isotonicFit(x: ArrayLike<number>, y: ArrayLike<number>, w: ArrayLike<number>, increasing: boolean): { fitted: Float64Array; atExtreme: number } {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).filter((i) => w[i]! > 0);
  order.sort((a, b) => x[a]! - x[b]! || y[a]! - y[b]! || a - b);
  // Unique x values: weighted mean y, summed weight.
  const ux: number[] = [];
  const uy: number[] = [];
  const uw: number[] = [];
  const groupOf = new Int32Array(n).fill(-1);
  for (const i of order) {
    const xi = x[i]!;
    if (ux.length > 0 && ux[ux.length - 1] === xi) {
      const g = ux.length - 1;
      uy[g]! += y[i]! * w[i]!;
      uw[g]! += w[i]!;
    } else {
      ux.push(xi);
      uy.push(y[i]! * w[i]!);
      uw.push(w[i]!);
    }
    groupOf[i] = ux.length - 1;
  }
  const m = ux.length;
  for (let g = 0; g < m; g += 1) uy[g] = uy[g]! / uw[g]!;
  // Decreasing: fit the reversed sequence increasingly.
  const ys = increasing ? uy : uy.slice().reverse();
  const ws = increasing ? uw : uw.slice().reverse();
  // Pool adjacent violators over blocks.
  const blockValue: number[] = [];
  const blockWeight: number[] = [];
  const blockLength: number[] = [];
  for (let i = 0; i < m; i += 1) {
    blockValue.push(ys[i]!);
    blockWeight.push(ws[i]!);
    blockLength.push(1);
    while (blockValue.length > 1 && blockValue[blockValue.length - 2]! > blockValue[blockValue.length - 1]!) {
      const v2 = blockValue.pop()!;
      const w2 = blockWeight.pop()!;
      const l2 = blockLength.pop()!;
      const k = blockValue.length - 1;
      const total = blockWeight[k]! + w2;
      blockValue[k] = (blockValue[k]! * blockWeight[k]! + v2 * w2) / total;
      blockWeight[k] = total;
      blockLength[k]! += l2;
    }
  }
  const fit = new Float64Array(m);
  let p = 0;
  for (let b = 0; b < blockValue.length; b += 1) for (let j = 0; j < blockLength[b]!; j += 1) fit[p++] = blockValue[b]!;
  if (!increasing) fit.reverse();
  const fitted = new Float64Array(n);
  for (let i = 0; i < n; i += 1) fitted[i] = groupOf[i]! >= 0 ? fit[groupOf[i]!]! : Number.NaN;
  return { fitted, atExtreme: m === 0 ? Number.NaN : increasing ? fit[0]! : fit[m - 1]! };
}

/** Ranks 1..n with ties given their average rank (`scipy.stats.rankdata`). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j += 1;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k += 1) ranks[order[k]!] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Pearson correlation (NaN when either side is constant). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n < 2) return Number.NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i += 1) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i += 1) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? Number.NaN : sab / Math.sqrt(saa * sbb);
}

/** Spearman rank correlation (`scipy.stats.spearmanr(...).correlation`). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(averageRanks(a), averageRanks(b));
}

/**
 * Area under the ROC curve of scores whose positives are `positive` and negatives `negative`
 * (`sklearn.metrics.roc_auc_score`; ties count one half).
 */
export function rocAuc(negative: ArrayLike<number>, positive: ArrayLike<number>): number {
  const n0 = negative.length;
  const n1 = positive.length;
  const all = new Float64Array(n0 + n1);
  all.set(negative as ArrayLike<number>, 0);
  all.set(positive as ArrayLike<number>, n0);
  const ranks = averageRanks(all);
  let sum = 0;
  for (let i = n0; i < n0 + n1; i += 1) sum += ranks[i]!;
  return (sum - (n1 * (n1 + 1)) / 2) / (n1 * n0);
}

/** Indices sorted by descending value, ties in index order (`np.argsort(-v, kind='mergesort')`; NaN last). */
export function argsortDescending(values: ArrayLike<number>): Int32Array {
  const n = values.length;
  const key = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    const v = values[i]!;
    key[i] = Number.isNaN(v) ? -Infinity : v;
  }
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i += 1) idx[i] = i;
  return idx.sort((a, b) => (key[a]! < key[b]! ? 1 : key[a]! > key[b]! ? -1 : a - b));
}

/**
 * The indices of the k largest values, descending, ties in index order (the first k of
 * `argsortDescending`), in O(n + k log k): a selection finds the k-th value, only the k are sorted.
 */
export function topKDescending(values: ArrayLike<number>, k: number): Int32Array {
  const n = values.length;
  if (k >= n) return argsortDescending(values);
  if (k <= 0) return new Int32Array(0);
  const key = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    const v = values[i]!;
    key[i] = Number.isNaN(v) ? -Infinity : v;
  }
  // Quickselect on a copy for the k-th largest value.
  const work = key.slice();
  let lo = 0;
  let hi = n - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = work[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (work[i]! > pivot) i += 1;
      while (work[j]! < pivot) j -= 1;
      if (i <= j) {
        const t = work[i]!;
        work[i] = work[j]!;
        work[j] = t;
        i += 1;
        j -= 1;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  const cut = work[target]!;
  const out = new Int32Array(k);
  let m = 0;
  for (let i = 0; i < n && m < k; i += 1) if (key[i]! > cut) out[m++] = i;
  for (let i = 0; i < n && m < k; i += 1) if (key[i] === cut) out[m++] = i;
  return out.sort((a, b) => (key[a]! < key[b]! ? 1 : key[a]! > key[b]! ? -1 : a - b));
}

/** Index of the first maximum (`np.argmax`). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i]! > values[best]!) best = i;
  return best;
}
