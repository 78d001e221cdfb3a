/**
 * Every format fixture (`shared/fixtures/formats`: torch.save .bin with the port's aliases and counters,
 * official-layout Keras .h5) converts to the sibling weights.safetensors bit for bit and the converted
 * model predicts the fixture outputs; MultiMolecule names and layouts map back exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertModel } from '../tasks/model-store/convert-model.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../weights/safetensors.js';
import { fixturePath, skipUnless, withTempDir } from './fixtures.js';
import { expectPredicts, expectSameTensors, kerasWithShiftedTrunk, runCli } from './weights-helpers.js';
import { multimoleculeBorzoiConfig, multimoleculeEnformerConfig, SMALL_BORZOI, SMALL_ENFORMER } from './multimolecule-files.js';

const skip = skipUnless('formats');

for (const name of ['enformer-small', 'borzoi-small', 'flashzoi-small']) {
  test(`convert: ${name}/pytorch_model.bin -> exactly the reference tensors, and the fixture outputs`, { skip }, () =>
    withTempDir(async (dir) => {
      const out = join(dir, 'model');
      const r = await convertModel({ input: fixturePath('formats', name), weights: 'pytorch_model.bin', out });
      assert.equal(r.format, 'pytorch-zip');
      const n = await expectSameTensors(out, name);
      assert.equal(n, { 'enformer-small': 129, 'borzoi-small': 110, 'flashzoi-small': 90 }[name]);
      assert.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors']);
      await expectPredicts(out, name, ['human', 'mouse']);
    }));
}

for (const [file, head, other] of [
  ['model0_best.h5', 'human', 'mouse'],
  ['model1_best.h5', 'mouse', 'human'],
] as const) {
  test(`convert: borzoi-small/${file} (Keras) -> every tensor but the ${other} head, bit-identical; predicts ${head}`, { skip }, () =>
    withTempDir(async (dir) => {
      const out = join(dir, 'model');
      const r = await convertModel({ input: fixturePath('formats', 'borzoi-small', file), config: fixturePath('formats', 'borzoi-small', 'config.json'), out });
      assert.equal(r.format, 'keras-h5');
      assert.deepEqual(r.heads, [head]);
      assert.equal(await expectSameTensors(out, 'borzoi-small', (n) => n.startsWith(`${other}_head.`)), 108);
      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      assert.equal(config[`enable_${other}_head`], false);
      await expectPredicts(out, 'borzoi-small', [head]);
    }));
}

test('convert: a directory with both Keras files is two models: refused without --weights, grafted only when asked', { skip }, () =>
  withTempDir(async (dir) => {
    const src = join(dir, 'keras');
    mkdirSync(src);
    for (const f of ['config.json', 'model0_best.h5', 'model1_best.h5']) copyFileSync(fixturePath('formats', 'borzoi-small', f), join(src, f));
    await assert.rejects(
      convertModel({ input: src, out: join(dir, 'none'), loadCheck: false }),
      /holds both official Borzoi files, model0_best\.h5 \(human head\) and model1_best\.h5 \(mouse head\), which are separate models with different trunks; convert one with --weights, or graft .*--graft-mouse-head/,
    );
    const mouse = await convertModel({ input: src, weights: 'model1_best.h5', out: join(dir, 'mouse'), loadCheck: false });
    assert.deepEqual(mouse.heads, ['mouse']);
    // The fixture pair shares one trunk (unlike the real files): the graft says so.
    const out = join(dir, 'model');
    const r = await convertModel({ input: src, weights: 'model0_best.h5', graftMouseHead: join(src, 'model1_best.h5'), out, loadCheck: false });
    assert.deepEqual(r.heads, ['human', 'mouse']);
    assert.equal(r.graft?.trunk_tensors_differing, 0);
    assert.match(r.graft!.caveat, /the two trunks are identical/);
    assert.equal(await expectSameTensors(out, 'borzoi-small'), 110);
    assert.deepEqual(readdirSync(out).sort(), ['config.json', 'graft.json', 'model.safetensors']);
  }));

test('convert --graft-mouse-head: a mouse file with another trunk is grafted with the difference reported; non-Borzoi refused first', { skip }, () =>
  withTempDir(async (dir) => {
    const shifted = join(dir, 'model1_best.h5');
    await kerasWithShiftedTrunk(fixturePath('formats', 'borzoi-small', 'model1_best.h5'), shifted, 0.25);
    const config = fixturePath('formats', 'borzoi-small', 'config.json');
    const out = join(dir, 'model');
    const r = await convertModel({ input: fixturePath('formats', 'borzoi-small', 'model0_best.h5'), config, graftMouseHead: shifted, out });
    assert.equal(r.graft?.trunk_tensors_differing, 1);
    assert.equal(r.graft?.trunk_tensors_compared, 106);
    assert.ok(Math.abs(r.graft!.trunk_max_abs_difference - 0.25) < 1e-6, String(r.graft!.trunk_max_abs_difference));
    assert.match(r.graft!.caveat, /not on the trunk it was trained with/);
    // Human head and trunk from model0, mouse head from the other file: the fixture's tensors exactly.
    assert.equal(await expectSameTensors(out, 'borzoi-small'), 110);
    await expectPredicts(out, 'borzoi-small', ['human', 'mouse']);
    const st = await SafetensorsFile.open(join(out, 'model.safetensors'));
    assert.equal(st.metadata?.grafted_mouse_head_from, 'model1_best.h5');
    await assert.rejects(
      convertModel({ input: fixturePath('formats', 'enformer-small'), weights: 'pytorch_model.bin', graftMouseHead: shifted, out: join(dir, 'e') }),
      /--graft-mouse-head is for Borzoi models \(the config is enformer\)/,
    );
  }));

test('convert (CLI): a bare file with --config, then a second run refuses to overwrite', { skip }, () =>
  withTempDir(async (dir) => {
    const out = join(dir, 'model');
    const args = ['weights', 'convert', fixturePath('formats', 'borzoi-small', 'pytorch_model.bin'), '--config', fixturePath('formats', 'borzoi-small', 'config.json'), '--out', out];
    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /converted .*pytorch_model\.bin \(pytorch-zip\) -> .*: borzoi, heads human, mouse, 110 tensors, verified/);
    await expectSameTensors(out, 'borzoi-small');
    const again = await runCli(args);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^seq2track: error: .*already holds config\.json, model\.safetensors \(use --force to replace\)\n$/);
  }));

/** Reference name -> MultiMolecule name (an independent table, the inverse of what the reader does). */
function toMultiMolecule(name: string, kind: 'enformer' | 'borzoi'): string | null {
  const sub = (re: RegExp, to: string) => (re.test(name) ? name.replace(re, to) : null);
  const common = [
    sub(/^transformer\.(\d+)\.0\.fn\.0\./, 'model.encoder.layers.$1.attention.layer_norm.'),
    sub(/^transformer\.(\d+)\.0\.fn\.1\./, 'model.encoder.layers.$1.attention.'),
    sub(/^transformer\.(\d+)\.1\.fn\.0\./, 'model.encoder.layers.$1.intermediate.layer_norm.'),
    sub(/^transformer\.(\d+)\.1\.fn\.1\./, 'model.encoder.layers.$1.intermediate.dense1.'),
    sub(/^transformer\.(\d+)\.1\.fn\.4\./, 'model.encoder.layers.$1.intermediate.dense2.'),
  ];
  const specific =
    kind === 'enformer'
      ? [
          sub(/^_trunk\..*/, ''),
          sub(/^_heads\.mouse\..*/, ''),
          sub(/^stem\.0\./, 'model.encoder.stem.conv1.'),
          sub(/^stem\.1\.fn\.0\./, 'model.encoder.stem.conv_block.batch_norm1.'),
          sub(/^stem\.1\.fn\.2\./, 'model.encoder.stem.conv_block.conv1.'),
          sub(/^stem\.2\./, 'model.encoder.stem.pool.'),
          sub(/^conv_tower\.(\d+)\.0\.0\./, 'model.encoder.conv_tower.$1.conv_block.batch_norm1.'),
          sub(/^conv_tower\.(\d+)\.0\.2\./, 'model.encoder.conv_tower.$1.conv_block.conv1.'),
          sub(/^conv_tower\.(\d+)\.1\.fn\.0\./, 'model.encoder.conv_tower.$1.conv_block_residual.batch_norm1.'),
          sub(/^conv_tower\.(\d+)\.1\.fn\.2\./, 'model.encoder.conv_tower.$1.conv_block_residual.conv1.'),
          sub(/^conv_tower\.(\d+)\.2\./, 'model.encoder.conv_tower.$1.pool.'),
          sub(/^final_pointwise\.1\.0\./, 'model.encoder.head.conv_block.batch_norm1.'),
          sub(/^final_pointwise\.1\.2\./, 'model.encoder.head.conv_block.conv1.'),
          sub(/^_heads\.human\.0\./, 'token_head.decoder.'),
        ]
      : [
          sub(/^human_head\..*/, ''),
          sub(/^conv_dna\.conv_layer\./, 'model.encoder.stem.conv1.'),
          ...[0, 1, 2, 3, 4].flatMap((i) => [
            sub(new RegExp(`^res_tower\\.${2 * i}\\.conv_layer\\.`), `model.encoder.conv_tower.${i}.conv1.`),
            sub(new RegExp(`^res_tower\\.${2 * i}\\.norm\\.`), `model.encoder.conv_tower.${i}.batch_norm1.`),
          ]),
          ...[
            ['unet1\\.1', 'unet_bottleneck'],
            ['upsampling_unet1\\.0', 'upsample1'],
            ['horizontal_conv1', 'skip1_proj'],
            ['upsampling_unet0\\.0', 'upsample0'],
            ['horizontal_conv0', 'skip0_proj'],
            ['final_joined_convs\\.0', 'head'],
          ].flatMap(([ours, mm]) => [sub(new RegExp(`^${ours}\\.conv_layer\\.`), `model.encoder.${mm}.conv1.`), sub(new RegExp(`^${ours}\\.norm\\.`), `model.encoder.${mm}.batch_norm1.`)]),
          sub(/^(separable[01])\.conv_layer\.0\./, 'model.encoder.$1.depthwise.'),
          sub(/^(separable[01])\.conv_layer\.1\./, 'model.encoder.$1.pointwise.'),
          sub(/^mouse_head\./, 'token_head.decoder.'),
        ];
  for (const r of [...specific, ...common]) if (r !== null) return r === '' ? null : r;
  throw new Error(`test table misses ${name}`);
}

