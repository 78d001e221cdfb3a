/** `predict --fasta` streamed batch by batch: the same bytes as the whole-tensor writers; failures leave nothing behind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../models/load.js';
import { predictFasta, predictRecords } from '../tasks/predict/fasta.js';
import { attentionRequest } from '../cli/attention-options.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { writePredictionSafetensors, writeTsv } from './reference-writers.js';
import { assertCliError, fixture, runCli, skipUnless, withTempDir } from './fixtures.js';
import { rng } from './genome-files.js';

const skip = skipUnless('enformer-small');

test('predict --fasta: streamed TSV and safetensors equal the whole-tensor writers byte for byte', { skip }, () =>
  withTempDir('seq2track-fasta-stream-', async (dir) => {
    const r = rng(3);
    const seq = (n: number) => Array.from({ length: n }, () => 'ACGTN'[Math.floor(r() * 5)]).join('');
    // Five records of one length: batches of 2, 2, 1 with --batch-size 2.
    const fa = join(dir, 'in.fa');
    writeFileSync(fa, [0, 1, 2, 3, 4].map((i) => `>rec${i} some description\n${seq(4096)}\n`).join(''));
    const model = await loadModel(fixture('enformer-small')!, { threads: 1 });
    const p = await predictFasta(model, fa, { embeddings: true, batchSize: 2 });
    await model.close();
    const tensors = Object.entries(p.heads).map(([name, tensor]) => ({ name, tensor }));
    tensors.push({ name: 'embeddings', tensor: p.embeddings! });
    await writeTsv(join(dir, 'want.tsv'), { records: p.records, binSize: p.binSize, tensors });
    await writePredictionSafetensors(join(dir, 'want.safetensors'), tensors, {
      producer: 'seq2track predict',
      records: JSON.stringify(p.records.map((x) => x.name)),
      lengths: JSON.stringify(p.records.map((x) => x.length)),
      first_bin_offsets: JSON.stringify(p.records.map((x) => x.offset)),
      bin_size: String(p.binSize),
      output: 'softplus',
    });
    for (const ext of ['tsv', 'safetensors']) {
      const out = join(dir, `got.${ext}`);
      const res = await runCli(['predict', '--model', fixture('enformer-small')!, '--fasta', fa, '--embeddings', '--batch-size', '2', '--threads', '1', '--out', out]);
      assert.equal(res.code, 0, res.stderr);
      assert.ok(readFileSync(out).equals(readFileSync(join(dir, `want.${ext}`))), `${ext}: streamed bytes differ`);
    }
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.partial')), 'no partial files left');
  }));

test('predict --fasta: --output logits, --crop-input and --attention stream too, equal to the in-memory job on the cropped records', { skip }, async () => {
  await withTempDir('seq2track-fasta-stream-', async (tmpDir) => {
    const r = rng(4);
    const seq = (n: number) => Array.from({ length: n }, () => 'ACGT'[Math.floor(r() * 4)]).join('');
    // 4,196-bp records cropped to their central 4,096 bp (50 bp trimmed each end); batches of 2, 1.
    const records = [0, 1, 2].map((i) => ({ name: `rec${i}`, sequence: seq(4196) }));
    const fa = join(tmpDir, 'in.fa');
    writeFileSync(fa, records.map((x) => `>${x.name}\n${x.sequence}\n`).join(''));
    const dir = fixture('enformer-small')!;
    const request = (await attentionRequest({ output: 'logits', attention: 'x.safetensors', layers: '1' }, dir))!;
    const model = await loadModel(dir, { threads: 1, logits: true, attention: request.spec });
    const cropped = records.map((x) => ({ name: x.name, sequence: x.sequence.slice(50, 4146) }));
    const p = await predictRecords(model, cropped, fa, { batchSize: 2, output: 'logits', attention: request });
    await model.close();
    const out = join(tmpDir, 'got.safetensors');
    const att = join(tmpDir, 'att.safetensors');
    const res = await runCli(['predict', '--model', dir, '--fasta', fa, '--crop-input', '4096', '--output', 'logits', '--attention', att, '--attention-layers', '1', '--batch-size', '2', '--threads', '1', '--out', out]);
    assert.equal(res.code, 0, res.stderr);
    const got = await SafetensorsFile.open(out);
    assert.equal(got.metadata.output, 'logits');
    assert.deepEqual(JSON.parse(got.metadata.lengths!), [4196, 4196, 4196], 'lengths of the records as given');
    assert.deepEqual(JSON.parse(got.metadata.first_bin_offsets!), p.records.map((x) => x.offset + 50), 'offsets from the uncropped record start');
    for (const [head, t] of Object.entries(p.heads)) assert.deepEqual(got.readFloat32(head), t.data, head);
    const maps = await SafetensorsFile.open(att);
    assert.deepEqual(maps.tensors.get('attention')!.shape, p.attention!.shape);
    assert.deepEqual(maps.readFloat32('attention'), p.attention!.data);
    assertCliError(await runCli(['predict', '--model', dir, '--fasta', fa, '--crop-input', '5000', '--out', join(tmpDir, 'x.tsv')]), /in\.fa: record 'rec0' has 4196 bp, fewer than --crop-input 5000/, 'crop longer than the record');
    assert.ok(!readdirSync(tmpDir).some((f) => f.endsWith('.partial') || f === 'x.tsv'), 'no partial or failed outputs left');
  });
});

test('predict --fasta: a bad record found late fails before any output exists; an unwritable --out fails first', { skip }, () =>
  withTempDir('seq2track-fasta-stream-', async (dir) => {
    const fa = join(dir, 'bad.fa');
    writeFileSync(fa, `>a\n${'ACGT'.repeat(1024)}\n>b\n${'ACGT'.repeat(1023)}ACGX\n`);
    const out = join(dir, 'x.safetensors');
    assertCliError(await runCli(['predict', '--model', fixture('enformer-small')!, '--fasta', fa, '--out', out]), /bad\.fa: record 'b'.*X/, 'bad letter');
    assert.ok(!existsSync(out) && !existsSync(`${out}.partial`));
    writeFileSync(join(dir, 'file'), '');
    assertCliError(await runCli(['predict', '--model', fixture('enformer-small')!, '--fasta', fa, '--out', join(dir, 'file', 'x.tsv')]), /--out .*file.*x\.tsv: cannot write to .*\((ENOTDIR|ENOENT)\)|not a directory/, 'unwritable --out');
  }));
