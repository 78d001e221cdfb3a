/** Failed runs leave nothing: score writers abort (handles closed, partial files removed); --out is checked before any work. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openH5Scores, openParquetScores } from '../formats/score-writers.js';
import { PartialFile, writeAtomically } from '../formats/partial-file.js';
import { assertCliError, runCli, tempDir } from './fixtures.js';

const stats = () => ({ SAD: new Float32Array([1, 2]), SAR: new Float32Array([0, 1]), D2: new Float32Array([3, 4]), SAX: new Float32Array([5, 6]) });
const tracks = [{ identifier: 'a', description: 'A' }, { identifier: 'b', description: 'B' }];

test('score writers: abort() after some rows removes every partial file', async () => {
  const tmp = tempDir('seq2track-atomic-');
  try {
    for (const [name, open] of [['x.parquet', openParquetScores], ['x.h5', openH5Scores]] as const) {
      const w = await open(join(tmp.dir, name), tracks);
      await w.write({ chrom: 'chr1', pos: 10, id: 'rs1', ref: 'A', alt: 'G' }, stats());
      assert.ok(readdirSync(tmp.dir).some((f) => f.startsWith(`${name}.partial`)), `${name}: partial file while writing`);
      await w.abort!();
      assert.deepEqual(readdirSync(tmp.dir), [], `${name}: nothing left`);
    }
    const p = new PartialFile(join(tmp.dir, 'y.tsv'));
    p.append('half');
    p.abort();
    assert.deepEqual(readdirSync(tmp.dir), []);
    const q = new PartialFile(join(tmp.dir, 'z.tsv'));
    q.append('whole\n');
    assert.deepEqual(readdirSync(tmp.dir), ['z.tsv.partial']);
    q.commit();
    assert.deepEqual(readdirSync(tmp.dir), ['z.tsv']);
  } finally {
    tmp.cleanup();
  }
});

test('writeAtomically: the final name appears only complete; a failed write leaves nothing', async () => {
  const tmp = tempDir('seq2track-atomic-');
  try {
    const path = join(tmp.dir, 'out.tsv');
    await assert.rejects(
      writeAtomically(path, async (partial) => {
        writeFileSync(partial, 'half');
        assert.deepEqual(readdirSync(tmp.dir), ['out.tsv.partial']);
        throw new Error('disk full');
      }),
      /disk full/,
    );
    assert.deepEqual(readdirSync(tmp.dir), []);
    await writeAtomically(path, async (partial) => writeFileSync(partial, 'whole\n'));
    assert.deepEqual(readdirSync(tmp.dir), ['out.tsv']);
    assert.equal(readFileSync(path, 'utf8'), 'whole\n');
  } finally {
    tmp.cleanup();
  }
});

test('score-variants: an unwritable --out fails before the model or the VCF is read', async () => {
  const tmp = tempDir('seq2track-atomic-');
  try {
    writeFileSync(join(tmp.dir, 'file'), '');
    const r = await runCli(['score-variants', '--model', join(tmp.dir, 'no-model'), '--genome', join(tmp.dir, 'no.fa'), '--vcf', join(tmp.dir, 'no.vcf'), '--out', join(tmp.dir, 'file', 'x.tsv')]);
    assertCliError(r, /--out .*x\.tsv: .*file is not a directory/, 'unwritable --out');
  } finally {
    tmp.cleanup();
  }
});
