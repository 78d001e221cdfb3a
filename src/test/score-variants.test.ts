/**
 * `seq2track score-variants` end to end on a random genome and a VCF written here: scores checked
 * against `predict --fasta` on ref and alt windows cut by hand (an independent path for windows,
 * indel rule and statistics), incremental against --brute-force, REF mismatches, resume after
 * SIGKILL, shards + merge, gzip / bgzip + tabix input, Snakemake, bad inputs; and the window builder
 * and statistics as units.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SafetensorsFile } from '../weights/safetensors.js';
import { altWindow, diffRange, variantWindows, windowStart } from '../tasks/variants/windows.js';
import { variantStats } from '../tasks/variants/scorer.js';
import { shardRange } from '../tasks/variants/score-vcf.js';
import { formatScore } from '../formats/score-tsv.js';
import { CLI, fixture, REPO_ROOT, skipUnless, tempDir, runCli, assertCliError, assertCliOk } from './fixtures.js';
import { withH5File } from './h5-files.js';
import { memoryReference, randomGenome, writeFastaFai } from './genome-files.js';
import { writeBgzipTabix } from './vcf-files.js';

const skip = skipUnless('enformer-small');
const ENFORMER = fixture('enformer-small') ?? '';
const L = 8192;
const H = L / 2;
const BINS = 32;
const TRACKS = 12;
const SIZES = { chr1: 30_001, chr2: 20_077 };
const genome = randomGenome(SIZES, 7);
let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
let n = 0;

const upper = (chrom: string, a: number, b: number) => Array.from({ length: b - a }, (_, i) => (genome.get(chrom)![a + i] ?? 'N').toUpperCase()).join('');
const base = (chrom: string, pos: number) => upper(chrom, pos - 1, pos);
const other = (b: string, k = 1) => 'ACGT'[('ACGT'.indexOf(b) + k) % 4]!;

interface Row {
  chrom: string;
  pos: number;
  id: string;
  ref: string;
  alt: string;
}
/** The test VCF's records; `rows` are the variants that get scored, in order. */
const records: string[] = [];
const rows: Row[] = [];
function add(chrom: string, pos: number, id: string, ref: string, alts: string[], scored: string[] = alts) {
  records.push(`${chrom}\t${pos}\t${id}\t${ref}\t${alts.join(',')}\t.\tPASS\tDP=10`);
  for (const alt of scored) rows.push({ chrom, pos, id, ref, alt });
}

const ARGS = () => ['--model', ENFORMER, '--genome', path('g.fa'), '--window-length', String(L)];

const run = (args: string[]) => runCli(args, { SEQ2TRACK_CACHE: join(tmp.dir, 'cache') });

const ok = async (args: string[]) => assertCliOk(await run(args));

async function expectError(args: string[], pattern: RegExp) {
  assertCliError(await run(args), pattern, args.join(' '));
}

function parseTsv(file: string) {
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.equal(lines[0], 'chrom\tpos\tid\tref\talt\ttrack\tSAD\tSAR\tD2\tSAX');
  return lines.slice(1).map((l) => {
    const f = l.split('\t');
    return { chrom: f[0]!, pos: Number(f[1]), id: f[2]!, ref: f[3]!, alt: f[4]!, track: f[5]!, SAD: Number(f[6]), SAR: Number(f[7]), D2: Number(f[8]), SAX: Number(f[9]) };
  });
}

/** The documented window rule, written again here from docs/variants.md. */
function handWindows(r: Row) {
  const pos0 = r.pos - 1;
  const ws = pos0 - H;
  const ref = upper(r.chrom, ws, ws + L);
  const alt = (upper(r.chrom, ws, pos0) + r.alt + upper(r.chrom, pos0 + r.ref.length, pos0 + r.ref.length + L)).slice(0, L);
  return { ref, alt };
}

