import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnformerConfig } from '../models/enformer.js';
import { ConfigError } from '../models/config.js';
import { architectureFromConfig, loadModel, ModelDirError } from '../models/load.js';
import { fixture, skipUnless, withTempDir } from './fixtures.js';

const base = { dim: 96, depth: 2, heads: 4, output_heads: { human: 12 }, target_length: 32, attn_dim_key: 16, num_downsamples: 7, dim_divisible_by: 8 };

test('config: every bad field is named', () => {
  const bad = (patch: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => parseEnformerConfig({ ...base, ...patch }, 'cfg.json'), (e: Error) => e instanceof ConfigError && /^cfg\.json: /.test(e.message) && pattern.test(e.message));
  bad({ dim: 'wide' }, /field "dim" must be a positive integer, found "wide"/);
  bad({ depth: 0 }, /field "depth"/);
  bad({ heads: 5 }, /dim \(96\) must be divisible by heads \(5\)/);
  bad({ output_heads: { human: 0 } }, /field "output_heads.human"/);
  bad({ output_heads: [] }, /field "output_heads"/);
  bad({ output_heads: {} }, /field "output_heads" names no heads/);
  bad({ target_length: 1.5 }, /field "target_length" must be an integer/);
  bad({ use_tf_gamma: 'yes' }, /field "use_tf_gamma" must be true or false/);
  bad({ num_downsamples: 1 }, /num_downsamples must be at least 2/);
  bad({ pool_type: 'mean' }, /pool_type/);
});

test('config: defaults are the published Enformer', () => {
  const c = parseEnformerConfig({}, 'x');
  assert.equal(c.dim, 1536);
  assert.deepEqual(c.outputHeads, { human: 5313, mouse: 1643 });
  assert.equal(c.targetLength, 896);
});

test('config: an unknown model_type is named', () => {
  assert.throws(() => architectureFromConfig({ model_type: 'bert' }, 'c.json'), /c\.json: unknown model_type "bert"/);
});

test('loadModel: missing directory, unreadable config, bad JSON, no weights', { skip: skipUnless('enformer-small') }, () =>
  withTempDir(async (dir) => {
    await assert.rejects(loadModel(join(dir, 'nope')), (e: Error) => e instanceof ModelDirError && /cannot read config \(ENOENT\)/.test(e.message));
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'config.json'), '{"dim": 96,');
    await assert.rejects(loadModel(bad), (e: Error) => e instanceof ConfigError && /config\.json: not a JSON object/.test(e.message));
    writeFileSync(join(bad, 'config.json'), '[1, 2]');
    await assert.rejects(loadModel(bad), /not a JSON object/);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    symlinkSync(join(fixture('enformer-small')!, 'config.json'), join(empty, 'config.json'));
    await assert.rejects(loadModel(empty), /no \*\.safetensors weights file/);
  }));
