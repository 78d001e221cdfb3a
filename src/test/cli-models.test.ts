/**
 * `seq2track predict` end to end on every fixture model (Enformer, Borzoi, Flashzoi): the fixture's
 * input sequences as FASTA in, every head out, compared with the reference at the issues' acceptance
 * tolerance (atol 5e-5 + rtol 1e-4; the READMEs report float32-vs-float64 spreads of 2–4e-6 on the
 * heads, so this leaves an order of magnitude of room).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../weights/safetensors.js';
import { CLI, compare, fixture, skipUnless, withTempDir } from './fixtures.js';

for (const name of ['enformer-small', 'borzoi-small', 'flashzoi-small']) {
  test(`cli: ${name} through predict --fasta reproduces every head`, { skip: skipUnless(name) }, async () => {
    const dir = fixture(name)!;
    await withTempDir(async (tmpDir) => {
      const sequences: string[] = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')).inputs.sequences;
      const fasta = join(tmpDir, 'in.fa');
      writeFileSync(fasta, sequences.map((s, i) => `>seq${i + 1}\n${s}\n`).join(''));
      const out = join(tmpDir, 'out.safetensors');
      const r = spawnSync(process.execPath, [CLI, 'predict', '--model', dir, '--fasta', fasta, '--out', out, '--tile-length', '2048'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const got = await SafetensorsFile.open(out);
      const ref = await SafetensorsFile.open(join(dir, 'outputs.safetensors'));
      const heads = [...ref.tensors.keys()].filter((k) => k === 'human' || k === 'mouse');
      assert.deepEqual([...got.tensors.keys()].sort(), heads.sort());
      for (const h of heads) {
        assert.deepEqual(got.tensors.get(h)!.shape, ref.tensors.get(h)!.shape, h);
        const c = compare(got.readFloat32(h), ref.readFloat32(h), 5e-5, 1e-4);
        assert.ok(c.ok, `${name} ${h}: max abs ${c.maxAbs.toExponential(2)}`);
      }
    });
  });
}