before(() => {
  tmp = tempDir('seq2track-variants-');
  writeFastaFai(path('g.fa'), genome);
  const c1 = (p: number) => base('chr1', p);
  add('chr1', 150, 'near_start', c1(150), [other(c1(150))]);
  add('chr1', 5_000, 'multi', c1(5_000), [other(c1(5_000), 1), other(c1(5_000), 2), '*'], [other(c1(5_000), 1), other(c1(5_000), 2)]);
  add('chr1', 12_000, 'ins', c1(12_000), [c1(12_000) + 'GATTACA']);
  add('chr1', 15_000, 'del', upper('chr1', 14_999, 15_005), [c1(15_000)]);
  records.push(`chr1\t18000\tmismatch\t${other(c1(18_000))}\t${other(c1(18_000), 2)}\t.\t.\t.`);
  add('chr1', 21_100, 'softmasked', c1(21_100), [other(c1(21_100), 3)]);
  add('chr1', 25_000, 'mnv', upper('chr1', 24_999, 25_001), [other(c1(25_000)) + other(c1(25_001))]);
  add('chr2', 4_000, 'rs2a', base('chr2', 4_000), [other(base('chr2', 4_000))]);
  add('chr2', 20_070, 'near_end', base('chr2', 20_070), [other(base('chr2', 20_070), 2)]);
  const header = '##fileformat=VCFv4.2\n##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">\n##contig=<ID=chr1,length=30001>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n';
  writeFileSync(path('v.vcf'), header + records.join('\n') + '\n');
  assert.equal(genome.get('chr1')!.slice(21_099, 21_100), genome.get('chr1')!.slice(21_099, 21_100).toLowerCase(), 'the softmasked SNV is in lower case');
});

after(() => tmp.cleanup());

test('variants: window rule on small strings (SNV, insertion, deletion, chromosome ends)', async () => {
  assert.equal(windowStart(10, 8), 6);
  // left flank = 4 reference bases; ALT at index 4; right flank follows, cut to 8.
  assert.equal(altWindow('ACGT', 'G', 'TTAAC', 8), 'ACGTGTTA');
  assert.equal(altWindow('ACGT', 'GCCCCC', 'TTAAC', 8), 'ACGTGCCC');
  assert.equal(altWindow('ACGT', 'G', 'TTAACC', 8), 'ACGTGTTA');
  // A fake genome "chrT" = 0123456789 mapped to bases, N past the ends.
  const seq = 'ACGTACGTTGCA';
  const ref = memoryReference('chrT', seq);
  // SNV at pos0 5 (C): window [1, 9)
  let w = await variantWindows(ref, 'chrT', 5, 'C', ['T'], 8);
  assert.deepEqual(w, { ref: 'CGTACGTT', refStart: 1, genomeRef: 'C', alts: ['CGTATGTT'] });
  // Insertion C>CAA at pos0 5: right flank pushed out, cut at the right end.
  w = await variantWindows(ref, 'chrT', 5, 'C', ['CAA'], 8);
  assert.equal(w.alts[0], 'CGTACAAG');
  // Deletion CGT>C at pos0 5: two more reference bases pulled in on the right.
  w = await variantWindows(ref, 'chrT', 5, 'CGT', ['C'], 8);
  assert.equal(w.alts[0], 'CGTACTGC');
  // Near the ends: N padding on both sides.
  w = await variantWindows(ref, 'chrT', 1, 'C', ['A'], 8);
  assert.equal(w.ref, 'NNNACGTA');
  assert.equal(w.alts[0], 'NNNAAGTA');
  w = await variantWindows(ref, 'chrT', 10, 'CA', ['C'], 8);
  assert.deepEqual([w.ref, w.alts[0]], ['GTTGCANN', 'GTTGCNNN']);
  assert.deepEqual(diffRange('AAAA', 'AACA'), [2, 3]);
  assert.equal(diffRange('AAAA', 'AAAA'), undefined);
});

