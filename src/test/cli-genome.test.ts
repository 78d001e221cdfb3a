/**
 * `seq2track predict --genome` end to end on a random genome written by the test (FASTA + fai,
 * bgzip + fai + gzi, 2bit; local and over HTTP on 127.0.0.1). Every output is checked bin for bin
 * against `predict --fasta` on windows cut out by hand, so coordinates, tiling, N padding and the
 * ensembling are all pinned to an independent path.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BigWig } from '@gmod/bbi';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../weights/safetensors.js';
import { fixture, REPO_ROOT, skipUnless, tempDir, runCli, assertCliError, assertCliOk } from './fixtures.js';
import { randomGenome, serveDirectory, writeBgzipFasta, writeFastaFai, writeTwoBit, type StaticServer } from './genome-files.js';

const skip = skipUnless('enformer-small') || skipUnless('borzoi-small');
const ENFORMER = fixture('enformer-small') ?? '';
const BORZOI = fixture('borzoi-small') ?? '';
const SIZES = { chr1: 30_001, chr2: 20_077, chrM: 1_234 };
const genome = randomGenome(SIZES, 42);
let tmp: { dir: string; cleanup: () => void };
let server: StaticServer;
let fa = '';
let n = 0;

/** Enformer fixture at 8192 bp: 32 bins of 128 bp starting 2048 bp into the window. */
const ENF = { length: 8192, offset: 2048, bins: 32, binSize: 128, tracks: 12 };
/** Borzoi fixture at its config's 8192 bp: 128 bins of 32 bp starting 2048 bp in. */
const BRZ = { length: 8192, offset: 2048, bins: 128, binSize: 32, tracks: 12 };
type Geo = typeof ENF;

const run = (args: string[]) => runCli(args, { SEQ2TRACK_CACHE: join(tmp.dir, 'cache') });

const ok = async (args: string[]) => assertCliOk(await run(args));

async function expectError(args: string[], pattern: RegExp) {
  assertCliError(await run(args), pattern, args.join(' '));
}

const path = (name: string) => join(tmp.dir, name);

/** Bases [a, b) of a chromosome, N outside it. */
const cut = (chrom: string, a: number, b: number) => Array.from({ length: b - a }, (_, i) => genome.get(chrom)![a + i] ?? 'N').join('');

/** The region's windows and written bins, derived here independently of src/genome/regions.ts. */
function handPlan(chrom: string, start: number, end: number, g: Geo) {
  const span = g.bins * g.binSize;
  const count = Math.ceil((end - start) / span);
  const cover = start - Math.floor((count * span - (end - start)) / 2);
  const windows = Array.from({ length: count }, (_, k) => cover - g.offset + k * span);
  const size = genome.get(chrom)!.length;
  const bins: { index: number; start: number; end: number }[] = [];
  for (let b = 0; b < count * g.bins; b++) {
    const s = cover + b * g.binSize;
    if (s + g.binSize > start && s < Math.min(end, size)) bins.push({ index: b, start: Math.max(0, s), end: Math.min(size, s + g.binSize) });
  }
  return { windows, bins, sequences: windows.map((w) => cut(chrom, w, w + g.length)) };
}

/** `predict --fasta` on the given sequences: [records, bins, tracks] of the human head. */
async function fastaPredict(sequences: string[], model = ENFORMER): Promise<Float32Array> {
  const name = `hand${n++}`;
  writeFileSync(path(`${name}.fa`), sequences.map((s, i) => `>w${i}\n${s}\n`).join(''));
  await ok(['predict', '--model', model, '--fasta', path(`${name}.fa`), '--heads', 'human', '--out', path(`${name}.safetensors`)]);
  return (await SafetensorsFile.open(path(`${name}.safetensors`))).readFloat32('human');
}

/** Expected [bin, track] values of a region from hand windows (single run per window). */
async function handExpected(chrom: string, start: number, end: number, g: Geo, model = ENFORMER) {
  const plan = handPlan(chrom, start, end, g);
  const out = await fastaPredict(plan.sequences, model);
  const value = (bin: number, track: number) => out[bin * g.tracks + track]!; // window-major = bin-major across windows
  return { plan, value };
}

