/**
 * An independent float64 re-computation of one transformer block's attention, written directly from
 * the fixture READMEs' description of the references (enformer-pytorch / borzoi-pytorch relative
 * attention, flash-attn rotary GQA), with plain loops over JS arrays: no graph builder, no ONNX.
 * Used to check the attention maps the ONNX graphs emit, and itself checked against the fixtures'
 * `attention_out_block_i`.
 */
import type { SafetensorsFile } from '../weights/safetensors.js';

export interface ReferenceAttention {
  /** Softmax weights [H, n, n] (query rows, key columns). */
  weights: Float64Array;
  /** Module output after the output projection [n, dim]. */
  out: Float64Array;
}

function param(w: SafetensorsFile, name: string): Float64Array {
  return Float64Array.from(w.readFloat32(name));
}

function layerNorm(x: Float64Array, n: number, dim: number, gamma: Float64Array, beta: Float64Array, eps: number): Float64Array {
  const out = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (let c = 0; c < dim; c++) mean += x[i * dim + c]!;
    mean /= dim;
    let v = 0;
    for (let c = 0; c < dim; c++) v += (x[i * dim + c]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + eps);
    for (let c = 0; c < dim; c++) out[i * dim + c] = (x[i * dim + c]! - mean) * inv * gamma[c]! + beta[c]!;
  }
  return out;
}

/** y = x Wᵀ (+ b), W [out, in] as PyTorch Linear. */
function linear(x: Float64Array, rows: number, inDim: number, W: Float64Array, bias?: Float64Array): Float64Array {
  const outDim = W.length / inDim;
  const y = new Float64Array(rows * outDim);
  for (let i = 0; i < rows; i++) {
    for (let o = 0; o < outDim; o++) {
      let s = bias ? bias[o]! : 0;
      for (let k = 0; k < inDim; k++) s += x[i * inDim + k]! * W[o * inDim + k]!;
      y[i * outDim + o] = s;
    }
  }
  return y;
}

function softmaxRows(logits: Float64Array, rows: number, n: number): void {
  for (let i = 0; i < rows; i++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, logits[i * n + j]!);
    let s = 0;
    for (let j = 0; j < n; j++) s += logits[i * n + j] = Math.exp(logits[i * n + j]! - max);
    for (let j = 0; j < n; j++) logits[i * n + j]! /= s;
  }
}

/** out = to_out(concat_h(attn_h · v_h)); v laid out [n, H·dv] head-major, kvOf maps a query head to its value head. */
function attend(weights: Float64Array, v: Float64Array, n: number, heads: number, dv: number, vHeads: number, kvOf: (h: number) => number): Float64Array {
  const merged = new Float64Array(n * heads * dv);
  for (let h = 0; h < heads; h++) {
    const kv = kvOf(h);
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < dv; d++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += weights[(h * n + i) * n + j]! * v[j * vHeads * dv + kv * dv + d]!;
        merged[i * heads * dv + h * dv + d] = s;
      }
    }
  }
  return merged;
}

export interface RelativeParams {
  prefix: string;
  dim: number;
  heads: number;
  keySize: number;
  valueSize: number;
  eps: number;
}

/**
 * Transformer-XL relative attention of one sequence x [n, dim] (the block's residual input):
 * logits[h, i, j] = (q_i + u_h)·k_j + (q_i + v_h)·r_{(n-1) + j - i}, q scaled by keySize^-1/2 before
 * the biases; r = positions [2n-1, F] · to_rel_kᵀ.
 */