test('variants: statistics, number format and shard ranges', () => {
  // 3 bins, 2 tracks.
  const ref = [1, 0, 2, 0, 3, 1];
  const alt = [1, 0.5, 5, 0, 2, 1];
  const s = variantStats(ref, alt, 3, 2);
  assert.deepEqual([...s.SAD], [2, 0.5]);
  assert.ok(Math.abs(s.SAR[0]! - (Math.log2(9) - Math.log2(7))) < 1e-6);
  assert.ok(Math.abs(s.D2[0]! - Math.sqrt(10)) < 1e-6);
  assert.deepEqual([...s.SAX], [3, 0.5]);
  assert.equal(formatScore(Math.fround(0.1)), '0.1');
  assert.equal(formatScore(-1.234567891e-7), '-1.234568e-7');
  assert.deepEqual([1, 2, 3].map((i) => shardRange(10, 2, { index: i, count: 3 })), [[0, 2], [2, 6], [6, 10]]);
  assert.deepEqual(shardRange(3, 4, { index: 1, count: 2 }), [0, 0]);
  assert.deepEqual(shardRange(3, 4, { index: 2, count: 2 }), [0, 3]);
});

test('variants: SAD/SAR/D2/SAX equal predict --fasta on hand-cut windows; incremental equals brute force; mismatches skipped', { skip }, async () => {
  const r = await ok(['score-variants', ...ARGS(), '--vcf', path('v.vcf'), '--out', path('s.tsv'), '--batch-size', '3']);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('seq2track: warning:'));
  assert.equal(warnings.length, 2, r.stderr);
  assert.match(warnings.find((w) => /mismatch/.test(w))!, /v\.vcf:9: chr1:18000 mismatch [ACGT]>[ACGT]: REF [ACGT] does not match the genome \([ACGT]\); skipped$/);
  assert.match(warnings.find((w) => /multi/.test(w))!, /v\.vcf:6: chr1:5000 multi [ACGT]>\*: the '\*' allele .*; skipped$/);
  assert.match(r.stderr, /scored 9 variants from 9 VCF records, 2 skipped × 12 tracks of human/);
  const got = parseTsv(path('s.tsv'));
  assert.equal(got.length, rows.length * TRACKS);

  const windows = rows.flatMap((v) => {
    const w = handWindows(v);
    return [w.ref, w.alt];
  });
  writeFileSync(path('hand.fa'), windows.map((s, i) => `>w${i}\n${s}\n`).join(''));
  await ok(['predict', '--model', ENFORMER, '--fasta', path('hand.fa'), '--heads', 'human', '--out', path('hand.safetensors')]);
  const out = (await SafetensorsFile.open(path('hand.safetensors'))).readFloat32('human');
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 2e-4 + 1e-4 * Math.abs(b), `${what}: ${a} vs ${b}`);
  rows.forEach((v, i) => {
    for (let t = 0; t < TRACKS; t++) {
      let sr = 0;
      let sa = 0;
      let sq = 0;
      let sax = 0;
      for (let b = 0; b < BINS; b++) {
        const rv = out[((2 * i) * BINS + b) * TRACKS + t]!;
        const av = out[((2 * i + 1) * BINS + b) * TRACKS + t]!;
        sr += rv;
        sa += av;
        sq += (av - rv) ** 2;
        if (Math.abs(av - rv) > Math.abs(sax)) sax = av - rv;
      }
      const row = got[i * TRACKS + t]!;
      assert.deepEqual([row.chrom, row.pos, row.id, row.ref, row.alt, row.track], [v.chrom, v.pos, v.id, v.ref, v.alt, `human_${t}`]);
      const what = `${v.id} ${v.ref}>${v.alt} track ${t}`;
      close(row.SAD, sa - sr, `${what} SAD`);
      close(row.SAR, Math.log2(1 + sa) - Math.log2(1 + sr), `${what} SAR`);
      close(row.D2, Math.sqrt(sq), `${what} D2`);
      close(row.SAX, sax, `${what} SAX`);
    }
  });
  assert.ok(got.some((g) => Math.abs(g.SAD) > 1e-3), 'variants change the prediction');

  // The incremental path (default) against two full passes, and against another batch size.
  await ok(['score-variants', ...ARGS(), '--vcf', path('v.vcf'), '--out', path('bf.tsv'), '--brute-force']);
  const bf = parseTsv(path('bf.tsv'));
  assert.equal(bf.length, got.length);
  got.forEach((g, i) => {
    for (const s of ['SAD', 'SAR', 'D2', 'SAX'] as const) assert.ok(Math.abs(g[s] - bf[i]![s]) <= 1e-5 * Math.max(1, Math.abs(bf[i]![s])), `${s} row ${i}: ${g[s]} vs ${bf[i]![s]}`);
  });
  await ok(['score-variants', ...ARGS(), '--vcf', path('v.vcf'), '--out', path('b1.tsv')]);
  parseTsv(path('b1.tsv')).forEach((g, i) => assert.ok(Math.abs(g.SAD - got[i]!.SAD) <= 1e-5 * Math.max(1, Math.abs(g.SAD))));

  // --strict stops at the mismatch.
  await expectError(['score-variants', ...ARGS(), '--vcf', path('v.vcf'), '--out', path('strict.tsv'), '--strict'], /v\.vcf:6: chr1:5000 multi [ACGT]>\*: the '\*' allele .*\(--strict\)/);
});

