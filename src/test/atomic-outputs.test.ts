/** Failed runs leave nothing: score writers abort (handles closed, partial files removed); --out is checked before any work. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openH5Scores, openParquetScores } from '../formats/score-writers.js';
import { PartialFile, writeAtomically } from '../formats/partial-file.js';
import { assertCliError, runCli, withTempDir } from './fixtures.js';

const stats = () => ({ SAD: new Float32Array([1, 2]), SAR: new Float32Array([0, 1]), D2: new Float32Array([3, 4]), SAX: new Float32Array([5, 6]) });
const tracks = [{ identifier: 'a', description: 'A' }, { identifier: 'b', description: 'B' }];

test('score writers: abort() after some rows removes every partial file', () =>
  withTempDir('seq2track-atomic-', async (dir) => {
    for (const [name, open] of [['x.parquet', openParquetScores], ['x.h5', openH5Scores]] as const) {
      const w = await open(join(dir, name), tracks);
      await w.write({ chrom: 'chr1', pos: 10, id: 'rs1', ref: 'A', alt: 'G' }, stats());
      assert.ok(readdirSync(dir).some((f) => f.startsWith(`${name}.partial`)), `${name}: partial file while writing`);
      await w.abort!();
      assert.deepEqual(readdirSync(dir), [], `${name}: nothing left`);
    }
    const p = new PartialFile(join(dir, 'y.tsv'));
    p.append('half');
    p.abort();
    assert.deepEqual(readdirSync(dir), []);
    const q = new PartialFile(join(dir, 'z.tsv'));
    q.append('whole\n');
    assert.deepEqual(readdirSync(dir), ['z.tsv.partial']);
    q.commit();
    assert.deepEqual(readdirSync(dir), ['z.tsv']);
  }));

test('writeAtomically: the final name appears only complete; a failed write leaves nothing', () =>
  withTempDir('seq2track-atomic-', async (dir) => {
    const path = join(dir, 'out.tsv');
    await assert.rejects(
      writeAtomically(path, async (partial) => {
        writeFileSync(partial, 'half');
        assert.deepEqual(readdirSync(dir), ['out.tsv.partial']);
        throw new Error('disk full');
      }),
      /disk full/,
    );
    assert.deepEqual(readdirSync(dir), []);
    await writeAtomically(path, async (partial) => writeFileSync(partial, 'whole\n'));
    assert.deepEqual(readdirSync(dir), ['out.tsv']);
    assert.equal(readFileSync(path, 'utf8'), 'whole\n');
  }));

test('score-variants: an unwritable --out fails before the model or the VCF is read', () =>
  withTempDir('seq2track-atomic-', async (dir) => {
    writeFileSync(join(dir, 'file'), '');
    const r = await runCli(['score-variants', '--model', join(dir, 'no-model'), '--genome', join(dir, 'no.fa'), '--vcf', join(dir, 'no.vcf'), '--out', join(dir, 'file', 'x.tsv')]);
    assertCliError(r, /--out .*x\.tsv: .*file is not a directory/, 'unwritable --out');
  }));
