/**
 * AlphaGenome's splicing and whole-model variant scorers: GeneMaskSplicing (on the 1-bp splice
 * tracks of `--resolution 1`, through the CLI), ContactMap and SpliceJunction (pure scorers on the
 * whole model's outputs, `predictVariantOutputs`, then through `score-variants` on the whole-model
 * side: writers, shards, resume, errors). Units on toy arrays, then against a brute-force
 * recomputation from whole-model predictions of hand-cut ref and alt windows.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScorer } from '../tasks/variants/scorers/spec.js';
import { GeneMaskSplicingScorer } from '../tasks/variants/scorers/gene-mask-splicing.js';
import { ContactMapScorer } from '../tasks/variants/scorers/contact-map.js';
import { junctionScores, SpliceJunctionScorer, variantGenes, type Junction } from '../tasks/variants/scorers/splice-junction.js';
import { roundToHalf as toFloat16 } from '../formats/half.js';
import { sharedSpliceSites, predictVariantOutputs } from '../models/alphagenome/variant-outputs.js';
import { loadAlphaGenome } from '../models/alphagenome/load.js';
import type { AlphaGenomeModel } from '../models/alphagenome/model.js';
import { Model } from '../models/model.js';
import { GeneIndex, readGtf, type Gene } from '../genome/gtf.js';
import type { Track } from '../formats/targets.js';
import { assertCliError, assertCliOk, CLI, fixture, runCli, tempDir } from './fixtures.js';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { withH5File } from './h5-files.js';
import { randomGenome, writeFastaFai } from './genome-files.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const track = (identifier: string, index = 0): Track => ({ index, identifier, description: identifier, strandPair: index }) as Track;

// ------------------------------------------------------------------------------------------ units

test('alphagenome scorers: GeneMaskSplicing spec (widths, requested_output) and its track check', () => {
  const s = parseScorer('GeneMaskSplicing(width=10_001, requested_output=SPLICE_SITE_USAGE)');
  assert.deepEqual([s.name, s.column], ['GeneMaskSplicing(requested_output=SPLICE_SITE_USAGE, width=10001)', 'GeneMaskSplicing_SPLICE_SITE_USAGE_10001']);
  assert.equal(parseScorer('gene-mask-splicing').name, 'GeneMaskSplicing(width=None)');
  assert.equal(parseScorer('GeneMaskSplicingScorer(width=None)').column, 'GeneMaskSplicing_all');
  assert.equal(parseScorer('gene-mask-splicing:101').column, 'GeneMaskSplicing_101');
  assert.throws(() => parseScorer('GeneMaskSplicing(width=501)'), /width 501 is not one of AlphaGenome's \(101, 1001, 10001/);
  assert.throws(() => parseScorer('GeneMaskSplicing(requested_output=ATAC)'), /requested_output ATAC is not one GeneMaskSplicing reads/);
  assert.throws(() => parseScorer('GeneMaskSplicing(aggregation=DIFF_SUM)'), /takes width and requested_output/);
  const g = new GeneMaskSplicingScorer(undefined);
  g.checkTracks([track('splice_sites_probs:0'), track('splice_site_usage_predictions:3', 1)]);
  assert.throws(() => g.checkTracks([track('splice_sites_probs:0'), track('atac_1bp:0', 1)]), /reads AlphaGenome's 1-bp splice outputs only .*track atac_1bp:0 is not one/);
  assert.throws(() => new GeneMaskSplicingScorer(undefined, 'SPLICE_SITES').checkTracks([track('splice_site_usage_predictions:0')]), /splice_sites_probs.*is not one/);
});

test('alphagenome scorers: GeneMaskSplicing = max |alt − ref| over the mask (0 for an empty mask, NaN off-strand)', () => {
  const tracks = [track('splice_sites_probs:0', 0), { ...track('x+', 1), strandPair: 2 }, { ...track('x-', 2), strandPair: 1 }] as Track[];
  const ref = Float64Array.from([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
  const alt = Float64Array.from([1, 5, 1, 2, 2, 2, 0, 3, 3, 9, 4, 4]);
  const gene = { id: 'G', name: 'G', strand: '+' } as Gene;
  const masks = [
    { gene, bins: Int32Array.from([1, 2]), weights: Float64Array.from([1, 1]) },
    { gene, bins: new Int32Array(0), weights: new Float64Array(0) },
  ];
  const [a, b] = new GeneMaskSplicingScorer(undefined).score(ref, alt, masks, { start: 0, bins: 4, binSize: 1, tracks });
  assert.deepEqual([a![0], a![1]], [3, 0]);
  assert.ok(Number.isNaN(a![2]!));
  assert.deepEqual([b![0], b![1]], [0, 0]);
});

test('alphagenome scorers: float16 rounding (ties to even, subnormals, overflow)', () => {
  assert.equal(toFloat16(1 / 3), 0.333251953125);
  assert.equal(toFloat16(1 + 2 ** -11), 1);
  assert.equal(toFloat16(1 + 3 * 2 ** -11), 1 + 2 ** -9);
  assert.equal(toFloat16(-2.5), -2.5);
  assert.equal(toFloat16(2 ** -25), 0);
  assert.equal(toFloat16(3 * 2 ** -25), 2 ** -23);
  assert.equal(toFloat16(65504), 65504);
  assert.equal(toFloat16(70000), Infinity);
  assert.equal(toFloat16(-16.1181), -16.125);
});

test('alphagenome scorers: shared splice sites, junction unstacking and the per-gene choice on toys', () => {
  // 6 positions × 5 classes; k = 2, threshold 0.3.
  const ref = new Float64Array(30);
  const alt = new Float64Array(30);
  const set = (a: Float64Array, p: number, c: number, v: number) => (a[p * 5 + c] = v);
  set(ref, 4, 0, 0.9);
  set(alt, 1, 0, 0.8);
  set(ref, 2, 0, 0.7); // third best donor+: cut by k
  set(ref, 5, 1, 0.5);
  set(alt, 3, 1, 0.2); // below the threshold
  set(ref, 0, 2, 0.4);
  set(alt, 0, 2, 0.6);
  assert.deepEqual(Array.from(sharedSpliceSites(ref, alt, 6, 2, 0.3)), [1, 4, 5, -1, 0, -1, -1, -1]);

  // K = 2, T = 1: + donors [1, 4] × acceptors [5]; − donors [3] × acceptors [0].
  const K = 2;
  const T = 1;
  const pos = [1, 4, 5, -1, 3, -1, 0, -1];
  const counts = (f: (i: number, j: number, s: number) => number) => Float64Array.from(range(K * K * 2 * T), (x) => f(Math.floor(x / (K * 2 * T)), Math.floor(x / (2 * T)) % K, x % 2));
  const r = counts(() => 1);
  const a = counts((i, j, s) => (s === 0 && j === 0 ? (i === 0 ? Math.E : 0.5) : s === 1 && i === 0 && j === 0 ? 2 : 1));
  const js = junctionScores(r, a, pos, K, T, 1, 100);
  // Explicitly: + (1 → 5) = [2, 5) + 100; (4 → 5) = [5, 5) dropped (start = end); − (donor 3, acceptor 0) = [1, 3) + 100.
  assert.deepEqual(js.map((j) => [j.strand, j.start, j.end]), [['+', 102, 105], ['-', 101, 103]]);
  assert.equal(js[0]!.values[0], toFloat16(Math.log(Math.E + 1e-7) - Math.log(1 + 1e-7)));
  assert.equal(js[1]!.values[0], toFloat16(Math.log(2 + 1e-7) - Math.log(1 + 1e-7)));

  const gene = (id: string, strand: '+' | '-', s: number, e: number) => ({ id, name: id, chrom: 'c', strand, exons: [[s, e]] as [number, number][], order: 0 }) as Gene;
  const jn = (strand: '+' | '-', start: number, end: number, ...v: number[]): Junction => ({ strand, start, end, values: Float32Array.from(v) });
  const J = [jn('+', 20, 30, 1, 5, 0), jn('+', 12, 18, 4, 5, 3), jn('+', 10, 40, 9, 9, 9), jn('-', 20, 30, 7, 7, 7)];
  const rows = new SpliceJunctionScorer().score(J, [gene('A', '+', 10, 35), gene('B', '-', 0, 100), gene('C', '+', 50, 60)]);
  // A: [10, 40) is not strictly inside; track 0 → [12, 18) (4), track 1 tie 5/5 → the first by start ([12, 18)), track 2 → [12, 18).
  assert.deepEqual(rows.map((r) => [r.gene.id, r.start, r.end]), [['A', 12, 18], ['B', 20, 30]]);
});

test('alphagenome scorers: ContactMap is the mean |alt − ref| down the variant column', () => {
  const P = 3;
  const C = 2;
  const ref = new Float64Array(P * P * C);
  const alt = Float64Array.from(range(P * P * C), (x) => x);
  const s = new ContactMapScorer().score(ref, alt, { chrom: 'c', start: 1000 + 2 * 10 + 3, ref: 'A', alt: 'C' }, { start: 1000, positions: P, resolution: 10, tracks: C });
  // Column 2: entries (i·3 + 2)·2 + k for i = 0..2.
  assert.deepEqual(Array.from(s), [(4 + 10 + 16) / 3, (5 + 11 + 17) / 3]);
  assert.throws(() => new ContactMapScorer().score(ref, alt, { chrom: 'c', start: 1030, ref: 'A', alt: 'C' }, { start: 1000, positions: P, resolution: 10, tracks: C }), /lies outside the contact map/);
});

// ------------------------------------------------------------------------------------ end to end

const dir = fixture('alphagenome-small');
const skip = dir ? false : 'fixture model alphagenome-small not found (../shared/fixtures)';
const L = 8192;
const genome = randomGenome({ chr1: 25_000 }, 31);
const upper = (a: number, b: number) => genome.get('chr1')!.slice(a, b).toUpperCase();
const other = (b: string) => 'ACGT'[('ACGT'.indexOf(b) + 1) % 4]!;

interface Variant {
  pos: number;
  id: string;
  ref: string;
  alt: string;
}
const VARIANTS: Variant[] = [
  { pos: 10_000, id: 'snv', ref: upper(9_999, 10_000), alt: other(upper(9_999, 10_000)) },
  { pos: 10_150, id: 'ins', ref: upper(10_149, 10_150), alt: upper(10_149, 10_150) + 'GATTACAGG' },
  { pos: 9_870, id: 'del', ref: upper(9_869, 9_876), alt: upper(9_869, 9_870) },
];
/** Gene, strand, transcript, exons (0-based half-open). G3's TSS lies outside every span: no gene-mask rows, but its body holds the variants. */
const TRANSCRIPTS: [string, '+' | '-', string, [number, number][]][] = [
  ['G1', '+', 'T1', [[9_000, 9_400], [9_800, 10_300]]],
  ['G2', '-', 'T2', [[10_500, 10_900], [11_200, 11_800]]],
  ['G3', '+', 'T3', [[1_000, 1_500], [9_700, 10_600]]],
];