async function readBigWig(file: string, chrom: string) {
  const bw = new BigWig({ path: file });
  return (await bw.getFeatures(chrom, 0, genome.get(chrom)!.length)) as { start: number; end: number; score: number }[];
}

function close(a: number, b: number, what: string) {
  assert.ok(Math.abs(a - b) <= 1e-6, `${what}: ${a} vs ${b}`);
}

before(async () => {
  tmp = tempDir('seq2track-cli-genome-');
  fa = path('g.fa');
  writeFastaFai(fa, genome);
  writeBgzipFasta(fa, path('g.fa.gz'));
  writeTwoBit(path('g.2bit'), genome);
  server = await serveDirectory(tmp.dir);
  // A 12-track targets table in Borzoi's format: tracks 0/1 and 4/5 are strand pairs.
  const rows = ['\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair\tdescription'];
  const desc = ['CAGE:K562 ENCODE, biol_', 'CAGE:K562 ENCODE, biol_', 'DNASE:K562', 'DNASE:HepG2', 'RNA:K562', 'RNA:K562', 'CHIP:CTCF/HepG2', 'ATAC:GM12878', 'DNASE:liver', 'CAGE:HepG2', 'CHIP:H3K27ac K562', 'ATAC:K562'];
  const ids = ['CNhs1+', 'CNhs1-', 'ENCFF01', 'ENCFF02', 'RNA7+', 'RNA7-', 'ENCFF03', 'ENCFF04', 'ENCFF05', 'CNhs2', 'ENCFF06', 'ENCFF07'];
  const pair = [1, 0, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11];
  desc.forEach((d, i) => rows.push(`${i}\t${ids[i]}\t/x/${i}.w5\t768\t384\t1.0\tsum\t${pair[i]}\t${d}`));
  writeFileSync(path('mini_targets.txt'), rows.join('\n') + '\n');
});

after(async () => {
  await server?.close();
  tmp.cleanup();
});

test('genome: the bigWig of a region equals predict --fasta on the hand-cut window, for every genome form', { skip }, async () => {
  const [chrom, start, end] = ['chr1', 10_000, 10_500] as const;
  const { plan, value } = await handExpected(chrom, start, end, ENF);
  assert.equal(plan.windows.length, 1);
  for (const g of ['g.fa', 'g.fa.gz', 'g.2bit', `${server.url}/g.fa.gz`, `${server.url}/g.2bit`]) {
    const out = path(`bw-${n++}/`);
    const r = await ok(['predict', '--model', ENFORMER, '--genome', g.startsWith('http') ? g : path(g), '--region', 'chr1:10,001-10,500', '--window-length', '8192', '--tracks', '3,7', '--out', out]);
    assert.match(r.stderr, /^seq2track: predicted 1 region \(1 window\) × \d+ bins × 2 tracks of human in [\d.]+ s -> /);
    assert.deepEqual(readdirSync(out).sort(), ['human_3.bw', 'human_7.bw']);
    for (const track of [3, 7]) {
      const f = await readBigWig(join(out, `human_${track}.bw`), chrom);
      assert.deepEqual(f.map((x) => [x.start, x.end]), plan.bins.map((b) => [b.start, b.end]), `${g} coordinates`);
      f.forEach((x, i) => close(x.score, value(plan.bins[i]!.index, track), `${g} track ${track} bin ${i}`));
    }
  }
});

