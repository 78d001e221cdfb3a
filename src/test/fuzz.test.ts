/**
 * Fuzzing in CI: every target of src/fuzz/targets.ts for a short budget (≈ 2 s each, ≈ 40 s in
 * all; `npm run fuzz -- TARGET --seconds N` runs longer), and the findings of earlier runs kept as
 * regression tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuzzTarget } from '../fuzz/main.js';
import { TARGETS } from '../fuzz/targets.js';
import { openGenome, GenomeError } from '../genome/reference.js';
import { randomGenome, writeFastaFai } from './genome-files.js';
import { withTempDir } from './fixtures.js';

const SECONDS = Number(process.env.SEQ2TRACK_FUZZ_SECONDS ?? 2);

for (const target of Object.keys(TARGETS)) {
  test(`fuzz ${target}: ${SECONDS} s of mutated inputs, no crash, hang, runaway memory or unclean error`, () =>
    withTempDir('seq2track-fuzz-findings-', async (dir) => {
      const seed = Date.now() % 2 ** 31;
      const r = await fuzzTarget(target, SECONDS, seed, dir);
      assert.ok(r.executions > 0, 'the target ran');
      assert.equal(r.finding, undefined, `${target} (seed ${seed}, reproduce: npm run fuzz -- ${target} --seed ${seed}): ${r.finding}`);
    }));
}

test('fuzz regression: a .fai whose names carry control characters (CR) is one clean error', () =>
  withTempDir('seq2track-fuzz-regress-', async (dir) => {
    writeFastaFai(join(dir, 'g.fa'), randomGenome({ chr1: 300 }, 1), 50);
    // Found by fasta-fai: bytes with a CR inside the name column.
    writeFileSync(join(dir, 'g.fa.fai'), Buffer.concat([Buffer.from('50m\xca\r\x94g7/8\xfechr1\t300\t22\t50m\n', 'latin1'), Buffer.from('chr1\t300\t6\t50\t51\n')]));
    await assert.rejects(openGenome(join(dir, 'g.fa')), (e: unknown) => e instanceof GenomeError && /sequence name with control characters/.test(e.message) && !/[\r\n]/.test(e.message));
  }));

test('fuzz regression: a 2bit record with unsorted N blocks is one clean error, not an endless decode', () =>
  withTempDir('seq2track-fuzz-regress-', async (dir) => {
    // Found by twobit: a damaged N-block table on which @gmod/twobit's decoder never advances.
    const path = join(dir, 'g.2bit');
    writeFileSync(path, Buffer.from('QydBGgAAAAADAAAAAAAAAARjaHIxKwAAAARjaHIyngAAAARjaHJN3wAAACwBAAACAAAAKAAAAAMAAAAFAAAAHgAAAAEAAAAtAAAA/wAAAAAAAACI9L9H3BLYtjpdABz/Y/wu8wsjEcvdYAAAAAAAAAAUJRTygABSfLt+dL6sZgTq/ckEu3cGArjIynIf41zOZy3ARbczbUla385nMEqCAAAAAQAAACcAAAANAAAAAQAAAC0AAABVAAAAAAAAAAaDuVFnUz1WFNQAAABjI1dC/qBnxSDMEHdZVgjUZgYoYD0AAAACAAAAEgAAACgAAAAGAAAABQAAAAEAAAAtAAAAEAAAAAAAAADSFx7mMADQ1e0MACuU6SRA', 'base64'));
    const g = await openGenome(path);
    await assert.rejects(g.getSequence('chr1', 0, 300), (e: unknown) => e instanceof GenomeError && /N block 1 .* overlaps/.test(e.message) && !/[\r\n]/.test(e.message));
  }));