/** Hand-cut windows: the variant's first REF base at L/2, ALT spliced in, the right flank refilled from the genome. */
function windows(v: Variant): { ws: number; ref: string; alt: string } {
  const pos0 = v.pos - 1;
  const ws = pos0 - L / 2;
  return { ws, ref: upper(ws, ws + L), alt: (upper(ws, pos0) + v.alt + upper(pos0 + v.ref.length, pos0 + v.ref.length + L)).slice(0, L) };
}

let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
let model: AlphaGenomeModel | undefined;

/** Whole-model outputs of one window (batch 1), as the brute force reads them. */
async function single(seq: string): Promise<Record<string, Float32Array>> {
  const out = await model!.predict(Model.encode([seq]));
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data as Float32Array]));
}

before(async () => {
  tmp = tempDir('seq2track-agscorers-');
  writeFastaFai(path('g.fa'), genome);
  writeFileSync(path('v.vcf'), '##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n' + VARIANTS.map((v) => `chr1\t${v.pos}\t${v.id}\t${v.ref}\t${v.alt}\t.\t.\t.`).join('\n') + '\n');
  writeFileSync(path('genes.gtf'), TRANSCRIPTS.flatMap(([g, strand, t, exons]) => exons.map(([s, e]) => `chr1\ttest\texon\t${s + 1}\t${e}\t.\t${strand}\t.\tgene_id "${g}"; transcript_id "${t}";`)).join('\n') + '\n');
  if (dir) model = await loadAlphaGenome(dir, { embeddings1bp: true, threads: 1 });
});

