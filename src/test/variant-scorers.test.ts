/**
 * `score-variants --scorer`: AlphaGenome's CenterMask, GeneMaskLFC and GeneMaskActive scorers.
 * Units: the aggregations, the centre mask, AlphaGenome's indel alignment check cases (1 bp) and
 * its binned form against a 1-bp expansion, the TSS rule of the gene masks, the spec syntax. End
 * to end on both fixture models: every scorer value of a CLI run equals a brute-force computation
 * written here from the documented formulas, on predictions of ref and alt windows cut by hand and
 * run through the model in this process (SNV, insertion, deletion, a multi-allelic record; widths
 * inside and wider than the window; genes of a small GTF, the gene masks built at 1 bp).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aggregate, AGGREGATIONS, type Aggregation } from '../tasks/variants/scorers/aggregation.js';
import { centerMaskBins } from '../tasks/variants/scorers/center-mask.js';
import { alignAlternate } from '../tasks/variants/scorers/indel-alignment.js';
import { geneMasks } from '../tasks/variants/scorers/gene-mask.js';
import { parseScorer, parseScorers } from '../tasks/variants/scorers/spec.js';
import { GeneIndex, readGtf } from '../genome/gtf.js';
import { loadModel } from '../models/load.js';
import { assertCliError, assertCliOk, fixture, runCli, tempDir, withTempDir } from './fixtures.js';
import { randomGenome, writeFastaFai } from './genome-files.js';
import { withH5File } from './h5-files.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

// ------------------------------------------------------------------------------------------ units

test('scorers: aggregations on a toy window (3 bins, 2 tracks; masked bins 1..2)', () => {
  const ref = [9, 9, 1, 0, 3, 1];
  const alt = [9, 9, 3, 0, 1, 1];
  const at = (type: Aggregation) => Array.from(aggregate(ref, alt, 2, 1, 3, type));
  const f = (x: number) => Math.fround(x);
  assert.deepEqual(at('DIFF_SUM'), [0, 0]);
  assert.deepEqual(at('DIFF_MEAN'), [0, 0]);
  assert.deepEqual(at('ACTIVE_SUM'), [4, 1]);
  assert.deepEqual(at('ACTIVE_MEAN'), [2, 0.5]);
  assert.deepEqual(at('DIFF_LOG2_SUM'), [0, 0]);
  assert.deepEqual(at('DIFF_SUM_LOG2'), [f(Math.log2(4) + Math.log2(2) - Math.log2(2) - Math.log2(4)), 0]);
  assert.deepEqual(at('L2_DIFF'), [f(Math.sqrt(8)), 0]);
  assert.deepEqual(at('L2_DIFF_LOG1P'), [f(Math.sqrt(2 * (Math.log(4) - Math.log(2)) ** 2)), 0]);
  // An empty mask: sums 0, means NaN (numpy's masked reductions).
  assert.deepEqual(Array.from(aggregate(ref, alt, 2, 1, 1, 'DIFF_SUM')), [0, 0]);
  assert.ok(Number.isNaN(aggregate(ref, alt, 2, 1, 1, 'DIFF_MEAN')[0]!));
});

test('scorers: the centre mask on bins (AlphaGenome create_center_mask)', () => {
  const w = { start: 1000, bins: 32, binSize: 128 };
  // Variant in bin 16 (d = 2048): 501 bp → ⌈501/128⌉ = 4 bins, from 16 − 2.
  assert.deepEqual(centerMaskBins(1000 + 2048, w, 501), [14, 18]);
  assert.deepEqual(centerMaskBins(1000 + 2048 + 127, w, 501), [14, 18]);
  assert.deepEqual(centerMaskBins(1000 + 2048, w, 2001), [8, 24]);
  // Clipped at both ends; wider than the window = the whole window; None = the whole window.
  assert.deepEqual(centerMaskBins(1000 + 5, w, 2001), [0, 8]);
  assert.deepEqual(centerMaskBins(1000 + 4095, w, 2001), [23, 32]);
  assert.deepEqual(centerMaskBins(1000 + 2048, w, 10_001), [0, 32]);
  assert.deepEqual(centerMaskBins(1000 + 2048, w, undefined), [0, 32]);
  // Outside the output bins: empty.
  assert.deepEqual(centerMaskBins(999, w, undefined), [0, 0]);
  assert.deepEqual(centerMaskBins(1000 + 4096, w, 501), [0, 0]);
  // 1 bp: 501 bases centred on the variant's base.
  assert.deepEqual(centerMaskBins(1000 + 300, { start: 1000, bins: 1000, binSize: 1 }, 501), [50, 551]);
});

test("scorers: indel alignment at 1 bp gives AlphaGenome's check cases (align_alternate, forward strand)", () => {
  const arange = Float64Array.from(range(10));
  // [Variant.position (1-based), REF, ALT, expected] on the interval [0, 10).
  const cases: [number, string, string, number[]][] = [
    [2, 'C', 'T', range(10)],
    [2, 'C', 'TGA', [0, 3, 4, 5, 6, 7, 8, 9, 0, 0]],
    [2, 'CC', 'CCTGA', [0, 1, 5, 6, 7, 8, 9, 0, 0, 0]],
    [5, 'A', 'AAAAAA', [0, 1, 2, 3, 9, 0, 0, 0, 0, 0]],
    [2, 'CGA', 'C', [0, 1, 0, 0, 2, 3, 4, 5, 6, 7]],
    [2, 'CCCGA', 'CCC', [0, 1, 2, 3, 0, 0, 4, 5, 6, 7]],
  ];
  for (const [pos, r, a, want] of cases) assert.deepEqual(Array.from(alignAlternate(arange, 10, 1, 1, pos - 1, r.length, a.length)), want, `${pos} ${r}>${a}`);
});

/** AlphaGenome's rule at 1 bp written as array operations (see docs/variants.md). */
function handAlignBp(alt: number[], v: number, indel: number): number[] {
  const S = alt.length;
  if (indel > 0) {
    const out = [...alt.slice(0, v), Math.max(...alt.slice(v, v + indel + 1)), ...alt.slice(v + indel + 1)];
    while (out.length < S) out.push(0);
    return out.map((x, p) => (p >= S - indel ? 0 : x));
  }
  if (indel < 0) return [...alt.slice(0, v + 1), ...new Array<number>(-indel).fill(0), ...alt.slice(v + 1, S + indel)].slice(0, S);
  return alt;
}