test('variants: --rc, --shifts and two replicates average ref and alt predictions before scoring', { skip }, async () => {
  const v = rows[0]!;
  const { ref, alt } = handWindows(v);
  const comp: Record<string, string> = { A: 'T', C: 'G', G: 'C', T: 'A' };
  const rc = (s: string) => [...s].reverse().map((c) => comp[c] ?? 'N').join('');
  const shift = (s: string, k: number) => (k > 0 ? 'N'.repeat(k) + s.slice(0, s.length - k) : k < 0 ? s.slice(-k) + 'N'.repeat(-k) : s);
  const seqs = [ref, alt].flatMap((w) => [0, 1].flatMap((k) => [shift(w, k), rc(shift(w, k))]));
  writeFileSync(path('ens.fa'), seqs.map((s, i) => `>e${i}\n${s}\n`).join(''));
  await ok(['predict', '--model', ENFORMER, '--fasta', path('ens.fa'), '--heads', 'human', '--out', path('ens.safetensors')]);
  const out = (await SafetensorsFile.open(path('ens.safetensors'))).readFloat32('human');
  const sum = (allele: number, t: number) => {
    let s = 0;
    for (let m = 0; m < 4; m++) {
      const item = allele * 4 + m;
      for (let b = 0; b < BINS; b++) s += out[(item * BINS + b) * TRACKS + t]!; // unstranded tracks: flip and swap leave the sum
    }
    return s / 4;
  };
  writeFileSync(path('one.vcf'), `#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n${records[0]}\n`);
  // The same model twice: the mean of identical replicates is the single model's.
  await ok(['score-variants', ...ARGS(), '--model', ENFORMER, '--vcf', path('one.vcf'), '--out', path('ens.tsv'), '--rc', '--shifts', '0,1', '--tracks', '2,7']);
  const got = parseTsv(path('ens.tsv'));
  [2, 7].forEach((t, k) => {
    const sad = sum(1, t) - sum(0, t);
    assert.ok(Math.abs(got[k]!.SAD - sad) <= 2e-4 + 1e-4 * Math.abs(sad), `track ${t}: ${got[k]!.SAD} vs ${sad}`);
    assert.equal(got[k]!.track, `human_${t}`);
  });
});