after(async () => {
  await model?.close();
  tmp?.cleanup();
});

/** |got − want| ≤ atol + rtol·|want|, NaN only against NaN; returns the difference. */
function near(got: number, want: number, atol: number, rtol: number, what: string): number {
  if (Number.isNaN(want)) {
    assert.ok(Number.isNaN(got), `${what}: ${got}, expected NaN`);
    return 0;
  }
  const d = Math.abs(got - want);
  assert.ok(d <= atol + rtol * Math.abs(want), `${what}: ${got} vs ${want}`);
  return d;
}

test('alphagenome scorers: GeneMaskSplicing from the CLI (--resolution 1) equals max |aligned alt − ref| over exon masks of whole-model predictions', { skip }, async (t) => {
  const out = path('splicing.tsv');
  assertCliOk(
    await runCli(['score-variants', '--model', dir!, '--resolution', '1', '--tracks', 'splice_sites_probs,splice_site_usage_predictions', '--genome', path('g.fa'), '--vcf', path('v.vcf'), '--gtf', path('genes.gtf'), '--scorer', 'GeneMaskSplicing', '--scorer', 'GeneMaskLFC', '--threads', '1', '--out', out], { SEQ2TRACK_CACHE: path('cache') }),
  );
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
  assert.deepEqual(lines[0]!.split('\t'), ['chrom', 'pos', 'id', 'ref', 'alt', 'gene', 'gene_name', 'track', 'GeneMaskSplicing_all', 'GeneMaskLFC']);
  const rows = lines.slice(1).map((l) => l.split('\t'));
  const usage = model!.config.spliceUsageTracks[0]!;
  const K = 5 + usage;
  let at = 0;
  let worst = 0;
  for (const v of VARIANTS) {
    const w = windows(v);
    const [r, a] = [await single(w.ref), await single(w.alt)];
    // [L, K]: the 5 class probabilities, then the organism's usage tracks (of the padded 4).
    const cols = (o: Record<string, Float32Array>) => range(L).flatMap((p) => [...range(5).map((c) => o.splice_sites_probs![p * 5 + c]!), ...range(usage).map((c) => o.splice_site_usage_predictions![p * model!.config.spliceUsageTracks[0]! + c]!)]);
    const ref = cols(r);
    const alt = cols(a);
    // AlphaGenome's alignment at 1 bp, written directly: v = last shared base.
    const d = v.pos - 1 - w.ws;
    const shared = d + Math.min(v.ref.length, v.alt.length) - 1;
    const indel = v.alt.length - v.ref.length;
    const aligned = range(L).map((p) =>
      range(K).map((k) => {
        const x = (q: number) => alt[q * K + k]!;
        if (indel > 0) {
          if (p >= L - indel) return 0;
          if (p < shared) return x(p);
          if (p === shared) return Math.max(...range(indel + 1).map((i) => x(shared + i)));
          return x(p + indel);
        }
        if (indel < 0) return p <= shared ? x(p) : p <= shared - indel ? 0 : x(p + indel);
        return x(p);
      }),
    );
    for (const [g, strand] of [['G1', '+'], ['G2', '-']] as const) {
      const mask = new Set(TRANSCRIPTS.filter((x) => x[0] === g).flatMap((x) => x[3].flatMap(([s, e]) => range(e - s).map((i) => s + i - w.ws))).filter((p) => p >= 0 && p < L));
      for (let k = 0; k < K; k++) {
        const row = rows[at++]!;
        assert.deepEqual(row.slice(0, 7), ['chr1', String(v.pos), v.id, v.ref, v.alt, g, g], `${v.id} row ${at}`);
        let max = 0;
        let [R, A] = [0, 0];
        for (const p of mask) {
          max = Math.max(max, Math.abs(aligned[p]![k]! - ref[p * K + k]!));
          R += ref[p * K + k]!;
          A += aligned[p]![k]!;
        }
        [R, A] = [R / mask.size, A / mask.size];
        // The 1-bp view and the whole model are two graphs of the same weights: float32 rounding apart.
        worst = Math.max(worst, near(Number(row[8]), max, 1e-5, 1e-4, `${v.id} ${g} ${strand} track ${k} GeneMaskSplicing`));
        near(Number(row[9]), Math.log(A + 1e-3) - Math.log(R + 1e-3), 1e-4, 1e-4, `${v.id} ${g} track ${k} GeneMaskLFC`);
      }
    }
  }
  assert.equal(at, rows.length, 'no other rows (G3: TSS outside the span)');
  assert.ok(rows.some((r) => Number(r[8]) > 1e-4), 'a variant changes a splice track');
  t.diagnostic(`GeneMaskSplicing: max |CLI − brute force| = ${worst.toExponential(2)} over ${rows.length} values`);
});

