/**
 * Whether an AlphaGenome window fits onnxruntime-web's WebAssembly memory. WASM is 32-bit: one ORT
 * instance addresses 4 GiB at most, weights and every activation included, and a heap never shrinks.
 * Enformer and Borzoi fit at their published lengths (their trunk is tiled and their head is small);
 * AlphaGenome's 1-Mb window does not: its weights alone are 1.2 GB (128-bp view) to 1.6 GB (1-bp
 * view), and at 1 bp the decoder, the 1-bp embedding and the ~2,900 1-bp output tracks grow with the
 * window. An estimate from shapes (see `alphaGenomeTensorBytes`), not a measurement: docs/browser.md
 * gives the measured figures it is checked against.
 */
import { DEFAULT_TILE } from '../trunk-tiler.js';
import { alphaGenomeTensorBytes } from './flops.js';
import type { AlphaGenomeTracks } from './tracks-architecture.js';

/** What one onnxruntime-web instance can address (32-bit WebAssembly). */
export const WASM_MEMORY_BYTES = 4 * 2 ** 30;

/**
 * The share of it a window's estimate may use: ORT's own code, arena bookkeeping and the heap's
 * fragmentation (freed blocks of one size are not always reusable by the next) take the rest.
 */
export const WASM_BUDGET_BYTES = 0.85 * WASM_MEMORY_BYTES;

/**
 * Peak bytes of one forward of `arch` at `length` bp in one onnxruntime-web heap (batch 1): the
 * weights its graphs use, plus the larger of the trunk's peak (one encoder tile) and the head's.
 * Each big activation counts 2–3 times: the op that makes it reads an input of the same size, and
 * element-wise ops between two of them hold a third.
 */
export function alphaGenomeWasmBytes(arch: AlphaGenomeTracks, length: number, tileLength = DEFAULT_TILE): number {
  const cfg = arch.config;
  const f = 4;
  const weights = arch.expectedWeights().reduce((a, t) => (arch.unusedWeight(t.name) ? a : a + t.shape.reduce((x, y) => x * y, 1)), 0) * f;
  const t = Math.min(length, tileLength > 0 ? tileLength : length) + 2 * arch.trunkHaloBp;
  const tileSkips = arch.binSize === 1 ? cfg.encoderChannels.reduce((a, c, i) => a + (c * t) / 2 ** i, 0) * f : 0;
  const trunk = 3 * cfg.encoderChannels[0]! * t * f + tileSkips;

  const shapes = alphaGenomeTensorBytes(cfg, length, arch.queryChunks);
  const S = length / 128;
  const P = S / cfg.seq2pairPool;
  const tracks = arch.tracks(arch.organism);
  let head = 3 * S * cfg.trunkDim * f + 3 * shapes.attention_logits! + 3 * shapes.row_attention_logits! + 4 * P * P * cfg.pairDim * f + 2 * S * cfg.embeddings128Dim * f;
  if (arch.binSize === 128) head += 2 * S * tracks * f;
  else head += shapes.unet_skips! + 3 * shapes.activation_1bp_decoder! + 2 * shapes.embeddings_1bp! + 2 * tracks * length * f;
  return weights + Math.max(trunk, head);
}

/**
 * The longest window of `arch` the page runs by default: its configured length, else that halved
 * (staying a multiple of the pair resolution) until the estimate fits `budget`; undefined when none does.
 */
export function longestWasmWindow(arch: AlphaGenomeTracks, tileLength?: number, budget = WASM_BUDGET_BYTES): number | undefined {
  for (let L = arch.defaultSequenceLength; L >= arch.config.pairResolution && L % arch.config.pairResolution === 0; L /= 2) {
    if (alphaGenomeWasmBytes(arch, L, tileLength) <= budget) return L;
  }
  return undefined;
}
