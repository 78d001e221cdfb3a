/**
 * Genes: the spec's check values (untransform, exon bins, toy statistics), the GTF reader and its
 * index, and end to end on a random genome with a synthetic GTF and targets table: every (variant,
 * gene) statistic of `score-variants --gtf` and every `predict-genes` value against a brute-force
 * computation from `predict --fasta` on windows cut here by hand; sed.h5 read back with h5py.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SafetensorsFile } from '../weights/safetensors.js';
import { GeneIndex, readGtf, unionIntervals } from '../genome/gtf.js';
import { exonBins, geneColumnStats, percentile25, roundHalfEven, strandColumns, untransform, untransformParams, GENE_STATS } from '../tasks/genes/gene-stats.js';
import { borzoiVariantWindows } from '../tasks/variants/windows.js';
import { gradientUntransform } from '../tasks/genes/gene-gradients.js';
import { loadModel } from '../models/load.js';
import { Model } from '../models/model.js';
import { centreCrop } from '../genome/sequence.js';
import type { Track } from '../formats/targets.js';
import { assertCliError, assertCliOk, CLI, fixture, runCli, skipUnless, tempDir, withTempDir } from './fixtures.js';
import { memoryReference, randomGenome, writeFastaFai } from './genome-files.js';
import { withH5File } from './h5-files.js';

const near = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('genes: untransform check values (legacy and new)', () => {
  const legacy = { scale: 0.3, clipSoft: 384, sqrt: true };
  near(untransform(50, legacy, 'legacy'), 275.1606, 1e-4, 'legacy 50');
  near(untransform(200, legacy, 'legacy'), 1_039_034.09, 1e-2, 'legacy 200');
  const fresh = { scale: 0.3, clipSoft: 384, sqrt: true };
  near(untransform(50, fresh, 'new'), 2600, 1e-9, 'new 50');
  near(untransform(400, fresh, 'new'), 452_928, 1e-6, 'new 400');
  assert.equal(untransform(7.5, legacy, 'none'), 7.5);
  // Without _sqrt and below clip_soft, legacy is the identity.
  near(untransform(10, { scale: 2, clipSoft: 384, sqrt: false }, 'legacy'), 10, 1e-12, 'identity');
  const bare: Track = { index: 0, identifier: 'x', description: 'x', strandPair: 0 };
  assert.throws(() => untransformParams([bare], 'legacy', 'targets.txt'), /targets\.txt: the targets table has no scale, clip_soft, sum_stat columns for track 0 \(x\), needed by --untransform legacy/);
  assert.deepEqual(untransformParams([bare], 'none', 't'), [{ scale: 1, clipSoft: Infinity, sqrt: false }]);
});

test('genes: exon → bin mapping (majority rule examples, any-overlap) and round half to even', () => {
  const o = 1000;
  assert.deepEqual(exonBins([[o + 16, o + 48]], o, 100, 32, 'majority'), [0, 1]);
  assert.deepEqual(exonBins([[o + 48, o + 80]], o, 100, 32, 'majority'), []);
  assert.deepEqual(exonBins([[o + 10, o + 40]], o, 100, 32, 'majority'), [0]);
  assert.deepEqual(exonBins([[o + 48, o + 80]], o, 100, 32, 'overlap'), [1, 2]);
  assert.deepEqual(exonBins([[o - 100, o + 20]], o, 100, 32, 'overlap'), [0]);
  // Union, sorted, unique, clipped to the span.
  assert.deepEqual(exonBins([[o + 64, o + 128], [o + 16, o + 80], [o + 3150, o + 9000]], o, 100, 32, 'majority'), [0, 1, 2, 3, 98, 99]);
  assert.deepEqual(exonBins([[o - 500, o - 10]], o, 100, 32, 'majority'), []);
  assert.deepEqual([0.5, 1.5, 2.5, 2.4, 2.6, -0.5].map(roundHalfEven), [0, 2, 2, 2, 3, 0]);
});

test('genes: toy statistics (spec check), swap symmetry, percentile', () => {
  // R, A are [bins × tracks] = [[1,2],[3,4]] and [[1,2],[5,4]].
  const col = (m: number[][], k: number) => m.map((r) => r[k]!);
  const R = [[1, 2], [3, 4]];
  const A = [[1, 2], [5, 4]];
  const s = [0, 1].map((k) => geneColumnStats(col(R, k), col(A, k), 0, GENE_STATS));
  near(s[0]!.logSED, 0.48543, 1e-5, 'logSED 0');
  near(s[1]!.logSED, 0, 1e-12, 'logSED 1');
  near(s[0]!.logD2, 0.58496, 1e-5, 'logD2 0');
  near(s[1]!.logD2, 0, 1e-12, 'logD2 1');
  assert.equal(s[0]!.SED, 2);
  assert.equal(s[0]!.D1, 2);
  assert.equal(s[0]!.D2, 2);
  assert.deepEqual([s[0]!.REF, s[0]!.ALT], [4, 6]);
  const w = [0, 1].map((k) => geneColumnStats(col(A, k), col(R, k), 0, GENE_STATS));
  for (const k of [0, 1]) {
    near(w[k]!.SED, -s[k]!.SED, 1e-12, 'SED swap');
    near(w[k]!.logSED, -s[k]!.logSED, 1e-12, 'logSED swap');
    near(w[k]!.D2, s[k]!.D2, 1e-12, 'D2 swap');
    near(w[k]!.logD2, s[k]!.logD2, 1e-12, 'logD2 swap');
    near(w[k]!.JS, s[k]!.JS, 1e-12, 'JS swap');
  }
  // Normalised: pseudocount 1 → R̂ = [2, 4]/6, Â = [2, 6]/8.
  const n = geneColumnStats([1, 3], [1, 5], 1, ['nD2', 'nDi', 'JS']);
  const p = [2 / 6, 4 / 6];
  const q = [2 / 8, 6 / 8];
  near(n.nD2, Math.hypot(p[0]! - q[0]!, p[1]! - q[1]!), 1e-12, 'nD2');
  near(n.nDi, Math.abs(p[0]! - q[0]!), 1e-12, 'nDi');
  near(n.JS, (p[0]! * Math.log(p[0]! / q[0]!) + p[1]! * Math.log(p[1]! / q[1]!) + q[0]! * Math.log(q[0]! / p[0]!) + q[1]! * Math.log(q[1]! / p[1]!)) / 2, 1e-12, 'JS');
  assert.equal(percentile25(Float64Array.from([3, 1, 2, 4])), 1.75); // numpy.percentile([3,1,2,4], 25)
  assert.equal(percentile25(Float64Array.from([5])), 5);
});

test('genes: strand-matched columns', () => {
  const t = (index: number, identifier: string, strandPair: number): Track => ({ index, identifier, description: identifier, strandPair });
  const all = [t(0, 'a+', 1), t(1, 'a-', 0), t(2, 'b', 2), t(3, 'c+', 4), t(4, 'c-', 3)];
  const c = strandColumns(all, all);
  assert.deepEqual(c.columns.map((x) => x.identifier), ['a+', 'b', 'c+']);
  assert.deepEqual(c.minus.map((x) => x.identifier), ['a-', 'b', 'c-']);
  assert.deepEqual(c.predicted.map((x) => x.identifier), ['a+', 'b', 'c+', 'a-', 'c-']);
  assert.deepEqual([c.plusAt, c.minusAt], [[0, 1, 2], [3, 1, 4]]);
  // Selecting only a "−" track leaves no column.
  assert.throws(() => strandColumns(all, [all[1]!]), /no strand-matched output tracks/);
});

const GTF_LINES = [
  '##description: test',
  // G1 on +: two transcripts whose exons overlap (union [3999, 4300)) plus one more exon; a gene row and CDS rows are ignored.
  'chr1\tHAVANA\tgene\t4000\t5100\t.\t+\t.\tgene_id "ENSG01.1"; gene_name "ALPHA";',
  'chr1\tHAVANA\texon\t4000\t4200\t.\t+\t.\tgene_id "ENSG01.1"; transcript_id "T1"; gene_name "ALPHA";',
  'chr1\tHAVANA\texon\t4100\t4300\t.\t+\t.\tgene_id "ENSG01.1"; transcript_id "T2"; gene_name "ALPHA";',
  'chr1\tHAVANA\tCDS\t4100\t4300\t.\t+\t0\tgene_id "ENSG01.1"; transcript_id "T2"; gene_name "ALPHA";',
  'chr1\tHAVANA\texon\t5001\t5100\t.\t+\t.\tgene_id "ENSG01.1"; transcript_id "T2"; gene_name "ALPHA";',
  // G2 on −: one exon inside the first variant's span, one beyond it.
  'chr1\tENSEMBL\texon\t7001\t7500\t.\t-\t.\tgene_id "ENSG02.4"; transcript_id "T3"; gene_name "BETA";',
  'chr1\tENSEMBL\texon\t9001\t9500\t.\t-\t.\tgene_id "ENSG02.4"; transcript_id "T3"; gene_name "BETA";',
  // G3 far away; G4 without a gene_name.
  'chr1\tENSEMBL\texon\t20001\t20500\t.\t+\t.\tgene_id "ENSG03.1"; transcript_id "T4"; gene_name "GAMMA";',
  'chr2\tENSEMBL\texon\t3001\t3700\t.\t-\t.\tgene_id "ENSG04.2"; transcript_id "T5";',
];

test('genes: GTF reader (plain and gzip, union over transcripts, --span) and its overlap index', () =>
  withTempDir('seq2track-gtf-', async (dir) => {
    const plain = join(dir, 'a.gtf');
    writeFileSync(plain, GTF_LINES.join('\n') + '\n');
    writeFileSync(join(dir, 'a.gtf.gz'), gzipSync(readFileSync(plain)));
    const genes = await readGtf(plain);
    assert.deepEqual(await readGtf(join(dir, 'a.gtf.gz')), genes);
    assert.deepEqual(genes.map((g) => [g.id, g.name, g.chrom, g.strand]), [
      ['ENSG01.1', 'ALPHA', 'chr1', '+'],
      ['ENSG02.4', 'BETA', 'chr1', '-'],
      ['ENSG03.1', 'GAMMA', 'chr1', '+'],
      ['ENSG04.2', 'ENSG04.2', 'chr2', '-'],
    ]);
    assert.deepEqual(genes[0]!.exons, [[3999, 4300], [5000, 5100]]);
    const span = await readGtf(plain, { span: true });
    assert.deepEqual(span[1]!.exons, [[7000, 9500]]);
    assert.deepEqual(unionIntervals([[5, 9], [1, 3], [3, 4], [8, 12]]), [[1, 4], [5, 12]]);

    const index = new GeneIndex(genes);
    const ids = (c: string, s: number, e: number) => index.overlapping(c, s, e).map((g) => g.id);
    assert.deepEqual(ids('chr1', 4299, 7001), ['ENSG01.1', 'ENSG02.4']);
    assert.deepEqual(ids('chr1', 4300, 5000), [], 'between exons: no overlap');
    assert.deepEqual(ids('chr1', 9499, 30000), ['ENSG02.4', 'ENSG03.1']);
    assert.deepEqual(new GeneIndex(span).overlapping('chr1', 8000, 8001).map((g) => g.id), ['ENSG02.4']);
    assert.deepEqual(ids('chrX', 0, 1e9), []);
    // Brute force over random intervals.
    for (let i = 0; i < 200; i++) {
      const s = Math.floor(Math.random() * 22000);
      const e = s + 1 + Math.floor(Math.random() * 3000);
      const want = genes.filter((g) => g.chrom === 'chr1' && g.exons.some(([a, b]) => a < e && b > s)).map((g) => g.id);
      assert.deepEqual(ids('chr1', s, e), want, `[${s}, ${e})`);
    }
    assert.equal(index.find('BETA').id, 'ENSG02.4');
    assert.equal(index.find('ENSG02').id, 'ENSG02.4');
    assert.throws(() => index.find('DELTA'), /gene 'DELTA' not found in the GTF/);

    writeFileSync(join(dir, 'noexon.gtf'), GTF_LINES.filter((l) => !l.includes('\texon\t')).join('\n') + '\n');
    await assert.rejects(readGtf(join(dir, 'noexon.gtf')), /noexon\.gtf: no exon rows/);
    writeFileSync(join(dir, 'bad.gtf'), 'chr1\tx\texon\t10\t5\t.\t+\t.\tgene_id "G";\n');
    await assert.rejects(readGtf(join(dir, 'bad.gtf')), /bad\.gtf:1: exon start\/end must be integers/);
    writeFileSync(join(dir, 'noid.gtf'), 'chr1\tx\texon\t1\t5\t.\t+\t.\ttranscript_id "T";\n');
    await assert.rejects(readGtf(join(dir, 'noid.gtf')), /noid\.gtf:1: exon without a gene_id/);
    await assert.rejects(readGtf(join(dir, 'none.gtf')), /none\.gtf: cannot read GTF \(ENOENT\)/);
  }));

test('genes: --anchor borzoi windows (baskerville vcf.py) and centre crop', async () => {
  const seq = 'ACGTACGTTGCAGGCA';
  const ref = memoryReference('c', seq);
  // L = 8, POS 7 (1-based, pos0 6, base G): input [7 − 4, …) 0-based = [3, 11), the variant at index 3.
  let w = await borzoiVariantWindows(ref, 'c', 6, 'G', ['T'], 8);
  assert.deepEqual([w.ref, w.refStart, w.genomeRef, w.alts[0]], ['TACGTTGC', 3, 'G', 'TACTTTGC']);
  // Deletion GTT>G: d = 2 → input [3, 13) = TACGTTGCAG; ref trimmed 1 each side; alt exact.
  w = await borzoiVariantWindows(ref, 'c', 6, 'GTT', ['G'], 8);
  assert.deepEqual([w.ref, w.refStart, w.alts[0]], ['ACGTTGCA', 4, 'TACGGCAG']);
  // Insertion G>GAA: alt TAC + GAA + TTGC = 10 bases, trimmed 1 each side.
  w = await borzoiVariantWindows(ref, 'c', 6, 'G', ['GAA'], 8);
  assert.deepEqual([w.ref, w.alts[0]], ['TACGTTGC', 'ACGAATTG']);
  assert.deepEqual(centreCrop('AACCGGTT', 4, 'x'), { sequence: 'CCGG', trimmed: 2 });
  assert.deepEqual(centreCrop('AACCGGTTA', 4, 'x'), { sequence: 'CCGG', trimmed: 2 });
  assert.throws(() => centreCrop('AC', 4, 'record r'), /record r has 2 bp, fewer than --crop-input 4/);
});

// ------------------------------------------------------------------------------------------ end to end

const skip = skipUnless('borzoi-small');
const BORZOI = fixture('borzoi-small') ?? '';
const L = 8192;
const BINS = 128;
const OFFSET = 64 * 32;
const TRACKS = 12;
interface TableRow {
  i: number;
  id: string;
  pair: number;
  scale: number;
  clipSoft: number;
  sumStat: string;
}
/** Synthetic targets table: pairs (0,1), (3,4), (8,9); the rest unstranded; clip_soft low enough to be crossed on every third track. */
function makeTable(n: number): TableRow[] {
  const pairs: Record<number, number> = { 0: 1, 1: 0, 3: 4, 4: 3, 8: 9, 9: 8 };
  return Array.from({ length: n }, (_, i) => {
    const pair = pairs[i] ?? i;
    const id = pair === i ? `T${i}` : `T${Math.min(i, pair)}${i < pair ? '+' : '-'}`;
    return { i, id, pair, scale: [0.3, 0.5, 1, 2][i % 4]!, clipSoft: i % 3 === 0 ? 0.8 : 384, sumStat: i % 2 === 0 ? 'sum_sqrt' : 'sum' };
  });
}
function writeTable(file: string, table: TableRow[]): void {
  writeFileSync(file, ['\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair\tdescription', ...table.map((t) => [t.i, t.id, 'f', 768, t.clipSoft, t.scale, t.sumStat, t.pair, `track ${t.id}`].join('\t'))].join('\n') + '\n');
}
const TABLE = makeTable(TRACKS);
const SIZES = { chr1: 30_000, chr2: 12_000 };
const genome = randomGenome(SIZES, 11);
let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
const run = (args: string[]) => runCli(args, { SEQ2TRACK_CACHE: join(tmp.dir, 'cache') });
const ok = async (args: string[]) => assertCliOk(await run(args));
const upper = (chrom: string, a: number, b: number) => Array.from({ length: b - a }, (_, i) => (genome.get(chrom)![a + i] ?? 'N').toUpperCase()).join('');
const other = (b: string, k = 1) => 'ACGT'[('ACGT'.indexOf(b) + k) % 4]!;

