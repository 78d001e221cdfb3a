/**
 * Enformer weights whose trunk is stored only under enformer-pytorch's `_trunk.{1,2,4,6}.*` aliases
 * (the safetensors library's save_model keeps those names; see models/enformer.ts) load and convert
 * from safetensors and from a torch zip to exactly the canonical tensors, and predict bit-identically
 * to the canonical fixture. Where both names are present the canonical tensor is used; an alias of
 * the wrong shape is refused with the file and the tensor named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, architectureFromConfig } from '../models/load.js';
import { convertModel } from '../tasks/model-store/convert-model.js';
import { resolveTensorNames } from '../weights/weight-names.js';
import { writeSafetensors } from '../weights/safetensors.js';
import { fixture, fixturePath, skipUnless, withTempDir } from './fixtures.js';
import { assertBitIdentical, expectSameTensors, predictEnformerFixture } from './weights-helpers.js';
import { canonicalFixtureTensors, trunkAlias, writeAliasOnlyModel } from './trunk-aliases.js';

const skip = skipUnless('enformer-small');

test('aliases: canonicalName maps _trunk.{1,2,4,6} to stem/conv_tower/transformer/final_pointwise only', () => {
  const arch = architectureFromConfig({ model_type: 'enformer', dim: 48, depth: 1, heads: 2, num_downsamples: 3, dim_divisible_by: 8 }, 'test');
  assert.equal(arch.canonicalName('_trunk.1.0.weight'), 'stem.0.weight');
  assert.equal(arch.canonicalName('_trunk.2.1.2.to_attn_logits.weight'), 'conv_tower.1.2.to_attn_logits.weight');
  assert.equal(arch.canonicalName('_trunk.4.0.0.fn.1.to_q.weight'), 'transformer.0.0.fn.1.to_q.weight');
  assert.equal(arch.canonicalName('_trunk.6.1.2.bias'), 'final_pointwise.1.2.bias');
  assert.equal(arch.canonicalName('_trunk.1.1.fn.0.num_batches_tracked'), null);
  // Indices without parameters in the port's layout (and an older layout's) stay as they are, to be reported as unexpected.
  for (const n of ['_trunk.0.1.weight', '_trunk.3.x', '_trunk.5.x', '_trunk.7.0.weight', '_trunk.12.0.weight']) assert.equal(arch.canonicalName(n), n);
});

test('aliases: in the full-size state dict (enformer-manifest.json) every _trunk name pairs with a same-shaped canonical one; alone they give exactly the expected names', { skip: skipUnless('enformer-manifest.json') }, () => {
  const manifest = JSON.parse(readFileSync(fixture('enformer-manifest.json')!, 'utf8')) as { config: Record<string, unknown>; state_dict: { name: string; shape: number[] }[] };
  const arch = architectureFromConfig({ model_type: 'enformer', ...manifest.config }, 'manifest');
  const rename = (n: string) => arch.canonicalName(n);
  const expected = arch.expectedWeights().map((t) => t.name).sort();
  // The .bin as torch.save writes it: both names; the canonical ones are kept.
  const both = resolveTensorNames(manifest.state_dict, rename, 'manifest');
  assert.ok([...both.keys()].every((n) => !n.startsWith('_trunk.')));
  assert.deepEqual([...both.values()].sort(), expected);
  // As save_model keeps it: every trunk tensor only under its alias.
  const aliasOnly = manifest.state_dict.filter((t) => t.name.startsWith('_trunk.') || t.name.startsWith('_heads.'));
  assert.equal(aliasOnly.filter((t) => t.name.startsWith('_trunk.')).length, manifest.state_dict.filter((t) => trunkAlias(t.name) !== t.name).length);
  const alone = resolveTensorNames(aliasOnly, rename, 'manifest');
  assert.deepEqual([...alone.values()].sort(), expected);
  for (const [file, canonical] of alone) if (file.startsWith('_trunk.')) assert.equal(trunkAlias(canonical), file);
});

for (const format of ['safetensors', 'bin'] as const) {
  test(`aliases: a ${format} file with only _trunk.* trunk names converts to the canonical tensors bit for bit, and predicts bit-identically`, { skip }, () =>
    withTempDir(async (dir) => {
      const src = join(dir, 'aliases');
      mkdirSync(src);
      await writeAliasOnlyModel(src, { format });
      const out = join(dir, 'converted');
      const r = await convertModel({ input: src, out });
      assert.equal(r.format, format === 'bin' ? 'pytorch-zip' : 'safetensors');
      assert.equal(await expectSameTensors(out, 'enformer-small'), 129);
      const want = await predictEnformerFixture(fixture('enformer-small')!);
      assertBitIdentical(await predictEnformerFixture(out), want, `${format} converted`);
      // A safetensors model directory also loads as it is, without conversion.
      if (format === 'safetensors') assertBitIdentical(await predictEnformerFixture(src), want, 'safetensors loaded directly');
    }));
}

test('aliases: with both names present the canonical tensor is used (aliases of other values are ignored)', { skip }, () =>
  withTempDir(async (dir) => {
    const canonical = await canonicalFixtureTensors();
    // Same shapes, different values under the alias names: a reader taking the alias would change the output.
    const decoys = canonical.filter((t) => trunkAlias(t.name) !== t.name).map((t) => ({ ...t, name: trunkAlias(t.name), data: new Float32Array(t.data.length).fill(0.25) }));
    copyFileSync(fixturePath('enformer-small', 'config.json'), join(dir, 'config.json'));
    await writeSafetensors(join(dir, 'model.safetensors'), [...decoys, ...canonical]);
    assertBitIdentical(await predictEnformerFixture(dir), await predictEnformerFixture(fixture('enformer-small')!), 'canonical beside decoy aliases');
  }));

test('aliases: a _trunk tensor of the wrong shape is named (alias only: as stored; beside its canonical tensor: both)', { skip }, () =>
  withTempDir(async (dir) => {
    const bad = '_trunk.4.1.0.fn.1.to_q.weight';
    for (const format of ['safetensors', 'bin'] as const) {
      const src = join(dir, `alone-${format}`);
      mkdirSync(src);
      const path = await writeAliasOnlyModel(src, {
        format,
        edit: (ts) => ts.map((t) => (t.name === bad ? { ...t, shape: [t.shape[1]!, t.shape[0]!] } : t)),
      });
      const message = new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: weights do not match the config \\(1 problems\\): mis-shaped transformer\\.1\\.0\\.fn\\.1\\.to_q\\.weight \\(stored as ${bad.replace(/\./g, '\\.')}\\): \\[96,64\\] in the file, the config needs \\[64,96\\]`);
      await assert.rejects(convertModel({ input: src, out: join(dir, `out-${format}`) }), message);
      if (format === 'safetensors') await assert.rejects(loadModel(src, { threads: 1 }), message);
    }
    // Both names, the alias mis-shaped: refused before any use, naming the file and both tensors.
    const both = join(dir, 'both');
    mkdirSync(both);
    const canonical = await canonicalFixtureTensors();
    const alias = canonical.find((t) => t.name === 'stem.0.weight')!;
    copyFileSync(fixturePath('enformer-small', 'config.json'), join(both, 'config.json'));
    await writeSafetensors(join(both, 'model.safetensors'), [...canonical, { ...alias, name: '_trunk.1.0.weight', shape: [alias.shape[0]!, alias.shape[2]!, alias.shape[1]!] }]);
    const clash = /both\/model\.safetensors: tensor '_trunk\.1\.0\.weight' \[48,15,4\] is an alias of 'stem\.0\.weight' \[48,4,15\] but has another shape/;
    await assert.rejects(loadModel(both, { threads: 1 }), clash);
    await assert.rejects(convertModel({ input: both, out: join(dir, 'out-both') }), clash);
  }));
