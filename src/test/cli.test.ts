/**
 * End-to-end tests of `seq2track predict`, spawning the built CLI as a user would. Outputs are
 * compared with the fixture at the acceptance tolerance (atol 5e-5 + rtol 1e-4); every bad
 * input must give exit code 1 and exactly one stderr line `seq2track: error: …` (no stack trace).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../weights/safetensors.js';
import { brokenModelDir, CLI, compare, fixture, skipUnless, tempDir } from './fixtures.js';

const skip = skipUnless('enformer-small');
const MODEL = fixture('enformer-small') ?? '';
let tmp: { dir: string; cleanup: () => void };
let sequences: string[] = [];
let fasta = '';

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeFasta(name: string, records: [string, string][]): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, records.map(([n, s]) => `>${n}\n${s.match(/.{1,80}/g)!.join('\n')}\n`).join(''));
  return path;
}

/** Runs the CLI expecting failure: exit 1, one line on stderr, no stack trace, matching `pattern`. */
function expectError(args: string[], pattern: RegExp) {
  const r = run(args);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(r.code, 1, `exit code for ${args.join(' ')}: ${r.stderr}`);
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^seq2track: error: /);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:|node:internal/);
  assert.match(lines[0]!, pattern);
}

function expectMatchesReference(outPath: string, heads = ['human', 'mouse']) {
  return SafetensorsFile.open(outPath).then((out) => {
    const ref = SafetensorsFile.open(join(MODEL, 'outputs.safetensors'));
    return ref.then((refFile) => {
      assert.deepEqual([...out.tensors.keys()].filter((k) => k !== 'embeddings'), heads);
      for (const h of heads) {
        assert.equal(out.tensors.get(h)!.dtype, 'F32');
        assert.deepEqual(out.tensors.get(h)!.shape, refFile.tensors.get(h)!.shape);
        const r = compare(out.readFloat32(h), refFile.readFloat32(h), 5e-5, 1e-4);
        assert.ok(r.ok, `${h}: max abs ${r.maxAbs}`);
      }
      return { out, refFile };
    });
  });
}

before(() => {
  tmp = tempDir('seq2track-cli-');
  if (skip) return;
  sequences = JSON.parse(readFileSync(join(MODEL, 'reference.json'), 'utf8')).inputs.sequences;
  fasta = writeFasta('inputs.fa', sequences.map((s, i) => [`seq${i + 1}`, s]));
});

after(() => tmp.cleanup());

