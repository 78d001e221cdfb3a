/** The `alphagenome-small` fixture as the AlphaGenome tests read it: where it is, its tolerance rule, a scaled difference. */
import assert from 'node:assert/strict';
import type { TensorData } from '../engine/protocol.js';
import { fixture, skipUnless } from './fixtures.js';

export const ALPHAGENOME = 'alphagenome-small';
export const alphaGenomeSkip = skipUnless(ALPHAGENOME);
export const alphaGenomeDir = fixture(ALPHAGENOME) ?? '';

/** reference.json `suggested_tolerances[name]`: |ours − ref| ≤ factor · max(atol, scaled · max(|ref|, 1)). */
export interface Tolerance {
  atol: number;
  scaled: number;
}

/** Max of |a − b| / max(|a|, 1) over a tensor (shapes must agree). */
export function scaledDiff(a: TensorData, b: TensorData): number {
  assert.deepEqual(a.dims, b.dims);
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) {
    const p = Number(a.data[i]!);
    worst = Math.max(worst, Math.abs(p - Number(b.data[i]!)) / Math.max(Math.abs(p), 1));
  }
  return worst;
}