test('genome: regions over several windows and past chromosome ends are covered exactly (bigWig, bedGraph)', { skip }, async () => {
  // Whole chr1 (8 windows, N past both ends) as bigWigs.
  const whole = await handExpected('chr1', 0, SIZES.chr1, ENF);
  assert.equal(whole.plan.windows.length, 8);
  const out = path('whole/');
  await ok(['predict', '--model', ENFORMER, '--genome', path('g.2bit'), '--region', 'chr1:1-30,001', '--window-length', '8192', '--tracks', '0,11', '--out', out, '--batch-size', '3']);
  for (const track of [0, 11]) {
    const f = await readBigWig(join(out, `human_${track}.bw`), 'chr1');
    assert.equal(f[0]!.start, 0);
    assert.equal(f[f.length - 1]!.end, SIZES.chr1);
    for (let i = 1; i < f.length; i++) assert.equal(f[i]!.start, f[i - 1]!.end, 'no gap or overlap');
    assert.deepEqual(f.map((x) => [x.start, x.end]), whole.plan.bins.map((b) => [b.start, b.end]));
    f.forEach((x, i) => close(x.score, whole.value(whole.plan.bins[i]!.index, track), `chr1 bin ${i}`));
  }
  // A BED of a chromosome shorter than one window, and a 2-window region near the end of chr2, as bedGraph.
  writeFileSync(path('two.bed'), `chrM\t0\t1234\nchr2\t14000\t20077\tend\n`);
  await ok(['predict', '--model', ENFORMER, '--genome', path('g.fa.gz'), '--bed', path('two.bed'), '--window-length', '8192', '--tracks', '5', '--out', path('two.bedGraph')]);
  const lines = readFileSync(path('two.bedGraph'), 'utf8').trimEnd().split('\n');
  assert.equal(lines[0], 'track type=bedGraph name="human_5" description="human track 5"');
  const rows = lines.slice(1).map((l) => l.split('\t'));
  let at = 0;
  for (const [chrom, s, e] of [['chrM', 0, 1234], ['chr2', 14_000, 20_077]] as const) {
    const h = await handExpected(chrom, s, e, ENF);
    for (const b of h.plan.bins) {
      const [c, bs, be, v] = rows[at++]!;
      assert.deepEqual([c, Number(bs), Number(be)], [chrom, b.start, b.end]);
      assert.ok(Math.abs(Number(v) - h.value(b.index, 5)) <= 1e-6 * Math.max(1, Math.abs(h.value(b.index, 5))) + 5e-7);
    }
    assert.equal(h.plan.bins[0]!.start <= s && h.plan.bins[h.plan.bins.length - 1]!.end === e, true);
  }
  assert.equal(at, rows.length);
});

test('genome: TSV and safetensors (+ bins BED) carry the same bins and values', { skip }, async () => {
  writeFileSync(path('r.bed'), 'chr2\t100\t400\nchr1\t5000\t9500\n');
  const args = ['predict', '--model', ENFORMER, '--genome', path('g.fa'), '--bed', path('r.bed'), '--window-length', '8192', '--targets', path('mini_targets.txt'), '--tracks', 'DNASE'];
  await ok([...args, '--out', path('r.tsv')]);
  await ok([...args, '--out', path('r.safetensors')]);
  const st = await SafetensorsFile.open(path('r.safetensors'));
  const bed = readFileSync(path('r.bins.bed'), 'utf8').trimEnd().split('\n').map((l) => l.split('\t'));
  assert.deepEqual(JSON.parse(st.metadata.tracks!), ['ENCFF01', 'ENCFF02', 'ENCFF05']);
  assert.deepEqual(JSON.parse(st.metadata.descriptions!), ['DNASE:K562', 'DNASE:HepG2', 'DNASE:liver']);
  assert.deepEqual(JSON.parse(st.metadata.track_indices!), [2, 3, 8]);
  assert.deepEqual(st.tensors.get('human')!.shape, [bed.length, 3]);
  const values = st.readFloat32('human');
  const tsv = readFileSync(path('r.tsv'), 'utf8').trimEnd().split('\n');
  assert.equal(tsv[0], 'region\tchrom\tstart\tend\ttrack\tdescription\tvalue');
  assert.equal(tsv.length - 1, bed.length * 3);
  let row = 0;
  for (const [chrom, s, e] of [['chr2', 100, 400], ['chr1', 5000, 9500]] as const) {
    const h = await handExpected(chrom, s, e, ENF);
    for (const b of h.plan.bins) {
      assert.deepEqual(bed[row]!.slice(0, 3), [chrom, String(b.start), String(b.end)]);
      [2, 3, 8].forEach((track, k) => {
        close(values[row * 3 + k]!, h.value(b.index, track), `safetensors ${chrom} ${b.start} ${track}`);
        const cols = tsv[1 + row * 3 + k]!.split('\t');
        assert.deepEqual(cols.slice(1, 6), [chrom, String(b.start), String(b.end), ['ENCFF01', 'ENCFF02', 'ENCFF05'][k], ['DNASE:K562', 'DNASE:HepG2', 'DNASE:liver'][k]]);
        assert.ok(Math.abs(Number(cols[6]) - values[row * 3 + k]!) <= 1e-6 * Math.abs(values[row * 3 + k]!) + 1e-9);
      });
      row++;
    }
  }
});

