/**
 * Test helpers: the shared parity fixtures (`../shared/fixtures` beside the repository root, reached
 * from dist/test), temporary directories and element-wise comparisons. Tests that need a fixture set
 * skip (with the reason) when it is absent, e.g. in a clone without the shared folder.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../weights/safetensors.js';
import type { OneHotBatch } from '../models/model.js';

/** From dist/test/ up to the repository root, then to its sibling `shared/`. */
export const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** Absolute path of a fixture file or set, or undefined when it is not there. */
export function fixture(name: string): string | undefined {
  const path = join(FIXTURES, name);
  return existsSync(path) ? path : undefined;
}

/** For `test(name, { skip: skipUnless('enformer-small') }, …)`: false, or the reason to skip. */
export function skipUnless(name: string): false | string {
  return fixture(name) ? false : `fixture ${join(FIXTURES, name)} not found (needs ../shared/fixtures beside the repo)`;
}

/** A fresh temporary directory under os.tmpdir(), removed by the returned cleanup. */
export function tempDir(prefix = 'seq2track-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs `body` in a fresh temporary directory (named with `prefix` when given) and removes the directory
 * afterwards, whether the body returns or throws.
 */
export function withTempDir<T>(body: (dir: string) => T | Promise<T>): Promise<T>;
export function withTempDir<T>(prefix: string, body: (dir: string) => T | Promise<T>): Promise<T>;
export async function withTempDir<T>(first: string | ((dir: string) => T | Promise<T>), second?: (dir: string) => T | Promise<T>): Promise<T> {
  const [prefix, body] = typeof first === 'string' ? [first, second!] : [undefined, first];
  const { dir, cleanup } = tempDir(prefix);
  try {
    return await body(dir);
  } finally {
    cleanup();
  }
}

/** Largest |a - b| and whether every element is within atol + rtol·|b|. */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol = 0): { maxAbs: number; ok: boolean; worst: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let maxAbs = 0;
  let ok = true;
  let worst = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= atol + rtol * Math.abs(b[i]!))) {
      if (ok) worst = i;
      ok = false;
    }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
  }
  return { maxAbs, ok, worst };
}

/** A copy of the fixture model whose weights miss one tensor, carry an extra one and mis-shape a third. */
export async function brokenModelDir(dir: string): Promise<string> {
  const src = fixture('enformer-small')!;
  copyFileSync(join(src, 'config.json'), join(dir, 'config.json'));
  const file = await SafetensorsFile.open(join(src, 'weights.safetensors'));
  const tensors: TensorToWrite[] = [];
  for (const info of file.tensors.values()) {
    if (info.name === 'stem.0.bias' || info.name === '_trunk.1.0.bias') continue;
    if (info.name === '_heads.mouse.0.bias') {
      tensors.push({ name: info.name, dtype: 'F32', shape: [7], data: new Float32Array(7) });
      continue;
    }
    tensors.push({ name: info.name, dtype: 'F32', shape: info.shape, data: file.readFloat32(info.name) });
  }
  tensors.push({ name: 'transformer.9.extra.weight', dtype: 'F32', shape: [2], data: new Float32Array(2) });
  await writeSafetensors(join(dir, 'weights.safetensors'), tensors);
  return dir;
}


/** Absolute path of a fixture folder or file, e.g. fixturePath('borzoi-small', 'config.json'). */
export function fixturePath(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

export interface Fixture {
  dir: string;
  /** One-hot input x [B, L, 4]. */
  x: Float32Array;
  batch: number;
  length: number;
  outputs: SafetensorsFile;
}

/** The fixture's one-hot input x [B, L, 4] (inputs.safetensors) as a batch for predict() and friends. */
export async function fixtureInput(name: string): Promise<OneHotBatch> {
  const inputs = await SafetensorsFile.open(fixturePath(name, 'inputs.safetensors'));
  const [batch, length] = inputs.tensors.get('x')!.shape as [number, number];
  return { data: inputs.readFloat32('x'), batch, length };
}

export async function openFixture(name: string): Promise<Fixture> {
  const dir = fixturePath(name);
  const { data: x, batch, length } = await fixtureInput(name);
  return { dir, x, batch, length, outputs: await SafetensorsFile.open(`${dir}/outputs.safetensors`) };
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
  const { maxAbs, ok, worst } = compare(got, want, tol.atol, tol.rtol ?? 0);
  if (process.env.PARITY_LOG) console.log(`# ${what}: max abs diff ${maxAbs.toExponential(2)}`);
  assert.ok(ok, `${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} (atol ${tol.atol}, rtol ${tol.rtol ?? 0}; max abs diff ${maxAbs.toExponential(2)})`);
  return maxAbs;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI without blocking the event loop (an in-process test server keeps serving). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Asserts a CLI run succeeded (the stderr is the message otherwise) and returns it. */
export function assertCliOk(r: CliResult): CliResult {
  assert.equal(r.code, 0, r.stderr);
  return r;
}

/** Asserts a CLI run failed as every bad input must: exit 1, one `seq2track: error:` line (warnings aside), no stack trace. */
export function assertCliError(r: CliResult, pattern: RegExp, what: string): void {
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('seq2track: warning:'));
  assert.equal(r.code, 1, `exit code for ${what}: ${r.stderr}`);
  assert.equal(lines.length, 1, `expected one error line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^seq2track: error: /);
  assert.doesNotMatch(r.stderr, /\n\s+at |node:internal/);
  assert.match(lines[0]!, pattern);
}
