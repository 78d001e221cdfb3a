/**
 * Test helpers: the shared parity fixtures (`<repo>/../shared/fixtures`, reached from dist/test) and
 * element-wise comparisons.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile } from '../weights/safetensors.js';

/** Absolute path of a fixture folder or file, e.g. fixturePath('borzoi-small', 'config.json'). */
export function fixturePath(...parts: string[]): string {
  return fileURLToPath(new URL(`../../../shared/fixtures/${parts.join('/')}`, import.meta.url));
}

export interface Fixture {
  dir: string;
  /** One-hot input x [B, L, 4]. */
  x: Float32Array;
  batch: number;
  length: number;
  outputs: SafetensorsFile;
}

export async function openFixture(name: string): Promise<Fixture> {
  const dir = fixturePath(name);
  const inputs = await SafetensorsFile.open(`${dir}/inputs.safetensors`);
  const [batch, length] = inputs.tensors.get('x')!.shape as [number, number];
  return { dir, x: inputs.readFloat32('x'), batch, length, outputs: await SafetensorsFile.open(`${dir}/outputs.safetensors`) };
}

/** A reference tensor as float64 (F32 or F64 in the file). */
export function readRef(file: SafetensorsFile, name: string): Float64Array {
  const info = file.tensors.get(name);
  if (!info) throw new Error(`fixture has no tensor '${name}'`);
  return info.dtype === 'F64' ? file.readFloat64(name) : Float64Array.from(file.readFloat32(name));
}

/** [B, C, n] channels-first reference -> [B, n, C]. */
export function channelsLast(data: ArrayLike<number>, shape: number[]): Float64Array {
  const [b, c, n] = shape as [number, number, number];
  const out = new Float64Array(b * c * n);
  for (let i = 0; i < b; i++) for (let k = 0; k < c; k++) for (let p = 0; p < n; p++) out[(i * n + p) * c + k] = data[(i * c + k) * n + p]!;
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Asserts |got - want| <= atol + rtol·|want| everywhere; returns the max abs difference (printed with PARITY_LOG=1). */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: { atol: number; rtol?: number }, what: string): number {
  assert.equal(got.length, want.length, `${what}: ${got.length} values, expected ${want.length}`);
  const rtol = tol.rtol ?? 0;
  let worst = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= tol.atol + rtol * Math.abs(want[i]!))) {
      worst = i;
      break;
    }
  }
  const m = maxAbsDiff(got, want);
  if (process.env.PARITY_LOG) console.log(`# ${what}: max abs diff ${m.toExponential(2)}`);
  assert.ok(worst < 0, `${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} (atol ${tol.atol}, rtol ${rtol}; max abs diff ${m.toExponential(2)})`);
  return m;
}
