/**
 * Fuzzing in CI: every target of src/fuzz/targets.ts (new ones included, by iterating TARGETS) for a
 * short deterministic run — a fixed seed and a fixed number of mutated inputs, so a failure reproduces
 * exactly, capped in time — and the findings of earlier runs kept as regression tests. Exploration is
 * `npm run fuzz -- TARGET --seconds N` (a fresh seed each run), or here SEQ2TRACK_FUZZ_SEED,
 * SEQ2TRACK_FUZZ_RUNS and SEQ2TRACK_FUZZ_SECONDS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuzzTarget } from '../fuzz/main.js';
import { TARGETS } from '../fuzz/targets.js';
import { openGenome, GenomeError } from '../genome/reference.js';
import { randomGenome, writeFastaFai } from './genome-files.js';
import { readTrainingTable, TrackCoverage, TrackCoverageError } from '../formats/track-coverage.js';
import { withTempDir } from './fixtures.js';

const SECONDS = Number(process.env.SEQ2TRACK_FUZZ_SECONDS ?? 10);
const RUNS = Number(process.env.SEQ2TRACK_FUZZ_RUNS ?? 150);
const SEED = Number(process.env.SEQ2TRACK_FUZZ_SEED ?? 20_261_207);

for (const target of Object.keys(TARGETS)) {
  test(`fuzz ${target}: ${RUNS} mutated inputs (seed ${SEED}, at most ${SECONDS} s), no crash, hang, runaway memory or broken contract`, () =>
    withTempDir('seq2track-fuzz-findings-', async (dir) => {
      const r = await fuzzTarget(target, SECONDS, SEED, dir, RUNS);
      assert.ok(r.executions > 0, 'the target ran');
      assert.equal(r.finding, undefined, `${target} (seed ${SEED}, reproduce: npm run fuzz -- ${target} --seed ${SEED}): ${r.finding}`);
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

test('fuzz regression: a training bigWig whose damaged header asks for an impossible read is one clean error, not a process abort', () =>
  withTempDir('seq2track-fuzz-regress-', async (dir) => {
    // Found by bigwig-training: @gmod/bbi passed the header's read length on to Node's fs, which aborts
    // the process on it (native assertion); local training bigWigs now go through BoundedLocalFile.
    writeFileSync(join(dir, 'in.bw'), Buffer.from('JvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACACb8j4gEAAIAJvyPiAQAAgAm/I+IBAACAJgAAAAAAAAA1AAAAAAAAAAmAQAAAAAAAAAAAAAAAAAAAAAAAHAAAAAAAAAAgAAAAAAAAAAAAAAAyAAAAAAAAACaAQAAAAAAAPABAAAAAAAAIAMAAAAAAABEAgAAAAAAAHoCAAAAAAAANwEAAAAAAAAAAAAAAAAAAAAAAAAAwHJAAAAAAADwhEAAAAAA0EH2QJGMyngCAAAABAAAAAgAAAACAAAAAAAAAAAAAAAAAAAAAQACAGNocjEAAAAA6AMAAGNocjIBAAAA9AEAAAIAAAAAAAAAeJxjYICASCYGOGBkYAHTRmCywT6FgYHhBJit4PCLgYFhAiNEXQQTTN80ZwCYgwX3eJxjZGBg4GJgYBBhQABGBkYksQcOAAbuAWDgrGgkAAEAAAIAAAAAAAAAAAAAAAAAAAABAAAAFAAAACYBAAAAAAAAAAQAAAAAAAABAAIAAAAAAAAAAAAAAAAAWQIAANwAAAAAAAAAMAAAAAAAAAABAAAACgAAAAEAAAAUAAAADAEAAAAAAAAaAAAAAAAAAAEAAAB4nGNggIATDAwM08CsBnsGBgUHBoZpzgwHNFxAIr8YGBgmMMLkMUEEEwNDJBMDAyOYN80Zjk+sdweJcTEwMIhAaQaGBw4Q3OPEwPDVGQCWNxAS4KxoJAABAAABAAAAAAAAAAAAAAAAAAAAAQAAABQAAADwAQAAAAAAAAAEAAAAAAAAAQABAAAAAAAAAAAAAQAAABQAAACeAQAAAAAAAFIAAAAAAAAAAQAAAHicY2CAgEgmBgZdRiiHYZozA4OYS4PkRneQEBcDA4MIlGZgeOAAwT1ODAxfnQGpHwe94KxoJAABAAABAAAAAAAAAAAAAAAAAAAAAQAAABQAAAB6AgAAAAAAAAAEAAAAAAAAAQABAAAAAAAAAAAAAQAAABQAAABIAgAAAAAAADIAAAAAAAAAJvyPiA==', 'base64'));
    writeFileSync(join(dir, 'targets.txt'), '\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n0\tt0\tin.bw\t384\t1\tsum\tCAGE:a\n');
    const training = await readTrainingTable(join(dir, 'targets.txt'));
    await assert.rejects(TrackCoverage.open(training), (e: unknown) => e instanceof TrackCoverageError && /targets\.txt:2: cannot read bigWig in\.bw \(.*runs past the end/.test(e.message) && !/[\r\n]/.test(e.message));
  }));
