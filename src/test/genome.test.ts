/**
 * Reference readers (FASTA + fai, bgzip + fai + gzi, 2bit; local and over HTTP range requests on
 * 127.0.0.1), regions (parsing, BED, checks) and the window plan (exact tiling, bin coordinates).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openGenome, genomeKind, GenomeError, PUBLIC_GENOMES } from '../genome/reference.js';
import { checkRegion, parseRegion, planRegion, RegionError } from '../genome/regions.js';
import { readBed } from '../genome/bed.js';
import { reverseComplement, shiftSequence, onlyAcgtn } from '../genome/sequence.js';
import { randomGenome, serveDirectory, writeBgzipFasta, writeFastaFai, writeTwoBit, type StaticServer } from './genome-files.js';
import { tempDir } from './fixtures.js';

let tmp: { dir: string; cleanup: () => void };
let server: StaticServer;
const genome = randomGenome({ chr1: 30_001, chr2: 20_077, chrM: 1_234 }, 11);

before(async () => {
  tmp = tempDir('seq2track-genome-');
  writeFastaFai(join(tmp.dir, 'g.fa'), genome);
  writeBgzipFasta(join(tmp.dir, 'g.fa'), join(tmp.dir, 'g.fa.gz'));
  writeTwoBit(join(tmp.dir, 'g.2bit'), genome);
  server = await serveDirectory(tmp.dir);
});

after(async () => {
  await server.close();
  tmp.cleanup();
});

const expected = (chrom: string, a: number, b: number) => Array.from({ length: b - a }, (_, i) => genome.get(chrom)![a + i] ?? 'N').join('');
const RANGES: [number, number][] = [[0, 100], [8_990, 9_700], [17_950, 18_400], [-20, 10], [-50, -10], [20_000, 20_200], [1_200, 1_300], [0, 30_001]];

for (const name of ['g.fa', 'g.fa.gz', 'g.2bit']) {
  for (const remote of [false, true]) {
    test(`reference: ${name} ${remote ? 'over HTTP' : 'local'} gives every range exactly, N-padded past the ends`, async () => {
      const before = server.requests.length;
      const ref = await openGenome(remote ? `${server.url}/${name}` : join(tmp.dir, name));
      assert.equal(ref.kind, genomeKind(name));
      assert.deepEqual(await ref.getSequenceNames(), ['chr1', 'chr2', 'chrM']);
      assert.deepEqual(await ref.getSequenceSizes(), new Map([...genome].map(([c, s]) => [c, s.length])));
      assert.equal(await ref.getSequenceSize('chr9'), undefined);
      for (const chrom of genome.keys()) {
        for (const [a, b] of RANGES) assert.ok((await ref.getSequence(chrom, a, b)) === expected(chrom, a, b), `${chrom}:${a}-${b} differs`);
      }
      if (remote) {
        const seen = server.requests.slice(before);
        assert.ok(seen.some((r) => r.path === `/${name}` && r.range !== undefined), 'the genome file is read by range requests');
        assert.ok(!seen.some((r) => r.path === `/${name}` && r.range === undefined), 'never downloaded whole');
      }
    });
  }
}

test('reference: unreadable genomes are clear errors', async () => {
  await assert.rejects(openGenome(join(tmp.dir, 'missing.fa')), /missing\.fa: cannot read genome \(ENOENT\)/);
  const noFai = join(tmp.dir, 'nofai.fa');
  writeFileSync(noFai, '>a\nACGT\n');
  await assert.rejects(openGenome(noFai), /nofai\.fa\.fai: cannot read FASTA index \(ENOENT\) \(index the genome with `samtools faidx/);
  const noGzi = join(tmp.dir, 'nogzi.fa.gz');
  writeBgzipFasta(join(tmp.dir, 'g.fa'), noGzi);
  rmSync(`${noGzi}.gzi`);
  await assert.rejects(openGenome(noGzi), /nogzi\.fa\.gz\.gzi: cannot read bgzip index/);
  await assert.rejects(openGenome(`${server.url}/absent.2bit`), (e: Error) => e instanceof GenomeError && /absent\.2bit: cannot read genome/.test(e.message));
  const junk = join(tmp.dir, 'junk.2bit');
  writeFileSync(junk, 'this is not a 2bit file at all, not at all');
  await assert.rejects(openGenome(junk), /junk\.2bit: cannot read genome/);
  assert.match(PUBLIC_GENOMES.hg38!, /^https:\/\/hgdownload\.soe\.ucsc\.edu\/goldenPath\/hg38\/bigZips\/hg38\.2bit$/);
  assert.match(PUBLIC_GENOMES.mm10!, /mm10\/bigZips\/mm10\.2bit$/);
});

test('regions: chr:start-end is 1-based inclusive with commas; bad ones are named', () => {
  assert.deepEqual(parseRegion('chr11:5,225,000-5,300,000'), { chrom: 'chr11', start: 5_224_999, end: 5_300_000, label: 'chr11:5225000-5300000' });
  assert.deepEqual(parseRegion('HLA-A*01:01:01:01:1-10'), { chrom: 'HLA-A*01:01:01:01', start: 0, end: 10, label: 'HLA-A*01:01:01:01:1-10' });
  assert.equal(parseRegion('chrX:7-7').end - parseRegion('chrX:7-7').start, 1);
  assert.throws(() => parseRegion('chr1'), /no chromosome/);
  assert.throws(() => parseRegion('chr1:100'), /no start-end/);
  assert.throws(() => parseRegion('chr1:0-10'), /start must be at least 1/);
  assert.throws(() => parseRegion('chr1:20-10'), /end is before start/);
  assert.throws(() => parseRegion('chr1:1,0000-20000'), /misplaced commas/);
  assert.throws(() => parseRegion(':1-10'), RegionError);
});

test('regions: BED files (0-based, half-open) with errors naming file and line', async () => {
  const bed = join(tmp.dir, 'r.bed');
  writeFileSync(bed, 'track name=x\n# comment\nchr1\t100\t200\tname\t0\t+\n\nchr2\t0\t5\n');
  const regions = await readBed(bed);
  assert.deepEqual(regions.map((r) => [r.chrom, r.start, r.end]), [['chr1', 100, 200], ['chr2', 0, 5]]);
  const bad = (name: string, text: string, pattern: RegExp) => {
    const p = join(tmp.dir, name);
    writeFileSync(p, text);
    return assert.rejects(readBed(p), pattern);
  };
  await bad('cols.bed', 'chr1\t1\t5\nchr1 5 9\n', /cols\.bed:2: expected tab-separated chrom, start, end \(found 1 column\)/);
  await bad('num.bed', 'chr1\t-1\t5\n', /num\.bed:1: start and end must be non-negative integers/);
  await bad('empty-region.bed', 'chr1\t5\t5\n', /empty-region\.bed:1: empty region/);
  await bad('empty.bed', '# nothing\n', /empty\.bed: no regions/);
  await assert.rejects(readBed(join(tmp.dir, 'none.bed')), /none\.bed: cannot read BED file \(ENOENT\)/);
});

test('regions: unknown chromosome and past-the-end checks', () => {
  const r = parseRegion('chr1:29,000-30,002');
  assert.throws(() => checkRegion(r, 30_001, ['chr1'], 'g.fa'), /chr1:29000-30002: region runs past the end of chr1 \(30,001 bp\)/);
  assert.doesNotThrow(() => checkRegion(parseRegion('chr1:29,000-30,001'), 30_001, ['chr1'], 'g.fa'));
  assert.throws(() => checkRegion(parseRegion('chr7:1-2'), undefined, ['chr1', 'chr2'], 'g.fa'), /unknown chromosome 'chr7' in g\.fa \(it has chr1, chr2\)/);
});

test('windows: centred, consecutive, bins tile the region exactly with genomic coordinates', () => {
  const g = { length: 8192, offset: 2048, bins: 32, binSize: 128 };
  const span = 4096;
  for (const [start, end, size] of [[10_000, 10_001, 1e6], [10_000, 14_096, 1e6], [10_000, 14_097, 1e6], [5, 30_001, 30_001], [0, 12_345, 12_345], [123, 20_000, 1e6]] as const) {
    const p = planRegion({ chrom: 'c', start, end, label: 'r' }, size, g);
    const n = Math.ceil((end - start) / span);
    assert.equal(p.windows.length, n);
    p.windows.forEach((w, k) => assert.equal(w, p.coverStart - 2048 + k * span));
    // Centred: the covered stretch leaves the same margin (±1 bp) on each side of the region.
    const left = start - p.coverStart;
    const right = p.coverStart + n * span - end;
    assert.ok(left >= 0 && right >= 0 && Math.abs(left - right) <= 1, `margins ${left} ${right}`);
    // Written bins: contiguous, no gap or overlap, first/last contain the region ends, clipped to the chromosome.
    for (let b = 1; b < p.bins; b++) assert.equal(p.starts[b], p.ends[b - 1]);
    assert.ok(p.starts[0]! <= start && start < p.ends[0]!);
    assert.ok(p.starts[p.bins - 1]! < end && end <= p.ends[p.bins - 1]!);
    for (let b = 0; b < p.bins; b++) {
      const s = p.coverStart + (p.firstBin + b) * 128;
      assert.equal(p.starts[b], Math.max(0, s));
      assert.equal(p.ends[b], Math.min(size, s + 128));
    }
  }
});

test('sequence edits: reverse complement, N-padded shifts, IUPAC to N', () => {
  assert.equal(reverseComplement('AACGTtgcaN'), 'NtgcaACGTT');
  assert.equal(shiftSequence('ACGTAC', 2), 'NNACGT');
  assert.equal(shiftSequence('ACGTAC', -1), 'CGTACN');
  assert.equal(shiftSequence('ACGTAC', 0), 'ACGTAC');
  assert.equal(shiftSequence('ACG', 5), 'NNN');
  assert.equal(onlyAcgtn('ACRYgtN'), 'ACNNgtN');
});
