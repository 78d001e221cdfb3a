/**
 * TensorFlow checkpoints without TensorFlow: the index table, bundle entries, checksums and object
 * graph on files TensorFlow itself wrote (test-data/tensorflow-rust), then the official Enformer's
 * SavedModel layout (written here from the enformer-small fixture under the full TF names) converted
 * to the canonical model, and damaged inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c as awsCrc32c } from '@aws-crypto/crc32c';
import { crc32c, crc32cExtend, maskCrc, unmaskCrc } from '../weights/crc32c.js';
import { maskedCrc32c } from '../formats/tfrecord.js';
import { OBJECT_GRAPH_KEY, TfBundle } from '../weights/tf-bundle.js';
import { checkpointKey, graphVariables, parseObjectGraph } from '../weights/tf-object-graph.js';
import { readEnformerCheckpoint } from '../weights/enformer-tf.js';
import { readSSTable } from '../weights/sstable.js';
import { convertModel } from '../tasks/model-store/convert-model.js';
import { REPO_ROOT, fixturePath, runCli, skipUnless, withTempDir } from './fixtures.js';
import { expectPredicts, expectSameTensors } from './weights-helpers.js';
import { buildSSTable, writeEnformerSavedModel, writeTfCheckpoint } from './tf-checkpoint-writer.js';

const REAL = join(REPO_ROOT, 'test-data', 'tensorflow-rust');
const skip = skipUnless('enformer-small');
const ENFORMER_CONFIG = () => fixturePath('enformer-small', 'config.json');

/** An error that is one line and matches `re`. */
const oneLine = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof Error, String(e));
  assert.doesNotMatch(e.message, /[\r\n]/, e.message);
  assert.match(e.message, re);
  return true;
};

test('crc32c: sliced-by-8 equals an independent implementation; the check value; masking as TFRecord', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  let seed = 7;
  for (const n of [0, 1, 7, 8, 9, 63, 64, 65, 1000, 100_003]) {
    const data = new Uint8Array(n).map(() => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff);
    assert.equal(crc32c(data), awsCrc32c(data) >>> 0, `length ${n}`);
    assert.equal(crc32cExtend(crc32c(data.subarray(0, n >> 1)), data.subarray(n >> 1)), crc32c(data), `extend, length ${n}`);
    assert.equal(maskCrc(crc32c(data)), maskedCrc32c(data));
    assert.equal(unmaskCrc(maskCrc(crc32c(data))), crc32c(data));
  }
});