interface Variant {
  chrom: string;
  pos: number;
  id: string;
  ref: string;
  alts: string[];
}
const variants: Variant[] = [];

before(() => {
  tmp = tempDir('seq2track-genes-');
  writeFastaFai(path('g.fa'), genome);
  writeTable(path('targets.txt'), TABLE);
  writeFileSync(path('genes.gtf'), GTF_LINES.join('\n') + '\n');
  const b = (chrom: string, pos: number) => upper(chrom, pos - 1, pos);
  variants.push({ chrom: 'chr1', pos: 6000, id: 'snv', ref: b('chr1', 6000), alts: [other(b('chr1', 6000))] });
  variants.push({ chrom: 'chr1', pos: 7200, id: 'multi', ref: b('chr1', 7200), alts: [other(b('chr1', 7200), 1), other(b('chr1', 7200), 2)] });
  variants.push({ chrom: 'chr1', pos: 13000, id: 'nogene', ref: b('chr1', 13000), alts: [other(b('chr1', 13000))] });
  variants.push({ chrom: 'chr1', pos: 8800, id: 'del', ref: upper('chr1', 8799, 8803), alts: [b('chr1', 8800)] });
  variants.push({ chrom: 'chr2', pos: 3300, id: '.', ref: b('chr2', 3300), alts: [other(b('chr2', 3300), 3)] });
  const header = '##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n';
  writeFileSync(path('v.vcf'), header + variants.map((v) => `${v.chrom}\t${v.pos}\t${v.id}\t${v.ref}\t${v.alts.join(',')}\t.\t.\t.`).join('\n') + '\n');
});