test('genome: tracks named by identifier; bigWig per selected track; a table of the wrong size is refused', { skip }, async () => {
  const out = path('named/');
  await ok(['predict', '--model', ENFORMER, '--genome', path('g.fa'), '--region', 'chr2:2,001-3,000', '--window-length', '8192', '--targets', path('mini_targets.txt'), '--tracks', 'CAGE:K562,CHIP:.*K562,ENCFF07', '--out', out]);
  assert.deepEqual(readdirSync(out).sort(), ['CNhs1+.bw', 'CNhs1-.bw', 'ENCFF06.bw', 'ENCFF07.bw']);
  const targets = fixture('../data/targets/enformer_targets_human.txt');
  if (targets) {
    await expectError(['predict', '--model', ENFORMER, '--genome', fa, '--region', 'chr2:1-100', '--window-length', '8192', '--targets', targets, '--out', path('x.tsv')], /enformer_targets_human\.txt: the targets table has 5313 tracks but the human head has 12/);
  }
});

test('genome: --rc (flip back, strand_pair swap) and --shifts equal the mean of hand-made runs', { skip }, async () => {
  const [chrom, start, end] = ['chr2', 7_000, 11_000] as const;
  const plan = handPlan(chrom, start, end, ENF);
  const shifts = [0, 1, -1];
  const comp: Record<string, string> = { A: 'T', C: 'G', G: 'C', T: 'A', a: 't', c: 'g', g: 'c', t: 'a' };
  const rc = (s: string) => [...s].reverse().map((c) => comp[c] ?? 'N').join('');
  const shift = (s: string, k: number) => (k > 0 ? 'N'.repeat(k) + s.slice(0, s.length - k) : k < 0 ? s.slice(-k) + 'N'.repeat(-k) : s);
  const variants = plan.sequences.flatMap((w) => shifts.flatMap((k) => [shift(w, k), rc(shift(w, k))]));
  const out = await fastaPredict(variants);
  const pair = [1, 0, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11];
  const { bins, tracks } = ENF;
  const expected = (bin: number, track: number) => {
    const w = Math.floor(bin / bins);
    const b = bin % bins;
    let sum = 0;
    shifts.forEach((_, si) => {
      const fwd = (w * shifts.length + si) * 2;
      sum += out[(fwd * bins + b) * tracks + track]!;
      sum += out[((fwd + 1) * bins + (bins - 1 - b)) * tracks + pair[track]!]!;
    });
    return sum / (2 * shifts.length);
  };
  const dir = path('rc/');
  const r = await ok(['predict', '--model', ENFORMER, '--genome', path('g.2bit'), '--region', 'chr2:7,001-11,000', '--window-length', '8192', '--targets', path('mini_targets.txt'), '--tracks', '0,1,4,2', '--rc', '--shifts', '0,1,-1', '--batch-size', '4', '--out', dir]);
  assert.match(r.stderr, /mean of 6 runs per window/);
  for (const [id, track] of [['CNhs1+', 0], ['CNhs1-', 1], ['RNA7+', 4], ['ENCFF01', 2]] as const) {
    const f = await readBigWig(join(dir, `${id}.bw`), chrom);
    assert.deepEqual(f.map((x) => [x.start, x.end]), plan.bins.map((b) => [b.start, b.end]));
    f.forEach((x, i) => close(x.score, expected(plan.bins[i]!.index, track), `${id} bin ${i}`));
  }
  // The strand swap matters: without it track 0's RC half would be track 0's, not track 1's.
  const unswapped = (bin: number) => {
    const w = Math.floor(bin / bins);
    const b = bin % bins;
    return out[(((w * 3 + 0) * 2 + 1) * bins + (bins - 1 - b)) * tracks + 0]!;
  };
  const swapped = (bin: number) => {
    const w = Math.floor(bin / bins);
    const b = bin % bins;
    return out[(((w * 3 + 0) * 2 + 1) * bins + (bins - 1 - b)) * tracks + 1]!;
  };
  assert.ok(plan.bins.some((b) => Math.abs(unswapped(b.index) - swapped(b.index)) > 1e-4), 'tracks 0 and 1 differ, so the test can see the swap');
});