test('TF-written SavedModel (TF 2.5, tensorflow/rust regression_savedmodel): keys, dtypes, shapes, values, checksums, object graph', () => {
  const b = TfBundle.open(join(REAL, 'regression_savedmodel', 'variables', 'variables'));
  assert.equal(b.numShards, 1);
  // TensorFlow prefix-compressed the keys: 'optimizer/iter…' is stored as a suffix of 'optimizer/decay…'.
  assert.ok(!readFileSync(b.indexPath).includes('optimizer/iter'));
  const v = (name: string) => `${name}/.ATTRIBUTES/VARIABLE_VALUE`;
  assert.deepEqual([...b.entries.keys()], [OBJECT_GRAPH_KEY, v('b'), v('optimizer/decay'), v('optimizer/iter'), v('optimizer/learning_rate'), v('optimizer/momentum'), v('w')]);
  const summary = Object.fromEntries([...b.entries.values()].map((e) => [e.key, `${e.dtypeName} [${e.shape}]`]));
  assert.deepEqual(summary, {
    [OBJECT_GRAPH_KEY]: 'string []',
    [v('b')]: 'float32 [1]',
    [v('optimizer/decay')]: 'float32 []',
    [v('optimizer/iter')]: 'int64 []',
    [v('optimizer/learning_rate')]: 'float32 []',
    [v('optimizer/momentum')]: 'float32 []',
    [v('w')]: 'float32 [1]',
  });
  // regression_savedmodel.py: b = tf.zeros([1]), w = tf.random.uniform([1], -1, 1), SGD(0.5), never trained.
  assert.deepEqual([...b.readFloat32(v('b')).data], [0]);
  assert.deepEqual([...b.readFloat32(v('optimizer/learning_rate')).data], [0.5]);
  assert.deepEqual([...b.readFloat32(v('optimizer/decay')).data], [0]);
  assert.deepEqual([...b.readFloat32(v('optimizer/momentum')).data], [0]);
  assert.deepEqual([...b.readBytes(v('optimizer/iter'))], [0, 0, 0, 0, 0, 0, 0, 0]);
  const w = b.readFloat32(v('w')).data[0]!;
  assert.ok(w >= -1 && w < 1 && w !== 0, `w = ${w}`);

  const nodes = parseObjectGraph(b.readStrings(OBJECT_GRAPH_KEY)[0]!, 'graph');
  const vars = graphVariables(nodes);
  assert.deepEqual(
    vars.map((x) => [x.path.join('/'), x.attribute, x.fullName]).sort(),
    [
      ['b', 'VARIABLE_VALUE', 'b'],
      ['optimizer/decay', 'VARIABLE_VALUE', 'SGD/decay'],
      ['optimizer/iter', 'VARIABLE_VALUE', 'SGD/iter'],
      ['optimizer/learning_rate', 'VARIABLE_VALUE', 'SGD/learning_rate'],
      ['optimizer/momentum', 'VARIABLE_VALUE', 'SGD/momentum'],
      ['w', 'VARIABLE_VALUE', 'w'],
    ],
  );
  // The breadth-first object paths reproduce every key TensorFlow wrote.
  for (const x of vars) assert.equal(checkpointKey(x.path, x.attribute), x.checkpointKey);
  assert.deepEqual(vars.map((x) => x.checkpointKey).sort(), [...b.entries.keys()].filter((k) => k !== OBJECT_GRAPH_KEY).sort());
  // Not an Enformer: one clear line.
  assert.throws(() => readEnformerCheckpoint(b.prefix), oneLine(/no Enformer module in the object graph/));
});

test('TF-written TF1 checkpoint (tensorflow/rust regression-model, 2017): name-based keys, no object graph', () => {
  const b = TfBundle.open(join(REAL, 'regression-model', 'variables', 'variables'));
  assert.deepEqual([...b.entries.keys()], ['b', 'w']);
  assert.deepEqual(b.entries.get('w')!.shape, [1]);
  assert.deepEqual([...b.readFloat32('b').data], [0]); // tf.zeros([1])
  const w = b.readFloat32('w').data[0]!;
  assert.ok(w >= -1 && w < 1 && w !== 0, `w = ${w}`);
  assert.throws(() => readEnformerCheckpoint(b.prefix), oneLine(/no object graph .*name-based TF1 checkpoint is not supported/));
});

test('sstable: many blocks and restart points round-trip; every key and value back in order', () => {
  const entries: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < 500; i++) entries.push([Buffer.from(`model/_trunk/_layers/${String(i).padStart(4, '0')}/w`), Buffer.from(`value ${i}`.repeat(1 + (i % 5)))]);
  for (const [blockSize, restartInterval] of [[64, 1], [300, 3], [1 << 20, 16]]) {
    const table = buildSSTable(entries, { blockSize, restartInterval });
    const back = readSSTable(table, 'table');
    assert.equal(back.length, entries.length);
    back.forEach((e, i) => {
      assert.ok(Buffer.from(e.key).equals(entries[i]![0]));
      assert.ok(Buffer.from(e.value).equals(entries[i]![1]));
    });
  }
});

test('convert: the Enformer SavedModel layout (full TF names, 3 data shards, many index blocks) -> exactly the fixture tensors, and its predictions', { skip }, () =>
  withTempDir(async (dir) => {
    const saved = join(dir, 'enformer_savedmodel');
    await writeEnformerSavedModel(saved, fixturePath('enformer-small', 'weights.safetensors'), { shards: 3, blockSize: 2048 });
    const out = join(dir, 'model');
    const lines: string[] = [];
    const r = await convertModel({ input: saved, config: ENFORMER_CONFIG(), out, log: (l) => lines.push(l) });
    assert.equal(r.format, 'tf-checkpoint');
    assert.equal(r.tensors, 129);
    assert.match(lines.join('\n'), /Enformer module at 'model' in the object graph; 57 tensors skipped/);
    assert.equal(await expectSameTensors(out, 'enformer-small'), 129);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(config.positional_gamma, 'tf');
    assert.equal(config.use_tf_gamma, false);
    await expectPredicts(out, 'enformer-small', ['human', 'mouse']);
  }));