after(() => tmp?.cleanup());

/** The untransform and statistics, written again here from the spec. */
function handUntransform(y: number, t: TableRow): number {
  let x = y / t.scale;
  if (x > t.clipSoft) x = t.clipSoft + (x - t.clipSoft) ** 2;
  if (t.sumStat.includes('_sqrt')) x = x ** (4 / 3);
  return x * t.scale;
}

function handBins(exons: [number, number][], o: number, bins = BINS): number[] {
  const set = new Set<number>();
  const rnd = (x: number) => (Math.abs(x - Math.floor(x) - 0.5) < 1e-12 ? (Math.floor(x) % 2 === 0 ? Math.floor(x) : Math.floor(x) + 1) : Math.round(x));
  for (const [s, e] of exons) for (let b = rnd(Math.max(0, s - o) / 32); b < Math.min(bins, rnd(Math.max(0, e - o) / 32)); b++) set.add(b);
  return [...set].sort((a, b) => a - b);
}

function parseGeneTsv(file: string, stats: string[]) {
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.equal(lines[0], ['chrom', 'pos', 'id', 'ref', 'alt', 'gene', 'gene_name', 'track', ...stats].join('\t'));
  return lines.slice(1).map((l) => {
    const f = l.split('\t');
    return { chrom: f[0]!, pos: Number(f[1]), id: f[2]!, ref: f[3]!, alt: f[4]!, gene: f[5]!, name: f[6]!, track: f[7]!, stats: Object.fromEntries(stats.map((s, i) => [s, Number(f[8 + i])])) as Record<string, number> };
  });
}

