/**
 * `predict --output logits` and `predict --attention` end to end through the CLI (enformer-small and
 * borzoi-small fixtures; a random genome for the --genome form). The numbers themselves are checked
 * against an independent float64 computation in attention-maps.test.ts; here the CLI's layout,
 * metadata, defaults, genome coordinates, plots and one-line errors.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '../weights/safetensors.js';
import { writeBigWig } from '../formats/bigwig.js';
import { assertCliError, assertCliOk, fixture, runCli, skipUnless, tempDir } from './fixtures.js';
import { randomGenome, writeFastaFai } from './genome-files.js';

const skip = skipUnless('enformer-small') || skipUnless('borzoi-small');
const ENFORMER = fixture('enformer-small') ?? '';
const BORZOI = fixture('borzoi-small') ?? '';
const genome = randomGenome({ chr1: 30_001, chr2: 20_077 }, 7);
let tmp: { dir: string; cleanup: () => void };
let fasta = '';
const path = (name: string) => join(tmp.dir, name);
const ok = async (args: string[]) => assertCliOk(await runCli([...args, '--threads', '1']));

before(async () => {
  tmp = tempDir('seq2track-cli-attention-');
  if (skip) return;
  const sequences: string[] = JSON.parse(readFileSync(join(ENFORMER, 'reference.json'), 'utf8')).inputs.sequences;
  fasta = path('in.fa');
  writeFileSync(fasta, sequences.map((s, i) => `>seq${i + 1}\n${s}\n`).join(''));
  writeFastaFai(path('g.fa'), genome);
  writeFileSync(
    path('genes.gtf'),
    [
      '#!genome-build test',
      'chr1\tt\tgene\t9001\t12500\t.\t+\t.\tgene_id "G1"; gene_name "ALPHA";',
      'chr1\tt\texon\t9001\t9400\t.\t+\t.\tgene_id "G1"; gene_name "ALPHA";',
      'chr1\tt\texon\t11000\t12500\t.\t+\t.\tgene_id "G1"; gene_name "ALPHA";',
      'chr2\tt\tgene\t1\t5000\t.\t+\t.\tgene_id "G3"; gene_name "OTHER";',
    ].join('\n') + '\n',
  );
  const starts = Array.from({ length: 300 }, (_, i) => i * 100);
  await writeBigWig(
    path('signal.bw'),
    [{ chrom: 'chr1', starts, ends: starts.map((s) => s + 100), values: Float32Array.from(starts, (s) => Math.abs(Math.sin(s / 900))) }],
    new Map([['chr1', 30_001], ['chr2', 20_077]]),
  );
});

after(() => tmp?.cleanup());

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

test('cli: --output logits writes the pre-softplus heads (safetensors and TSV)', { skip }, async () => {
  // The default run also writes the default attention map, read by the next test.
  await ok(['predict', '--model', ENFORMER, '--fasta', fasta, '--out', path('soft.safetensors'), '--attention', path('mean.safetensors')]);
  await ok(['predict', '--model', ENFORMER, '--fasta', fasta, '--out', path('logits.safetensors'), '--output', 'logits']);
  await ok(['predict', '--model', ENFORMER, '--fasta', fasta, '--out', path('logits.tsv'), '--output', 'logits', '--heads', 'mouse']);
  const soft = await SafetensorsFile.open(path('soft.safetensors'));
  const logits = await SafetensorsFile.open(path('logits.safetensors'));
  assert.equal(logits.metadata?.output, 'logits');
  assert.equal(soft.metadata?.output, 'softplus');
  let negative = 0;
  for (const head of ['human', 'mouse']) {
    const y = soft.readFloat32(head);
    const z = logits.readFloat32(head);
    // softplus of the logits reproduces the default output to float32 rounding (values ~1: 2^-24 each way).
    for (let i = 0; i < z.length; i++) assert.ok(Math.abs(softplus(z[i]!) - y[i]!) <= 3e-7, `${head}[${i}]: softplus(${z[i]}) vs ${y[i]}`);
    negative += z.filter((v) => v < 0).length;
  }
  assert.ok(negative > 0, 'some logits are negative (they are not the softplus output)');
  const rows = readFileSync(path('logits.tsv'), 'utf8').trim().split('\n').slice(1);
  const mouse = logits.readFloat32('mouse');
  assert.equal(rows.length, mouse.length);
  rows.forEach((r, i) => assert.equal(Number(r.split('\t')[5]), Number(mouse[i]!.toPrecision(7))));
});

test('cli: --attention writes [records, layers, heads, rows, positions] with its layout in the metadata', { skip }, async () => {
  await ok(['predict', '--model', ENFORMER, '--fasta', fasta, '--out', path('p.safetensors'), '--attention', path('heads.safetensors'), '--attention-heads', '0-3', '--attention-rows', '0-63', '--attention-layers', '1']);
  const mean = await SafetensorsFile.open(path('mean.safetensors'));
  assert.deepEqual(mean.tensors.get('attention')!.shape, [2, 2, 1, 2, 64]);
  assert.deepEqual(JSON.parse(mean.metadata!.rows!), [31, 32]);
  assert.deepEqual(JSON.parse(mean.metadata!.layers!), [0, 1]);
  assert.equal(JSON.parse(mean.metadata!.heads!), 'mean');
  assert.equal(mean.metadata!.position_bp, '128');
  assert.deepEqual(JSON.parse(mean.metadata!.records!).map((r: { name: string }) => r.name), ['seq1', 'seq2']);
  const heads = await SafetensorsFile.open(path('heads.safetensors'));
  assert.deepEqual(heads.tensors.get('attention')!.shape, [2, 1, 4, 64, 64]);
  const a = mean.readFloat32('attention');
  const h = heads.readFloat32('attention');
  // The head mean of layer 1, rows 31 and 32, equals the mean of the four heads written separately.
  for (let rec = 0; rec < 2; rec++) {
    for (const [ri, row] of [31, 32].entries()) {
      let sum = 0;
      for (let p = 0; p < 64; p++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += h[(((rec * 4 + k) * 64 + row) * 64) + p]!;
        const got = a[((((rec * 2 + 1) * 1 + 0) * 2 + ri) * 64) + p]!;
        assert.ok(Math.abs(got - s / 4) <= 1e-6, `record ${rec} row ${row} position ${p}`);
        sum += got;
      }
      assert.ok(Math.abs(sum - 1) <= 1e-5, `row ${row} sums to ${sum}`);
    }
  }
});

test('cli: attention selections, sizes and misplaced options are one-line errors', { skip }, async () => {
  const base = ['predict', '--model', ENFORMER, '--fasta', fasta, '--out', path('e.safetensors')];
  const bad = async (extra: string[], pattern: RegExp) => assertCliError(await runCli([...base, ...extra]), pattern, extra.join(' '));
  const att = ['--attention', path('e-att.safetensors')];
  await bad([...att, '--attention-layers', '2'], /--attention-layers: layer 2 does not exist \(the model has layers 0-1\)/);
  await bad([...att, '--attention-heads', '0-4'], /--attention-heads: head 4 does not exist \(the model has heads 0-3\)/);
  await bad([...att, '--attention-rows', '60-70'], /--attention-rows: row 64 does not exist \(this window has 64 transformer positions/);
  await bad([...att, '--attention-rows', 'x'], /--attention-rows x: 'x' is not an index/);
  await bad([...att, '--attention-rows', '0-63', '--attention-heads', '0-3', '--attention-max-bytes', '64K'], /the map would be 256\.0 KiB \(2 records × 2 layers × 4 heads × 64 rows × 64 positions float32\), above the limit of 64\.0 KiB/);
  await bad(['--attention-heads', '1'], /--attention-heads needs --attention FILE\.safetensors/);
  await bad(['--attention', path('a.npy')], /--attention .*a\.npy: the file name must end in \.safetensors/);
  await bad([...att, '--plot', path('x.png')], /--plot needs --genome/);
  await bad(['--output', 'raw'], /'--output <kind>' argument 'raw' is invalid\. Allowed choices are softplus, logits/);
  assert.ok(!existsSync(path('e-att.safetensors')) && !existsSync(path('e-att.safetensors.partial')), 'nothing half-written');
});

test('cli: --genome --attention maps the window, equal to --fasta on the hand-cut window; --plot draws it with annotations', { skip }, async () => {
  const region = ['--genome', path('g.fa'), '--region', 'chr1:10001-11000', '--window-length', '8192'];
  await ok(['predict', '--model', BORZOI, ...region, '--out', path('r.safetensors'), '--output', 'logits', '--rc', '--shifts', '0,1', '--attention', path('r-att.safetensors'), '--attention-heads', '0-3', '--plot', path('r.png'), '--plot-gtf', path('genes.gtf'), '--plot-bigwig', path('signal.bw')]);
  const att = await SafetensorsFile.open(path('r-att.safetensors'));
  const records = JSON.parse(att.metadata!.records!);
  assert.equal(records.length, 1);
  const { chrom, start, end } = records[0];
  assert.equal(end - start, 8192);
  const window = Array.from({ length: end - start }, (_, i) => genome.get(chrom)![start + i] ?? 'N').join('');
  writeFileSync(path('window.fa'), `>w\n${window}\n`);
  await ok(['predict', '--model', BORZOI, '--fasta', path('window.fa'), '--out', path('w.safetensors'), '--attention', path('w-att.safetensors'), '--attention-heads', '0-3']);
  const hand = await SafetensorsFile.open(path('w-att.safetensors'));
  assert.deepEqual(att.tensors.get('attention')!.shape, hand.tensors.get('attention')!.shape);
  const a = att.readFloat32('attention');
  const b = hand.readFloat32('attention');
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-6, `attention[${i}]: ${a[i]} vs ${b[i]}`);
  const png = readFileSync(path('r.png'));
  assert.deepEqual([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
  assert.ok(png.length > 10_000, `a real picture (${png.length} bytes)`);

  await ok(['predict', '--model', ENFORMER, ...region, '--out', path('e.svg.tsv'), '--attention', path('e-att.safetensors'), '--plot', path('e.svg'), '--plot-gtf', path('genes.gtf')]);
  const svg = readFileSync(path('e.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.match(svg, /ALPHA/);
  assert.doesNotMatch(svg, /OTHER/);

  const two = ['predict', '--model', ENFORMER, '--genome', path('g.fa'), '--region', 'chr1:1001-20000', '--window-length', '8192', '--out', path('two.tsv'), '--attention', path('two.safetensors')];
  assertCliError(await runCli([...two, '--plot', path('two.png')]), /--plot draws one window; these regions need 5/, 'plot over several windows');
  assertCliError(await runCli([...two, '--shifts', '1,-1']), /--attention takes its maps from the unshifted run: include 0 in --shifts/, 'no shift 0');
});