test('variants: a run killed with SIGKILL and resumed writes the same bytes as an uninterrupted run', { skip }, async () => {
  // 90 SNVs on chr1 before its N run.
  const lines = ['#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO'];
  for (let i = 0; i < 90; i++) {
    const pos = 100 + i * 95;
    lines.push(`chr1\t${pos}\tv${i}\t${base('chr1', pos)}\t${other(base('chr1', pos), 1 + (i % 3))}\t.\t.\t.`);
  }
  writeFileSync(path('many.vcf'), lines.join('\n') + '\n');
  const args = ['score-variants', ...ARGS(), '--vcf', path('many.vcf'), '--tracks', '0-3', '--batch-size', '2'];
  await ok([...args, '--out', path('full.tsv')]);
  const full = readFileSync(path('full.tsv'));

  const out = path('killed.tsv');
  const partial = `${out}.partial`;
  const child = spawn(process.execPath, [CLI, ...args, '--out', out], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const started = Date.now();
  while (Date.now() - started < 20_000) {
    await new Promise((r) => setTimeout(r, 10));
    if (existsSync(partial) && statSync(partial).size > full.length / 3) break;
  }
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(`${out}.progress`), 'killed part-way: the progress file is there');
  assert.ok(!existsSync(out), 'nothing under the final name before the run completes');
  const size = statSync(partial).size;
  assert.ok(size > 0 && size < full.length, `partial file (${size} of ${full.length} bytes)`);

  // Another command on the unfinished file is refused, naming what differs.
  await expectError([...args.map((a) => (a === '0-3' ? '0-4' : a)), '--out', out], /killed\.tsv: an unfinished run with other arguments \(--tracks differ\)/);
  const r = await ok([...args, '--out', out]);
  assert.match(r.stderr, /resuming .*killed\.tsv after \d+ records/);
  assert.ok(readFileSync(out).equals(full), 'resumed output is byte-identical');
  assert.ok(!existsSync(`${out}.progress`) && !existsSync(partial), 'the progress and partial files are gone at the end');
});

test('variants: shards merged equal the unsharded run; gzip and bgzip+tabix input with --region', { skip }, async () => {
  const args = ['score-variants', ...ARGS(), '--tracks', '0,5', '--batch-size', '2'];
  await ok([...args, '--vcf', path('v.vcf'), '--out', path('all.tsv')]);
  const shards = [1, 2, 3].map((i) => path(`part${i}.tsv`));
  for (const [i, s] of shards.entries()) {
    const r = await ok([...args, '--vcf', path('v.vcf'), '--shard', `${i + 1}/3`, '--out', s]);
    assert.match(r.stderr, new RegExp(`shard ${i + 1}/3: scored`));
  }
  const m = await ok(['merge', path('merged.tsv'), ...shards]);
  assert.match(m.stderr, /merged 3 shards \(\d+ rows\)/);
  assert.ok(readFileSync(path('merged.tsv')).equals(readFileSync(path('all.tsv'))), 'merged shards are byte-identical');

  // gzip (one member) streams like the plain file.
  writeFileSync(path('v.vcf.gz'), gzipSync(readFileSync(path('v.vcf'))));
  await ok([...args, '--vcf', path('v.vcf.gz'), '--out', path('gz.tsv')]);
  assert.ok(readFileSync(path('gz.tsv')).equals(readFileSync(path('all.tsv'))));

  // bgzip + .tbi: regions read through the index equal the streamed filter of the plain file.
  writeBgzipTabix(path('t.vcf.gz'), readFileSync(path('v.vcf'), 'utf8'));
  const regions = ['--region', 'chr1:4,000-16,000', '--region', 'chr2:1-5,000', '--region', 'chr1:14,000-15,000'];
  await ok([...args, '--vcf', path('v.vcf'), ...regions, '--out', path('reg-plain.tsv')]);
  await ok([...args, '--vcf', path('t.vcf.gz'), ...regions, '--out', path('reg-tbi.tsv')]);
  const plain = readFileSync(path('reg-plain.tsv'), 'utf8');
  assert.equal(readFileSync(path('reg-tbi.tsv'), 'utf8'), plain);
  assert.deepEqual([...new Set(parseTsv(path('reg-tbi.tsv')).map((r) => r.id))], ['multi', 'ins', 'del', 'rs2a']);
  // Without regions the bgzip file streams whole (multi-member gzip).
  await ok([...args, '--vcf', path('t.vcf.gz'), '--out', path('tbi-all.tsv')]);
  assert.ok(readFileSync(path('tbi-all.tsv')).equals(readFileSync(path('all.tsv'))));
  // Indexes made by htslib's tabix, .tbi and .csi, when it is installed.
  if (spawnSync('tabix', ['--version']).status === 0) {
    for (const [name, flag] of [['h.vcf.gz', '-p'], ['c.vcf.gz', '-C']] as const) {
      copyFileSync(path('t.vcf.gz'), path(name));
      const t = spawnSync('tabix', flag === '-C' ? ['-C', '-p', 'vcf', path(name)] : ['-p', 'vcf', path(name)]);
      assert.equal(t.status, 0, String(t.stderr));
      await ok([...args, '--vcf', path(name), ...regions, '--out', path(`${name}.tsv`)]);
      assert.equal(readFileSync(path(`${name}.tsv`), 'utf8'), plain, `${name} (${flag})`);
    }
  }
});