test('genome: several --model directories are averaged; models that disagree are refused', { skip }, async () => {
  // A second "replicate": the fixture with one head bias moved.
  const rep = path('replicate');
  mkdirSync(rep);
  copyFileSync(join(ENFORMER, 'config.json'), join(rep, 'config.json'));
  const file = await SafetensorsFile.open(join(ENFORMER, 'weights.safetensors'));
  const tensors: TensorToWrite[] = [];
  for (const info of file.tensors.values()) {
    const data = file.readFloat32(info.name);
    if (info.name === '_heads.human.0.bias') for (let i = 0; i < data.length; i++) data[i] = data[i]! + 0.25 * (i % 3);
    tensors.push({ name: info.name, dtype: 'F32', shape: info.shape, data });
  }
  await writeSafetensors(join(rep, 'weights.safetensors'), tensors);
  const a = await handExpected('chr1', 20_000, 21_000, ENF);
  const b = await handExpected('chr1', 20_000, 21_000, ENF, rep);
  await ok(['predict', '--model', `${ENFORMER},${rep}`, '--genome', fa, '--region', 'chr1:20,001-21,000', '--window-length', '8192', '--tracks', '1,2', '--out', path('avg.safetensors')]);
  const v = (await SafetensorsFile.open(path('avg.safetensors'))).readFloat32('human');
  a.plan.bins.forEach((bin, i) => [1, 2].forEach((track, k) => close(v[i * 2 + k]!, (a.value(bin.index, track) + b.value(bin.index, track)) / 2, `bin ${i} track ${track}`)));
  assert.ok(a.plan.bins.some((bin) => Math.abs(a.value(bin.index, 2) - b.value(bin.index, 2)) > 1e-3), 'the replicates differ');
  await expectError(['predict', '--model', ENFORMER, '--model', BORZOI, '--genome', fa, '--region', 'chr1:1-100', '--window-length', '8192', '--out', path('x.tsv')], /models to average must agree/);
});

test('genome: Borzoi uses its config sequence_length and 32 bp bins', { skip }, async () => {
  const h = await handExpected('chr2', 3_000, 9_000, BRZ, BORZOI);
  assert.equal(h.plan.windows.length, 2);
  await ok(['predict', '--model', BORZOI, '--genome', path('g.fa.gz'), '--region', 'chr2:3,001-9,000', '--tracks', '4', '--out', path('bz/')]);
  const f = await readBigWig(path('bz/human_4.bw'), 'chr2');
  assert.deepEqual(f.map((x) => [x.start, x.end]), h.plan.bins.map((b) => [b.start, b.end]));
  f.forEach((x, i) => close(x.score, h.value(h.plan.bins[i]!.index, 4), `bin ${i}`));
});

