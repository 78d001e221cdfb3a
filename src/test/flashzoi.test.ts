import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Borzoi, parseBorzoiConfig } from '../models/borzoi.js';
import { architectureFromConfig } from '../models/load.js';
import { assertClose, fixturePath, openFixture, readRef } from './fixtures.js';
import { skipUnless } from './fixtures.js';
import { attentionBlockTest, croppedDecoderTests, unetParityTests } from './borzoi-suite.js';

const FIXTURE = 'flashzoi-small';

unetParityTests(FIXTURE, 'flashzoi');
attentionBlockTest(FIXTURE);
croppedDecoderTests(FIXTURE);

test('flashzoi: rotary tables match the reference run', { skip: skipUnless('flashzoi-small') }, async () => {
  const fx = await openFixture(FIXTURE);
  const json = JSON.parse(await readFile(fixturePath(FIXTURE, 'config.json'), 'utf8'));
  const feeds = architectureFromConfig(json, 'config.json').positionFeeds(fx.length);
  for (const name of ['rotary_cos', 'rotary_sin']) {
    assert.deepEqual(feeds[name]!.dims, fx.outputs.tensors.get(name)!.shape);
    // Ours are float64 angles rounded once; the fixture's come from float32 angles (README: ≤ 1.2e-6 off).
    assertClose(feeds[name]!.data as Float32Array, readRef(fx.outputs, name), { atol: 3e-6 }, name);
  }
});

test('flashzoi: config selects flashed attention and its weight names', { skip: skipUnless('flashzoi-small') }, async () => {
  const json = JSON.parse(await readFile(fixturePath(FIXTURE, 'config.json'), 'utf8'));
  const arch = architectureFromConfig(json, 'config.json');
  assert.ok(arch instanceof Borzoi);
  assert.equal(arch.kind, 'flashzoi');
  const names = arch.expectedWeights().map((t) => t.name);
  assert.ok(names.includes('transformer.0.0.fn.1.mha.Wqkv.weight'));
  assert.ok(!names.some((n) => n.includes('to_rel_k')));
  assert.equal(architectureFromConfig({ model_type: 'flashzoi' }, 'x').kind, 'flashzoi');
  assert.throws(() => parseBorzoiConfig({ flashed: true, dim: 96, heads: 4 }, 'x'), /at least 128/);
  // Full size: 8 query heads of 192, 4 kv heads -> Wqkv [3072, 1536].
  const full = new Borzoi(parseBorzoiConfig({ flashed: true, enable_mouse_head: true }, 'hub'));
  assert.deepEqual(full.expectedWeights().find((t) => t.name === 'transformer.0.0.fn.1.mha.Wqkv.weight')!.shape, [3072, 1536]);
  const f = full.flops(524_288);
  const n = 4096;
  assert.equal(f.stages.transformer, 8 * (2 * n * 1536 * 3072 + 2 * n * 1536 * 1536 + 4 * 8 * n * n * 192 + 4 * n * 1536 * 3072));
});