/** The gamma block of the relative-position basis the fixture used ([2n-1, F/6] of the [2n-1, F] table: exponential | central mask | gamma | signed copies). */
async function fixtureGammaBasis(fixtureName: string): Promise<{ shape: number[]; data: Float32Array }> {
  const outputs = await SafetensorsFile.open(fixturePath(fixtureName, 'outputs.safetensors'));
  const info = outputs.tensors.get('positional_features')!;
  const [rows, features] = info.shape.slice(-2) as [number, number];
  const basis = features / 6;
  const all = outputs.readFloat32('positional_features');
  const data = new Float32Array(rows * basis);
  for (let r = 0; r < rows; r++) data.set(all.subarray(r * features + 2 * basis, r * features + 3 * basis), r * basis);
  return { shape: [rows, basis], data };
}

/** A MultiMolecule folder made from a fixture: their names and layouts, their config.json, a vocab. */
async function multimoleculeFolder(src: string, fixtureName: string, kind: 'enformer' | 'borzoi', vocab: string[], gamma?: (layer: number, t: { shape: number[]; data: Float32Array }) => Float32Array): Promise<void> {
  mkdirSync(src, { recursive: true });
  const ref = await SafetensorsFile.open(fixturePath(fixtureName, 'weights.safetensors'));
  const tensors: TensorToWrite[] = [];
  for (const info of ref.tensors.values()) {
    const to = toMultiMolecule(info.name, kind);
    if (to === null) continue;
    let data = ref.readFloat32(info.name);
    let shape = info.shape;
    if (to === 'model.encoder.stem.conv1.weight') {
      // Input channels in tokenizer order, N all zero (as MultiMolecule's converter does).
      const [o, , k] = shape as [number, number, number];
      const wide = new Float32Array(o * vocab.length * k);
      for (let a = 0; a < o; a++) for (const [c, base] of ['A', 'C', 'G', 'T'].entries()) wide.set(data.subarray((a * 4 + c) * k, (a * 4 + c + 1) * k), (a * vocab.length + vocab.indexOf(base)) * k);
      data = wide;
      shape = [o, vocab.length, k];
    }
    if (to === 'token_head.decoder.weight' && shape.length === 3) shape = shape.slice(0, 2);
    tensors.push({ name: to, dtype: 'F32', shape, data });
  }
  const config = kind === 'enformer' ? multimoleculeEnformerConfig(SMALL_ENFORMER) : multimoleculeBorzoiConfig(SMALL_BORZOI);
  if (kind === 'enformer') {
    // MultiMolecule's Enformer converter stores the TF gamma table in every layer (use_precomputed_gamma_basis).
    const basis = await fixtureGammaBasis(fixtureName);
    for (let i = 0; i < (config.num_hidden_layers as number); i++) {
      tensors.push({ name: `model.encoder.layers.${i}.attention.gamma_position_basis`, dtype: 'F32', shape: basis.shape, data: gamma ? gamma(i, basis) : basis.data });
    }
  }
  await writeSafetensors(join(src, 'model.safetensors'), tensors);
  writeFileSync(join(src, 'vocab.txt'), vocab.join('\n') + '\n');
  writeFileSync(join(src, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}

for (const [fixtureName, kind, species] of [
  ['enformer-small', 'enformer', 'human'],
  ['borzoi-small', 'borzoi', 'mouse'],
] as const) {
  const other = species === 'human' ? 'mouse' : 'human';
  const otherHead = (n: string) => (kind === 'enformer' ? n.startsWith('_heads.mouse.') : n.startsWith(`${other}_head.`));

  test(`convert: a MultiMolecule ${kind} folder (their config.json, names, vocab-ordered stem, ${species} token_head) converts without --config and predicts as the fixture`, { skip: skipUnless(fixtureName) }, () =>
    withTempDir(async (dir) => {
      const src = join(dir, 'mm');
      await multimoleculeFolder(src, fixtureName, kind, ['N', 'T', 'A', 'G', 'C']);
      const out = join(dir, 'model');
      const r = await convertModel({ input: src, out });
      assert.deepEqual(r.heads, [species]);
      await expectSameTensors(out, fixtureName, otherHead);
      await expectPredicts(out, fixtureName, [species]);
      // The written config is an ordinary one, under the reference keys.
      const written = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      assert.equal(written.dim, 96);
      assert.equal(written.hidden_size, undefined);
      assert.equal(written.sequence_length, 8192);
      if (kind === 'enformer') {
        assert.deepEqual(written.output_heads, { human: 12 });
        assert.equal(written.use_tf_gamma, true);
        assert.ok(readdirSync(out).includes('tf_gammas.safetensors'), 'the gamma basis comes along as the TF gamma table');
      } else {
        assert.equal(written.enable_mouse_head, true);
        assert.equal(written.enable_human_head, false);
        assert.equal(written.bins_to_return, 128);
      }
    }));

  test(`convert: a MultiMolecule ${kind} folder with --config: the given config overrides theirs`, { skip: skipUnless(fixtureName) }, () =>
    withTempDir(async (dir) => {
      const src = join(dir, 'mm');
      await multimoleculeFolder(src, fixtureName, kind, ['A', 'C', 'G', 'T', 'N']);
      const config = JSON.parse(readFileSync(fixturePath(fixtureName, 'config.json'), 'utf8'));
      if (kind === 'enformer') config.output_heads = { human: config.output_heads.human };
      const hubConfig = join(dir, 'config.json');
      writeFileSync(hubConfig, JSON.stringify(config));
      const out = join(dir, 'model');
      const r = await convertModel({ input: src, config: hubConfig, out });
      assert.deepEqual(r.heads, [species]);
      await expectSameTensors(out, fixtureName, otherHead);
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')), { ...config, ...(kind === 'borzoi' ? { enable_human_head: false, enable_mouse_head: true } : {}) });
    }));
}

test('convert: MultiMolecule values we cannot honour are refused naming config.json and the field', { skip: skipUnless('borzoi-small') }, () =>
  withTempDir(async (dir) => {
    const src = join(dir, 'mm');
    await multimoleculeFolder(src, 'borzoi-small', 'borzoi', ['A', 'C', 'G', 'T', 'N']);
    const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
    for (const [key, value, why] of [
      ['unet_kernel_size', 5, /field "unet_kernel_size" is 5; seq2track supports only 3/],
      ['hidden_act', 'relu', /field "hidden_act" is "relu"; seq2track supports only "gelu_new"/],
      ['conv_tower_channels', [38, 46, 56, 66], /field "conv_tower_channels" has 4 stages/],
      ['head', { transform: 'nonlinear' }, /field "head\.transform" is "nonlinear"/],
      ['vocab_size', 6, /field "vocab_size" is 6, but .*vocab\.txt has 5 tokens/],
    ] as const) {
      writeFileSync(join(src, 'config.json'), JSON.stringify({ ...config, [key]: value }));
      await assert.rejects(convertModel({ input: src, out: join(dir, 'x') }), (e: Error) => e.message.startsWith(join(src, 'config.json')) && why.test(e.message), `${key}`);
    }
  }));

test('convert: MultiMolecule gamma tables that differ between layers are refused', { skip: skipUnless('enformer-small') }, () =>
  withTempDir(async (dir) => {
    const src = join(dir, 'mm');
    await multimoleculeFolder(src, 'enformer-small', 'enformer', ['A', 'C', 'G', 'T', 'N'], (layer, t) => (layer === 1 ? t.data.map((v) => v * 2) : t.data));
    await assert.rejects(convertModel({ input: src, out: join(dir, 'x') }), /model\.safetensors: tensor model\.encoder\.layers\.1\.attention\.gamma_position_basis differs from the other layers/);
  }));
