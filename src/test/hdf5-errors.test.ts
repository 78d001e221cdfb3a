/**
 * Damaged HDF5 in, one line of ours out: HDF5's automatic error printing (the `HDF5-DIAG` stack, some
 * 46 lines per failure) is replaced by exceptions for every h5wasm user (src/formats/hdf5.ts), so a
 * truncated Keras `.h5` given to `weights convert` — as the weights, or as `--graft-mouse-head` (the
 * file, or the folder holding it) — and a failed HDF5 write each give exactly one error line naming
 * the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertCliError, fixturePath, runCli, skipUnless, withTempDir } from './fixtures.js';
import { spawn } from 'node:child_process';

const skip = skipUnless('formats');
const keras = (f: string) => fixturePath('formats', 'borzoi-small', f);
const config = () => fixturePath('formats', 'borzoi-small', 'config.json');

/** The first `bytes` bytes of a fixture file (an interrupted download). */
function truncated(dir: string, file: string, bytes: number, name = file): string {
  const p = join(dir, name);
  writeFileSync(p, readFileSync(keras(file)).subarray(0, bytes));
  return p;
}

/**
 * Runs an ES module script in a fresh Node process and returns its output: HDF5 prints to the process's
 * file descriptor 2 directly, which only a child process's stderr shows. `MODULE(path)` in the script
 * is the URL of a built module (`MODULE('weights/keras-h5.js')`).
 */
function runScript(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dist = new URL('..', import.meta.url).href;
  const code = script.replace(/MODULE\('([^']+)'\)/g, (_, m: string) => JSON.stringify(new URL(m, dist).href));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stdout, stderr }));
  });
}