test('variants: --out X.parquet and X.h5 hold the TSV scores (float32)', { skip }, async () => {
  const args = ['score-variants', ...ARGS(), '--tracks', '0,5', '--vcf', path('v.vcf')];
  await ok([...args, '--out', path('fmt.tsv')]);
  await ok([...args, '--out', path('fmt.parquet')]);
  await ok([...args, '--out', path('fmt.h5')]);
  const tsv = parseTsv(path('fmt.tsv'));
  // The TSV prints 7 significant digits; the binary outputs hold float32.
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(path('fmt.parquet')) })) as Record<string, unknown>[];
  assert.equal(rows.length, tsv.length);
  rows.forEach((r, i) => {
    const t = tsv[i]!;
    assert.deepEqual([r.chrom, Number(r.pos), r.id, r.ref, r.alt, r.track], [t.chrom, t.pos, t.id, t.ref, t.alt, t.track]);
    for (const k of ['SAD', 'SAR', 'D2', 'SAX'] as const) near(Number(r[k]), t[k], `parquet ${k} row ${i}`);
  });

  await withH5File(path('fmt.h5'), (dataset) => {
    const tracks = [...new Set(tsv.map((t) => t.track))];
    const sad = dataset('SAD');
    assert.deepEqual(sad.shape, [tsv.length / tracks.length, tracks.length]);
    assert.deepEqual(dataset('target_ids').value, tracks);
    for (const k of ['SAD', 'SAR', 'D2', 'SAX'] as const) {
      const values = dataset(k).value as Float32Array;
      tsv.forEach((t, i) => near(values[i]!, t[k], `h5 ${k} row ${i}`));
    }
    assert.deepEqual(Array.from(dataset('pos').value as Uint32Array), tsv.filter((_, i) => i % tracks.length === 0).map((t) => t.pos));
  });
  // h5py (Debian python3-h5py), as the official scores are read: byte strings, uint32, [variants, targets].
  const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import h5py']).status === 0);
  if (python) {
    const script = "import h5py, json, sys; f = h5py.File(sys.argv[1], 'r'); print(json.dumps({k: [f[k].dtype.str, list(f[k].shape)] for k in f}))";
    const r = spawnSync(python, ['-c', script, path('fmt.h5')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const layout = JSON.parse(r.stdout) as Record<string, [string, number[]]>;
    const n = tsv.length / 2;
    for (const k of ['snp', 'chr', 'ref', 'alt']) assert.match(layout[k]![0], /^\|S\d+$/, k);
    assert.deepEqual(layout.pos, ['<u4', [n]]);
    assert.deepEqual(layout.target_ids![1], [2]);
    for (const k of ['SAD', 'SAR', 'D2', 'SAX']) assert.deepEqual(layout[k], ['<f4', [n, 2]], k);
  }
});