test('cli: --help and --version exit 0', () => {
  const r = run(['predict', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--model <dir\|name>/);
  assert.match(r.stdout, /--out <file>/);
  const v = run(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+/);
});

test('cli: predict writes every head matching outputs.safetensors', { skip }, async () => {
  const out = join(tmp.dir, 'all.safetensors');
  const r = run(['predict', '--model', MODEL, '--fasta', fasta, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  // Not a terminal: no progress, one summary line.
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^seq2track: predicted 2 records × 32 bins/);
  const { out: file } = await expectMatchesReference(out);
  assert.deepEqual(JSON.parse(file.metadata.records!), ['seq1', 'seq2']);
  assert.equal(file.tensors.has('embeddings'), false);
});

test('cli: --heads human restricts, --embeddings adds the tensor, --batch-size and --tile-length agree', { skip }, async () => {
  const out = join(tmp.dir, 'human.safetensors');
  const r = run(['predict', '--model', MODEL, '--fasta', fasta, '--out', out, '--heads', 'human', '--embeddings', '--batch-size', '2', '--tile-length', '1024', '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  const { out: file, refFile } = await expectMatchesReference(out, ['human']);
  assert.deepEqual(file.tensors.get('embeddings')!.shape, [2, 32, 192]);
  // Embeddings: 4e-4 vs float32, from the fixture README's spread (see parity.test.ts).
  assert.ok(compare(file.readFloat32('embeddings'), refFile.readFloat32('embeddings'), 4e-4).ok);
});

test('cli: records of different valid lengths, in order, batched with their equal-length neighbours', { skip }, async () => {
  const s = sequences[0]!;
  // 8448 bp gives 66 trunk positions, centre-cropped to the same 32 bins as 8192 bp.
  const longer = s + 'ACGT'.repeat(64);
  const path = writeFasta('mixed.fa', [['a', s], ['b', longer], ['c', s]]);
  const mixed = join(tmp.dir, 'mixed.safetensors');
  const r = run(['predict', '--model', MODEL, '--fasta', path, '--out', mixed, '--batch-size', '3']);
  assert.equal(r.code, 0, r.stderr);
  const single = join(tmp.dir, 'single.safetensors');
  assert.equal(run(['predict', '--model', MODEL, '--fasta', writeFasta('b.fa', [['b', longer]]), '--out', single]).code, 0);
  const m = await SafetensorsFile.open(mixed);
  const one = (await SafetensorsFile.open(single)).readFloat32('human');
  const human = m.readFloat32('human');
  assert.deepEqual(m.tensors.get('human')!.shape, [3, 32, 12]);
  const ref = (await SafetensorsFile.open(join(MODEL, 'outputs.safetensors'))).readFloat32('human');
  const per = 32 * 12;
  assert.ok(compare(human.subarray(0, per), ref.subarray(0, per), 5e-5, 1e-4).ok, 'record a');
  assert.ok(compare(human.subarray(per, 2 * per), one, 1e-6).ok, 'record b');
  assert.ok(compare(human.subarray(2 * per), ref.subarray(0, per), 5e-5, 1e-4).ok, 'record c');
  assert.deepEqual(JSON.parse(m.metadata.lengths!), [8192, 8448, 8192]);
});

test('cli: --out FILE.tsv writes a readable table', { skip }, async () => {
  const out = join(tmp.dir, 'p.tsv');
  const r = run(['predict', '--model', MODEL, '--fasta', fasta, '--out', out, '--heads', 'mouse']);
  assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
  assert.equal(lines[0], 'record\tbin\tstart\tend\ttrack\tvalue');
  assert.equal(lines.length, 1 + 2 * 32 * 5);
  const ref = (await SafetensorsFile.open(join(MODEL, 'outputs.safetensors'))).readFloat32('mouse');
  // seq2, bin 3, mouse:4 -> index ((1·32)+3)·5+4; bins start after the 16-bin crop (16·128 = 2048 bp).
  const row = lines[1 + (32 + 3) * 5 + 4]!.split('\t');
  assert.deepEqual(row.slice(0, 5), ['seq2', '3', String(2048 + 3 * 128), String(2048 + 4 * 128), 'mouse:4']);
  assert.ok(Math.abs(Number(row[5]) - ref[(32 + 3) * 5 + 4]!) < 5e-5 + 1e-4 * Math.abs(ref[(32 + 3) * 5 + 4]!));
});

test('cli: bad model directories', { skip }, async () => {
  const args = (model: string) => ['predict', '--model', model, '--fasta', fasta, '--out', join(tmp.dir, 'x.safetensors')];
  expectError(args(join(tmp.dir, 'no-such-model')), /no-such-model\/config\.json: cannot read config \(ENOENT\)/);
  expectError(args(fasta), /cannot read config \(ENOTDIR\)/);
  const badJson = join(tmp.dir, 'bad-json');
  mkdirSync(badJson);
  writeFileSync(join(badJson, 'config.json'), '{"dim": 96,,}');
  symlinkSync(join(MODEL, 'weights.safetensors'), join(badJson, 'weights.safetensors'));
  expectError(args(badJson), /bad-json\/config\.json: not a JSON object/);
  const badField = join(tmp.dir, 'bad-field');
  mkdirSync(badField);
  const config = JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8'));
  writeFileSync(join(badField, 'config.json'), JSON.stringify({ ...config, attn_dim_key: 'sixteen' }));
  expectError(args(badField), /config\.json: field "attn_dim_key" must be a positive integer/);
  const noWeights = join(tmp.dir, 'no-weights');
  mkdirSync(noWeights);
  copyFileSync(join(MODEL, 'config.json'), join(noWeights, 'config.json'));
  expectError(args(noWeights), /no-weights: no \*\.safetensors weights file/);
  const broken = join(tmp.dir, 'broken');
  mkdirSync(broken);
  await brokenModelDir(broken);
  expectError(args(broken), /3 problems.*missing stem\.0\.bias.*mis-shaped _heads\.mouse\.0\.bias.*unexpected transformer\.9\.extra\.weight/);
  const truncated = join(tmp.dir, 'truncated');
  mkdirSync(truncated);
  copyFileSync(join(MODEL, 'config.json'), join(truncated, 'config.json'));
  writeFileSync(join(truncated, 'weights.safetensors'), readFileSync(join(MODEL, 'weights.safetensors')).subarray(0, 100_000));
  expectError(args(truncated), /runs past the end of the file/);
});

test('cli: bad FASTA input', { skip }, () => {
  const args = (path: string) => ['predict', '--model', MODEL, '--fasta', path, '--out', join(tmp.dir, 'x.safetensors')];
  expectError(args(join(tmp.dir, 'missing.fa')), /missing\.fa: cannot read FASTA file \(ENOENT\)/);
  const text = (name: string, content: string) => {
    const p = join(tmp.dir, name);
    writeFileSync(p, content);
    return p;
  };
  expectError(args(text('empty.fa', '')), /empty\.fa: no FASTA records/);
  expectError(args(text('junk.fa', 'hello\n>a\nACGT\n')), /junk\.fa:1: text before the first '>' header/);
  expectError(args(text('noseq.fa', `>a\n${sequences[0]}\n>b\n`)), /noseq\.fa:3: record 'b' has no sequence/);
  expectError(args(writeFasta('short.fa', [['ok', sequences[0]!], ['tiny', 'ACGT'.repeat(250)]])), /record 'tiny' has length 1000 bp; the model accepts multiples of 128 bp of at least 4096 bp/);
  expectError(args(writeFasta('odd.fa', [['odd', sequences[0]!.slice(0, 8000)]])), /record 'odd' has length 8000 bp/);
  const bad = sequences[1]!.slice(0, 4999) + 'X' + sequences[1]!.slice(5000);
  expectError(args(writeFasta('letter.fa', [['s1', sequences[0]!], ['s2', bad]])), /record 's2': invalid base 'X' at position 5000/);
});

test('cli: bins that differ between records are a clear error', { skip }, () => {
  // 8320 bp gives 65 trunk positions; the port's centre crop of an odd difference keeps 31 bins, not 32.
  const path = writeFasta('two-lengths.fa', [['a', sequences[0]!], ['b', sequences[0]! + 'A'.repeat(128)]]);
  expectError(['predict', '--model', MODEL, '--fasta', path, '--out', join(tmp.dir, 'x.safetensors')], /record 'b' \(8320 bp\) gives 31 output bins but record 'a' gives 32/);
});

test('cli: bad options', { skip }, () => {
  const base = ['predict', '--model', MODEL, '--fasta', fasta];
  const out = join(tmp.dir, 'x.safetensors');
  expectError([...base, '--out', join(tmp.dir, 'x.csv')], /--out .*x\.csv: unknown output format \(use a \.safetensors or \.tsv/);
  expectError([...base, '--out', out, '--heads', 'dog'], /unknown head 'dog' \(the model has: human, mouse\)/);
  expectError([...base, '--out', out, '--heads', ','], /--heads <list>.*must name at least one head/);
  expectError([...base, '--out', out, '--batch-size', '0'], /--batch-size <n>.*'0' is invalid.*positive integer/);
  expectError([...base, '--out', out, '--threads', 'two'], /--threads <n>.*'two' is invalid/);
  expectError([...base, '--out', out, '--tile-length', '-5'], /--tile-length <bp>.*'-5' is invalid.*non-negative/);
  expectError([...base, '--out', out, '--device', 'tpu'], /--device.*'tpu' is invalid/);
  expectError([...base, '--out', out, '--frobnicate'], /unknown option '--frobnicate'/);
  expectError(['predict', '--fasta', fasta, '--out', out], /required option '--model <dir\|name>' not specified/);
  expectError(['frob'], /unknown command 'frob'/);
  expectError([...base, '--out', join(tmp.dir, 'no-such-dir', 'x.safetensors')], /ENOENT/);
});