test('hdf5: a truncated Keras .h5 through `weights convert` is one error line naming the file, no HDF5-DIAG', { skip }, () =>
  withTempDir(async (dir) => {
    const size = readFileSync(keras('model0_best.h5')).length;
    // Cut inside the superblock's promised extent (HDF5 refuses at open) and further in (the objects are gone).
    for (const bytes of [size - 1000, Math.floor(size / 2), 4096]) {
      const p = truncated(dir, 'model0_best.h5', bytes, `cut-${bytes}.h5`);
      const r = await runCli(['weights', 'convert', p, '--config', config(), '--out', join(dir, `out-${bytes}`)]);
      assert.doesNotMatch(r.stderr, /HDF5-DIAG|#0\d\d:/, `${bytes} bytes`);
      assertCliError(r, new RegExp(`cut-${bytes}\\.h5: cannot (open|read) (as )?HDF5 \\(.+\\)$`), `${bytes} bytes`);
    }
  }));

test('hdf5: a truncated --graft-mouse-head file, and a truncated model1_best.h5 in the folder it names: one line each', { skip }, () =>
  withTempDir(async (dir) => {
    const size = readFileSync(keras('model1_best.h5')).length;
    const mouse = truncated(dir, 'model1_best.h5', Math.floor(size / 2), 'mouse.h5');
    const r = await runCli(['weights', 'convert', keras('model0_best.h5'), '--config', config(), '--graft-mouse-head', mouse, '--out', join(dir, 'a')]);
    // The good file's progress line comes first; then the one error line.
    assert.doesNotMatch(r.stderr, /HDF5-DIAG/);
    assertCliError({ ...r, stderr: r.stderr.replace(/^seq2track: read \d+ tensors from .*\n/, '') }, /mouse\.h5: cannot (open|read) (as )?HDF5 \(.+\)$/, '--graft-mouse-head');

    const folder = join(dir, 'folder');
    mkdirSync(folder);
    copyFileSync(config(), join(folder, 'config.json'));
    truncated(folder, 'model1_best.h5', Math.floor(size / 2));
    const f = await runCli(['weights', 'convert', keras('model0_best.h5'), '--config', config(), '--graft-mouse-head', folder, '--out', join(dir, 'b')]);
    assert.doesNotMatch(f.stderr, /HDF5-DIAG/);
    assertCliError({ ...f, stderr: f.stderr.replace(/^seq2track: read \d+ tensors from .*\n/, '') }, /model1_best\.h5: cannot (open|read) (as )?HDF5 \(.+\)$/, 'model folder');
  }));

test('hdf5: thousands of failures stay silent and one-line, and a good file still reads afterwards', { skip }, () =>
  withTempDir(async (dir) => {
    const size = readFileSync(keras('model0_best.h5')).length;
    const cut = truncated(dir, 'model0_best.h5', Math.floor(size / 2), 'cut.h5');
    // The superblock intact, the root group's objects overwritten: HDF5 fails inside the reads.
    const damaged = join(dir, 'damaged.h5');
    const bytes = readFileSync(keras('model0_best.h5'));
    bytes.fill(0, 2000, Math.floor(size / 2));
    writeFileSync(damaged, bytes);
    // Each failure used to leave h5wasm's stack pointer ~1 KB lower and an error stream open: the
    // module aborted after ~2,200 failures. 3,000 here (≈ 2 s).
    const r = await runScript(`
      const { readKerasBorzoi, KerasH5Error } = await import(MODULE('weights/keras-h5.js'));
      const shape = { config: { flashed: false, depth: 2, heads: 4, attnDimKey: 16 } };
      const messages = new Set();
      for (let i = 0; i < 3000; i++) {
        const p = i % 100 === 99 ? ${JSON.stringify(damaged)} : ${JSON.stringify(cut)};
        try {
          await readKerasBorzoi(p, shape);
          throw new Error('read a damaged file');
        } catch (e) {
          if (!(e instanceof KerasH5Error) || e.message.includes(String.fromCharCode(10))) throw e;
          messages.add(e.message);
        }
      }
      const good = await readKerasBorzoi(${JSON.stringify(keras('model0_best.h5'))}, shape);
      console.log(JSON.stringify({ messages: [...messages], head: good.head, tensors: good.weights.entries.size }));
    `);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    const out = JSON.parse(r.stdout) as { messages: string[]; head: string; tensors: number };
    assert.deepEqual(out.messages.sort(), [
      `${cut}: cannot open as HDF5 (unable to synchronously open file: truncated file: eof = ${Math.floor(size / 2)}, sblock->base_addr = 0, stored_eof = ${size})`,
      `${damaged}: cannot read HDF5 (can't get info for object: '/model_weights': unable to determine object type)`,
    ].sort());
    assert.equal(out.head, 'human');
    assert.equal(out.tensors, 108);
  }));

test('hdf5: a write that HDF5 refuses is one line naming the output, nothing on stderr', () =>
  withTempDir(async (dir) => {
    // The partial file's name taken by a folder: HDF5 cannot create the file.
    const scores = join(dir, 'scores.h5');
    const grads = join(dir, 'grads.h5');
    mkdirSync(`${scores}.partial`);
    mkdirSync(`${grads}.partial`);
    const r = await runScript(`
      const { openH5Scores } = await import(MODULE('formats/score-writers.js'));
      const { writeGeneGradientsH5 } = await import(MODULE('formats/gene-gradients-h5.js'));
      const out = [];
      for (const write of [
        () => openH5Scores(${JSON.stringify(scores)}, [{ identifier: 't', description: 'd' }]),
        () => writeGeneGradientsH5(${JSON.stringify(grads)}, [{ gene: 'G', chrom: 'chr1', strand: '+', start: 0, end: 4, sequence: 'ACGT', grads: new Float32Array(16) }]),
      ]) {
        try {
          await write();
          out.push('written');
        } catch (e) {
          out.push(e.constructor.name + ': ' + e.message);
        }
      }
      console.log(JSON.stringify(out));
    `);
    assert.equal(r.stderr, '');
    const [s, g] = JSON.parse(r.stdout) as string[];
    assert.ok(s!.startsWith(`ScoreWriterError: ${scores}: cannot create HDF5 scores (`) && !/\n/.test(s!), s);
    assert.ok(g!.startsWith(`Hdf5Error: ${grads}: cannot write HDF5 (`) && !/\n/.test(g!), g);
  }));
