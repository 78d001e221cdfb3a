/**
 * `seq2track finetune` and `seq2track evaluate` end to end on the fixture models and a random genome.
 *
 * Teacher–student: the enformer-small human head predicts 12 tracks over a random genome (written
 * as bigWigs by `predict --genome`); a fresh head on the same frozen trunk is trained on two
 * chromosomes and evaluated on the held-out third. Training regions are laid on the teacher's
 * window grid (lengths multiples of the 4,096 bp window output, starts one window in), so every
 * target bin is one teacher bin computed from the very window the student sees: a perfect student
 * exists and the Pearson r it reaches measures the optimisation alone.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { SafetensorsFile } from '../weights/safetensors.js';
import { CLI, assertCliError, assertCliOk, fixture, fixturePath, runCli, skipUnless, tempDir } from './fixtures.js';
import { randomGenome, writeFastaFai } from './genome-files.js';

const skip = skipUnless('enformer-small') || skipUnless('flashzoi-small/tfrecords');
const ENFORMER = fixture('enformer-small') ?? '';
let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
const ok = async (args: string[]) => assertCliOk(await runCli(args));
const result = (stdout: string) => Object.fromEntries([...stdout.matchAll(/(\w+)=([^\s]+)/g)].map((m) => [m[1]!, m[2]!]));

/** Arguments every training run here shares: 8,192 bp windows, one thread, no shift augmentation. */
const COMMON = ['--window-length', '8192', '--threads', '1', '--shifts', '0'];

before(async () => {
  if (skip) return;
  tmp = tempDir('seq2track-train-');
  writeFastaFai(path('g.fa'), randomGenome({ chr1: 60_000, chr2: 60_000, chr3: 45_000 }, 5));
  writeFileSync(path('teacher.bed'), 'chr1\t0\t57344\nchr2\t0\t57344\nchr3\t0\t40960\n');
  writeFileSync(path('train.bed'), 'chr1\t4096\t53248\nchr2\t4096\t53248\n');
  writeFileSync(path('valid.bed'), 'chr3\t4096\t36864\n');
  const rows = ['index\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair\tdescription'];
  for (let k = 0; k < 12; k++) rows.push(`${k}\tT${k}\tbw/human_${k}.bw\t10000\t10000\t1\tmean\t${k}\tteacher track ${k}`);
  writeFileSync(path('targets.txt'), rows.join('\n') + '\n');
  await ok(['predict', '--model', ENFORMER, '--genome', path('g.fa'), '--bed', path('teacher.bed'), '--window-length', '8192', '--threads', '1', '--out', path('bw/')]);
});

after(() => tmp?.cleanup());

test('evaluate: the teacher scores r = 1 on its own tracks (float16 targets); TSV and RESULT line', { skip }, async () => {
  const r = await ok(['evaluate', '--model', ENFORMER, '--genome', path('g.fa'), '--targets', path('targets.txt'), '--bed', path('valid.bed'), '--window-length', '8192', '--threads', '1', '--out', path('eval.tsv')]);
  const last = r.stdout.trim().split('\n').at(-1)!;
  assert.match(last, /^RESULT pearson_mean=[\d.]+ pearson_median=[\d.]+ tracks=12 bins=256$/);
  assert.ok(Number(result(last).pearson_mean) > 0.9999, last);
  const tsv = readFileSync(path('eval.tsv'), 'utf8').trim().split('\n');
  assert.equal(tsv[0], 'index\tidentifier\tdescription\tpearson\tpearson_log1p');
  assert.equal(tsv.length, 13);
  assert.match(tsv[1]!, /^0\tT0\tteacher track 0\t(0\.99\d+|1\.000000)\t(0\.99\d+|1\.000000)$/);
});

test('finetune: a fresh head on the frozen trunk learns the teacher (Pearson >= 0.95 on a held-out chromosome) and loads as --head', { skip }, async () => {
  const out = path('student');
  const r = await ok(['finetune', '--model', ENFORMER, '--head', 'student', '--genome', path('g.fa'), '--targets', path('targets.txt'), '--train', path('train.bed'), '--valid', path('valid.bed'), '--out', out, '--epochs', '12', ...COMMON]);
  const res = result(r.stdout);
  assert.ok(Number(res.final_loss) < Number(res.initial_loss), r.stdout);
  assert.match(r.stderr, /epoch 12\/12: train loss [\d.]+, valid loss [\d.]+, valid pearson [\d.]+/);
  assert.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors', 'targets_student.txt', 'training.json']);
  assert.ok(!existsSync(`${out}.work`) && !existsSync(`${out}.partial`));
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).output_heads, { human: 12, mouse: 5, student: 12 });
  const e = await ok(['evaluate', '--model', out, '--head', 'student', '--genome', path('g.fa'), '--targets', path('targets.txt'), '--bed', path('valid.bed'), '--window-length', '8192', '--threads', '1']);
  const r2 = result(e.stdout.trim().split('\n').at(-1)!);
  assert.ok(Number(r2.pearson_mean) >= 0.95, `held-out Pearson ${r2.pearson_mean}`);
  // predict loads the trained model like any other; its human head is the base model's.
  const p = await ok(['predict', '--model', out, '--genome', path('g.fa'), '--region', 'chr3:10001-12000', '--head', 'student', '--window-length', '8192', '--threads', '1', '--out', path('student.tsv')]);
  assert.match(p.stderr, /tracks of student/);
  // The head's track names come from targets_student.txt beside it.
  assert.match(readFileSync(path('student.tsv'), 'utf8').split('\n')[1]!, /\tT0\tteacher track 0\t/);
});

