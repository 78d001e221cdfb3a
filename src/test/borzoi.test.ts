import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Borzoi, decoderWindow, parseBorzoiConfig } from '../models/borzoi.js';
import { architectureFromConfig } from '../models/load.js';
import { Model } from '../models/model.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet, WeightsMismatchError } from '../weights/weight-set.js';
import { fixturePath, openFixture, readRef } from './fixtures.js';
import { skipUnless } from './fixtures.js';
import { attentionBlockTest, croppedDecoderTests, unetParityTests } from './borzoi-suite.js';

const FIXTURE = 'borzoi-small';

unetParityTests(FIXTURE, 'borzoi');
attentionBlockTest(FIXTURE);
croppedDecoderTests(FIXTURE);

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
  // The reference decodes the whole window.
  const reference = new Borzoi(parseBorzoiConfig({ enable_mouse_head: true }, 'hub'));
  reference.fullDecoder = true;
  const both = reference.flops(ref.sequence_length);
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
  const humanArch = new Borzoi(parseBorzoiConfig({}, 'hub'));
  humanArch.fullDecoder = true;
  const human = humanArch.flops(ref.sequence_length);
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

test('borzoi: the cropped decoder\'s spans, and its FLOPs', () => {
  // Fixture: 256 bins, kept [64, 192). separable0 needs 32-bp [63, 193): 64-bp exact1 [31, 97), 32-bp
  // span [62, 194); separable1 needs 64-bp [30, 98): transformer [15, 49), 64-bp span [30, 98).
  assert.deepEqual(decoderWindow(64, 192, 256), { transformer: { lo: 15, hi: 49 }, unet1: { lo: 30, hi: 98 }, exact1: { lo: 31, hi: 97 }, unet0: { lo: 62, hi: 194 } });
  // Odd ends round outwards; spans stop at the sequence ends.
  assert.deepEqual(decoderWindow(65, 191, 256), { transformer: { lo: 15, hi: 49 }, unet1: { lo: 30, hi: 98 }, exact1: { lo: 32, hi: 96 }, unet0: { lo: 64, hi: 192 } });
  assert.deepEqual(decoderWindow(0, 64, 64), { transformer: { lo: 0, hi: 16 }, unet1: { lo: 0, hi: 32 }, exact1: { lo: 0, hi: 32 }, unet0: { lo: 0, hi: 64 } });
  // Full size: 6,144 of 16,384 bins kept, 1,538 of 4,096 transformer positions decoded.
  const full = new Borzoi(parseBorzoiConfig({}, 'hub'));
  const w = decoderWindow(5120, 11264, 16_384);
  assert.deepEqual(w.transformer, { lo: 1279, hi: 2817 });
  const cropped = full.flops(524_288).stages.upsampling;
  full.fullDecoder = true;
  const whole = full.flops(524_288).stages.upsampling;
  assert.ok(cropped < 0.38 * whole && cropped > 0.37 * whole, `${cropped} / ${whole}`);
});

/**
 * Borzoi's positional logits as (q W)·p (its 32 position features are fewer than the published 64
 * key dims, so that is the default at full size) equal the reference's q·(W p) in real arithmetic.
 * The fixture's 16 key dims would take the reference form by default: both forms are forced here and
 * checked against the fixture's float64 heads at the parity tolerance, and input gradients (the
 * backward goes through the new products) against each other.
 */
test('borzoi-small: positional logits through the position features equal those through the keys', { skip: skipUnless('borzoi-small') }, async () => {
  const fx = await openFixture('borzoi-small');
  const ref = JSON.parse(await readFile(`${fx.dir}/reference.json`, 'utf8')).suggested_tolerances as Record<string, { atol: number }>;
  const json = JSON.parse(await readFile(`${fx.dir}/config.json`, 'utf8'));
  const file = await SafetensorsFile.open(`${fx.dir}/weights.safetensors`);
  const create = (product: 'keys' | 'features') => {
    const arch = architectureFromConfig(json, 'config.json') as Borzoi;
    arch.positionalProduct = product;
    return Model.create(arch, WeightSet.fromSafetensors(file), `borzoi-small (${product})`, { tileLength: 0, threads: 2 });
  };
  const [keys, features] = [await create('keys'), await create('features')];
  try {
    const input = { data: fx.x, batch: fx.batch, length: fx.length };
    const [a, b] = [await keys.predict(input), await features.predict(input)];
    for (const head of ['human', 'mouse']) {
      const want = readRef(fx.outputs, `${head}_f64`);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(b.heads[head]!.data[i]! - want[i]!));
      assert.ok(worst <= ref[head]!.atol, `${head}: features form off the float64 reference by ${worst} (atol ${ref[head]!.atol})`);
      let apart = 0;
      for (let i = 0; i < want.length; i++) apart = Math.max(apart, Math.abs(b.heads[head]!.data[i]! - a.heads[head]!.data[i]!));
      assert.ok(apart <= ref[head]!.atol, `${head}: the two forms differ by ${apart}`);
    }
    const bins = keys.outputBins(fx.length);
    const objective = { head: 'human', tracks: [0, 2], bins: [0, Math.floor(bins / 2), bins - 1], aggregate: 'sum' as const };
    const [ga, gb] = [await keys.inputGradients(input, objective), await features.inputGradients(input, objective)];
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < ga.grad.length; i++) {
      scale = Math.max(scale, Math.abs(ga.grad[i]!));
      diff = Math.max(diff, Math.abs(ga.grad[i]! - gb.grad[i]!));
    }
    // Float32 sums in another order: a few ulp of the gradients' scale.
    assert.ok(diff <= 1e-5 * Math.max(1, scale), `input gradients differ by ${diff} (scale ${scale})`);
  } finally {
    await keys.close();
    await features.close();
  }
});