test('alphagenome scorers: GeneMaskSplicing refuses models and outputs without the splice tracks, in one line', { skip }, async () => {
  const base = ['score-variants', '--genome', path('g.fa'), '--vcf', path('v.vcf'), '--gtf', path('genes.gtf'), '--scorer', 'GeneMaskSplicing', '--out', path('e.tsv')];
  const env = { SEQ2TRACK_CACHE: path('cache') };
  assertCliError(await runCli([...base, '--model', dir!], env), /GeneMaskSplicing\(width=None\) reads AlphaGenome's 1-bp splice outputs only .*track atac_128bp:0 is not one/, 'AlphaGenome at 128 bp');
  assertCliError(await runCli([...base, '--model', dir!, '--resolution', '1'], env), /track atac_1bp:0 is not one/, 'AlphaGenome at 1 bp, every track');
  const enformer = fixture('enformer-small');
  if (enformer) assertCliError(await runCli([...base, '--model', enformer, '--window-length', String(L)], env), /reads AlphaGenome's 1-bp splice outputs only/, 'Enformer');
});

/** A junction row as the brute force writes it: gene, junction (genome coordinates), |Δ| per tissue. */
interface BruteJunction {
  gene: string;
  strand: '+' | '-';
  start: number;
  end: number;
  values: number[];
}

/**
 * The brute force of both whole-model scorers for one variant, from single-window (batch 1)
 * predictions of hand-cut windows: ContactMap per track; SpliceJunction's splice sites chosen by
 * repeated maximum, the junction head run per window, every junction written out, per gene the
 * best junction per tissue.
 */
async function bruteForce(v: Variant): Promise<{ contact: number[]; junctions: BruteJunction[]; sites: number[] }> {
  const cfg = model!.config;
  const K = cfg.numSpliceSites;
  const T = Math.max(...cfg.junctionTissues);
  const tissues = cfg.junctionTissues[0]!;
  const P = L / cfg.pairResolution;
  const C = cfg.contactMapTracks;
  const w = windows(v);
  const [r, a] = [await single(w.ref), await single(w.alt)];

  // ContactMap: the variant's 2,048-bp position, mean over rows of |alt − ref| (SNV-only upstream; scored here for every kind).
  const c = Math.floor((v.pos - 1 - w.ws) / cfg.pairResolution);
  const contact = range(C).map((k) => range(P).reduce((s, i) => s + Math.abs(a.contact_maps![(i * P + c) * C + k]! - r.contact_maps![(i * P + c) * C + k]!), 0) / P);

  // Splice sites: per kind, repeatedly the best remaining position of max(ref, alt), then threshold and sort.
  const sites: number[] = [];
  for (let kind = 0; kind < 4; kind++) {
    const score = (p: number) => Math.max(r.splice_sites_probs![p * 5 + kind]!, a.splice_sites_probs![p * 5 + kind]!);
    const taken = new Set<number>();
    for (let i = 0; i < K; i++) {
      let best = -1;
      for (let p = 0; p < L; p++) if (!taken.has(p) && (best < 0 || score(p) > score(best))) best = p;
      taken.add(best);
    }
    const kept = [...taken].filter((p) => score(p) >= cfg.spliceThreshold).sort((x, y) => x - y);
    sites.push(...kept, ...new Array<number>(K - kept.length).fill(-1));
  }
  const positions = { dtype: 'int64' as const, dims: [1, 4, K], data: BigInt64Array.from(sites, (p) => BigInt(p)) };
  const emb = (o: Record<string, Float32Array>) => ({ dtype: 'float32' as const, dims: [1, L, cfg.embeddings1Dim], data: o.embeddings_1bp! });
  const refCounts = (await model!.junctionHead(emb(r), positions)).splice_junctions_pred_counts!.data as Float32Array;
  const altCounts = (await model!.junctionHead(emb(a), positions)).splice_junctions_pred_counts!.data as Float32Array;

  // Every junction written out from the sites, its scores |f16(ln alt − ln ref)|, then per gene the best junction per tissue.
  const valid = (row: number) => sites.slice(row * K, (row + 1) * K).filter((p) => p >= 0);
  const all: Omit<BruteJunction, 'gene'>[] = [];
  for (const [s, dRow, aRow] of [[0, 0, 1], [1, 2, 3]] as const) {
    valid(dRow).forEach((d, i) =>
      valid(aRow).forEach((acc, j) => {
        const [start, end] = s === 0 ? [d + 1 + w.ws, acc + w.ws] : [acc + 1 + w.ws, d + w.ws];
        if (start >= end || start <= 0) return;
        const values = range(tissues).map((tt) => {
          const at = (i * K + j) * 2 * T + s * T + tt;
          return Math.abs(toFloat16(Math.log(altCounts[at]! + 1e-7) - Math.log(refCounts[at]! + 1e-7)));
        });
        all.push({ strand: s === 0 ? '+' : '-', start, end, values });
      }),
    );
  }
  // Genes whose body (first exon start … last exon end) holds the variant, in GTF order.
  const vEnd = v.pos - 1 + Math.max(v.ref.length, v.alt.length);
  const genes = [...new Set(TRANSCRIPTS.map((x) => x[0]))].flatMap((g) => {
    const exons = TRANSCRIPTS.filter((x) => x[0] === g).flatMap((x) => x[3]);
    const [gs, ge] = [Math.min(...exons.map((e) => e[0])), Math.max(...exons.map((e) => e[1]))];
    return ge > v.pos - 1 && gs < vEnd ? [{ g, strand: TRANSCRIPTS.find((x) => x[0] === g)![1], gs, ge }] : [];
  });
  const junctions = genes.flatMap(({ g, strand, gs, ge }) => {
    const inside = all.filter((j) => j.strand === strand && j.start > gs && j.end < ge).sort((x, y) => x.start - y.start || x.end - y.end);
    const picked: typeof inside = [];
    for (let tt = 0; tt < tissues && inside.length; tt++) {
      const best = inside.reduce((b, j) => (j.values[tt]! > b.values[tt]! ? j : b));
      if (!picked.includes(best)) picked.push(best);
    }
    return picked.map((j) => ({ gene: g, ...j }));
  });
  return { contact, junctions, sites };
}

test('alphagenome scorers: ContactMap and SpliceJunction on predictVariantOutputs equal a brute force from single-window predictions', { skip }, async (t) => {
  const cfg = model!.config;
  const K = cfg.numSpliceSites;
  const T = Math.max(...cfg.junctionTissues);
  const tissues = cfg.junctionTissues[0]!;
  const P = L / cfg.pairResolution;
  const C = cfg.contactMapTracks;
  const index = new GeneIndex(await readGtf(path('genes.gtf'), { transcripts: true }));
  const worst = { contact: 0, junction: 0 };
  let junctionRows = 0;
  for (const v of VARIANTS) {
    const w = windows(v);
    const variant = { chrom: 'chr1', start: v.pos - 1, ref: v.ref, alt: v.alt };
    const got = await predictVariantOutputs(model!, Model.encode([w.ref, w.alt]));
    const want = await bruteForce(v);

    const cm = new ContactMapScorer().score(got.ref.contactMaps, got.alt.contactMaps, variant, { start: w.ws, positions: P, resolution: cfg.pairResolution, tracks: C });
    for (let k = 0; k < C; k++) worst.contact = Math.max(worst.contact, near(cm[k]!, want.contact[k]!, 1e-5, 1e-4, `${v.id} ContactMap track ${k}`));

    assert.deepEqual(Array.from(got.spliceSites), want.sites, `${v.id}: shared splice sites`);
    const genes = variantGenes(index, variant);
    assert.deepEqual(genes.map((g) => g.id), ['G1', 'G3'], `${v.id}: genes whose body holds the variant`);
    const rows = new SpliceJunctionScorer().score(junctionScores(got.ref.junctionCounts, got.alt.junctionCounts, got.spliceSites, K, T, tissues, w.ws), genes);
    assert.deepEqual(rows.map((x) => [x.gene.id, x.start, x.end]), want.junctions.map((x) => [x.gene, x.start, x.end]), `${v.id}: chosen junctions`);
    // Batch 2 against batch 1 can round a float16 the other way: one float16 step (2^-10 relative) apart at most.
    rows.forEach((x, i) => x.values.forEach((y, tt) => (worst.junction = Math.max(worst.junction, near(y, want.junctions[i]!.values[tt]!, 1e-6, 2 ** -10, `${v.id} junction ${i} tissue ${tt}`)))));
    junctionRows += rows.length;
    assert.ok(rows.length > 0, `${v.id}: junctions scored`);
  }
  t.diagnostic(`ContactMap max |got − brute force| ${worst.contact.toExponential(2)}; SpliceJunction ${worst.junction.toExponential(2)} over ${junctionRows} rows`);
});

// --------------------------------------------------------------------- the whole-model scorers' CLI

const cliEnv = () => ({ SEQ2TRACK_CACHE: path('cache') });
const cliBase = () => ['score-variants', '--model', dir!, '--genome', path('g.fa'), '--vcf', path('v.vcf'), '--threads', '1'];
const tsvRows = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => l.split('\t'));

test('alphagenome scorers: score-variants --scorer ContactMap (TSV, Parquet, HDF5) equals the brute force', { skip }, async (t) => {
  const C = model!.config.contactMapTracks;
  for (const ext of ['tsv', 'parquet', 'h5']) assertCliOk(await runCli([...cliBase(), '--scorer', 'ContactMap', '--out', path(`cm.${ext}`)], cliEnv()));
  const [header, ...rows] = tsvRows(path('cm.tsv'));
  assert.deepEqual(header, ['chrom', 'pos', 'id', 'ref', 'alt', 'track', 'ContactMap']);
  assert.equal(rows.length, VARIANTS.length * C);
  let worst = 0;
  for (const [i, v] of VARIANTS.entries()) {
    const want = (await bruteForce(v)).contact;
    for (let k = 0; k < C; k++) {
      const row = rows[i * C + k]!;
      assert.deepEqual(row.slice(0, 6), ['chr1', String(v.pos), v.id, v.ref, v.alt, `contact_maps:${k}`]);
      // One batch of 2 against two of 1, float32; the TSV's 7 significant digits.
      worst = Math.max(worst, near(Number(row[6]), want[k]!, 1e-5, 1e-4, `${v.id} ContactMap track ${k}`));
    }
  }
  assert.ok(rows.some((r) => Number(r[6]) > 1e-4), 'a variant changes a contact map');
  // The binary writers hold the same values (float32, unrounded).
  const pq = (await parquetReadObjects({ file: await asyncBufferFromFile(path('cm.parquet')) })) as Record<string, unknown>[];
  assert.equal(pq.length, rows.length);
  pq.forEach((r, i) => near(Number(r.ContactMap), Number(rows[i]![6]), 0, 1e-6, `parquet row ${i}`));
  await withH5File(path('cm.h5'), (dataset) => {
    assert.deepEqual(dataset('ContactMap').shape, [VARIANTS.length, C]);
    assert.deepEqual(dataset('target_ids').value, range(C).map((k) => `contact_maps:${k}`));
    (dataset('ContactMap').value as Float32Array).forEach((x, i) => near(x, Number(rows[i]![6]), 0, 1e-6, `h5 value ${i}`));
  });
  t.diagnostic(`ContactMap CLI: max |CLI − brute force| = ${worst.toExponential(2)} over ${rows.length} values`);
});

test('alphagenome scorers: score-variants --scorer SpliceJunction writes the brute force junction rows (TSV, Parquet; shards merge)', { skip }, async (t) => {
  const tissues = model!.config.junctionTissues[0]!;
  const cli = (...args: string[]) => runCli([...cliBase(), '--gtf', path('genes.gtf'), '--scorer', 'SpliceJunction', ...args], cliEnv());
  assertCliOk(await cli('--out', path('sj.tsv')));
  assertCliOk(await cli('--out', path('sj.parquet')));
  const [header, ...rows] = tsvRows(path('sj.tsv'));
  assert.deepEqual(header, ['chrom', 'pos', 'id', 'ref', 'alt', 'gene', 'gene_name', 'strand', 'junction_start', 'junction_end', 'track', 'SpliceJunction']);
  const want = [];
  for (const v of VARIANTS) for (const j of (await bruteForce(v)).junctions) for (let tt = 0; tt < tissues; tt++) want.push({ v, j, tt });
  assert.equal(rows.length, want.length);
  let worst = 0;
  want.forEach(({ v, j, tt }, i) => {
    const row = rows[i]!;
    assert.deepEqual(row.slice(0, 11), ['chr1', String(v.pos), v.id, v.ref, v.alt, j.gene, j.gene, j.strand, String(j.start), String(j.end), `splice_junctions:${tt}`], `row ${i}`);
    // One float16 step apart at most (batch 2 against batch 1), as for the pure scorer.
    worst = Math.max(worst, near(Number(row[11]), j.values[tt]!, 1e-6, 2 ** -10, `${v.id} ${j.gene} ${j.start}-${j.end} tissue ${tt}`));
  });
  assert.ok(rows.some((r) => Number(r[11]) > 1e-3), 'a variant changes a junction count');
  const pq = (await parquetReadObjects({ file: await asyncBufferFromFile(path('sj.parquet')) })) as Record<string, unknown>[];
  assert.equal(pq.length, rows.length);
  pq.forEach((r, i) => {
    assert.deepEqual([r.gene, r.strand, String(r.junction_start), String(r.junction_end), r.track], [rows[i]![5], rows[i]![7], rows[i]![8], rows[i]![9], rows[i]![10]]);
    near(Number(r.SpliceJunction), Number(rows[i]![11]), 0, 1e-6, `parquet row ${i}`);
  });
  // Shards (one record a chunk) merge into the unsharded run's bytes.
  const shards = [1, 2].map((i) => path(`sj${i}.tsv`));
  for (const [i, s] of shards.entries()) assertCliOk(await cli('--batch-size', '1', '--shard', `${i + 1}/2`, '--out', s));
  assertCliOk(await runCli(['merge', path('sj-merged.tsv'), ...shards], cliEnv()));
  assert.ok(readFileSync(path('sj-merged.tsv')).equals(readFileSync(path('sj.tsv'))), 'merged shards = unsharded run');
  t.diagnostic(`SpliceJunction CLI: max |CLI − brute force| = ${worst.toExponential(2)} over ${rows.length} rows (${rows.length / tissues} junctions)`);
});

test('alphagenome scorers: a SpliceJunction run killed with SIGKILL and resumed writes the same bytes as an uninterrupted run', { skip }, async () => {
  // 8 SNVs in G1's and G3's bodies, one record a chunk.
  const lines = ['#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO'];
  for (let i = 0; i < 8; i++) {
    const pos = 9_810 + 50 * i;
    const b = upper(pos - 1, pos);
    lines.push(`chr1\t${pos}\ts${i}\t${b}\t${other(b)}\t.\t.\t.`);
  }
  writeFileSync(path('many.vcf'), lines.join('\n') + '\n');
  const args = ['score-variants', '--model', dir!, '--genome', path('g.fa'), '--vcf', path('many.vcf'), '--threads', '1', '--gtf', path('genes.gtf'), '--scorer', 'SpliceJunction', '--batch-size', '1'];
  assertCliOk(await runCli([...args, '--out', path('full.tsv')], cliEnv()));
  const full = readFileSync(path('full.tsv'));

  const out = path('killed.tsv');
  const progress = `${out}.progress`;
  const child = spawn(process.execPath, [CLI, ...args, '--out', out], { stdio: 'ignore', env: { ...process.env, ...cliEnv() } });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  // Killed once a chunk is committed and before the last one is.
  const records = () => (existsSync(progress) ? (JSON.parse(readFileSync(progress, 'utf8')) as { records: number }).records : 0);
  const started = Date.now();
  while (Date.now() - started < 60_000 && records() < 2) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  await exited;
  const done = records();
  assert.ok(done >= 2 && done < 8 && !existsSync(out), `killed part-way (${done} of 8 records committed)`);
  const r = await runCli([...args, '--out', out], cliEnv());
  assertCliOk(r);
  assert.match(r.stderr, new RegExp(`resuming .*killed\\.tsv after ${done} records`));
  assert.ok(readFileSync(out).equals(full), 'resumed = uninterrupted');
  assert.ok(full.toString().split('\n').length > 10, 'junction rows written');
});

test('alphagenome scorers: the whole-model scorers refuse what they cannot run, in one line', { skip }, async () => {
  const fails = async (args: string[], pattern: RegExp, what: string) => assertCliError(await runCli([...cliBase(), ...args], cliEnv()), pattern, what);
  const enformer = fixture('enformer-small');
  if (enformer) {
    const onEnformer = ['score-variants', '--model', enformer, '--genome', path('g.fa'), '--vcf', path('v.vcf'), '--window-length', String(L)];
    assertCliError(await runCli([...onEnformer, '--scorer', 'ContactMap', '--out', path('e.tsv')], cliEnv()), /--scorer ContactMap\(\) reads the whole AlphaGenome model's outputs; .*config\.json is not an AlphaGenome model/, 'ContactMap on Enformer');
    assertCliError(await runCli([...onEnformer, '--gtf', path('genes.gtf'), '--scorer', 'SpliceJunction', '--out', path('e.tsv')], cliEnv()), /--scorer SpliceJunction\(\) reads the whole AlphaGenome model's outputs; .*is not an AlphaGenome model/, 'SpliceJunction on Enformer');
  }
  await fails(['--scorer', 'SpliceJunction', '--out', path('e.tsv')], /--scorer SpliceJunction\(\) needs genes: give --gtf FILE/, 'no genes');
  await fails(['--scorer', 'ContactMap', '--gtf', path('genes.gtf'), '--out', path('e.tsv')], /--gtf is read by the gene scorers/, 'ContactMap with --gtf');
  await fails(['--gtf', path('genes.gtf'), '--scorer', 'SpliceJunction', '--out', path('e.h5')], /SpliceJunction\(\) writes junction rows as X\.tsv or X\.parquet/, 'junctions as HDF5');
  await fails(['--scorer', 'ContactMap', '--scorer', 'center-mask:501:diff-sum', '--out', path('e.tsv')], /ContactMap\(\) reads the whole AlphaGenome model's outputs and CenterMask\(width=501, aggregation=DIFF_SUM\) reads the per-position tracks; score them in two runs/, 'with CenterMask');
  await fails(['--gtf', path('genes.gtf'), '--scorer', 'ContactMap', '--scorer', 'SpliceJunction', '--out', path('e.tsv')], /gives rows of another layout; score them in two runs/, 'both');
  await fails(['--scorer', 'ContactMap', '--rc', '--out', path('e.tsv')], /--rc: not offered with --scorer ContactMap\(\)/, '--rc');
  await fails(['--scorer', 'ContactMap', '--resolution', '1', '--out', path('e.tsv')], /--resolution: not offered with --scorer ContactMap\(\)/, '--resolution');
  await fails(['--scorer', 'ContactMap', '--window-length', '5000', '--out', path('e.tsv')], /--window-length 5000: AlphaGenome needs a multiple of 2048 bp/, 'window length');
});
