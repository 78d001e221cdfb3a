/**
 * Enformer weights in enformer-pytorch's layout from before 0.5 (EleutherAI's February 2022
 * checkpoints): the fixture rewritten into that layout (test/legacy-enformer.ts) converts from a torch
 * zip and from safetensors, with both names, aliases only or own names only, to exactly the canonical
 * tensors, and predicts bit-identically. The layout is told from the whole set of names; a file mixing
 * both layouts, a to_attn_logits that is not a matrix and a mis-shaped tensor are refused naming the
 * file and the tensor as stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { architectureFromConfig, loadModel } from '../models/load.js';
import { convertModel } from '../tasks/model-store/convert-model.js';
import { isLegacyEnformerLayout, LEGACY_ENFORMER_NAMING, legacyEnformerName } from '../weights/enformer-legacy-names.js';
import { resolveTensorNames } from '../weights/weight-names.js';
import { fixture, skipUnless, withTempDir } from './fixtures.js';
import { assertBitIdentical, expectSameTensors, predictEnformerFixture } from './weights-helpers.js';
import { legacyAlias, legacyLogitsShape, legacyOwnName, writeLegacyModel, type LegacyModelOptions } from './legacy-enformer.js';

const skip = skipUnless('enformer-small');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('legacy names: each pre-0.5 name maps to its 0.5 name; names outside the layout stay as they are', () => {
  const cases: [string, string | null][] = [
    ['stem.1.weight', 'stem.0.weight'],
    ['_trunk.0.1.bias', 'stem.0.bias'],
    ['stem.2.fn.0.running_var', 'stem.1.fn.0.running_var'],
    ['_trunk.0.2.fn.2.weight', 'stem.1.fn.2.weight'],
    ['stem.3.to_attn_logits', 'stem.2.to_attn_logits.weight'],
    ['_trunk.0.3.to_attn_logits', 'stem.2.to_attn_logits.weight'],
    ['conv_tower.4.0.0.weight', 'conv_tower.4.0.0.weight'],
    ['_trunk.1.4.1.fn.2.bias', 'conv_tower.4.1.fn.2.bias'],
    ['_trunk.1.5.2.to_attn_logits', 'conv_tower.5.2.to_attn_logits.weight'],
    ['transformer.1.0.fn.1.rel_content_bias', 'transformer.0.0.fn.1.rel_content_bias'],
    ['_trunk.2.11.1.fn.4.weight', 'transformer.10.1.fn.4.weight'],
    ['transformer.3.0.fn.1.to_rel_k.weight', 'transformer.2.0.fn.1.to_rel_k.weight'],
    ['_trunk.4.1.0.running_mean', 'final_pointwise.1.0.running_mean'],
    ['final_pointwise.1.2.weight', 'final_pointwise.1.2.weight'],
    ['_heads.human.0.bias', '_heads.human.0.bias'],
    ['stem.2.fn.0.num_batches_tracked', null],
    ['_trunk.1.0.0.0.num_batches_tracked', null],
  ];
  for (const [from, to] of cases) assert.equal(legacyEnformerName(from), to, from);
  for (const n of ['_trunk.3.x', '_trunk.5.0.weight', '_trunk.2.0.weight', 'stem.4.weight', 'transformer.x']) assert.equal(legacyEnformerName(n), n);
});

test('config: the hub configs of that time parse; use_convnext: true (blocks nothing here builds) is refused', () => {
  // The keys of EleutherAI/enformer-corr_coef_obj's config.json (commit 41850a4), with small sizes.
  const hub = { architectures: ['Enformer'], attn_dim_key: 16, attn_dropout: 0.05, depth: 2, dim: 96, dim_divisible_by: 8, dropout_rate: 0.4, heads: 4, model_type: 'enformer', num_downsamples: 7, output_heads: { human: 12, mouse: 5 }, pos_dropout: 0.01, target_length: 32, torch_dtype: 'float32', transformers_version: '4.16.2', use_checkpointing: false, use_convnext: false };
  assert.deepEqual(architectureFromConfig(hub, 'hub').headNames, ['human', 'mouse']);
  assert.throws(() => architectureFromConfig({ ...hub, use_convnext: true }, 'hub/config.json'), /hub\/config\.json: use_convnext: true \(enformer-pytorch's ConvNeXt conv blocks\) is not supported/);
});

test('legacy names: in the full-size state dict (enformer-manifest.json) the layout is recognised and every tensor maps to exactly the expected names', { skip: skipUnless('enformer-manifest.json') }, () => {
  const manifest = JSON.parse(readFileSync(fixture('enformer-manifest.json')!, 'utf8')) as { config: Record<string, unknown>; state_dict: { name: string; shape: number[] }[] };
  const arch = architectureFromConfig({ model_type: 'enformer', ...manifest.config }, 'manifest');
  const expected = new Map(arch.expectedWeights().map((t) => [t.name, t.shape]));
  const own = manifest.state_dict
    .filter((t) => !t.name.startsWith('_trunk.'))
    .map((t) => ({ name: legacyOwnName(t.name), shape: t.name.endsWith('.to_attn_logits.weight') ? legacyLogitsShape(t.shape) : t.shape }));
  const aliases = own.flatMap((t) => (legacyAlias(t.name) ? [{ ...t, name: legacyAlias(t.name)! }] : []));
  assert.equal(isLegacyEnformerLayout(manifest.state_dict.map((t) => t.name), 'manifest'), false, 'the 0.5 layout is not taken for the old one');
  for (const [what, tensors] of [['both names', [...own, ...aliases]], ['aliases only', [...aliases, ...own.filter((t) => t.name.startsWith('_heads.'))]], ['own names only', own]] as const) {
    assert.equal(isLegacyEnformerLayout(tensors.map((t) => t.name), 'manifest'), true, what);
    const names = resolveTensorNames(tensors, LEGACY_ENFORMER_NAMING, 'manifest');
    assert.deepEqual([...names.values()].sort(), [...expected.keys()].sort(), what);
    if (what === 'both names') assert.ok([...names.keys()].every((n) => !n.startsWith('_trunk.')), 'own names are kept over aliases');
    // Shapes agree with the config's, up to the to_attn_logits transpose and its 1x1 trailing dims.
    for (const [file, canonical] of names) {
      const shape = tensors.find((t) => t.name === file)!.shape;
      const want = expected.get(canonical)!;
      assert.deepEqual(shape, canonical.endsWith('.to_attn_logits.weight') ? legacyLogitsShape(want) : want, `${what}: ${file}`);
    }
  }
});

const variants: Pick<LegacyModelOptions, 'format' | 'names'>[] = [
  { format: 'bin', names: 'both' },
  { format: 'bin', names: 'alias' },
  { format: 'safetensors', names: 'alias' },
  { format: 'safetensors', names: 'own' },
];

for (const v of variants) {
  test(`legacy layout: ${v.format} with ${v.names} names converts to the canonical tensors bit for bit and predicts bit-identically`, { skip }, () =>
    withTempDir(async (dir) => {
      const src = join(dir, 'legacy');
      mkdirSync(src);
      await writeLegacyModel(src, v);
      const out = join(dir, 'converted');
      const log: string[] = [];
      const r = await convertModel({ input: src, out, log: (l) => log.push(l) });
      assert.equal(r.format, v.format === 'bin' ? 'pytorch-zip' : 'safetensors');
      assert.ok(log.some((l) => /\((pytorch-zip|safetensors), enformer-pytorch's layout from before 0\.5\)/.test(l)), log.join('\n'));
      // The fixture's config sets no positional_gamma: the conversion says which values the layout allows.
      assert.ok(log.some((l) => /^warning: .*written by enformer-pytorch before 0\.5.*'torch-global-max'.*'torch'.*positional_gamma/.test(l)), log.join('\n'));
      assert.equal(await expectSameTensors(out, 'enformer-small'), 129);
      assertBitIdentical(await predictEnformerFixture(out), await predictEnformerFixture(fixture('enformer-small')!), `${v.format}/${v.names} converted`);
    }));
}

test('legacy layout: a safetensors model directory is not loaded as it is; the error says to convert it', { skip }, () =>
  withTempDir(async (dir) => {
    const path = await writeLegacyModel(dir, { format: 'safetensors', names: 'alias' });
    await assert.rejects(loadModel(dir, { threads: 1 }), new RegExp(`${escape(path)}: enformer-pytorch's layout from before 0\\.5 .*seq2track weights convert ${escape(dir)} --out`));
  }));

test('legacy layout: the positional_gamma of the config is kept, and no warning then', { skip }, () =>
  withTempDir(async (dir) => {
    const config = { ...JSON.parse(readFileSync(join(fixture('enformer-small')!, 'config.json'), 'utf8')), positional_gamma: 'torch-global-max' };
    await writeLegacyModel(dir, { format: 'bin', names: 'both', config });
    const log: string[] = [];
    const out = join(dir, 'out');
    await convertModel({ input: dir, out, log: (l) => log.push(l) });
    assert.ok(!log.some((l) => l.startsWith('warning')), log.join('\n'));
    assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).positional_gamma, 'torch-global-max');
    assertBitIdentical(await predictEnformerFixture(out), await predictEnformerFixture(fixture('enformer-small')!, { gamma: 'torch-global-max' }), 'torch-global-max');
  }));

test('legacy layout: wrong shapes are refused naming the file and the tensor as stored', { skip }, () =>
  withTempDir(async (dir) => {
    let n = 0;
    const attempt = async (options: LegacyModelOptions, message: (path: string) => RegExp) => {
      const src = join(dir, `case-${n++}`);
      mkdirSync(src);
      const path = await writeLegacyModel(src, options);
      await assert.rejects(convertModel({ input: src, out: join(src, 'out') }), message(path));
    };
    // An ordinary tensor (both names, one storage): named by its stored own name.
    const q = 'transformer.2.0.fn.1.to_q.weight';
    for (const format of ['bin', 'safetensors'] as const) {
      await attempt(
        { format, names: format === 'bin' ? 'both' : 'own', edit: (ts) => ts.map((t) => (t.storage === q ? { ...t, shape: [t.shape[1]!, t.shape[0]!] } : t)) },
        (path) =>
          new RegExp(`${escape(path)}: weights do not match the config \\(1 problems\\): mis-shaped transformer\\.1\\.0\\.fn\\.1\\.to_q\\.weight \\(stored as ${escape(q)}\\): \\[96,64\\] in the file, the config needs \\[64,96\\]$`),
      );
    }
    // A to_attn_logits that is not a matrix (stored as 0.5's [C, C, 1, 1] under the old name).
    const pool = 'conv_tower.1.2.to_attn_logits';
    await attempt(
      { format: 'bin', names: 'both', edit: (ts) => ts.map((t) => (t.storage === pool ? { ...t, shape: [...t.shape, 1, 1] } : t)) },
      (path) => new RegExp(`${escape(path)}: '${escape(pool)}' is \\[\\d+,\\d+,1,1\\]; in enformer-pytorch's layout before 0\\.5 an attention pool's to_attn_logits is a matrix \\[channels, channels\\]`),
    );
    // A matrix of the wrong size: the message gives the stored shape and the shape after the transpose.
    await attempt(
      {
        format: 'safetensors',
        names: 'alias',
        edit: (ts) => ts.map((t) => (t.storage === pool ? { ...t, shape: [t.shape[0]!, t.shape[1]! - 1], data: (t.data as Float32Array).subarray(0, t.shape[0]! * (t.shape[1]! - 1)) } : t)),
      },
      (path) => new RegExp(`${escape(path)}: .*mis-shaped conv_tower\\.1\\.2\\.to_attn_logits\\.weight \\(stored as _trunk\\.1\\.1\\.2\\.to_attn_logits \\[(\\d+),(\\d+)\\]\\): read as \\[\\2,\\1,1,1\\], the config needs \\[(\\d+),\\3,1,1\\]`),
    );
    // An alias whose shape differs from its own tensor's.
    await attempt(
      {
        format: 'safetensors',
        names: 'both',
        edit: (ts) => ts.map((t) => (t.name === '_trunk.0.1.weight' ? { ...t, shape: [t.shape[0]!, t.shape[2]!, t.shape[1]!] } : t)),
      },
      (path) => new RegExp(`${escape(path)}: tensor '_trunk\\.0\\.1\\.weight' \\[48,15,4\\] is an alias of 'stem\\.1\\.weight' \\[48,4,15\\] but has another shape`),
    );
  }));

test('legacy layout: a file mixing both layouts is refused, naming tensors of each', { skip }, () =>
  withTempDir(async (dir) => {
    const path = await writeLegacyModel(dir, {
      format: 'safetensors',
      names: 'own',
      edit: (ts) => [...ts, { ...ts.find((t) => t.name === 'stem.1.weight')!, name: 'stem.0.weight', storage: 'extra' }],
    });
    await assert.rejects(
      convertModel({ input: dir, out: join(dir, 'out') }),
      new RegExp(`${escape(path)}: holds tensors of both enformer-pytorch layouts: 'stem\\.1\\.weight', .* \\(before 0\\.5.*\\) and 'stem\\.0\\.weight' \\(0\\.5 and later\\)`),
    );
  }));