test('convert: the variables/ folder of a training checkpoint (module root), no config -> the config from the shapes; a gamma table turns on use_tf_gamma', { skip }, () =>
  withTempDir(async (dir) => {
    await writeEnformerSavedModel(dir, fixturePath('enformer-small', 'weights.safetensors'), { root: 'module' });
    const out = join(dir, 'model');
    await convertModel({ input: join(dir, 'variables'), out, gammaTable: skipUnless('tf-gamma') ? undefined : fixturePath('tf-gamma', 'tf_gammas.safetensors') });
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    const fixture = JSON.parse(readFileSync(ENFORMER_CONFIG(), 'utf8'));
    for (const key of ['dim', 'depth', 'heads', 'output_heads', 'attn_dim_key', 'num_downsamples', 'dim_divisible_by']) assert.deepEqual(config[key], fixture[key], key);
    assert.equal(config.target_length, 896); // enformer.py's constant: the weights do not say
    assert.equal(config.positional_gamma, 'tf');
    if (!skipUnless('tf-gamma')) {
      assert.equal(config.use_tf_gamma, true);
      assert.ok(existsSync(join(out, 'tf_gammas.safetensors')));
    }
    assert.equal(await expectSameTensors(out, 'enformer-small'), 129);
  }));

test('convert (CLI): a SavedModel folder with --config', { skip }, () =>
  withTempDir(async (dir) => {
    const saved = join(dir, 'saved');
    await writeEnformerSavedModel(saved, fixturePath('enformer-small', 'weights.safetensors'));
    const out = join(dir, 'model');
    const r = await runCli(['weights', 'convert', saved, '--config', ENFORMER_CONFIG(), '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /converted .*variables\.index \(tf-checkpoint\) -> .*: enformer, heads human, mouse, 129 tensors, verified/);
  }));

/** A small SavedModel to damage: the fixture's weights over two shards. */
async function damaged(dir: string, damage: (prefix: string, b: TfBundle) => void): Promise<{ saved: string; out: string }> {
  const saved = join(dir, 'saved');
  await writeEnformerSavedModel(saved, fixturePath('enformer-small', 'weights.safetensors'), { shards: 2, blockSize: 4096 });
  const prefix = join(saved, 'variables', 'variables');
  damage(prefix, TfBundle.open(prefix));
  return { saved, out: join(dir, 'model') };
}

const flip = (path: string, at: number) => {
  const b = readFileSync(path);
  b[at]! ^= 0x10;
  writeFileSync(path, b);
};

for (const [what, damage, re] of [
  ['a truncated index', (p: string) => truncateSync(`${p}.index`, readFileSync(`${p}.index`).length - 20), /variables\.index: no table magic number at the end: truncated/],
  ['an index cut to 30 bytes', (p: string) => truncateSync(`${p}.index`, 30), /variables\.index: 30 bytes, too short for a table footer/],
  ['an index block with a flipped byte', (p: string) => flip(`${p}.index`, 40), /variables\.index: data block 0 at offset 0 fails its checksum: the file is damaged/],
  [
    'a tensor with a flipped byte',
    (p: string, b: TfBundle) => flip(b.dataPath(b.entries.get('model/_trunk/_layers/0/_layers/0/w/.ATTRIBUTES/VARIABLE_VALUE')!.shard), b.entries.get('model/_trunk/_layers/0/_layers/0/w/.ATTRIBUTES/VARIABLE_VALUE')!.offset + 5),
    /variables\.data-0000[01]-of-00002: tensor "model\/_trunk\/_layers\/0\/_layers\/0\/w\/\.ATTRIBUTES\/VARIABLE_VALUE" fails its checksum \(crc32c [0-9a-f]{8}, the index says [0-9a-f]{8}\): the file is damaged/,
  ],
  ['a truncated data shard', (p: string, b: TfBundle) => truncateSync(b.dataPath(1), 100), /variables\.data-00001-of-00002: tensor ".*" \(bytes \d+\.\.\d+\) runs past the end of the file \(100 bytes\): truncated\?/],
  ['a missing data shard', (p: string, b: TfBundle) => unlinkSync(b.dataPath(0)), /variables\.data-00000-of-00002: cannot open data file for tensor ".*" \(ENOENT\)/],
] as const) {
  test(`convert: ${what} is one clear error and leaves nothing behind`, { skip }, () =>
    withTempDir(async (dir) => {
      const { saved, out } = await damaged(dir, damage);
      await assert.rejects(convertModel({ input: saved, config: ENFORMER_CONFIG(), out }), oneLine(re));
      assert.ok(!existsSync(out));
    }));
}

test('convert (CLI): a damaged tensor is one error line', { skip }, () =>
  withTempDir(async (dir) => {
    const { saved, out } = await damaged(dir, (p, b) => flip(b.dataPath(0), 3));
    const r = await runCli(['weights', 'convert', saved, '--out', out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^seq2track: error: .*variables\.data-00000-of-00002: tensor ".*" fails its checksum .*\n$/);
  }));

test('checkpoint reader: snappy blocks, big-endian bundles and partitioned variables are refused clearly', () =>
  withTempDir(async (dir) => {
    const prefix = join(dir, 'ckpt');
    const one = (key: string) => ({ key, dtype: 'float32' as const, shape: [2], data: new Uint8Array(8) });
    writeTfCheckpoint(prefix, [one('a')], { compression: 1 });
    assert.throws(() => TfBundle.open(prefix), oneLine(/ckpt\.index: index block is snappy-compressed: only uncompressed tables .* are supported/));

    writeTfCheckpoint(prefix, [one('a')], { bigEndian: true });
    assert.throws(() => TfBundle.open(prefix), oneLine(/ckpt\.index: bundle header: written big-endian; only little-endian checkpoints are supported/));
    writeTfCheckpoint(prefix, [{ ...one('a'), sliced: true }, one('b')]);
    assert.throws(() => TfBundle.open(prefix).readFloat32('a'), oneLine(/ckpt\.index: tensor "a" is partitioned \(saved in slices\), which is not supported/));
    assert.deepEqual([...TfBundle.open(prefix).readFloat32('b').data], [0, 0]);

    assert.deepEqual(readdirSync(dir).sort(), ['ckpt.data-00000-of-00001', 'ckpt.index']);
  }));

test('Enformer map: a variable the architecture lacks, and a trunk without four stages, are named', { skip }, () =>
  withTempDir(async (dir) => {
    const weights = fixturePath('enformer-small', 'weights.safetensors');
    await writeEnformerSavedModel(join(dir, 'a'), weights, { extraVariables: [['_trunk', '_layers', '0', '_layers', '0', 'extra']] });
    assert.throws(
      () => readEnformerCheckpoint(join(dir, 'a', 'variables', 'variables')),
      oneLine(/1 variables of the Enformer module are not part of the Enformer architecture: "model\/_trunk\/_layers\/0\/_layers\/0\/extra\/\.ATTRIBUTES\/VARIABLE_VALUE" \("enformer\/_trunk\/_layers\/0\/_layers\/0\/extra"\)/),
    );
    // A variable-free layer before the stem (as a crop) shifts nothing; a fifth part with variables is refused.
    await writeEnformerSavedModel(join(dir, 'shifted'), weights, { trunkOffset: 1 });
    await convertModel({ input: join(dir, 'shifted'), config: ENFORMER_CONFIG(), out: join(dir, 'model'), loadCheck: false });
    assert.equal(await expectSameTensors(join(dir, 'model'), 'enformer-small'), 129);
    await writeEnformerSavedModel(join(dir, 'b'), weights, { extraVariables: [['_trunk', '_layers', '9', 'w']] });
    assert.throws(() => readEnformerCheckpoint(join(dir, 'b', 'variables', 'variables')), oneLine(/the trunk has 5 parts holding variables \(_trunk\/_layers\/0, 1, 2, 4, 9\); Enformer has 4/));
  }));