test('variants: the Snakemake workflow fans out shards and merges them', { skip: skip || (spawnSync('snakemake', ['--version']).status === 0 ? false : 'snakemake is not on PATH (apt-get install snakemake)') }, async () => {
  const cfg = [
    `seq2track: "${process.execPath} ${CLI}"`,
    `model: ${ENFORMER}`,
    `genome: ${path('g.fa')}`,
    `vcf: ${path('v.vcf')}`,
    `out: ${path('smk/scores.tsv')}`,
    'shards: 3',
    'threads: 1',
    `args: "--window-length ${L} --tracks 0,5 --batch-size 2"`,
  ];
  writeFileSync(path('smk.yaml'), cfg.join('\n') + '\n');
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('snakemake', ['-s', join(REPO_ROOT, 'workflows', 'score-variants.smk'), '--cores', '2', '--configfile', path('smk.yaml'), '--directory', tmp.dir, '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
  assert.equal(r.code, 0, r.out);
  if (!existsSync(path('all.tsv'))) await ok(['score-variants', ...ARGS(), '--tracks', '0,5', '--batch-size', '2', '--vcf', path('v.vcf'), '--out', path('all.tsv')]);
  assert.ok(readFileSync(path('smk/scores.tsv')).equals(readFileSync(path('all.tsv'))), 'the workflow output equals the unsharded run');
});

test('variants: bad inputs are one clear line', { skip }, async () => {
  const sv = ['score-variants', ...ARGS()];
  const out = ['--out', path('e.tsv')];
  await expectError([...sv, '--vcf', path('nope.vcf'), ...out], /nope\.vcf: cannot read VCF \(ENOENT\)/);
  writeFileSync(path('badpos.vcf'), '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\tx\t.\tA\tC\t.\t.\t.\n');
  await expectError([...sv, '--vcf', path('badpos.vcf'), ...out], /badpos\.vcf:2: POS must be a positive integer \(found "x"\)/);
  writeFileSync(path('short.vcf'), '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t5\t.\n');
  await expectError([...sv, '--vcf', path('short.vcf'), ...out], /short\.vcf:2: expected at least 5 tab-separated columns/);
  writeFileSync(path('badref.vcf'), '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t5\t.\tAXC\tC\t.\t.\t.\n');
  await expectError([...sv, '--vcf', path('badref.vcf'), ...out], /badref\.vcf:2: REF must be bases A, C, G, T or N \(found "AXC"\)/);
  writeFileSync(path('hdr.vcf'), '#CHROM\tPOS\tID\tREF\tALT\nchr1\t5\t.\tA\tC\n');
  await expectError([...sv, '--vcf', path('hdr.vcf'), ...out], /hdr\.vcf: bad VCF header \(VCF header missing columns/);
  writeFileSync(path('badgz.vcf.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5]));
  await expectError([...sv, '--vcf', path('badgz.vcf.gz'), ...out], /badgz\.vcf\.gz: cannot decompress/);
  writeFileSync(path('chr9.vcf'), '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr9\t5\t.\tA\tC\t.\t.\t.\n');
  await expectError([...sv, '--vcf', path('chr9.vcf'), '--strict', ...out], /chr9\.vcf:2: chr9:5 \. A>C: chromosome 'chr9' is not in the genome .*\(--strict\)/);
  await expectError([...sv, '--vcf', path('v.vcf'), '--out', path('x.csv')], /--out .*x\.csv: unknown output kind \(X\.tsv, X\.parquet or X\.h5\)/);
  await expectError([...sv, '--vcf', path('v.vcf'), '--shard', '4/3', ...out], /--shard "4\/3": expected i\/N with 1 ≤ i ≤ N/);
  await expectError([...sv, '--vcf', path('v.vcf'), '--shard', '0/3', ...out], /expected i\/N/);
  await expectError([...sv, '--vcf', path('v.vcf'), '--region', 'chr1:1-5', '--bed', path('x.bed'), ...out], /give --region or --bed, not both/);
  await expectError([...sv, '--vcf', path('v.vcf'), '--head', 'dog', ...out], /unknown head 'dog'/);
  await expectError([...sv, '--vcf', path('v.vcf'), '--tracks', '99', ...out], /--tracks 99: no such track index/);
  await expectError(['score-variants', '--model', ENFORMER, '--genome', path('g.fa'), ...out], /required option '--vcf <file\|url>' not specified/);
  await expectError(['merge', path('m.tsv'), path('nope.tsv')], /nope\.tsv: cannot read shard \(ENOENT\)/);
  await expectError(['merge', path('m.tsv'), path('v.vcf')], /v\.vcf: not a score-variants TSV/);
  writeFileSync(path('unfinished.tsv'), 'chrom\tpos\tid\tref\talt\ttrack\tSAD\tSAR\tD2\tSAX\n');
  writeFileSync(path('unfinished.tsv.progress'), '{}');
  await expectError(['merge', path('m.tsv'), path('unfinished.tsv')], /unfinished\.tsv: unfinished \(.*\.progress exists\); finish that shard first/);
  n++;
});