/** Bins expanded to bases, aligned at 1 bp, then each bin the mean of its bases. */
function handAlignBins(alt: number[], bins: number, w: number, K: number, d: number, refLength: number, altLength: number): number[] {
  const out = new Array<number>(bins * K).fill(0);
  const v = d + Math.min(refLength, altLength) - 1;
  for (let k = 0; k < K; k++) {
    const bp = range(bins * w).map((p) => alt[Math.floor(p / w) * K + k]!);
    const aligned = handAlignBp(bp, v, altLength - refLength);
    for (let b = 0; b < bins; b++) out[b * K + k] = sum(aligned.slice(b * w, (b + 1) * w)) / w;
  }
  return out;
}

test('scorers: indel alignment on bins equals the 1-bp rule on the expanded bins, averaged back', () => {
  const bins = 7;
  const K = 2;
  const alt = range(bins * K).map((i) => ((i * 37) % 11) + 0.25 * i);
  const S = bins * 8;
  for (const w of [1, 4, 8]) {
    for (const [d, r, a] of [
      [13, 1, 4],
      [13, 3, 1],
      [0, 1, 2],
      [16, 1, 9],
      [23, 6, 1],
      [Math.min(S, bins * w) - 2, 1, 30],
      [Math.min(S, bins * w) - 3, 9, 2],
      [5, 2, 2],
    ] as const) {
      if (d + Math.min(r, a) - 1 >= bins * w) continue;
      const got = Array.from(alignAlternate(Float64Array.from(alt), bins, w, K, d, r, a));
      const want = handAlignBins(alt, bins, w, K, d, r, a);
      got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-12, `w ${w} d ${d} ${r}>${a} [${i}]: ${g} vs ${want[i]}`));
    }
  }
});

