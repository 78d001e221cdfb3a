/** `--debug` / SEQ2TRACK_DEBUG=1: a failure prints its full stack (engine worker included) instead of one line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../engine/engine.js';
import { fullReport, oneLine } from '../cli/errors.js';
import { runCli, tempDir, withTempDir } from './fixtures.js';

test('cli: --debug anywhere, or SEQ2TRACK_DEBUG=1, prints the stack; without them one line', () =>
  withTempDir('seq2track-debug-', async (dir) => {
    const args = ['predict', '--model', join(dir, 'no-such-model'), '--fasta', join(dir, 'none.fa'), '--out', join(dir, 'x.tsv')];
    const plain = await runCli(args);
    assert.equal(plain.code, 1);
    assert.equal(plain.stderr.trimEnd().split('\n').length, 1, plain.stderr);
    for (const [extra, env] of [[['--debug'], {}], [[], { SEQ2TRACK_DEBUG: '1' }]] as const) {
      const r = await runCli([...args, ...extra], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^seq2track: error: \w*Error: /);
      assert.match(r.stderr, /\n\s+at .*\.js:\d+/, 'a stack trace');
    }
  }));

test('engine: a failure inside the worker keeps the worker stack as the cause (the message stays one line)', async () => {
  const engine = Engine.start();
  try {
    const missing = join(tempDir('seq2track-debug-').dir, 'gone.bin');
    const err = await engine.loadBlob('w', { size: 8, pieces: [{ kind: 'file', path: missing, from: 0, to: 0, length: 8 }] }).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.match(oneLine(err), /ENOENT/);
    const report = fullReport(err);
    assert.match(report, /caused by: .*ENOENT[\s\S]*\n\s+at [\s\S]*\(in the engine worker\)/);
  } finally {
    await engine.close();
  }
});
