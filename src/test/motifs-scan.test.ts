/**
 * FIMO-style scanning: exact p-values against enumeration of all 4^w words, planted sites on both
 * strands, Benjamini–Hochberg q-values, the MEME reader (and its errors) and writer, and
 * `seq2track motifs scan` end to end (FASTA and genome + BED).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, withTempDir } from './fixtures.js';
import { formatMeme, MotifFormatError, parseMeme, parseBackground } from '../motifs/meme-format.js';
import { applyPseudocount, benjaminiHochberg, buildScoreMatrix, formatG, nint, prepareMotif, rawScore, scanSequences, symmetricBackground, type SequenceRecord } from '../motifs/scan.js';
import { reverseComplement, type Motif } from '../motifs/motif.js';
import { randomMotif, rng } from './motif-fixtures.js';

function randomSequence(n: number, random: () => number, bg = [0.25, 0.25, 0.25, 0.25]): string {
  let s = '';
  for (let i = 0; i < n; i += 1) {
    const u = random();
    s += u < bg[0]! ? 'A' : u < bg[0]! + bg[1]! ? 'C' : u < bg[0]! + bg[1]! + bg[2]! ? 'G' : 'T';
  }
  return s;
}

function consensusOf(m: Motif): string {
  let s = '';
  for (let i = 0; i < m.length; i += 1) {
    let best = 0;
    for (let b = 1; b < 4; b += 1) if (m.probabilities[i * 4 + b]! > m.probabilities[i * 4 + best]!) best = b;
    s += 'ACGT'[best];
  }
  return s;
}

const rcText = (s: string) => [...s].reverse().map((c) => ({ A: 'T', C: 'G', G: 'C', T: 'A' })[c as 'A']).join('');

test('p-values equal exact enumeration over all 4^w words (w = 3…7, non-uniform background)', () => {
  const random = rng(7);
  const background = [0.35, 0.15, 0.2, 0.3];
  let worst = 0;
  for (const w of [3, 4, 5, 6, 7]) {
    const motif = randomMotif(`m${w}`, w, random);
    const matrix = buildScoreMatrix(applyPseudocount(motif, background), w, background);
    // Enumerate every word: its integer score and probability.
    const mass = new Float64Array(matrix.pValues.length);
    const words = 4 ** w;
    let total = 0;
    const realScores: { score: number; p: number }[] = [];
    for (let code = 0; code < words; code += 1) {
      let s = 0;
      let p = 1;
      let raw = 0;
      for (let j = 0, c = code; j < w; j += 1, c = Math.floor(c / 4)) {
        const b = c % 4;
        s += matrix.scaled[j * 4 + b]!;
        raw += matrix.logOdds[j * 4 + b]!;
        p *= background[b]!;
      }
      mass[s] = mass[s]! + p;
      total += p;
      realScores.push({ score: raw, p });
    }
    assert.ok(Math.abs(total - 1) < 1e-12);
    let tail = 0;
    for (let s = mass.length - 1; s >= 0; s -= 1) {
      tail += mass[s]!;
      const want = Math.min(1, tail);
      const got = matrix.pValues[s]!;
      const rel = want === 0 ? got : Math.abs(got - want) / want;
      worst = Math.max(worst, rel);
      assert.ok(rel < 1e-10, `w=${w} score ${s}: DP ${got} vs enumeration ${want}`);
    }
    // The reported score maps the integer sum back to bits: within w rounding steps of the true log-odds.
    for (let code = 0; code < Math.min(words, 2000); code += 1) {
      let s = 0;
      for (let j = 0, c = code; j < w; j += 1, c = Math.floor(c / 4)) s += matrix.scaled[j * 4 + (c % 4)]!;
      assert.ok(Math.abs(rawScore(matrix, s) - realScores[code]!.score) <= (w * 0.5) / matrix.scale + 1e-9);
    }
  }
  assert.ok(worst < 1e-10);
});

test('pseudocount, scaling and rounding follow the MEME suite rules', () => {
  const motif: Motif = { id: 'x', probabilities: Float64Array.of(1, 0, 0, 0, 0, 0.5, 0.5, 0), length: 2, sites: 10 };
  const bg = [0.4, 0.1, 0.1, 0.4];
  const p = applyPseudocount(motif, bg, 0.1);
  assert.ok(Math.abs(p[0]! - (10 + 0.04) / 10.1) < 1e-15);
  assert.ok(Math.abs(p[1]! - 0.01 / 10.1) < 1e-15);
  // nsites missing: 20 sites.
  const q = applyPseudocount({ ...motif, sites: undefined }, bg, 0.1);
  assert.ok(Math.abs(q[1]! - 0.01 / 20.1) < 1e-15);
  assert.equal(nint(2.5), 3);
  assert.equal(nint(-2.5), -3);
  const m = buildScoreMatrix(p, 2, bg);
  assert.equal(Math.min(...m.scaled), 0);
  assert.equal(Math.max(...m.scaled), 1000);
  assert.deepEqual([...symmetricBackground([0.3, 0.2, 0.1, 0.4])].map((v) => +v.toFixed(12)), [0.35, 0.15, 0.15, 0.35]);
});

test('planted sites are found on both strands with the right coordinates; q-values are Benjamini–Hochberg', async () => {
  const random = rng(11);
  const motifs = [randomMotif('MA', 12, random, 1.5), randomMotif('MB', 10, random, 1.5)];
  const records: SequenceRecord[] = [];
  const planted: { motif: string; name: string; start: number; strand: '+' | '-' }[] = [];
  for (let r = 0; r < 4; r += 1) {
    let s = randomSequence(3000, random);
    for (const [k, m] of motifs.entries()) {
      for (const strand of ['+', '-'] as const) {
        const at = 200 + r * 17 + k * 1200 + (strand === '-' ? 600 : 0);
        const site = strand === '+' ? consensusOf(m) : rcText(consensusOf(m));
        s = s.slice(0, at) + site + s.slice(at + m.length);
        planted.push({ motif: m.id, name: `r${r}`, start: at + 1, strand });
      }
    }
    records.push({ name: `r${r}`, sequence: s });
  }
  const result = await scanSequences(motifs, records, { background: [0.25, 0.25, 0.25, 0.25] });
  for (const p of planted) {
    const hit = result.hits.find((h) => h.motifId === p.motif && h.sequenceName === p.name && h.start === p.start && h.strand === p.strand);
    assert.ok(hit, `planted ${p.motif} at ${p.name}:${p.start} ${p.strand} not found`);
    const m = motifs.find((x) => x.id === p.motif)!;
    assert.equal(hit.stop, p.start + m.length - 1);
    assert.equal(hit.matched, consensusOf(m));
    assert.ok(hit.pValue < 1e-6, `p ${hit.pValue}`);
    assert.ok(hit.qValue < 0.01, `q ${hit.qValue}`);
  }
  // Scored windows: every window on both strands.
  assert.deepEqual(result.scoredWindows, motifs.map((m) => 4 * (3000 - m.length + 1) * 2));
  // q-values: BH of each motif's hits out of its scored windows, monotone in p.
  for (const [k, m] of motifs.entries()) {
    const hits = result.hits.filter((h) => h.motifId === m.id);
    const sorted = [...hits].sort((a, b) => a.pValue - b.pValue);
    const N = result.scoredWindows[k]!;
    for (let r = 0; r < sorted.length; r += 1) {
      let want = 1;
      for (let r2 = r; r2 < sorted.length; r2 += 1) want = Math.min(want, (sorted[r2]!.pValue * N) / (r2 + 1));
      assert.ok(Math.abs(sorted[r]!.qValue - Math.min(1, want)) < 1e-15);
    }
  }
  // The reverse-strand score equals the forward score of the reverse-complement motif on the same window.
  const minus = result.hits.find((h) => h.strand === '-')!;
  const rcm = prepareMotif(reverseComplement(motifs.find((m) => m.id === minus.motifId)!), result.background, { bothStrands: false });
  const fw = await scanSequences([reverseComplement(motifs.find((m) => m.id === minus.motifId)!)], records, { background: result.background, bothStrands: false, threshold: 1 });
  const same = fw.hits.find((h) => h.sequenceName === minus.sequenceName && h.start === minus.start)!;
  assert.equal(same.score, minus.score);
  assert.ok(rcm.forward.width > 0);
  // Windows holding N are skipped.
  const withN = await scanSequences([motifs[0]!], [{ name: 'n', sequence: `${consensusOf(motifs[0]!).slice(0, 5)}N${consensusOf(motifs[0]!).slice(6)}` }], { background: [0.25, 0.25, 0.25, 0.25], threshold: 1 });
  assert.equal(withN.hits.length, 0);
  assert.deepEqual(withN.scoredWindows, [0]);
});

test('benjaminiHochberg: hand-computed values', () => {
  assert.deepEqual(benjaminiHochberg([0.01, 0.04, 0.03, 0.5], 4).map((q) => +q.toFixed(10)), [0.04, 0.0533333333, 0.0533333333, 0.5]);
  // Out of 100 tests with only two given.
  assert.deepEqual(benjaminiHochberg([1e-4, 1e-3], 100).map((q) => +q.toFixed(10)), [0.01, 0.05]);
  assert.equal(formatG(2.82237e-7), '2.82237e-07');
  assert.equal(formatG(11.06214, 6), '11.0621');
  assert.equal(formatG(0.000244140625, 3), '0.000244');
  assert.equal(formatG(1, 3), '1');
});

const MEME_TEXT = `MEME version 4

ALPHABET= ACGT

strands: + -

Background letter frequencies
A 0.30 C 0.20 G 0.20 T 0.30

MOTIF MA0001.1 AGL3
letter-probability matrix: alength= 4 w= 3 nsites= 97 E= 0
  0.000000	  0.968750	  0.000000	  0.031250
  0.000000	  0.968750	  0.000000	  0.031250
  0.656250	  0.000000	  0.031250	  0.312500
URL http://jaspar.genereg.net/matrix/MA0001.1

MOTIF second
letter-probability matrix: alength= 4 w= 2 E= 1.2e-005
0.25 0.25 0.25 0.25
0.1 0.2 0.3 0.4
`;

test('MEME reader: header, background, motifs with alt names, nsites, URL; the writer round-trips', () => {
  const f = parseMeme(MEME_TEXT, 'db.meme');
  assert.equal(f.version, '4');
  assert.deepEqual(f.strands, ['+', '-']);
  assert.deepEqual([...f.background!].map((v) => +v.toFixed(6)), [0.3, 0.2, 0.2, 0.3]);
  assert.equal(f.motifs.length, 2);
  const [a, b] = f.motifs;
  assert.equal(a!.id, 'MA0001.1');
  assert.equal(a!.altName, 'AGL3');
  assert.equal(a!.length, 3);
  assert.equal(a!.sites, 97);
  assert.equal(a!.url, 'http://jaspar.genereg.net/matrix/MA0001.1');
  assert.equal(b!.altName, undefined);
  assert.equal(b!.sites, undefined);
  assert.equal(b!.evalue, '1.2e-005');
  assert.ok(Math.abs(b!.probabilities[7]! - 0.4) < 1e-12);
  const again = parseMeme(formatMeme(f.motifs, { background: f.background }), 'round.meme');
  assert.equal(again.motifs.length, 2);
  for (let k = 0; k < 2; k += 1) {
    assert.equal(again.motifs[k]!.id, f.motifs[k]!.id);
    assert.equal(again.motifs[k]!.altName, f.motifs[k]!.altName);
    for (let i = 0; i < f.motifs[k]!.probabilities.length; i += 1) assert.ok(Math.abs(again.motifs[k]!.probabilities[i]! - f.motifs[k]!.probabilities[i]!) < 1e-6);
  }
});

test('MEME reader: HOCOMOCO/MEME 5 forms (custom ALPHABET block, no w=, version 5.x, log-odds blocks)', () => {
  const text = `MEME version 5.5.4

ALPHABET "DNA" DNA-LIKE
A "Adenine" CC0000 ~ T "Thymine" 008000
C "Cytosine" 0000CC ~ G "Guanine" FFB300
N "Any base" = ACGT
X = ACGT
END ALPHABET

strands: +

Background letter frequencies (from file x.fa):
A 0.25 C 0.25
G 0.25 T 0.25

MOTIF AHR.H12CORE.0.P.B
log-odds matrix: alength= 4 w= 2 E= 0
 1.2 -3.4 -1.0 0.2
 -1 -1 2 -1
letter-probability matrix: alength=4 w=2 nsites=500 E=0
0.5 0.2 0.2 0.1
0.1 0.1 0.7 0.1

MOTIF two
letter-probability matrix: alength= 4
0.5 0.2 0.2 0.1
0.1 0.1 0.7 0.1
0.2 0.2 0.2 0.4
`;
  const f = parseMeme(text, 'h.meme');
  assert.equal(f.version, '5.5.4');
  assert.deepEqual(f.strands, ['+']);
  assert.equal(f.motifs.length, 2);
  assert.equal(f.motifs[0]!.sites, 500);
  assert.equal(f.motifs[1]!.length, 3);
  assert.deepEqual([...parseBackground('# order 0\nA 0.3\nC 0.2\nG 0.2\nT 0.3\nAA 0.1\n', 'bg')].map((v) => +v.toFixed(6)), [0.3, 0.2, 0.2, 0.3]);
});

test('MEME reader: malformed files are errors naming the file, the line and the problem', () => {
  const cases: [string, RegExp][] = [
    ['', /^e\.meme: no 'MEME version' line/],
    ['hello\n', /^e\.meme:1: expected the 'MEME version' line first/],
    ['MEME version 4\n\nALPHABET= ACGU\n', /^e\.meme:3: ALPHABET= ACGU is not supported/],
    ['MEME version 4\nALPHABET "RNA" RNA-LIKE\nA\nC\nG\nU\nEND ALPHABET\n', /^e\.meme:2: alphabet with core letters ACGU is not supported/],
    ['MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 3\n0.25 0.25 0.25 0.25\n0.25 0.25 0.25 0.25\n', /^e\.meme:3: motif a: w= 3 but the file ends after 2 rows/],
    ['MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 2\n0.25 0.25 0.25 0.25\n0.25 0.25 x 0.25\n', /^e\.meme:5: motif a: expected row 2 of 2/],
    ['MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n0.25 0.25 0.25\n', /^e\.meme:4: motif a: row 1 has 3 values/],
    ['MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n0.5 0.25 0.25 0.25\n', /^e\.meme:4: motif a: row 1 sums to 1\.2500/],
    ['MEME version 4\nMOTIF a\nMOTIF b\nletter-probability matrix: w= 1\n1 0 0 0\n', /^e\.meme:2: MOTIF a has no letter-probability matrix/],
    ['MEME version 4\nMOTIF a\nletter-probability matrix: w= 1\n1 0 0 0\nMOTIF a\nletter-probability matrix: w= 1\n1 0 0 0\n', /^e\.meme:5: motif a appears twice \(first at line 2\)/],
    ['MEME version 4\nletter-probability matrix: w= 1\n1 0 0 0\n', /^e\.meme:2: letter-probability matrix outside a MOTIF/],
    ['MEME version 4\nALPHABET= ACGT\n', /^e\.meme: no motifs/],
    ['MEME version 4\nBackground letter frequencies\nA 0.3 C 0.2 G 0.2\n\nMOTIF a\nletter-probability matrix: w= 1\n1 0 0 0\n', /^e\.meme:2: background letter frequencies lack T/],
    ['MEME version 4\nMOTIF a\nletter-probability matrix: alength= 20 w= 1\n1 0 0 0\n', /^e\.meme:3: alength= 20: DNA matrices have 4 columns/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseMeme(text, 'e.meme'), (e: unknown) => e instanceof MotifFormatError && pattern.test(e.message), `${JSON.stringify(text)} should fail with ${pattern}`);
  }
});

function runCli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('seq2track motifs scan: FASTA and genome + BED end to end; bad input is one error line', async () => {
  await withTempDir('seq2track-motifs-', async (dir) => {
    const random = rng(3);
    const motif = randomMotif('SITE', 11, random, 1.5);
    const cons = consensusOf(motif);
    writeFileSync(join(dir, 'm.meme'), formatMeme([{ ...motif, altName: 'TF1' }], { background: [0.3, 0.2, 0.2, 0.3] }));
    let chr = randomSequence(4000, random);
    chr = chr.slice(0, 1000) + cons + chr.slice(1011);
    chr = chr.slice(0, 3000) + rcText(cons) + chr.slice(3011);
    writeFileSync(join(dir, 'in.fa'), `>chrT\n${chr.match(/.{1,60}/g)!.join('\n')}\n`);
    let r = runCli(['motifs', 'scan', '--motifs', join(dir, 'm.meme'), '--fasta', join(dir, 'in.fa'), '--out', join(dir, 'hits.tsv')]);
    assert.equal(r.code, 0, r.stderr);
    const rows = readFileSync(join(dir, 'hits.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(rows[0], ['motif_id', 'motif_alt_id', 'sequence_name', 'start', 'stop', 'strand', 'score', 'p-value', 'q-value', 'matched_sequence']);
    const found = rows.slice(1).map((f) => `${f[0]} ${f[1]} ${f[2]}:${f[3]}-${f[4]} ${f[5]} ${f[9]}`);
    assert.ok(found.includes(`SITE TF1 chrT:1001-1011 + ${cons}`), found.join('\n'));
    assert.ok(found.includes(`SITE TF1 chrT:3001-3011 - ${cons}`), found.join('\n'));
    assert.match(r.stderr, /background: sequence composition/);

    // The same chromosome as a genome (FASTA + .fai), regions from a BED file: chromosome coordinates.
    const fa = `>chrT\n${chr.match(/.{1,60}/g)!.join('\n')}\n`;
    writeFileSync(join(dir, 'g.fa'), fa);
    writeFileSync(join(dir, 'g.fa.fai'), `chrT\t4000\t6\t60\t61\n`);
    writeFileSync(join(dir, 'r.bed'), 'chrT\t900\t1200\nchrT\t1100\t1300\nchrT\t2950\t3100\n');
    r = runCli(['motifs', 'scan', '--motifs', join(dir, 'm.meme'), '--genome', join(dir, 'g.fa'), '--bed', join(dir, 'r.bed'), '--background', 'uniform', '--out', join(dir, 'g.tsv')]);
    assert.equal(r.code, 0, r.stderr);
    const g = readFileSync(join(dir, 'g.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
    assert.ok(g.some((f) => f[2] === 'chrT' && f[3] === '1001' && f[5] === '+'));
    assert.ok(g.some((f) => f[2] === 'chrT' && f[3] === '3001' && f[5] === '-'));
    // Scored windows: merged regions [900,1300) and [2950,3100), both strands.
    assert.match(r.stderr, new RegExp(`in ${((400 - 10) * 2 + (150 - 10) * 2).toLocaleString('en-US')} scored windows`));

    const errorCases: [string[], RegExp][] = [
      [['motifs', 'scan', '--motifs', join(dir, 'm.meme'), '--out', join(dir, 'x.tsv')], /give --fasta FILE, or --genome/],
      [['motifs', 'scan', '--motifs', join(dir, 'nope.meme'), '--fasta', join(dir, 'in.fa'), '--out', join(dir, 'x.tsv')], /nope\.meme: cannot read MEME motif file/],
      [['motifs', 'scan', '--motifs', join(dir, 'm.meme'), '--fasta', join(dir, 'in.fa'), '--thresh', '2', '--out', join(dir, 'x.tsv')], /--thresh/],
      [['motifs', 'scan', '--motifs', join(dir, 'm.meme'), '--genome', join(dir, 'g.fa'), '--region', 'chrZ:1-10', '--out', join(dir, 'x.tsv')], /unknown chromosome 'chrZ'/],
    ];
    writeFileSync(join(dir, 'bad.meme'), 'MEME version 4\nMOTIF a\nletter-probability matrix: w= 2\n0.25 0.25 0.25 0.25\n');
    errorCases.push([['motifs', 'scan', '--motifs', join(dir, 'bad.meme'), '--fasta', join(dir, 'in.fa'), '--out', join(dir, 'x.tsv')], /bad\.meme:3: motif a: w= 2 but the file ends after 1 row/]);
    for (const [args, pattern] of errorCases) {
      const e = runCli(args);
      const lines = e.stderr.split('\n').filter((l) => l !== '');
      assert.equal(e.code, 1, e.stderr);
      assert.equal(lines.length, 1, e.stderr);
      assert.match(lines[0]!, /^seq2track: error: /);
      assert.match(lines[0]!, pattern);
    }
  });
});