test('scorers: --scorer syntax (AlphaGenome names and the short form) and its errors', () => {
  const a = parseScorer('CenterMask(width=2001, aggregation=DIFF_LOG2_SUM)');
  assert.deepEqual([a.name, a.column], ['CenterMask(width=2001, aggregation=DIFF_LOG2_SUM)', 'CenterMask_2001_DIFF_LOG2_SUM']);
  assert.equal(parseScorer('center-mask:2001:diff-log2-sum').name, a.name);
  assert.equal(parseScorer('CenterMaskScorer(width=2_001, aggregation_type=DIFF_LOG2_SUM)').name, a.name);
  assert.equal(parseScorer('CenterMask(width=None, aggregation=ACTIVE_SUM)').column, 'CenterMask_all_ACTIVE_SUM');
  assert.equal(parseScorer('center-mask:all:active-sum').column, 'CenterMask_all_ACTIVE_SUM');
  assert.equal(parseScorer('GeneMaskLFC').column, 'GeneMaskLFC');
  assert.equal(parseScorer('gene-mask-active').name, 'GeneMaskActive()');
  assert.equal(parseScorers(['gene-mask-lfc', 'GeneMaskLFC()', 'GeneMaskActive']).length, 2);
  assert.throws(() => parseScorer('center-mask:777:diff-sum'), /width 777 is not one of AlphaGenome's \(501, 2001, 10001, 100001, 200001, or None/);
  assert.throws(() => parseScorer('center-mask:501:median'), /aggregation "median" is not one of DIFF_MEAN/);
  assert.throws(() => parseScorer('CenterMask(width=501)'), /CenterMask needs a width and an aggregation/);
  assert.throws(() => parseScorer('CenterMask(width=501, aggregation=DIFF_SUM, requested_output=ATAC)'), /takes width and aggregation \(not requested_output\)/);
  assert.throws(() => parseScorer('GeneMaskLFC(x=1)'), /takes no arguments/);
  assert.deepEqual([parseScorer('SpliceJunction').name, parseScorer('splice-junction').column], ['SpliceJunction()', 'SpliceJunction']);
  assert.deepEqual([parseScorer('ContactMapScorer()').name, parseScorer('contact-map').column], ['ContactMap()', 'ContactMap']);
  assert.throws(() => parseScorer('ContactMap(width=2048)'), /ContactMap takes no arguments/);
  assert.throws(() => parseScorer('sad'), /unknown scorer/);
});

test('scorers: transcripts and TSS from the GTF; gene masks select genes by TSS in the span and weigh bins by masked bases', () =>
  withTempDir('seq2track-tss-', async (dir) => {
    const gtf = join(dir, 'g.gtf');
    writeFileSync(
      gtf,
      [
        'chr1\tx\texon\t101\t150\t.\t+\t.\tgene_id "A"; transcript_id "A1";',
        'chr1\tx\texon\t181\t230\t.\t+\t.\tgene_id "A"; transcript_id "A1";',
        'chr1\tx\texon\t21\t60\t.\t+\t.\tgene_id "A"; transcript_id "A2";',
        'chr1\tx\texon\t171\t260\t.\t+\t.\tgene_id "A"; transcript_id "A2";',
        'chr1\tx\texon\t301\t340\t.\t-\t.\tgene_id "B"; transcript_id "B1";',
        'chr1\tx\texon\t61\t100\t.\t-\t.\tgene_id "C"; transcript_id "C1";',
      ].join('\n') + '\n',
    );
    const genes = await readGtf(gtf, { transcripts: true });
    assert.deepEqual(
      genes.map((g) => g.transcripts!.map((t) => [t.id, t.tss, t.exons])),
      [
        [
          ['A1', 100, [[100, 150], [180, 230]]],
          ['A2', 20, [[20, 60], [170, 260]]],
        ],
        [['B1', 340, [[300, 340]]]],
        [['C1', 100, [[60, 100]]]],
      ],
    );
    assert.equal((await readGtf(gtf)).every((g) => g.transcripts === undefined), true, 'transcripts only on request');
    // Span [100, 340) in 10 bins of 24 bp: A by A1 only (A2's TSS 20 is outside), B's TSS 340 is
    // outside, C's TSS 100 inside with no exon base in the span (an empty mask).
    const masks = geneMasks(new GeneIndex(genes), 'chr1', { start: 100, bins: 10, binSize: 24 });
    assert.deepEqual(masks.map((m) => m.gene.id), ['A', 'C']);
    assert.deepEqual(Array.from(masks[0]!.bins), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(Array.from(masks[0]!.weights), [24, 24, 2, 16, 24, 10]); // [100,150) and [180,230)
    assert.deepEqual([masks[1]!.bins.length, masks[1]!.weights.length], [0, 0]);
  }));

// ------------------------------------------------------------------------------------ end to end

const L = 8192;
const MODELS = [
  { name: 'enformer-small', bins: 32, binSize: 128, offset: 2048, tracks: 12 },
  { name: 'borzoi-small', bins: 128, binSize: 32, offset: 2048, tracks: 12 },
].map((m) => ({ ...m, dir: fixture(m.name) }));
const skip = MODELS.every((m) => m.dir) ? false : 'fixture models enformer-small and borzoi-small not found (../shared/fixtures)';

const genome = randomGenome({ chr1: 25_000, chr2: 15_000 }, 24);
const upper = (chrom: string, a: number, b: number) => Array.from({ length: b - a }, (_, i) => (genome.get(chrom)![a + i] ?? 'N').toUpperCase()).join('');
const other = (b: string, k = 1) => 'ACGT'[('ACGT'.indexOf(b) + k) % 4]!;

interface Variant {
  chrom: string;
  pos: number;
  id: string;
  ref: string;
  alts: string[];
}
const VARIANTS: Variant[] = [];

/** Transcripts of the test GTF, 0-based half-open exons: gene, name, strand, transcript, exons. */
const TRANSCRIPTS: [string, string, '+' | '-', string, [number, number][]][] = [
  // ALPHA: T1's TSS in every span; T2's TSS (6,000) outside, so its exon [11000, 11500) is not masked.
  ['G1', 'ALPHA', '+', 'T1', [[9000, 9400], [9800, 10300]]],
  ['G1', 'ALPHA', '+', 'T2', [[6000, 6500], [11000, 11500]]],
  // BETA on "−": TSS = 11,800 (the end).
  ['G2', 'BETA', '-', 'T3', [[10500, 10900], [11200, 11800]]],
  // GAMMA on "−": TSS 7,951 = the SNV's span start, its exon just left of it (empty mask: NaN).
  ['G3', 'GAMMA', '-', 'T4', [[7000, 7951]]],
  // DELTA: TSS outside every span though an exon lies inside.
  ['G4', 'DELTA', '+', 'T5', [[3000, 3500], [8200, 8600]]],
  // EPSILON: TSS near the span ends (in some spans, not in others).
  ['G5', 'EPSILON', '+', 'T6', [[12040, 12600]]],
];
/** Targets table: tracks 0/1 a "+"/"−" pair, the rest unstranded. */
const STRAND = (k: number) => (k === 0 ? '+' : k === 1 ? '-' : '.');

let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
const run = (args: string[]) => runCli(args, { SEQ2TRACK_CACHE: join(tmp.dir, 'cache') });
const ok = async (args: string[]) => assertCliOk(await run(args));

before(() => {
  tmp = tempDir('seq2track-scorers-');
  writeFastaFai(path('g.fa'), genome);
  const b = (chrom: string, pos: number) => upper(chrom, pos - 1, pos);
  VARIANTS.push({ chrom: 'chr1', pos: 10_000, id: 'snv', ref: b('chr1', 10_000), alts: [other(b('chr1', 10_000))] });
  VARIANTS.push({ chrom: 'chr1', pos: 10_150, id: 'ins', ref: b('chr1', 10_150), alts: [b('chr1', 10_150) + 'GATTACAGG'] });
  VARIANTS.push({ chrom: 'chr1', pos: 9_870, id: 'del', ref: upper('chr1', 9_869, 9_876), alts: [b('chr1', 9_870)] });
  VARIANTS.push({ chrom: 'chr1', pos: 10_400, id: 'multi', ref: b('chr1', 10_400), alts: [other(b('chr1', 10_400), 2), b('chr1', 10_400) + 'TTT'] });
  VARIANTS.push({ chrom: 'chr2', pos: 7_000, id: 'nogene', ref: b('chr2', 7_000), alts: [other(b('chr2', 7_000))] });
  writeFileSync(path('v.vcf'), '##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n' + VARIANTS.map((v) => `${v.chrom}\t${v.pos}\t${v.id}\t${v.ref}\t${v.alts.join(',')}\t.\t.\t.`).join('\n') + '\n');
  writeFileSync(
    path('genes.gtf'),
    TRANSCRIPTS.flatMap(([g, name, strand, t, exons]) => exons.map(([s, e]) => `chr1\ttest\texon\t${s + 1}\t${e}\t.\t${strand}\t.\tgene_id "${g}"; transcript_id "${t}"; gene_name "${name}";`)).join('\n') + '\n',
  );
  const table = range(12).map((i) => [i, i === 0 ? 'S+' : i === 1 ? 'S-' : `T${i}`, 'f', 768, 384, 1, 'sum', i === 0 ? 1 : i === 1 ? 0 : i, `track ${i}`].join('\t'));
  writeFileSync(path('targets.txt'), ['\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair\tdescription', ...table].join('\n') + '\n');
});

after(() => tmp?.cleanup());

/** One scored ALT with its hand-cut windows and, once predicted, ref and alt [bins × tracks]. */
interface Case {
  v: Variant;
  alt: string;
  pos0: number;
  /** Genomic start of the first output bin. */
  o: number;
  ref?: Float32Array;
  altPred?: Float32Array;
}

function cases(m: (typeof MODELS)[number]): { c: Case; windows: [string, string] }[] {
  return VARIANTS.flatMap((v) =>
    v.alts.map((alt) => {
      const pos0 = v.pos - 1;
      const ws = pos0 - L / 2;
      const ref = upper(v.chrom, ws, ws + L);
      const altSeq = (upper(v.chrom, ws, pos0) + alt + upper(v.chrom, pos0 + v.ref.length, pos0 + v.ref.length + L)).slice(0, L);
      return { c: { v, alt, pos0, o: ws + m.offset }, windows: [ref, altSeq] as [string, string] };
    }),
  );
}

/** Every case's ref and alt predictions, from the model in this process. */
async function predictCases(m: (typeof MODELS)[number]): Promise<Case[]> {
  const model = await loadModel(m.dir!, { threads: 1 });
  try {
    const out: Case[] = [];
    for (const { c, windows } of cases(m)) {
      const y = (await model.predict(windows, { heads: ['human'] })).heads.human!.data as Float32Array;
      const n = m.bins * m.tracks;
      out.push({ ...c, ref: y.slice(0, n), altPred: y.slice(n, 2 * n) });
    }
    return out;
  } finally {
    await model.close();
  }
}

function readTsv(file: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  return { header: lines[0]!.split('\t'), rows: lines.slice(1).map((l) => l.split('\t')) };
}

/** The documented aggregations, written again over plain arrays of the masked bins. */
const HAND: Record<Aggregation, (r: number[], a: number[]) => number> = {
  DIFF_MEAN: (r, a) => sum(a) / a.length - sum(r) / r.length,
  DIFF_SUM: (r, a) => sum(a) - sum(r),
  DIFF_SUM_LOG2: (r, a) => sum(a.map((x) => Math.log2(x + 1))) - sum(r.map((x) => Math.log2(x + 1))),
  DIFF_LOG2_SUM: (r, a) => Math.log2(1 + sum(a)) - Math.log2(1 + sum(r)),
  L2_DIFF: (r, a) => Math.sqrt(sum(a.map((x, i) => (x - r[i]!) ** 2))),
  L2_DIFF_LOG1P: (r, a) => Math.sqrt(sum(a.map((x, i) => (Math.log(1 + x) - Math.log(1 + r[i]!)) ** 2))),
  ACTIVE_MEAN: (r, a) => Math.max(sum(a) / a.length, sum(r) / r.length),
  ACTIVE_SUM: (r, a) => Math.max(sum(a), sum(r)),
};

const WIDTHS: (number | undefined)[] = [501, 2001, 10_001, 200_001, undefined];

/** Masked bins from the doc: ⌈width/binSize⌉ bins from the variant's bin − half of them, within the window. */
function handCenterBins(d: number, bins: number, w: number, width: number | undefined): number[] {
  if (d < 0 || d >= bins * w) return [];
  if (width === undefined) return range(bins);
  const n = Math.ceil(width / w);
  const first = Math.floor(d / w) - Math.floor(n / 2);
  return range(bins).filter((b) => b >= first && b < first + n);
}

/** Largest differences seen, absolute and relative to max(1, |want|), for the diagnostics. */
const worst = { abs: 0, rel: 0 };

/** |got − want| ≤ atol + rtol·|want| (NaN only against NaN); records the difference. */
function within(got: number, want: number, what: string): void {
  if (Number.isNaN(want)) {
    assert.ok(Number.isNaN(got), `${what}: ${got}, expected NaN`);
    return;
  }
  const d = Math.abs(got - want);
  assert.ok(d <= 1e-4 + 1e-4 * Math.abs(want), `${what}: ${got} vs ${want}`);
  worst.abs = Math.max(worst.abs, d);
  worst.rel = Math.max(worst.rel, d / Math.max(1, Math.abs(want)));
}

function report(): string {
  const text = `max |CLI − brute force| = ${worst.abs.toExponential(2)}, relative to max(1, |value|) ${worst.rel.toExponential(2)}`;
  [worst.abs, worst.rel] = [0, 0];
  return text;
}

for (const m of MODELS) {
  test(`scorers: ${m.name}: every CenterMask width and aggregation equals a brute-force computation from predictions of hand-cut windows`, { skip }, async (t) => {
    const specs = WIDTHS.flatMap((w) => AGGREGATIONS.map((a) => `CenterMask(width=${w ?? 'None'}, aggregation=${a})`));
    await ok(['score-variants', '--model', m.dir!, '--genome', path('g.fa'), '--window-length', String(L), '--vcf', path('v.vcf'), '--batch-size', '2', '--out', path(`${m.name}-c.tsv`), ...specs.flatMap((s) => ['--scorer', s])]);
    const { header, rows } = readTsv(path(`${m.name}-c.tsv`));
    const columns = WIDTHS.flatMap((w) => AGGREGATIONS.map((a) => `CenterMask_${w ?? 'all'}_${a}`));
    assert.deepEqual(header, ['chrom', 'pos', 'id', 'ref', 'alt', 'track', ...columns]);
    const all = await predictCases(m);
    assert.equal(rows.length, all.length * m.tracks);
    all.forEach((c, i) => {
      for (let k = 0; k < m.tracks; k++) {
        const row = rows[i * m.tracks + k]!;
        assert.deepEqual(row.slice(0, 6), [c.v.chrom, String(c.v.pos), c.v.id, c.v.ref, c.alt, `human_${k}`]);
        for (const [wi, width] of WIDTHS.entries()) {
          const bins = handCenterBins(c.pos0 - c.o, m.bins, m.binSize, width);
          if (width !== undefined && width > L) assert.equal(bins.length, m.bins, 'a width wider than the window is the whole window');
          const r = bins.map((b) => c.ref![b * m.tracks + k]!);
          const a = bins.map((b) => c.altPred![b * m.tracks + k]!);
          for (const [ai, agg] of AGGREGATIONS.entries()) {
            within(Number(row[6 + wi * AGGREGATIONS.length + ai]), HAND[agg](r, a), `${c.v.id} ${c.alt} track ${k} ${columns[wi * AGGREGATIONS.length + ai]}`);
          }
        }
      }
    });
    t.diagnostic(`${m.name} CenterMask: ${report()} over ${rows.length * columns.length} values`);
  });

  test(`scorers: ${m.name}: GeneMaskLFC and GeneMaskActive equal a brute-force computation at 1 bp (TSS rule, exon mask, indel alignment, strands)`, { skip }, async (t) => {
    await ok(['score-variants', '--model', m.dir!, '--genome', path('g.fa'), '--window-length', String(L), '--targets', path('targets.txt'), '--vcf', path('v.vcf'), '--gtf', path('genes.gtf'), '--scorer', 'GeneMaskLFC', '--scorer', 'gene-mask-active', '--out', path(`${m.name}-g.tsv`)]);
    const { header, rows } = readTsv(path(`${m.name}-g.tsv`));
    assert.deepEqual(header, ['chrom', 'pos', 'id', 'ref', 'alt', 'gene', 'gene_name', 'track', 'GeneMaskLFC', 'GeneMaskActive']);
    const all = await predictCases(m);
    const S = m.bins * m.binSize;
    let at = 0;
    const seen = new Set<string>();
    for (const c of all) {
      // Genes with a transcript whose TSS (start on +, end on −) lies in the output span; mask = those transcripts' exons, at 1 bp.
      const genes = [...new Set(TRANSCRIPTS.map((x) => x[0]))].flatMap((g) => {
        const ts = TRANSCRIPTS.filter((x) => x[0] === g && c.v.chrom === 'chr1');
        const chosen = ts.filter(([, , strand, , ex]) => {
          const tss = strand === '-' ? ex[ex.length - 1]![1] : ex[0]![0];
          return tss >= c.o && tss < c.o + S;
        });
        if (chosen.length === 0) return [];
        const mask = new Uint8Array(S);
        for (const [, , , , ex] of chosen) for (const [s, e] of ex) for (let p = Math.max(s, c.o); p < Math.min(e, c.o + S); p++) mask[p - c.o] = 1;
        return [{ id: g, name: ts[0]![1], strand: ts[0]![2], mask }];
      });
      const d = c.pos0 - c.o;
      const aligned = handAlignBins(Array.from(c.altPred!), m.bins, m.binSize, m.tracks, d, c.v.ref.length, c.alt.length);
      for (const g of genes) {
        seen.add(g.id);
        const masked = range(S).filter((p) => g.mask[p]);
        for (let k = 0; k < m.tracks; k++) {
          const row = rows[at++]!;
          assert.deepEqual(row.slice(0, 8), [c.v.chrom, String(c.v.pos), c.v.id, c.v.ref, c.alt, g.id, g.name, STRAND(k) === '+' ? 'S+' : STRAND(k) === '-' ? 'S-' : `T${k}`]);
          const R = sum(masked.map((p) => c.ref![Math.floor(p / m.binSize) * m.tracks + k]!)) / masked.length;
          const A = sum(masked.map((p) => aligned[Math.floor(p / m.binSize) * m.tracks + k]!)) / masked.length;
          const matched = STRAND(k) === '.' || STRAND(k) === g.strand;
          const what = `${c.v.id} ${c.alt} ${g.id} track ${k}`;
          within(Number(row[8]), matched ? Math.log(A + 1e-3) - Math.log(R + 1e-3) : NaN, `${what} LFC`);
          within(Number(row[9]), matched ? Math.max(A, R) : NaN, `${what} Active`);
        }
      }
    }
    assert.equal(at, rows.length, 'no other rows');
    assert.deepEqual([...seen].sort(), ['G1', 'G2', 'G3', 'G5'], 'DELTA (TSS outside) never scored');
    assert.ok(rows.some((r) => r[5] === 'G3' && r[8] === 'NaN' && r[7] === 'T2'), 'an empty mask gives NaN');
    assert.ok(rows.some((r) => r[2] === 'ins' && Math.abs(Number(r[8])) > 1e-6), 'the insertion changes a gene score');
    t.diagnostic(`${m.name} GeneMask: ${report()} over ${rows.length * 2} values`);
  });
}

test('scorers: Parquet and HDF5 hold the TSV scores under the scorer columns; shards merge', { skip }, async () => {
  const m = MODELS[0]!;
  const base = ['score-variants', '--model', m.dir!, '--genome', path('g.fa'), '--window-length', String(L), '--tracks', '0,5', '--vcf', path('v.vcf')];
  const scorers = ['--scorer', 'center-mask:501:diff-log2-sum', '--scorer', 'center-mask:all:active-mean'];
  await ok([...base, ...scorers, '--out', path('f.tsv')]);
  await ok([...base, ...scorers, '--out', path('f.parquet')]);
  await ok([...base, ...scorers, '--out', path('f.h5')]);
  const tsv = readTsv(path('f.tsv')).rows;
  const cols = ['CenterMask_501_DIFF_LOG2_SUM', 'CenterMask_all_ACTIVE_MEAN'];
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const pq = (await parquetReadObjects({ file: await asyncBufferFromFile(path('f.parquet')) })) as Record<string, unknown>[];
  assert.equal(pq.length, tsv.length);
  pq.forEach((r, i) => cols.forEach((c, j) => near(Number(r[c]), Number(tsv[i]![6 + j]), `parquet ${c} row ${i}`)));
  await withH5File(path('f.h5'), (dataset) => {
    for (const [j, c] of cols.entries()) {
      const d = dataset(c);
      assert.deepEqual(d.shape, [tsv.length / 2, 2]);
      (d.value as Float32Array).forEach((v, i) => near(v, Number(tsv[i]![6 + j]), `h5 ${c} ${i}`));
    }
  });
  // Gene rows as Parquet.
  await ok([...base, '--gtf', path('genes.gtf'), '--targets', path('targets.txt'), '--scorer', 'GeneMaskLFC', '--out', path('gf.tsv')]);
  await ok([...base, '--gtf', path('genes.gtf'), '--targets', path('targets.txt'), '--scorer', 'GeneMaskLFC', '--out', path('gf.parquet')]);
  const gt = readTsv(path('gf.tsv')).rows;
  const gp = (await parquetReadObjects({ file: await asyncBufferFromFile(path('gf.parquet')) })) as Record<string, unknown>[];
  assert.equal(gp.length, gt.length);
  gp.forEach((r, i) => {
    assert.equal(r.gene, gt[i]![5]);
    const want = Number(gt[i]![8]);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(Number(r.GeneMaskLFC)));
    else near(Number(r.GeneMaskLFC), want, `gene parquet row ${i}`);
  });
  // Shards of a scorer run merge into the unsharded run's bytes.
  const shards = [1, 2].map((i) => path(`s${i}.tsv`));
  for (const [i, s] of shards.entries()) await ok([...base, ...scorers, '--shard', `${i + 1}/2`, '--out', s]);
  await ok(['merge', path('merged.tsv'), ...shards]);
  assert.ok(readFileSync(path('merged.tsv')).equals(readFileSync(path('f.tsv'))));
});

test('scorers: bad combinations are one clear line', { skip }, async () => {
  const base = ['score-variants', '--model', MODELS[0]!.dir!, '--genome', path('g.fa'), '--window-length', String(L), '--vcf', path('v.vcf'), '--out', path('e.tsv')];
  const fails = async (args: string[], pattern: RegExp) => assertCliError(await run([...base, ...args]), pattern, args.join(' '));
  await fails(['--scorer', 'gene-mask-lfc'], /--scorer GeneMaskLFC\(\) needs genes: give --gtf FILE/);
  await fails(['--scorer', 'center-mask:501:diff-sum', '--gtf', path('genes.gtf')], /--gtf is read by the gene scorers/);
  await fails(['--scorer', 'center-mask:501:diff-sum', '--scorer', 'gene-mask-lfc', '--gtf', path('genes.gtf')], /score them in two runs/);
  await fails(['--scorer', 'gene-mask-lfc', '--gtf', path('genes.gtf'), '--stats', 'SED'], /--stats is for borzoi_sed gene scores/);
  await fails(['--scorer', 'gene-mask-lfc', '--gtf', path('genes.gtf'), '--untransform', 'none'], /--untransform is for borzoi_sed gene scores/);
  await fails(['--scorer', 'center-mask:501:diff-sum', '--anchor', 'borzoi'], /--scorer builds windows as AlphaGenome does/);
  await fails(['--scorer', 'center-mask:500:diff-sum'], /width 500 is not one of AlphaGenome's/);
  await fails(['--scorer', 'ContactMap'], /--scorer ContactMap\(\) reads the whole AlphaGenome model's outputs; .*is not an AlphaGenome model/);
});