test('finetune: killed with SIGKILL after a checkpoint, the rerun resumes and ends with the weights of an uninterrupted run', { skip }, async () => {
  writeFileSync(path('train-small.bed'), 'chr1\t4096\t53248\n');
  const args = (out: string) => ['finetune', '--model', ENFORMER, '--head', 'k', '--genome', path('g.fa'), '--targets', path('targets.txt'), '--train', path('train-small.bed'), '--valid', path('valid.bed'), '--out', out, '--epochs', '6', '--seed', '3', ...COMMON];
  await ok(args(path('whole')));
  const out = path('killed');
  const child = spawn(process.execPath, [CLI, ...args(out)], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const checkpoint = join(`${out}.work`, 'checkpoint.safetensors');
  const started = Date.now();
  while (!existsSync(checkpoint) && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(existsSync(checkpoint), 'no checkpoint written within 60 s');
  child.kill('SIGKILL');
  await exited;
  assert.ok(!existsSync(out), 'the killed run left no model directory');
  const r = await ok(args(out));
  const after = Number(/resumed after epoch (\d+)/.exec(r.stderr)?.[1]);
  assert.ok(after >= 1 && after < 6, r.stderr);
  assert.match(r.stderr, /epoch 1\/6 \(from checkpoint\)/);
  assert.ok(readFileSync(join(out, 'model.safetensors')).equals(readFileSync(path('whole/model.safetensors'))), 'weights differ from the uninterrupted run');
});

for (const set of ['enformer-small', 'borzoi-small', 'flashzoi-small']) {
  test(`finetune --tfrecords: ${set}'s records give the fixture's poisson_loss at step 0, and training lowers it`, { skip: skipUnless(`${set}/tfrecords`) }, async () => {
    const grads = await SafetensorsFile.open(fixturePath(set, 'grads.safetensors'));
    const out = path(`tfr-${set}`);
    const r = await ok(['finetune', '--model', fixturePath(set), '--head', 'human', '--tfrecords', fixturePath(set, 'tfrecords', 'train-*.tfr'), '--out', out, '--epochs', '3', '--batch-size', '2', '--threads', '1', '--shifts', '0']);
    const res = result(r.stdout);
    // The loss over both records before any step; float32 forward vs the float64 reference (GRADS.md: 2e-6 covers every set).
    assert.ok(Math.abs(Number(res.initial_loss) - grads.readFloat64('poisson_loss_f64')[0]!) < 2e-6, r.stdout);
    assert.ok(Number(res.final_loss) < Number(res.initial_loss), r.stdout);
  });
}

test('finetune --train-trunk: whole-model steps from the TFRecords start at the fixture loss and lower it; the model loads', { skip }, async () => {
  const grads = await SafetensorsFile.open(fixturePath('enformer-small', 'grads.safetensors'));
  const out = path('trunk-trained');
  const r = await ok(['finetune', '--model', ENFORMER, '--head', 'human', '--train-trunk', '--tfrecords', fixturePath('enformer-small', 'tfrecords', 'train-*.tfr'), '--out', out, '--epochs', '2', '--batch-size', '2', '--lr', '0.001', '--threads', '1', '--shifts', '0']);
  const res = result(r.stdout);
  assert.ok(Math.abs(Number(res.initial_loss) - grads.readFloat64('poisson_loss_f64')[0]!) < 2e-6, r.stdout);
  assert.ok(Number(res.final_loss) < Number(res.initial_loss), r.stdout);
  // Trunk weights changed, running statistics did not.
  const before = await SafetensorsFile.open(fixturePath('enformer-small', 'weights.safetensors'));
  const after = await SafetensorsFile.open(join(out, 'model.safetensors'));
  assert.notDeepEqual(after.readFloat32('stem.0.weight'), before.readFloat32('stem.0.weight'));
  assert.deepEqual(after.readFloat32('stem.1.fn.0.running_mean'), before.readFloat32('stem.1.fn.0.running_mean'));
  writeFileSync(path('enf.fa'), `>s\n${'ACGT'.repeat(2048)}\n`);
  await ok(['predict', '--model', out, '--fasta', path('enf.fa'), '--out', path('enf.safetensors'), '--threads', '1']);
});

test('finetune --tfrecords: a new Flashzoi head is written under extra_heads and predict --heads loads it', { skip }, async () => {
  const out = path('flash-new');
  await ok(['finetune', '--model', fixturePath('flashzoi-small'), '--head', 'mine', '--tfrecords', fixturePath('flashzoi-small', 'tfrecords', 'train-*.tfr'), '--out', out, '--epochs', '2', '--threads', '1', '--rc', '--shifts', '-1,0,1', '--loss', 'poisson-multinomial']);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).extra_heads, { mine: 10 });
  writeFileSync(path('one.fa'), `>s\n${'ACGT'.repeat(1024)}\n`);
  await ok(['predict', '--model', out, '--fasta', path('one.fa'), '--heads', 'human,mine', '--out', path('mine.safetensors'), '--threads', '1']);
  const f = await SafetensorsFile.open(path('mine.safetensors'));
  assert.deepEqual(f.tensors.get('mine')!.shape, [1, 64, 10]);
});