const COLUMNS = TABLE.filter((t) => !t.id.endsWith('-'));
const BORZOI_SPEC: ModelSpec = { name: 'borzoi', dir: BORZOI, length: L, bins: BINS, offset: OFFSET, tracks: TRACKS, table: TABLE, columns: COLUMNS };
const ALL_STATS = [...GENE_STATS];

/** A model fixture with its synthetic targets table, for the hand computation. */
interface ModelSpec {
  name: string;
  dir: string;
  length: number;
  bins: number;
  offset: number;
  tracks: number;
  table: TableRow[];
  columns: TableRow[];
}

/** Checks gene rows of a score-variants --gtf run against the statistics computed here from predict --fasta on hand-cut windows. */
async function verifyAgainstHand(m: ModelSpec, rows: ReturnType<typeof parseGeneTsv>, anchor: 'center' | 'borzoi', stats: readonly string[]): Promise<number> {
  const genes = await readGtf(path('genes.gtf'));
  // Hand-cut windows: ours puts the first REF base at m.length/2; borzoi's at m.length/2 − 1 with centre trimming.
  const cases: { v: Variant; alt: string; start: number; ref: string; altSeq: string }[] = [];
  for (const v of variants) {
    for (const alt of v.alts) {
      const pos0 = v.pos - 1;
      if (anchor === 'center') {
        const ws = pos0 - m.length / 2;
        const ref = upper(v.chrom, ws, ws + m.length);
        const altSeq = (upper(v.chrom, ws, pos0) + alt + upper(v.chrom, pos0 + v.ref.length, pos0 + v.ref.length + m.length)).slice(0, m.length);
        cases.push({ v, alt, start: ws, ref, altSeq });
      } else {
        const d = Math.max(0, v.ref.length - alt.length);
        const s = v.pos - m.length / 2;
        const seq = upper(v.chrom, s, s + m.length + d);
        const trim = (x: string) => x.slice(Math.floor((x.length - m.length) / 2), Math.floor((x.length - m.length) / 2) + m.length);
        const altFull = seq.slice(0, m.length / 2 - 1) + alt + seq.slice(m.length / 2 - 1 + v.ref.length);
        cases.push({ v, alt, start: s + Math.floor(d / 2), ref: trim(seq), altSeq: trim(altFull) });
      }
    }
  }
  writeFileSync(path(`hand-${m.name}-${anchor}.fa`), cases.flatMap((c, i) => [`>r${i}\n${c.ref}\n`, `>a${i}\n${c.altSeq}\n`]).join(''));
  await ok(['predict', '--model', m.dir, '--fasta', path(`hand-${m.name}-${anchor}.fa`), '--heads', 'human', '--out', path(`hand-${m.name}-${anchor}.safetensors`)]);
  const out = (await SafetensorsFile.open(path(`hand-${m.name}-${anchor}.safetensors`))).readFloat32('human');
  const at = (item: number, b: number, t: number) => out[(item * m.bins + b) * m.tracks + t]!;

  let k = 0;
  let withGenes = 0;
  for (const [ci, c] of cases.entries()) {
    const o = c.start + m.offset;
    const visible = genes.filter((g) => g.chrom === c.v.chrom && g.exons.some(([a, b]) => a < o + m.bins * 32 && b > o));
    const scored = visible.filter((g) => handBins(g.exons, o, m.bins).length > 0);
    if (scored.length) withGenes++;
    for (const g of scored) {
      const bins = handBins(g.exons, o, m.bins);
      for (const col of m.columns) {
        const t = g.strand === '-' ? m.table[col.pair]! : col;
        const R = bins.map((b) => handUntransform(at(2 * ci, b, t.i), t));
        const A = bins.map((b) => handUntransform(at(2 * ci + 1, b, t.i), t));
        const allR = Array.from({ length: m.bins }, (_, b) => handUntransform(at(2 * ci, b, t.i), t)).sort((x, y) => x - y);
        const q = 0.25 * (m.bins - 1);
        const c25 = allR[Math.floor(q)]! + (q - Math.floor(q)) * (allR[Math.floor(q) + 1]! - allR[Math.floor(q)]!);
        const sum = (x: number[]) => x.reduce((a, b) => a + b, 0);
        const sr = sum(R);
        const sa = sum(A);
        const rh = R.map((x) => (x + c25) / (sr + bins.length * c25));
        const ah = A.map((x) => (x + c25) / (sa + bins.length * c25));
        const want: Record<string, number> = {
          SED: sa - sr,
          logSED: Math.log2(sa + 1) - Math.log2(sr + 1),
          D1: sum(R.map((x, i) => Math.abs(A[i]! - x))),
          D2: Math.sqrt(sum(R.map((x, i) => (A[i]! - x) ** 2))),
          logD2: Math.sqrt(sum(R.map((x, i) => (Math.log2(A[i]! + 1) - Math.log2(x + 1)) ** 2))),
          REF: sr,
          ALT: sa,
          nD2: Math.sqrt(sum(rh.map((x, i) => (x - ah[i]!) ** 2))),
          nDi: Math.max(...rh.map((x, i) => Math.abs(x - ah[i]!))),
          JS: (sum(rh.map((x, i) => x * Math.log(x / ah[i]!))) + sum(ah.map((x, i) => x * Math.log(x / rh[i]!)))) / 2,
        };
        const row = rows[k++]!;
        assert.deepEqual([row.chrom, row.pos, row.id, row.ref, row.alt, row.gene, row.name, row.track], [c.v.chrom, c.v.pos, c.v.id, c.v.ref, c.alt, g.id, g.name, col.id], `${anchor} row ${k}`);
        for (const s of stats) {
          // 1e-4 relative; differences of sums (SED, D*, nD*) also carry float32 rounding of the
          // sums themselves, so the absolute floor scales with the summed coverage.
          const scale = s === 'SED' || s === 'D1' || s === 'D2' ? sr + sa : s === 'nD2' || s === 'nDi' || s === 'JS' ? 1e-3 : 1;
          near(row.stats[s]!, want[s]!, 1e-4 * Math.abs(want[s]!) + 1e-5 * scale, `${anchor} ${c.v.id} ${c.alt} ${g.id} ${col.id} ${s}`);
        }
      }
    }
  }
  assert.equal(k, rows.length, `${anchor}: every row accounted for`);
  assert.ok(withGenes >= 4, `${anchor}: most variants reach a gene (${withGenes})`);
  return k;
}

