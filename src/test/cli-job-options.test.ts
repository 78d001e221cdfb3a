/**
 * What every model command shares through the run core and the CLI's one option mapping: a fine-tuned
 * model's `targets_<head>.txt` names its tracks for every command (predict, attribute, ism,
 * attribute-gene), `--full-output` is honoured wherever it is offered and offered only there, and a
 * resumable run's fingerprint holds the targets table by content identity (a table changed under the
 * same path is not mixed into an unfinished run).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../weights/safetensors.js';
import { assertCliError, assertCliOk, CLI, fixture, runCli, skipUnless, tempDir } from './fixtures.js';
import { randomGenome, writeFastaFai } from './genome-files.js';
import { centralBins } from '../tasks/attribution/objective.js';

const skip = skipUnless('enformer-small') || skipUnless('borzoi-small');
const ENFORMER = fixture('enformer-small') ?? '';
const BORZOI = fixture('borzoi-small') ?? '';
const genome = randomGenome({ chr1: 30_000 }, 23);
let tmp: { dir: string; cleanup: () => void };
const path = (name: string) => join(tmp.dir, name);
const run = (args: string[]) => runCli([...args, '--threads', '1'], { SEQ2TRACK_CACHE: path('cache') });
/** A model directory as `finetune` leaves it: the weights with the head's targets table beside them. */
let tuned = '';

before(() => {
  tmp = tempDir('seq2track-job-options-');
  if (skip) return;
  writeFastaFai(path('genome.fa'), genome);
  writeFileSync(path('in.fa'), `>a\n${genome.get('chr1')!.slice(10_000, 18_192)}\n`);
  tuned = path('tuned');
  mkdirSync(tuned);
  for (const f of ['config.json', 'weights.safetensors']) copyFileSync(join(ENFORMER, f), join(tuned, f));
  const rows = Array.from({ length: 12 }, (_, i) => `${i}\tT${i}\ttuned track ${i}`);
  writeFileSync(join(tuned, 'targets_human.txt'), ['index\tidentifier\tdescription', ...rows].join('\n') + '\n');
  writeFileSync(path('genes.gtf'), 'chr1\tt\texon\t14001\t14300\t.\t+\t.\tgene_id "G1"; gene_name "ONE";\n');
});

after(() => tmp?.cleanup());

const tracksOf = async (file: string) => JSON.parse((await SafetensorsFile.open(file)).metadata.tracks!) as string[];

test("cli: every command names a fine-tuned model's tracks from the targets_<head>.txt beside it", { skip }, async () => {
  assertCliOk(await run(['predict', '--model', tuned, '--fasta', path('in.fa'), '--tracks', 'T3,T5', '--out', path('p.safetensors')]));
  assert.deepEqual(await tracksOf(path('p.safetensors')), ['T3', 'T5']);
  const p = await SafetensorsFile.open(path('p.safetensors'));
  assert.deepEqual(p.tensors.get('human')!.shape, [1, 32, 2]);
  assertCliOk(await run(['predict', '--model', tuned, '--fasta', path('in.fa'), '--tracks', 'T3', '--out', path('p.tsv')]));
  assert.match(readFileSync(path('p.tsv'), 'utf8').split('\n')[1]!, /\thuman:3\t/);

  assertCliOk(await run(['attribute', '--model', tuned, '--fasta', path('in.fa'), '--tracks', 'T3', '--out', path('a.safetensors')]));
  assert.deepEqual(await tracksOf(path('a.safetensors')), ['T3']);
  assertCliOk(await run(['ism', '--model', tuned, '--fasta', path('in.fa'), '--tracks', 'T3', '--window', '4000-4001', '--out', path('i.safetensors')]));
  assert.deepEqual(await tracksOf(path('i.safetensors')), ['T3']);
  const gene = await run(['attribute-gene', '--model', tuned, '--genome', path('genome.fa'), '--window-length', '8192', '--gtf', path('genes.gtf'), '--gene', 'G1', '--tracks', 'T3', '--out', path('g.h5')]);
  assertCliOk(gene);
  assert.ok(existsSync(path('g.h5')));
});

test('cli: --full-output is honoured by every command that offers it, and offered by no other', { skip }, async () => {
  const fasta = path('borzoi.fa');
  writeFileSync(fasta, `>b\n${genome.get('chr1')!.slice(2_000, 10_192)}\n`);
  // borzoi-small at 8,192 bp: 128 centre bins, or all but 16 at each end (224) with --full-output.
  const binsOf = async (file: string) => JSON.parse((await SafetensorsFile.open(file)).metadata.bins!) as number[];
  assertCliOk(await run(['attribute', '--model', BORZOI, '--fasta', fasta, '--tracks', '1', '--out', path('centre.safetensors')]));
  assertCliOk(await run(['attribute', '--model', BORZOI, '--fasta', fasta, '--tracks', '1', '--full-output', '--out', path('full.safetensors')]));
  assert.deepEqual(await binsOf(path('centre.safetensors')), centralBins(128));
  assert.deepEqual(await binsOf(path('full.safetensors')), centralBins(224));
  assertCliOk(await run(['ism', '--model', BORZOI, '--fasta', fasta, '--tracks', '1', '--full-output', '--bins', '200-223', '--window', '100-101', '--out', path('ism.safetensors')]));
  assertCliOk(await run(['predict', '--model', BORZOI, '--fasta', fasta, '--full-output', '--out', path('full-pred.safetensors')]));
  assert.deepEqual((await SafetensorsFile.open(path('full-pred.safetensors'))).tensors.get('human')!.shape, [1, 224, 12]);
  assertCliError(await run(['finetune', '--model', BORZOI, '--head', 'x', '--out', path('ft'), '--full-output']), /unknown option '--full-output'/, 'finetune --full-output');
});

test('cli: score-variants refuses to resume a run whose --targets file changed under the same path', { skip }, async () => {
  const lines = ['#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO'];
  const chr1 = genome.get('chr1')!;
  for (let i = 0; i < 200; i++) {
    const pos = 3_000 + i * 120;
    const ref = chr1[pos - 1]!;
    lines.push(`chr1\t${pos}\tv${i}\t${ref}\t${ref === 'A' ? 'C' : 'A'}\t.\t.\t.`);
  }
  writeFileSync(path('many.vcf'), lines.join('\n') + '\n');
  const table = path('targets.txt');
  const write = (what: string) => writeFileSync(table, ['index\tidentifier\tdescription', ...Array.from({ length: 12 }, (_, i) => `${i}\tT${i}\t${what} ${i}`)].join('\n') + '\n');
  write('first');
  const out = path('scores.tsv');
  const args = ['score-variants', '--model', ENFORMER, '--genome', path('genome.fa'), '--window-length', '8192', '--vcf', path('many.vcf'), '--targets', table, '--tracks', '0-3', '--threads', '1', '--out', out];
  // Killed part-way: an unfinished run with its progress file.
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore', env: { ...process.env, SEQ2TRACK_CACHE: path('cache') } });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const started = Date.now();
  while (Date.now() - started < 30_000 && !(existsSync(`${out}.partial`) && statSync(`${out}.partial`).size > 2_000)) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(`${out}.progress`), 'killed part-way: the progress file is there');
  write('second, renamed');
  assertCliError(await runCli(args, { SEQ2TRACK_CACHE: path('cache') }), /scores\.tsv: an unfinished run with other arguments \(--targets differ\)/, 'a changed targets table');
});
