import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Borzoi, parseBorzoiConfig } from '../models/borzoi.js';
import { architectureFromConfig } from '../models/load.js';
import { Model } from '../models/model.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet, WeightsMismatchError } from '../weights/weight-set.js';
import { fixturePath, openFixture, readRef } from './fixtures.js';
import { skipUnless } from './fixtures.js';
import { attentionBlockTest, unetParityTests } from './borzoi-suite.js';

const FIXTURE = 'borzoi-small';

unetParityTests(FIXTURE, 'borzoi');
attentionBlockTest(FIXTURE);

test('borzoi: relative-position basis equals the reference table', { skip: skipUnless('borzoi-small') }, async () => {
  const fx = await openFixture(FIXTURE);
  const feeds = new Borzoi(parseBorzoiConfig({}, 'test')).positionFeeds(fx.length);
  assert.deepEqual(feeds.positions!.dims, fx.outputs.tensors.get('positional_features')!.shape);
  assert.deepEqual(Array.from(feeds.positions!.data as Float32Array), Array.from(readRef(fx.outputs, 'positional_features')));
});

test('borzoi: config picks the architecture; crop rule for other lengths', { skip: skipUnless('borzoi-small') }, async () => {
  const json = JSON.parse(await readFile(fixturePath(FIXTURE, 'config.json'), 'utf8'));
  const small = architectureFromConfig(json, 'config.json');
  assert.equal(small.kind, 'borzoi');
  assert.deepEqual(small.cropRange(8192), { start: 64, end: 192 }); // the fixture: 256 bins -> 128
  assert.deepEqual(small.cropRange(2048), { start: 0, end: 64 }); // shorter than bins_to_return: all bins
  assert.equal(small.lengthProblem(8192 + 64), 'the model accepts positive multiples of 128 bp');
  const full = new Borzoi(parseBorzoiConfig({}, 'hub'));
  assert.deepEqual(full.cropRange(524_288), { start: 5120, end: 11264 });
  assert.deepEqual(full.cropRange(393_216), { start: 3072, end: 9216 }); // 12288 bins -> centre 6144
  const all = new Borzoi(parseBorzoiConfig({ return_center_bins_only: false }, 'hub'));
  assert.deepEqual(all.cropRange(524_288), { start: 16, end: 16368 }); // 16384 - 32, as the reference
  assert.deepEqual(all.cropRange(8192), { start: 16, end: 240 }); // 16 bins off each end at any length
  assert.match(all.lengthProblem(1024) ?? '', /no output bins/);
  assert.equal(full.trunkHaloBp % 128, 0);
  assert.ok(full.trunkHaloBp >= 259);
});

test('borzoi: FLOPs per stage reproduce the manifest at full size', { skip: skipUnless('borzoi-small') }, async () => {
  const manifest = JSON.parse(await readFile(fixturePath('borzoi-manifest.json'), 'utf8'));
  const ref = manifest.flops_forward_batch1;
  const both = new Borzoi(parseBorzoiConfig({ enable_mouse_head: true }, 'hub')).flops(ref.sequence_length);
  const names: Record<string, string> = {
    stem: 'stem(conv_dna)',
    res_tower: 'conv_tower(res_tower)',
    unet1: 'unet1_conv',
    transformer: 'transformer',
    upsampling: 'unet_upsampling',
    final_joined_convs: 'final_joined_convs',
  };
  for (const [stage, value] of Object.entries(both.stages)) {
    const want = stage.startsWith('heads.') ? ref.per_stage.heads[stage.slice(6)] : ref.per_stage[names[stage]!];
    assert.equal(value, want, stage);
  }
  assert.equal(both.total, ref.total);
  const human = new Borzoi(parseBorzoiConfig({}, 'hub')).flops(ref.sequence_length);
  assert.equal(human.total, ref.total - ref.per_stage.heads.mouse); // ≈ 4.91 TFLOP
});

test('borzoi: human-only weights load; missing and unexpected tensors are reported', { skip: skipUnless('borzoi-small') }, async () => {
  const fx = await openFixture(FIXTURE);
  const json = JSON.parse(await readFile(fixturePath(FIXTURE, 'config.json'), 'utf8'));
  const file = await SafetensorsFile.open(fixturePath(FIXTURE, 'weights.safetensors'));
  const humanOnly = WeightSet.fromSafetensors(file, (n) => (n.startsWith('mouse_head.') ? null : n));
  const model = await Model.create(architectureFromConfig(json, 'config.json'), humanOnly, 'human-only');
  try {
    assert.deepEqual(model.headNames, ['human']);
    const p = await model.predict({ data: fx.x, batch: fx.batch, length: fx.length });
    assert.deepEqual(Object.keys(p.heads), ['human']);
    assert.deepEqual(p.heads.human!.shape, [2, 128, 12]);
  } finally {
    await model.close();
  }

  const broken = WeightSet.fromSafetensors(file, (n) => (n === 'separable0.conv_layer.1.bias' ? null : n === 'unet1.1.norm.weight' ? 'unet1.1.norm.gamma' : n));
  await assert.rejects(Model.create(architectureFromConfig(json, 'config.json'), broken, 'broken'), (e: unknown) => {
    assert.ok(e instanceof WeightsMismatchError);
    assert.deepEqual(e.problems.sort(), ['missing separable0.conv_layer.1.bias [96]', 'missing unet1.1.norm.weight [80]', 'unexpected unet1.1.norm.gamma (stored as unet1.1.norm.weight) [80]']);
    return true;
  });
  const narrow = architectureFromConfig({ ...json, dim: 64 }, 'config.json');
  await assert.rejects(Model.create(narrow, WeightSet.fromSafetensors(file), 'narrow'), /mis-shaped unet1\.1\.conv_layer\.weight: \[96,80,5\] in the file, the config needs \[64,80,5\]/);
});

test('borzoi: other input lengths run (4096 bp: all 128 bins)', { skip: skipUnless('borzoi-small') }, async () => {
  const fx = await openFixture(FIXTURE);
  const json = JSON.parse(await readFile(fixturePath(FIXTURE, 'config.json'), 'utf8'));
  const file = await SafetensorsFile.open(fixturePath(FIXTURE, 'weights.safetensors'));
  const model = await Model.create(architectureFromConfig(json, 'config.json'), WeightSet.fromSafetensors(file), 'w');
  try {
    const L = 4096;
    const x = new Float32Array(L * 4);
    x.set(fx.x.subarray(2048 * 4, (2048 + L) * 4));
    const p = await model.predict({ data: x, batch: 1, length: L }, { embeddings: true });
    assert.deepEqual(p.heads.human!.shape, [1, 128, 12]);
    assert.deepEqual(p.embeddings!.shape, [1, 128, 120]);
    assert.ok(p.heads.human!.data.every((v) => Number.isFinite(v) && v > 0));
  } finally {
    await model.close();
  }
});
