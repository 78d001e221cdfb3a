/**
 * The window length the page runs a model at. Enformer and Borzoi run at their configured length
 * (their trunk is tiled, so a full window fits WebAssembly's 4 GB). AlphaGenome's configured 1 Mb
 * does not (wasm-fit.ts): by default the page runs the longest window whose estimate fits, and a
 * window asked for that does not fit is refused in one line before anything is loaded into the heap.
 */
import type { Architecture } from '../models/architecture.js';
import { AlphaGenomeTracks } from '../models/alphagenome/tracks-architecture.js';
import { alphaGenomeWasmBytes, longestWasmWindow, WASM_BUDGET_BYTES } from '../models/alphagenome/wasm-fit.js';

const gb = (bytes: number) => (bytes / 1e9).toFixed(1);
const bp = (n: number) => n.toLocaleString('en-US');

/** The window in bp and a note for the page's message when it is not the model's configured length ('' otherwise). */
export function pageWindowLength(arch: Architecture, requested?: number): { length: number; note: string } {
  if (requested !== undefined && !(Number.isInteger(requested) && requested > 0)) throw new Error(`window '${requested}': give a length in bp (a positive integer), or leave it empty for the model's`);
  if (!(arch instanceof AlphaGenomeTracks)) return { length: requested ?? arch.defaultSequenceLength, note: '' };
  const longest = longestWasmWindow(arch);
  if (requested === undefined) {
    if (longest === undefined) throw new Error(`AlphaGenome: even a ${bp(arch.config.pairResolution)}-bp window needs more than the ${gb(WASM_BUDGET_BYTES)} GB of WebAssembly memory the page can use`);
    return { length: longest, note: longest === arch.defaultSequenceLength ? '' : ` Windows of ${bp(longest)} bp: the model's ${bp(arch.defaultSequenceLength)} bp do not fit WebAssembly's 4 GB.` };
  }
  const problem = arch.lengthProblem(requested);
  if (problem) throw new Error(`window of ${bp(requested)} bp: ${problem}`);
  const need = alphaGenomeWasmBytes(arch, requested);
  if (need > WASM_BUDGET_BYTES) {
    throw new Error(`window of ${bp(requested)} bp: AlphaGenome at ${arch.binSize} bp needs ≈ ${gb(need)} GB there, more than the ${gb(WASM_BUDGET_BYTES)} GB of WebAssembly memory the page can use${longest ? `; use ${bp(longest)} bp or less` : ''}`);
  }
  return { length: requested, note: requested === arch.defaultSequenceLength ? '' : ` Windows of ${bp(requested)} bp.` };
}