test('genes: score-variants --gtf equals a brute-force computation from predict --fasta on hand-cut windows; sed.h5 and Parquet hold the same', { skip }, async () => {
  const common = ['--model', BORZOI, '--genome', path('g.fa'), '--targets', path('targets.txt'), '--vcf', path('v.vcf'), '--gtf', path('genes.gtf'), '--stats', ALL_STATS.join(',')];
  const r = await ok(['score-variants', ...common, '--out', path('sed.tsv'), '--batch-size', '2']);
  assert.match(r.stderr, /scored 6 variants from 5 VCF records/);
  const got = parseGeneTsv(path('sed.tsv'), ALL_STATS);

  for (const anchor of ['center', 'borzoi'] as const) {
    const rows = anchor === 'center' ? got : parseGeneTsv(path('sed-borzoi.tsv'), ALL_STATS);
    const k = await verifyAgainstHand(BORZOI_SPEC, rows, anchor, ALL_STATS);
    assert.ok(k > 0);
    if (anchor === 'center') {
      assert.ok(rows.some((x) => x.gene === 'ENSG02.4') && rows.some((x) => x.gene === 'ENSG04.2'), 'minus-strand genes scored');
      assert.ok(!rows.some((x) => x.id === 'nogene'), 'a variant without genes gives no rows');
      assert.ok(rows.some((x) => Math.abs(x.stats.SED!) > 1e-3), 'variants change gene coverage');
      await ok(['score-variants', ...common, '--anchor', 'borzoi', '--out', path('sed-borzoi.tsv')]);
    }
  }

  // (Incremental trunk reuse is what was compared above: it is the default; score-variants.test checks it against --brute-force.)

  // Parquet and sed.h5 hold the TSV's values.
  await ok(['score-variants', ...common, '--out', path('sed.parquet')]);
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const pq = (await parquetReadObjects({ file: await asyncBufferFromFile(path('sed.parquet')) })) as Record<string, unknown>[];
  assert.equal(pq.length, got.length);
  pq.forEach((p, i) => {
    const t = got[i]!;
    assert.deepEqual([p.chrom, p.pos, p.id, p.ref, p.alt, p.gene, p.gene_name, p.track], [t.chrom, t.pos, t.id, t.ref, t.alt, t.gene, t.name, t.track]);
    for (const s of ALL_STATS) near(Number(p[s]), t.stats[s]!, 1e-6 * Math.max(1, Math.abs(t.stats[s]!)), `parquet ${s}`);
  });

  await ok(['score-variants', ...common, '--out', path('sed.h5')]);
  const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import h5py']).status === 0);
  if (!python) return; // CI installs python3-h5py
  const script = [
    'import h5py, json, sys',
    "f = h5py.File(sys.argv[1], 'r')",
    "out = {k: [f[k].dtype.str, list(f[k].shape)] for k in f}",
    "out['_values'] = {k: f[k][:].tolist() for k in " + JSON.stringify(ALL_STATS) + '}',
    "out['_strings'] = {k: [x.decode() for x in f[k][:]] for k in ['gene', 'snp', 'chr', 'ref_allele', 'alt_allele', 'target_ids']}",
    "out['_si'] = f['si'][:].tolist(); out['_pos'] = f['pos'][:].tolist()",
    'print(json.dumps(out))',
  ].join('\n');
  const p = spawnSync(python, ['-c', script, path('sed.h5')], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(p.status, 0, p.stderr);
  const h = JSON.parse(p.stdout);
  const T = COLUMNS.length;
  const M = got.length / T;
  const variantRows = [...new Map(got.map((g) => [`${g.chrom}:${g.pos}:${g.alt}`, g])).values()];
  const N = variantRows.length;
  assert.deepEqual(h.si, ['<i8', [M]]);
  assert.match(h.gene[0], /^\|S\d+$/);
  assert.deepEqual(h.gene[1], [M]);
  for (const k of ['snp', 'chr', 'ref_allele', 'alt_allele']) {
    assert.match(h[k][0], /^\|S\d+$/, k);
    assert.deepEqual(h[k][1], [N], k);
  }
  assert.deepEqual(h.pos, ['<u4', [N]]);
  assert.deepEqual(h.target_ids[1], [T]);
  assert.deepEqual(h.target_labels[1], [T]);
  for (const s of ALL_STATS) assert.deepEqual(h[s], ['<f4', [M, T]], s);
  assert.deepEqual(h._strings.target_ids, COLUMNS.map((c) => c.id));
  assert.deepEqual(h._strings.snp, variantRows.map((v) => (v.id === '.' ? `${v.chrom}:${v.pos}:${v.ref}:${v.alt}` : v.id)));
  assert.deepEqual(h._strings.alt_allele, variantRows.map((v) => v.alt));
  assert.deepEqual(h._pos, variantRows.map((v) => v.pos));
  const geneOfRow = got.filter((_, i) => i % T === 0);
  assert.deepEqual(h._strings.gene, geneOfRow.map((g) => g.gene));
  assert.deepEqual(h._si, geneOfRow.map((g) => variantRows.findIndex((v) => v.chrom === g.chrom && v.pos === g.pos && v.alt === g.alt)));
  for (const s of ALL_STATS) got.forEach((t, i) => near(h._values[s][Math.floor(i / T)][i % T], t.stats[s]!, 1e-6 * Math.max(1, Math.abs(t.stats[s]!)), `h5 ${s} row ${i}`));
});

test('genes: the same brute-force check on flashzoi-small (4,096 bp, 64 bins, 10 tracks)', { skip: skipUnless('flashzoi-small') }, async () => {
  const table = makeTable(10);
  writeTable(path('targets-flash.txt'), table);
  const spec: ModelSpec = { name: 'flashzoi', dir: fixture('flashzoi-small')!, length: 4096, bins: 64, offset: 32 * 32, tracks: 10, table, columns: table.filter((t) => !t.id.endsWith('-')) };
  const stats = ['SED', 'logSED', 'logD2', 'JS'];
  await ok(['score-variants', '--model', spec.dir, '--genome', path('g.fa'), '--targets', path('targets-flash.txt'), '--vcf', path('v.vcf'), '--gtf', path('genes.gtf'), '--stats', stats.join(','), '--out', path('flash.tsv')]);
  const rows = parseGeneTsv(path('flash.tsv'), stats);
  assert.equal(await verifyAgainstHand(spec, rows, 'center', stats), rows.length);
});

test('genes: predict-genes with --rc equals summed untransformed exon coverage from predict --fasta', { skip }, async () => {
  const genes = await readGtf(path('genes.gtf'));
  const picked = ['ALPHA', 'ENSG02.4', 'ENSG04'];
  await ok(['predict-genes', '--model', BORZOI, '--genome', path('g.fa'), '--targets', path('targets.txt'), '--gtf', path('genes.gtf'), '--gene', 'ALPHA', '--gene', 'ENSG02.4', '--gene', 'ENSG04', '--rc', '--out', path('pg.tsv')]);
  const lines = readFileSync(path('pg.tsv'), 'utf8').trimEnd().split('\n');
  assert.equal(lines[0], 'gene\tgene_name\tchrom\tstart\tend\tstrand\tbins\ttrack\tcoverage');
  const rows = lines.slice(1).map((l) => l.split('\t'));
  assert.equal(rows.length, picked.length * COLUMNS.length);
  const comp: Record<string, string> = { A: 'T', C: 'G', G: 'C', T: 'A' };
  const rc = (s: string) => [...s].reverse().map((c) => comp[c] ?? 'N').join('');
  const span = 32 * BINS;
  const plans = picked.map((key) => {
    const g = genes.find((x) => x.id === key || x.name === key || x.id.startsWith(`${key}.`))!;
    const s = g.exons[0]![0];
    const e = g.exons[g.exons.length - 1]![1];
    assert.ok(e - s <= span, 'each test gene fits one window');
    const cover = s - Math.floor((span - (e - s)) / 2);
    const lo = Math.floor((s - cover) / 32);
    const hi = Math.ceil((e - cover) / 32);
    return { g, window: cover - OFFSET, o: cover + lo * 32, lo, n: hi - lo };
  });
  writeFileSync(path('pg.fa'), plans.flatMap((p, i) => {
    const w = upper(p.g.chrom, p.window, p.window + L);
    return [`>f${i}\n${w}\n`, `>r${i}\n${rc(w)}\n`];
  }).join(''));
  await ok(['predict', '--model', BORZOI, '--fasta', path('pg.fa'), '--heads', 'human', '--out', path('pg.safetensors')]);
  const out = (await SafetensorsFile.open(path('pg.safetensors'))).readFloat32('human');
  plans.forEach((p, i) => {
    // Window bins of the written stretch; the RC run flipped back and its stranded tracks swapped.
    const mean = (b: number, t: number) => (out[((2 * i) * BINS + p.lo + b) * TRACKS + t]! + out[((2 * i + 1) * BINS + (BINS - 1 - (p.lo + b))) * TRACKS + TABLE[t]!.pair]!) / 2;
    const bins = handBins(p.g.exons, p.o).filter((b) => b < p.n);
    COLUMNS.forEach((col, k) => {
      const t = p.g.strand === '-' ? TABLE[col.pair]! : col;
      const want = bins.reduce((a, b) => a + handUntransform(mean(b, t.i), t), 0);
      const row = rows[i * COLUMNS.length + k]!;
      assert.deepEqual([row[0], row[1], row[5], Number(row[6]), row[7]], [p.g.id, p.g.name, p.g.strand, bins.length, col.id]);
      near(Number(row[8]), want, 1e-4 * Math.abs(want) + 1e-6, `${p.g.id} ${col.id}`);
    });
  });
});

test('genes: bad inputs are one clear line', { skip }, async () => {
  const base = ['--model', BORZOI, '--genome', path('g.fa')];
  const expectError = async (args: string[], re: RegExp) => assertCliError(await run(args), re, args.join(' '));
  writeFileSync(path('noexon.gtf'), GTF_LINES.filter((l) => !l.includes('\texon\t')).join('\n') + '\n');
  await expectError(['score-variants', ...base, '--vcf', path('v.vcf'), '--gtf', path('noexon.gtf'), '--targets', path('targets.txt'), '--out', path('e.tsv')], /noexon\.gtf: no exon rows/);
  await expectError(['predict-genes', ...base, '--gtf', path('genes.gtf'), '--gene', 'DELTA', '--targets', path('targets.txt'), '--out', path('e.tsv')], /gene 'DELTA' not found in the GTF/);
  // No targets table: the fixture head's tracks have no scale/clip_soft/sum_stat.
  await expectError(['score-variants', ...base, '--vcf', path('v.vcf'), '--gtf', path('genes.gtf'), '--out', path('e.tsv')], /has no scale, clip_soft, sum_stat columns for track 0 \(human_0\), needed by --untransform legacy/);
  await expectError(['predict-genes', ...base, '--gtf', path('genes.gtf'), '--gene', 'ALPHA', '--out', path('e.tsv')], /needed by --untransform legacy/);
  await expectError(['score-variants', ...base, '--vcf', path('v.vcf'), '--gtf', path('genes.gtf'), '--stats', 'SED,XYZ', '--out', path('e.tsv')], /--stats XYZ: unknown statistic/);
  await expectError(['score-variants', ...base, '--vcf', path('v.vcf'), '--stats', 'SED', '--out', path('e.tsv')], /--stats needs --gtf/);
  await expectError(['predict-genes', ...base, '--gtf', path('genes.gtf'), '--out', path('e.tsv')], /give --gene ID\|NAME \(repeatable\) or --genes FILE/);
  await expectError(['predict-genes', ...base, '--gtf', path('genes.gtf'), '--gene', 'ALPHA', '--out', path('e.csv')], /--out .*e\.csv: unknown output kind \(X\.tsv or X\.parquet\)/);
  // --untransform none works without scale columns.
  await ok(['predict-genes', ...base, '--gtf', path('genes.gtf'), '--genes', path('list.txt'), '--untransform', 'none', '--out', path('none.parquet')].map((a) => (a === path('list.txt') ? (writeFileSync(a, '# genes\nALPHA\nGAMMA\n'), a) : a)));
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const pq = (await parquetReadObjects({ file: await asyncBufferFromFile(path('none.parquet')) })) as Record<string, unknown>[];
  assert.equal(pq.length, 2 * TRACKS, 'no strand pairs without a table: every track is a column');
  assert.deepEqual([...new Set(pq.map((r) => r.gene_name))], ['ALPHA', 'GAMMA']);
});

test('genes: --full-output (16 bins off each end instead of the centre crop) carries through predict-genes', { skip }, async () => {
  // The same model with return_center_bins_only false, for predict --fasta.
  const full = path('borzoi-full');
  mkdirSync(full);
  const config = JSON.parse(readFileSync(join(BORZOI, 'config.json'), 'utf8'));
  writeFileSync(join(full, 'config.json'), JSON.stringify({ ...config, return_center_bins_only: false }));
  symlinkSync(join(BORZOI, 'weights.safetensors'), join(full, 'weights.safetensors'));
  const FULL_BINS = L / 32 - 32;
  const genes = await readGtf(path('genes.gtf'));
  const g = genes.find((x) => x.name === 'BETA')!;
  await ok(['predict-genes', '--model', BORZOI, '--full-output', '--genome', path('g.fa'), '--targets', path('targets.txt'), '--gtf', path('genes.gtf'), '--gene', 'BETA', '--exon-bins', 'overlap', '--out', path('full.tsv')]);
  const rows = readFileSync(path('full.tsv'), 'utf8').trimEnd().split('\n').slice(1).map((l) => l.split('\t'));
  const s = g.exons[0]![0];
  const e = g.exons[g.exons.length - 1]![1];
  const cover = s - Math.floor((FULL_BINS * 32 - (e - s)) / 2);
  const lo = Math.floor((s - cover) / 32);
  const window = cover - 16 * 32;
  writeFileSync(path('full.fa'), `>w\n${upper(g.chrom, window, window + L)}\n`);
  await ok(['predict', '--model', full, '--fasta', path('full.fa'), '--heads', 'human', '--out', path('full.safetensors')]);
  const out = (await SafetensorsFile.open(path('full.safetensors'))).readFloat32('human');
  const o = cover + lo * 32;
  // Any-overlap bins, written out: floor(start) .. ceil(end).
  const bins = [...new Set(g.exons.flatMap(([a, b]) => Array.from({ length: Math.ceil((b - o) / 32) - Math.floor((a - o) / 32) }, (_, i) => Math.floor((a - o) / 32) + i)))];
  COLUMNS.forEach((col, k) => {
    const t = TABLE[col.pair]!; // BETA is on "−"
    const want = bins.reduce((acc, b) => acc + handUntransform(out[(lo + b) * TRACKS + t.i]!, t), 0);
    assert.deepEqual([rows[k]![0], Number(rows[k]![6]), rows[k]![7]], [g.id, bins.length, col.id]);
    near(Number(rows[k]![8]), want, 1e-4 * Math.abs(want) + 1e-6, `full output ${col.id}`);
  });
  assert.ok(bins.length * 32 > 2 * 500, 'both exons are counted (the span is wider than the centre crop)');
});

test('genes: Enformer published input form: predict --fasta --crop-input centre-crops records, coordinates stay the records\'', { skip: skipUnless('enformer-small') }, async () => {
  const enformer = fixture('enformer-small')!;
  const long = upper('chr1', 1000, 1000 + 8192 + 512);
  writeFileSync(path('long.fa'), `>long\n${long}\n`);
  writeFileSync(path('mid.fa'), `>mid\n${long.slice(256, 256 + 8192)}\n`);
  await ok(['predict', '--model', enformer, '--fasta', path('long.fa'), '--crop-input', '8192', '--out', path('long.safetensors')]);
  await ok(['predict', '--model', enformer, '--fasta', path('mid.fa'), '--out', path('mid.safetensors')]);
  const a = await SafetensorsFile.open(path('long.safetensors'));
  const b = await SafetensorsFile.open(path('mid.safetensors'));
  assert.deepEqual(Array.from(a.readFloat32('human')), Array.from(b.readFloat32('human')));
  const meta = (f: SafetensorsFile) => f.metadata;
  assert.deepEqual(JSON.parse(meta(a).first_bin_offsets), [JSON.parse(meta(b).first_bin_offsets)[0] + 256]);
  assert.deepEqual(JSON.parse(meta(a).lengths), [8192 + 512]);
  assertCliError(await run(['predict', '--model', enformer, '--fasta', path('mid.fa'), '--crop-input', '9000', '--out', path('x.safetensors')]), /record 'mid' has 8192 bp, fewer than --crop-input 9000/, 'crop too long');
});

test('genes: gene-score shards merge into the unsharded TSV', { skip }, async () => {
  const common = ['--model', BORZOI, '--genome', path('g.fa'), '--targets', path('targets.txt'), '--vcf', path('v.vcf'), '--gtf', path('genes.gtf'), '--stats', ALL_STATS.join(','), '--batch-size', '2'];
  for (const i of [1, 2]) await ok(['score-variants', ...common, '--shard', `${i}/2`, '--out', path(`shard${i}.tsv`)]);
  await ok(['merge', path('merged.tsv'), path('shard1.tsv'), path('shard2.tsv')]);
  assert.ok(readFileSync(path('merged.tsv')).equals(readFileSync(path('sed.tsv'))), 'merged gene shards equal the unsharded run (same batch size) byte for byte');
  assert.ok(readFileSync(path('shard2.tsv'), 'utf8').split('\n').length > 2, 'the second shard has rows');
});

test('genes: a score-variants --gtf TSV killed with SIGKILL resumes from X.partial to the same bytes', { skip }, async () => {
  // 36 SNVs over the genes ALPHA and BETA.
  const lines = ['#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO'];
  for (let i = 0; i < 36; i++) {
    const pos = 3500 + i * 170;
    const b = upper('chr1', pos - 1, pos);
    lines.push(`chr1\t${pos}\tv${i}\t${b}\t${other(b, 1 + (i % 3))}\t.\t.\t.`);
  }
  writeFileSync(path('many.vcf'), lines.join('\n') + '\n');
  const args = ['score-variants', '--model', BORZOI, '--genome', path('g.fa'), '--targets', path('targets.txt'), '--vcf', path('many.vcf'), '--gtf', path('genes.gtf'), '--stats', 'SED,logSED', '--batch-size', '2', '--threads', '1'];
  await ok([...args, '--out', path('genes-full.tsv')]);
  const full = readFileSync(path('genes-full.tsv'));

  const out = path('genes-killed.tsv');
  const child = spawn(process.execPath, [CLI, ...args, '--out', out], { stdio: 'ignore', env: { ...process.env, SEQ2TRACK_CACHE: join(tmp.dir, 'cache') } });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const recordsDone = () => {
    try {
      return (JSON.parse(readFileSync(`${out}.progress`, 'utf8')) as { records: number }).records;
    } catch {
      return 0;
    }
  };
  const started = Date.now();
  while (Date.now() - started < 60_000 && recordsDone() < 10) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  await exited;
  assert.ok(recordsDone() >= 10 && recordsDone() < 36, `killed part-way (${recordsDone()} of 36 records)`);
  assert.ok(!existsSync(out), 'nothing under the final name');
  assert.ok(statSync(`${out}.partial`).size < full.length, 'the partial file is shorter than the whole');

  const r = await ok([...args, '--out', out]);
  assert.match(r.stderr, /resuming .*genes-killed\.tsv after \d+ records/);
  assert.ok(readFileSync(out).equals(full), 'resumed gene TSV is byte-identical to the uninterrupted run');
  assert.ok(!existsSync(`${out}.partial`) && !existsSync(`${out}.progress`), 'no partial or progress file left');
  assert.ok(full.toString('utf8').includes('ALPHA') && full.toString('utf8').includes('BETA'), 'both genes scored');
});

test('genes: gradient untransform derivative equals finite differences', () => {
  const settings = [
    { mode: 'legacy' as const, scale: 0.02, exponent: 0.75 },
    { mode: 'legacy' as const, scale: 0.3, exponent: 0.75, clipSoft: 2 },
    { mode: 'new' as const, scale: 0.02, exponent: 0.5, clipSoft: 0.7 },
  ];
  for (const t of settings) {
    for (const x of [0.05, 0.4, 0.9, 1.3]) {
      const h = 1e-6;
      const fd = (gradientUntransform(x + h, t)[0] - gradientUntransform(x - h, t)[0]) / (2 * h);
      const d = gradientUntransform(x, t)[1];
      near(d, fd, 1e-5 * Math.abs(fd) + 1e-8, `${t.mode} s=${t.scale} τ=${t.exponent} cs=${t.clipSoft} x=${x}`);
    }
  }
  // legacy with no clip: U = (x/s)^(1/τ)
  near(gradientUntransform(0.5, { mode: 'legacy', scale: 0.02, exponent: 0.75 })[0], 25 ** (4 / 3), 1e-9, 'U legacy');
});

test('genes: attribute-gene equals the chain rule through per-(bin, track) input gradients of the model (with --rc); h5 layout', { skip }, async () => {
  writeFileSync(
    path('tiny.gtf'),
    ['chr2\tx\texon\t6001\t6040\t.\t+\t.\tgene_id "ENSG05.1"; gene_name "TINY";', 'chr2\tx\texon\t8001\t8030\t.\t-\t.\tgene_id "ENSG06.1"; gene_name "TINYM";'].join('\n') + '\n',
  );
  await ok(['attribute-gene', '--model', BORZOI, '--genome', path('g.fa'), '--targets', path('targets.txt'), '--gtf', path('tiny.gtf'), '--gene', 'ENSG06.1', '--tracks', '0,2', '--rc', '--pseudo', '0.5', '--out', path('grads.h5')]);
  const [got, starts] = await withH5File(path('grads.h5'), (dataset) => [dataset('grads').value as Float32Array, Array.from(dataset('start').value as BigInt64Array, Number)] as const);

  const model = await loadModel(BORZOI, { threads: 1 });
  try {
    const genes = (await readGtf(path('tiny.gtf'))).filter((g) => g.strand === '-');
    const t = { mode: 'legacy' as const, scale: 0.02, exponent: 0.75 };
    for (const [gi, g] of genes.entries()) {
      const s = g.exons[0]![0];
      const e = g.exons[0]![1];
      const start = Math.max(-OFFSET, Math.floor((s + e) / 2) - L / 2);
      assert.equal(starts[gi], start, `${g.id} window start`);
      const o = start + OFFSET;
      const bins: number[] = [];
      for (let b = Math.floor((s - o) / 32); b < Math.ceil((e - o) / 32); b++) bins.push(b);
      const tracks = g.strand === '-' ? [1, 2] : [0, 2];
      const seq = upper(g.chrom, start, start + L);
      const comp: Record<string, string> = { A: 'T', C: 'G', G: 'C', T: 'A' };
      const want = new Float64Array(L * 4);
      for (const rc of [false, true]) {
        const input = rc ? [...seq].reverse().map((c) => comp[c] ?? 'N').join('') : seq;
        const y = (await model.predict([input], { heads: ['human'] })).heads.human!.data;
        const at = (b: number, k: number) => (rc ? [BINS - 1 - b, TABLE[k]!.pair] : [b, k]) as [number, number];
        let inner = 0;
        for (const b of bins) for (const k of tracks) inner += gradientUntransform(y[at(b, k)[0] * TRACKS + at(b, k)[1]]!, t)[0] / tracks.length;
        const z = inner + 0.5 + 1e-6;
        const grad = new Float64Array(L * 4);
        for (const b of bins) {
          for (const k of tracks) {
            const [bb, tt] = at(b, k);
            const w = gradientUntransform(y[bb * TRACKS + tt]!, t)[1] / (tracks.length * z);
            const j = (await model.inputGradients(Model.encode([input]), { head: 'human', tracks: [tt], bins: [bb], aggregate: 'sum' })).grad;
            for (let i = 0; i < L * 4; i++) grad[i] += w * j[i]!;
          }
        }
        for (let i = 0; i < L; i++) {
          const src = rc ? L - 1 - i : i;
          const v = [0, 1, 2, 3].map((c) => grad[src * 4 + (rc ? 3 - c : c)]!);
          const m = (v[0]! + v[1]! + v[2]! + v[3]!) / 4;
          for (let c = 0; c < 4; c++) want[i * 4 + c] += (v[c]! - m) / 2;
        }
      }
      const mine = got.subarray(gi * L * 4, (gi + 1) * L * 4);
      const max = Math.max(...Array.from(want, Math.abs));
      assert.ok(max > 0, 'the gene objective depends on the sequence');
      for (let i = 0; i < L * 4; i++) near(mine[i]!, want[i]!, 1e-3 * max, `${g.id} grad[${Math.floor(i / 4)}][${i % 4}]`);
      for (let i = 0; i < L; i++) near(mine[i * 4]! + mine[i * 4 + 1]! + mine[i * 4 + 2]! + mine[i * 4 + 3]!, 0, 1e-5 * max, 'mean-centred');
    }
  } finally {
    await model.close();
  }

  const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import h5py']).status === 0);
  if (!python) return;
  const script = "import h5py, json, sys; f = h5py.File(sys.argv[1], 'r'); print(json.dumps({k: [f[k].dtype.str, list(f[k].shape)] for k in f}))";
  const p = spawnSync(python, ['-c', script, path('grads.h5')], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const layout = JSON.parse(p.stdout);
  assert.deepEqual(layout.grads, ['<f4', [1, L, 4]]);
  assert.deepEqual(layout.seqs, ['|u1', [1, L, 4]]);
  for (const k of ['gene', 'chr', 'strand']) assert.match(layout[k][0], /^\|S\d+$/, k);
  assert.deepEqual([layout.start, layout.end], [['<i8', [1]], ['<i8', [1]]]);
});
