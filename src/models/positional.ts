/**
 * Relative positional features of Enformer's Transformer-XL attention, computed in float64 for any
 * transformer length n. Rows are distances -(n-1)..(n-1); columns are
 * [exponential | central mask | gamma] then the same three multiplied by sign(distance).
 * The gamma block has three normalisations, because checkpoints were trained with each of them and a
 * checkpoint only works with its own (see `GammaNormalisation`).
 */

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms): relative error ~1e-15, enough for float64 features. */
export function lgamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** numpy/torch linspace in float64. */
export function linspace(start: number, end: number, count: number): number[] {
  if (count === 1) return [start];
  const step = (end - start) / (count - 1);
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? end : start + step * i));
}

function exponentialBasis(n: number, basis: number): (d: number) => number[] {
  const maxRange = Math.log(n) / Math.log(2);
  const halfLife = linspace(3, maxRange, basis).map((e) => 2 ** e);
  return (d) => halfLife.map((h) => Math.exp((-Math.log(2) / h) * d));
}

function centralMaskBasis(basis: number): (d: number) => number[] {
  const widths = Array.from({ length: basis }, (_, k) => 2 ** (k + 1) - 1);
  return (d) => widths.map((w) => (w > d ? 1 : 0));
}

/**
 * How the gamma pdf features are normalised:
 * - 'tf': each basis function divided by its maximum over the distances (DeepMind's TensorFlow
 *   original, reduce_max over the position axis): the published weights and the fixtures.
 * - 'torch': each distance divided by its maximum over the basis functions (enformer-pytorch's
 *   amax(dim=-1) since commit dcb5751, 2022-05-31): checkpoints trained from scratch in that port later.
 * - 'torch-global-max': everything divided by one maximum over all distances and basis functions
 *   (enformer-pytorch before dcb5751 called torch.amax with no dim): EleutherAI's enformer-preview,
 *   enformer-191k and enformer-corr_coef_obj, trained with it in February 2022.
 */
export type GammaNormalisation = 'tf' | 'torch' | 'torch-global-max';

/** Every normalisation, in the order config errors and the CLI list them. */
export const GAMMA_NORMALISATIONS: readonly GammaNormalisation[] = ['tf', 'torch', 'torch-global-max'];

/**
 * Gamma pdf features (+1e-8) for the distances 0..n-1 (they depend on |d| only), normalised as
 * `normalisation` says. The maxima are taken over 0..n-1 only; the negative distances repeat the same
 * values, so the maximum over all 2n-1 distances of the upstream formulas is the same number.
 */
function gammaBasisTable(n: number, basis: number, normalisation: GammaNormalisation): Float64Array {
  const stddev = n / (2 * basis);
  const startMean = n / basis;
  const mean = linspace(startMean, n, basis);
  const table = new Float64Array(n * basis);
  let globalMax = 0;
  for (let k = 0; k < basis; k++) {
    const concentration = (mean[k]! / stddev) ** 2;
    const rate = mean[k]! / stddev ** 2;
    const logNorm = lgamma(concentration) - concentration * Math.log(rate);
    let max = 0;
    for (let d = 0; d < n; d++) {
      const xlogy = d === 0 ? (concentration - 1 === 0 ? 0 : -Infinity) : (concentration - 1) * Math.log(d);
      const p = Math.exp(xlogy - rate * d - logNorm) + 1e-8;
      table[d * basis + k] = p;
      if (p > max) max = p;
    }
    if (normalisation === 'tf') for (let d = 0; d < n; d++) table[d * basis + k]! /= max;
    globalMax = Math.max(globalMax, max);
  }
  if (normalisation === 'torch') {
    for (let d = 0; d < n; d++) {
      let max = 0;
      for (let k = 0; k < basis; k++) max = Math.max(max, table[d * basis + k]!);
      for (let k = 0; k < basis; k++) table[d * basis + k]! /= max;
    }
  }
  if (normalisation === 'torch-global-max') for (let i = 0; i < table.length; i++) table[i]! /= globalMax;
  return table;
}

export interface PositionalOptions {
  /** A [2n-1, F/6] table replacing the computed gamma block (the published TF table at n = 1536). */
  gammaTable?: Float32Array | Float64Array;
  /** Normalisation of the computed gamma block (default 'tf'). */
  gamma?: GammaNormalisation;
}

/** Returns the [2n-1, features] table, row r for distance r-(n-1). */
export function enformerPositionalFeatures(n: number, features: number, opts: PositionalOptions = {}): Float64Array {
  if (features % 6 !== 0) throw new Error(`relative position features (${features}) must be divisible by 6`);
  const basis = features / 6;
  const exp = exponentialBasis(n, basis);
  const mask = centralMaskBasis(basis);
  const gamma = gammaBasisTable(n, basis, opts.gamma ?? 'tf');
  if (opts.gammaTable && opts.gammaTable.length !== (2 * n - 1) * basis) {
    throw new Error(`gamma table has ${opts.gammaTable.length} values, expected ${(2 * n - 1) * basis} for n=${n}`);
  }
  const rows = 2 * n - 1;
  const out = new Float64Array(rows * features);
  for (let r = 0; r < rows; r++) {
    const d = r - (n - 1);
    const ad = Math.abs(d);
    const sign = Math.sign(d);
    const e = exp(ad);
    const m = mask(ad);
    const row = r * features;
    for (let k = 0; k < basis; k++) {
      const gk = opts.gammaTable ? opts.gammaTable[r * basis + k]! : gamma[ad * basis + k]!;
      const values = [e[k]!, m[k]!, gk];
      for (let c = 0; c < 3; c++) {
        out[row + c * basis + k] = values[c]!;
        out[row + (3 + c) * basis + k] = sign * values[c]!;
      }
    }
  }
  return out;
}

/**
 * Borzoi's relative-position basis (baskerville `positional_features_central_mask`, 32 features):
 * 16 central-mask features 1[w_k > |d|] with widths w_k = pow_rate^k - 1, pow_rate = exp(ln(n+1)/16)
 * (k = 1..16, float32 like the reference, so the last width is n), then the same times sign(d).
 * Returns the [2n-1, 32] table, row r for distance r-(n-1).
 */
export function borzoiPositionalFeatures(n: number, features = 32): Float32Array {
  const basis = features / 2;
  const powRate = Math.fround(Math.exp(Math.log(n + 1) / basis));
  const widths = Array.from({ length: basis }, (_, k) => Math.fround(Math.fround(powRate ** (k + 1)) - 1));
  const rows = 2 * n - 1;
  const out = new Float32Array(rows * features);
  for (let r = 0; r < rows; r++) {
    const d = r - (n - 1);
    for (let k = 0; k < basis; k++) {
      const m = widths[k]! > Math.abs(d) ? 1 : 0;
      out[r * features + k] = m;
      out[r * features + basis + k] = Math.sign(d) * m;
    }
  }
  return out;
}

/**
 * Rotary embedding tables of flash-attn's RotaryEmbedding (non-interleaved): angle(p, i) = p · base^(-2i/dim)
 * for positions p = 0..n-1 and i = 0..dim/2-1, computed in float64. Returns cos and sin, each [n, dim/2].
 */
export function rotaryTables(n: number, dim: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = dim / 2;
  const cos = new Float32Array(n * half);
  const sin = new Float32Array(n * half);
  for (let i = 0; i < half; i++) {
    const invFreq = base ** (-(2 * i) / dim);
    for (let p = 0; p < n; p++) {
      cos[p * half + i] = Math.cos(p * invFreq);
      sin[p * half + i] = Math.sin(p * invFreq);
    }
  }
  return { cos, sin };
}