test('finetune and evaluate: bad input is one line naming the file and the record; nothing is left behind', { skip }, async () => {
  const base = ['--model', ENFORMER, '--genome', path('g.fa'), '--train', path('train.bed'), '--valid', path('valid.bed'), ...COMMON];
  const expectError = async (args: string[], pattern: RegExp, out?: string) => {
    assertCliError(await runCli(args), pattern, args.join(' '));
    if (out) for (const p of [out, `${out}.work`, `${out}.partial`]) assert.ok(!existsSync(p), `${p} left behind`);
  };
  // Rows that do not match the head being trained.
  writeFileSync(path('three.txt'), readFileSync(path('targets.txt'), 'utf8').split('\n').slice(0, 4).join('\n') + '\n');
  await expectError(['finetune', ...base, '--head', 'human', '--targets', path('three.txt'), '--out', path('bad1')], /three\.txt: the targets table has 3 rows but the existing human head has 12 tracks/, path('bad1'));
  await expectError(['evaluate', '--model', ENFORMER, '--genome', path('g.fa'), '--bed', path('valid.bed'), '--targets', path('three.txt'), '--window-length', '8192'], /three\.txt: the targets table has 3 rows but the human head has 12 tracks/);
  // A missing bigWig.
  writeFileSync(path('missing.txt'), readFileSync(path('targets.txt'), 'utf8').replace('bw/human_5.bw', 'bw/nope.bw'));
  await expectError(['finetune', ...base, '--head', 'x', '--targets', path('missing.txt'), '--out', path('bad2')], /missing\.txt:7: cannot read bigWig bw\/nope\.bw \(ENOENT\)/, path('bad2'));
  // A BED region outside the genome.
  writeFileSync(path('outside.bed'), 'chr1\t4096\t8192\nchr2\t59000\t61000\n');
  await expectError(['finetune', ...base.map((a) => (a === path('train.bed') ? path('outside.bed') : a)), '--head', 'x', '--targets', path('targets.txt'), '--out', path('bad3')], /outside\.bed:2 chr2:59001-61000: region runs past the end of chr2 \(60,000 bp\)/, path('bad3'));
  // A corrupt TFRecord (a flipped payload byte in record 1).
  mkdirSync(path('tfr'), { recursive: true });
  copyFileSync(fixturePath('enformer-small', 'tfrecords', 'statistics.json'), path('tfr/statistics.json'));
  const raw = inflateSync(readFileSync(fixturePath('enformer-small', 'tfrecords', 'train-0.tfr')));
  raw[12 + Number(raw.readBigUInt64LE(0)) + 4 + 12 + 7] ^= 1;
  writeFileSync(path('tfr/train-0.tfr'), deflateSync(raw));
  await expectError(['finetune', '--model', ENFORMER, '--head', 'human', '--tfrecords', path('tfr/train-*.tfr'), '--out', path('bad4'), '--threads', '1', '--shifts', '0'], /tfr\/train-0\.tfr: record 1: data checksum mismatch/, path('bad4'));
  // Usage.
  await expectError(['finetune', '--model', ENFORMER, '--head', 'x', '--out', path('bad5')], /finetune needs --genome, --targets, --train, --valid \(or --tfrecords GLOB\)/);
});