test('genome: every bad input is one clear line', { skip }, async () => {
  const base = ['predict', '--model', ENFORMER, '--window-length', '8192'];
  const g = ['--genome', fa];
  const out = ['--out', path('e.tsv')];
  await expectError([...base, ...g, '--region', 'chr9:1-100', ...out], /chr9:1-100: unknown chromosome 'chr9' in .*g\.fa \(it has chr1, chr2, chrM\)/);
  await expectError([...base, ...g, '--region', 'chrM:1,000-1,235', ...out], /region runs past the end of chrM \(1,234 bp\)/);
  await expectError([...base, ...g, '--region', 'chr1:5-2', ...out], /end is before start/);
  await expectError([...base, ...g, '--region', 'chr1-5-2', ...out], /no chromosome/);
  await expectError([...base, '--genome', path('nope.fa'), '--region', 'chr1:1-100', ...out], /nope\.fa: cannot read genome \(ENOENT\)/);
  await expectError([...base, '--genome', `${server.url}/nope.2bit`, '--region', 'chr1:1-100', ...out], /nope\.2bit: cannot read genome/);
  await expectError([...base, ...g, '--region', 'chr1:1-100', '--tracks', 'ATAC', ...out], /--tracks ATAC: no track matches/);
  await expectError([...base, ...g, '--region', 'chr1:1-100', '--tracks', '12', ...out], /--tracks 12: no such track index/);
  await expectError([...base, ...g, ...out], /--genome needs --region chr:start-end or --bed FILE/);
  await expectError([...base, ...g, '--region', 'chr1:1-100', '--bed', path('two.bed'), ...out], /give --region or --bed, not both/);
  await expectError([...base, ...g, '--region', 'chr1:1-100', '--out', path('x.csv')], /unknown output kind/);
  await expectError([...base, ...g, '--region', 'chr1:1-100', '--head', 'dog', ...out], /unknown head 'dog' \(the model has: human, mouse\)/);
  await expectError(['predict', '--model', ENFORMER, ...g, '--region', 'chr1:1-100', '--window-length', '8000', ...out], /--window-length has length 8000 bp/);
  await expectError([...base, ...g, '--region', 'chr1:1-100', '--shifts', '0,x', ...out], /--shifts <list>.*comma-separated list of integers/);
  await expectError([...base, ...g, '--region', 'chr1:1-100', '--region', 'chr1:50-300', '--out', path('ov/')], /overlap in their output bins/);
  await expectError(['predict', '--model', 'no-such-model', ...g, '--region', 'chr1:1-100', ...out], /no-such-model: neither a model directory nor a known model name \(known: enformer, /);
  const noWeights = path('no-weights');
  mkdirSync(noWeights);
  copyFileSync(join(ENFORMER, 'config.json'), join(noWeights, 'config.json'));
  await expectError(['predict', '--model', noWeights, ...g, '--region', 'chr1:1-100', ...out], /no-weights: no \*\.safetensors weights file/);
  await expectError(['predict', '--model', ENFORMER, '--model', ENFORMER, '--fasta', fa, '--out', path('f.tsv')], /--fasta takes one --model/);
  await expectError(['predict', '--model', ENFORMER, '--fasta', fa, '--region', 'chr1:1-5', '--out', path('f.tsv')], /--region needs --genome/);
  await expectError(['predict', '--model', ENFORMER, '--out', path('f.tsv')], /give --genome with --region\/--bed, or --fasta/);
  symlinkSync(fa, path('linked.fa'));
  await expectError([...base, '--genome', path('linked.fa'), '--region', 'chr1:1-100', ...out], /linked\.fa\.fai: cannot read FASTA index/);
});

test("genome: the README's first command runs (its --out redirected to a temporary directory)", { skip }, async () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const first = /```sh\n([^\n]+)\n/.exec(readme)![1]!;
  const m = /^npm install && npx seq2track (.+)$/.exec(first);
  assert.ok(m, `first README command: ${first}`);
  const args = m[1]!.split(' ').map((a) => a.replace(/^\.\.\/shared\/fixtures\/enformer-small$/, ENFORMER).replace(/^examples\//, join(REPO_ROOT, 'examples') + '/'));
  const outAt = args.indexOf('--out');
  args[outAt + 1] = path('readme-tracks/');
  assert.equal(args[args.indexOf('--genome') + 1], join(REPO_ROOT, 'examples', 'genome.fa'));
  await ok(args);
  assert.deepEqual(readdirSync(path('readme-tracks')).sort(), ['human_0.bw', 'human_1.bw', 'human_2.bw', 'human_3.bw']);
});
