import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { readFastaRecords, FastaError } from '../genome/fasta.js';
import { withTempDir } from './fixtures.js';

const TEXT = '>chr1 some description\nACGT\nacgtN\n\n>chr2\r\nGG\r\nTT\r\n';

test('FASTA: multi-line records, first word of the header, CRLF, blank lines', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'a.fa');
    writeFileSync(path, TEXT);
    assert.deepEqual(await readFastaRecords(path), [
      { name: 'chr1', sequence: 'ACGTacgtN' },
      { name: 'chr2', sequence: 'GGTT' },
    ]);
  }));

test('FASTA: gzip is detected from the content', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'a.fa.gz');
    writeFileSync(path, gzipSync(TEXT));
    assert.equal((await readFastaRecords(path)).length, 2);
  }));

test('FASTA: malformed input names the file and the line', () =>
  withTempDir(async (dir) => {
    const check = async (text: string, pattern: RegExp) => {
      const path = join(dir, 'bad.fa');
      writeFileSync(path, text);
      await assert.rejects(readFastaRecords(path), (e: Error) => e instanceof FastaError && e.message.startsWith(path) && pattern.test(e.message));
    };
    await check('', /no FASTA records \(empty file\)/);
    await check('\n\n', /no FASTA records/);
    await check('ACGT\n>x\nACGT\n', /bad\.fa:1: text before the first '>' header/);
    await check('>a\nAC\n>b\n>c\nGT\n', /bad\.fa:3: record 'b' has no sequence/);
    await check('>a\nAC\n>b\n', /bad\.fa:3: record 'b' has no sequence/);
    await check('>a\nAC\n> \nGT\n', /bad\.fa:3: header line has no record name/);
    await assert.rejects(readFastaRecords(join(dir, 'missing.fa')), /missing\.fa: cannot read FASTA file \(ENOENT\)/);
    await assert.rejects(readFastaRecords(dir), /cannot read FASTA file \(EISDIR\)/);
  }));