export function relativeReference(w: SafetensorsFile, x: Float64Array, n: number, positions: Float64Array, p: RelativeParams): ReferenceAttention {
  const { prefix, dim, heads, keySize: dk, valueSize: dv } = p;
  const block = prefix.replace(/\.1$/, '.0');
  const xn = layerNorm(x, n, dim, param(w, `${block}.weight`), param(w, `${block}.bias`), p.eps);
  const q = linear(xn, n, dim, param(w, `${prefix}.to_q.weight`)).map((v) => v * dk ** -0.5);
  const k = linear(xn, n, dim, param(w, `${prefix}.to_k.weight`));
  const v = linear(xn, n, dim, param(w, `${prefix}.to_v.weight`));
  const features = positions.length / (2 * n - 1);
  const r = linear(positions, 2 * n - 1, features, param(w, `${prefix}.to_rel_k.weight`));
  const u = param(w, `${prefix}.rel_content_bias`);
  const pb = param(w, `${prefix}.rel_pos_bias`);
  const weights = new Float64Array(heads * n * n);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        const row = (n - 1) + j - i;
        for (let d = 0; d < dk; d++) {
          const qi = q[i * heads * dk + h * dk + d]!;
          s += (qi + u[h * dk + d]!) * k[j * heads * dk + h * dk + d]! + (qi + pb[h * dk + d]!) * r[row * heads * dk + h * dk + d]!;
        }
        weights[(h * n + i) * n + j] = s;
      }
    }
  }
  softmaxRows(weights, heads * n, n);
  const merged = attend(weights, v, n, heads, dv, heads, (h) => h);
  const out = linear(merged, n, heads * dv, param(w, `${prefix}.to_out.weight`), param(w, `${prefix}.to_out.bias`));
  return { weights, out };
}

export interface RotaryParams {
  prefix: string;
  dim: number;
  heads: number;
  kvHeads: number;
  rotaryDim: number;
  base: number;
  eps: number;
}

/**
 * flash-attn MHA with grouped-query heads: qkv = Wqkv x + b split [q (H·d) | k (Hkv·d) | v (Hkv·d)],
 * rotate-half rotary on the first rotaryDim dims of q and k (angle p · base^(-2i/rotaryDim)),
 * query head h attends with kv head floor(h / (H/Hkv)), logits scaled by d^-1/2.
 */
export function rotaryReference(w: SafetensorsFile, x: Float64Array, n: number, p: RotaryParams): ReferenceAttention {
  const { prefix, dim, heads, kvHeads } = p;
  const d = dim / heads;
  const block = prefix.replace(/\.1\.mha$/, '.0');
  const xn = layerNorm(x, n, dim, param(w, `${block}.weight`), param(w, `${block}.bias`), p.eps);
  const qkv = linear(xn, n, dim, param(w, `${prefix}.Wqkv.weight`), param(w, `${prefix}.Wqkv.bias`));
  const width = d * (heads + 2 * kvHeads);
  const half = p.rotaryDim / 2;
  const rotate = (offset: number, i: number): Float64Array => {
    const out = Float64Array.from(qkv.subarray(i * width + offset, i * width + offset + d));
    for (let t = 0; t < half; t++) {
      const angle = i * p.base ** (-(2 * t) / p.rotaryDim);
      const [x1, x2] = [out[t]!, out[t + half]!];
      out[t] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
      out[t + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
    }
    return out;
  };
  const group = heads / kvHeads;
  const q = Array.from({ length: heads }, (_, h) => Array.from({ length: n }, (_, i) => rotate(h * d, i)));
  const k = Array.from({ length: kvHeads }, (_, h) => Array.from({ length: n }, (_, i) => rotate(heads * d + h * d, i)));
  const weights = new Float64Array(heads * n * n);
  for (let h = 0; h < heads; h++) {
    const kv = Math.floor(h / group);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += q[h]![i]![t]! * k[kv]![j]![t]!;
        weights[(h * n + i) * n + j] = s * d ** -0.5;
      }
    }
  }
  softmaxRows(weights, heads * n, n);
  const v = new Float64Array(n * kvHeads * d);
  for (let i = 0; i < n; i++) v.set(qkv.subarray(i * width + (heads + kvHeads) * d, (i + 1) * width), i * kvHeads * d);
  const merged = attend(weights, v, n, heads, d, kvHeads, (h) => Math.floor(h / group));
  const out = linear(merged, n, heads * d, param(w, `${prefix}.out_proj.weight`), param(w, `${prefix}.out_proj.bias`));
  return { weights, out };
}
