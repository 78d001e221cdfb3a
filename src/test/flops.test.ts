import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Enformer, parseEnformerConfig } from '../models/enformer.js';
import { fixture, skipUnless } from './fixtures.js';

test('FLOPs of the full-size Enformer match the manifest, stage by stage', { skip: skipUnless('enformer-manifest.json') }, () => {
  const manifest = JSON.parse(readFileSync(fixture('enformer-manifest.json')!, 'utf8'));
  const ref = manifest.flops_forward_batch1;
  const model = new Enformer(parseEnformerConfig({ ...manifest.config }, 'enformer-manifest.json'));
  const got = model.flops(ref.sequence_length);
  const expected: Record<string, number> = {
    stem: ref.per_stage.stem,
    conv_tower: ref.per_stage.conv_tower,
    transformer: ref.per_stage.transformer,
    final_pointwise: ref.per_stage.final_pointwise,
    'heads.human': ref.per_stage.heads.human,
    'heads.mouse': ref.per_stage.heads.mouse,
  };
  assert.deepEqual(got.stages, expected);
  assert.equal(got.total, ref.total);
  assert.deepEqual(model.channels, manifest.channel_schedule);
});
