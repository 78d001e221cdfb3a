/**
 * MultiMolecule config.json (keys of DLS5-Omics/multimolecule @ cb097904a459ed0f865551ee0dd1b10599a9fabe,
 * see multimolecule-files.ts) read natively: the published configs build the published networks,
 * every key that changes the forward pass either maps or is refused naming the file and the field,
 * and our own overrides still apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { architectureFromConfig, loadModel, ModelDirError } from '../models/load.js';
import { fromMultiMoleculeConfig, isMultiMoleculeConfig } from '../models/multimolecule-config.js';
import { ConfigError } from '../models/config.js';
import { Borzoi } from '../models/borzoi.js';
import { Enformer } from '../models/enformer.js';
import { writeSafetensors } from '../weights/safetensors.js';
import { multimoleculeBorzoiConfig, multimoleculeEnformerConfig, PUBLISHED_BORZOI, PUBLISHED_ENFORMER, SMALL_BORZOI, SMALL_ENFORMER } from './multimolecule-files.js';
import { withTempDir } from './fixtures.js';

const shapes = (a: { expectedWeights(): { name: string; shape: number[] }[] }) => a.expectedWeights().map((t) => `${t.name} ${t.shape.join('x')}`);

test('multimolecule config: the published Enformer config builds the published network (human head), TF gamma table, 196,608 bp', () => {
  const mm = architectureFromConfig(multimoleculeEnformerConfig(PUBLISHED_ENFORMER), 'config.json');
  const hub = architectureFromConfig({ model_type: 'enformer', output_heads: { human: 5313 }, use_tf_gamma: true }, 'hub');
  assert.ok(mm instanceof Enformer);
  assert.deepEqual(shapes(mm), shapes(hub));
  assert.deepEqual(mm.headNames, ['human']);
  assert.equal(mm.config.useTfGamma, true);
  assert.equal(mm.config.gamma, 'tf');
  assert.equal(mm.defaultSequenceLength, 196_608);
  assert.equal(mm.config.targetLength, 896);
});

test('multimolecule config: the published Borzoi configs (human, mouse) build the published networks', () => {
  for (const [species, tracks] of [['human', 7611], ['mouse', 2608]] as const) {
    const mm = architectureFromConfig(multimoleculeBorzoiConfig({ ...PUBLISHED_BORZOI, species, tracks }), 'config.json');
    const hub = architectureFromConfig({ model_type: 'borzoi', enable_human_head: species === 'human', enable_mouse_head: species === 'mouse' }, 'hub');
    assert.ok(mm instanceof Borzoi);
    assert.deepEqual(shapes(mm), shapes(hub));
    assert.deepEqual(mm.headNames, [species]);
    assert.equal(mm.kind, 'borzoi');
    assert.equal(mm.defaultSequenceLength, 524_288);
    assert.equal(mm.config.binsToReturn, 6144);
  }
});

test('multimolecule config: detected by its keys, not by model_type alone (the reference ports say enformer/borzoi too)', () => {
  assert.equal(isMultiMoleculeConfig(multimoleculeEnformerConfig(SMALL_ENFORMER)), true);
  assert.equal(isMultiMoleculeConfig(multimoleculeBorzoiConfig(SMALL_BORZOI)), true);
  assert.equal(isMultiMoleculeConfig({ model_type: 'enformer', dim: 96, depth: 2, heads: 4 }), false);
  assert.equal(isMultiMoleculeConfig({ model_type: 'borzoi', dim: 96, flashed: true }), false);
  assert.equal(isMultiMoleculeConfig({ model_type: 'bert', hidden_size: 96 }), false);
});

test('multimolecule config: mapped keys (small fixtures), track count from id2label, dropouts carried over', () => {
  const e = fromMultiMoleculeConfig(multimoleculeEnformerConfig(SMALL_ENFORMER), 'config.json');
  assert.deepEqual(e.hub, {
    architectures: ['Enformer'],
    model_type: 'enformer',
    dim: 96,
    depth: 2,
    heads: 4,
    output_heads: { human: 12 },
    target_length: 32,
    attn_dim_key: 16,
    dropout_rate: 0.4,
    attn_dropout: 0.05,
    pos_dropout: 0.01,
    num_downsamples: 7,
    dim_divisible_by: 8,
    use_tf_gamma: true,
    positional_gamma: 'tf',
    sequence_length: 8192,
  });
  assert.equal(e.vocabSize, 5);
  const b = fromMultiMoleculeConfig(multimoleculeBorzoiConfig(SMALL_BORZOI), 'config.json');
  assert.equal(b.species, 'mouse');
  assert.deepEqual(
    { ...b.hub, architectures: undefined },
    {
      architectures: undefined,
      model_type: 'borzoi',
      dim: 96,
      depth: 2,
      heads: 4,
      attn_dim_key: 16,
      attn_dim_value: 24,
      dropout_rate: 0.2,
      attn_dropout: 0.05,
      pos_dropout: 0.01,
      enable_human_head: false,
      enable_mouse_head: true,
      return_center_bins_only: true,
      bins_to_return: 128,
      flashed: false,
      sequence_length: 8192,
      conv_dna_channels: 32,
      res_tower_channels: [38, 46, 56, 66, 80],
      final_joined_channels: 120,
      num_tracks_human: 7611,
      num_tracks_mouse: 5,
    },
  );
});

test('multimolecule config: the gamma basis, target_length -1, species overrides and our own keys', () => {
  // Without the precomputed table MultiMolecule computes enformer-pytorch's run-time gamma formula.
  const computed = architectureFromConfig({ ...multimoleculeEnformerConfig(SMALL_ENFORMER), use_precomputed_gamma_basis: false }, 'c') as Enformer;
  assert.equal(computed.config.gamma, 'torch');
  assert.equal(computed.config.useTfGamma, false);
  // --gamma (positional_gamma) and --full-output (return_center_bins_only) still apply.
  assert.equal((architectureFromConfig({ ...multimoleculeEnformerConfig(SMALL_ENFORMER), positional_gamma: 'torch' }, 'c') as Enformer).config.gamma, 'torch');
  assert.equal((architectureFromConfig({ ...multimoleculeBorzoiConfig(SMALL_BORZOI), return_center_bins_only: false }, 'c') as Borzoi).config.returnCenterBinsOnly, false);
  // -1: no crop at any length.
  const enformerAll = architectureFromConfig({ ...multimoleculeEnformerConfig(SMALL_ENFORMER), target_length: -1 }, 'c') as Enformer;
  assert.deepEqual(enformerAll.cropRange(8192), { start: 0, end: 64 });
  const borzoiAll = architectureFromConfig({ ...multimoleculeBorzoiConfig(SMALL_BORZOI), target_length: -1 }, 'c') as Borzoi;
  assert.deepEqual(borzoiAll.cropRange(8192), { start: 0, end: 256 });
  assert.deepEqual(borzoiAll.cropRange(16_384), { start: 0, end: 512 });
  // weights convert --species: the head's name; the count still from id2label.
  const dog = fromMultiMoleculeConfig(multimoleculeBorzoiConfig(SMALL_BORZOI), 'c', 'dog');
  assert.deepEqual(architectureFromConfig(dog.hub, 'c').headNames, ['dog']);
  assert.equal(architectureFromConfig(dog.hub, 'c').tracks('dog'), 5);
});

test('multimolecule config: values our architectures cannot honour are refused, naming the file and the field', () => {
  const e = multimoleculeEnformerConfig(SMALL_ENFORMER);
  const b = multimoleculeBorzoiConfig(SMALL_BORZOI);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...e, stem_kernel_size: 9 }, /field "stem_kernel_size" is 9; seq2track supports only 15/],
    [{ ...e, conv_tower_kernel_size: 3 }, /field "conv_tower_kernel_size" is 3/],
    [{ ...e, head_hidden_size: 100 }, /field "head_hidden_size" is 100; seq2track supports only 192/],
    [{ ...e, hidden_act: 'gelu' }, /field "hidden_act" is "gelu"; seq2track supports only "quick_gelu"/],
    // None is no output activation in MultiMolecule, not its default: refused like any other.
    [{ ...e, output_act: null }, /field "output_act" is null; seq2track supports only "softplus"/],
    [{ ...e, hidden_size: null }, /field "hidden_size" must be an integer from 1 to 2147483647, found null/],
    [{ ...e, output_act: 'relu' }, /field "output_act" is "relu"/],
    [{ ...e, batch_norm_eps: 1e-3 }, /field "batch_norm_eps" is 0\.001/],
    [{ ...e, hidden_size: 98 }, /field "hidden_size" \(98\) must be divisible by num_attention_heads \(4\)/],
    [{ ...e, hidden_size: 97 }, /field "hidden_size" must be even, found 97/],
    [{ ...e, hidden_size: 64, num_attention_heads: 4 }, /must be divisible by 6/],
    [{ ...e, sequence_length: 8000 }, /field "sequence_length" \(8000\) must be divisible by 2\^num_downsamples \(128\)/],
    [{ ...e, target_length: 65 }, /field "target_length" \(65\) exceeds the 64 bins/],
    [{ ...e, target_length: 0 }, /field "target_length" must be an integer/],
    [{ ...e, num_hidden_layers: 1e6 }, /field "num_hidden_layers" must be an integer from 1 to 1024/],
    [{ ...e, vocab_size: 3 }, /field "vocab_size" must be an integer from 4/],
    [{ ...e, use_precomputed_gamma_basis: 'yes' }, /field "use_precomputed_gamma_basis" must be true or false/],
    [{ ...e, num_labels: 7 }, /field "num_labels" is 7 but id2label names 12 tracks/],
    [{ ...e, id2label: [] }, /field "id2label" must be an object/],
    [{ ...e, id2label: undefined, label2id: undefined, species: 'dog' }, /field "species" is "dog": give num_labels/],
    [{ ...e, species: 'a b' }, /field "species" must be a head name/],
    [{ ...e, head: { act: 'sigmoid' } }, /field "head\.act" is "sigmoid"/],
    [{ ...e, head: { bias: false } }, /field "head\.bias" is false/],
    [{ ...e, head: { bias: null } }, /field "head\.bias" is null/],
    [{ ...e, head: { hidden_size: 96 } }, /field "head\.hidden_size" is 96; the track projection reads the 192 channels/],
    [{ ...e, head: { num_labels: 3 } }, /field "head\.num_labels" is 3/],
    [{ ...e, head: { output_name: 'pooler_output' } }, /field "head\.output_name"/],
    [{ ...e, head: 'x' }, /field "head" must be an object/],
    [{ ...e, hidden_dropout: 2 }, /field "hidden_dropout" must be a probability/],
    [{ ...e, dim: 96 }, /mixes MultiMolecule keys \(hidden_size, num_hidden_layers, num_attention_heads, attention_head_size\) with reference-port keys \(dim\)/],
    [{ ...b, num_rel_pos_features: 64 }, /field "num_rel_pos_features" is 64; seq2track supports only 32/],
    [{ ...b, unet_kernel_size: 5 }, /field "unet_kernel_size" is 5/],
    [{ ...b, conv_tower_channels: [38, 46, 56, 66, 80, 96] }, /field "conv_tower_channels" has 6 stages/],
    [{ ...b, conv_tower_channels: [38, 0, 56, 66, 80] }, /field "conv_tower_channels" must be a list of positive integers/],
    [{ ...b, hidden_act: 'quick_gelu' }, /field "hidden_act" is "quick_gelu"; seq2track supports only "gelu_new"/],
    [{ ...b, batch_norm_eps: 1e-5 }, /field "batch_norm_eps" is 0\.00001/],
    [{ ...b, sequence_length: 8200 }, /field "sequence_length" \(8200\) must be divisible by 128/],
    [{ ...b, target_length: 300 }, /field "target_length" \(300\) exceeds the 256 output bins/],
  ];
  for (const [json, why] of cases) {
    assert.throws(() => architectureFromConfig(json, '/m/config.json'), (err: unknown) => err instanceof ConfigError && err.message.startsWith('/m/config.json: ') && why.test(err.message) && !/\n/.test(err.message), why.source);
  }
  // None where the constructor fills in the default: fine.
  assert.ok(architectureFromConfig({ ...e, head_hidden_size: null, head: null }, 'c') instanceof Enformer);
  assert.ok(architectureFromConfig({ ...b, conv_tower_channels: null }, 'c') instanceof Borzoi);
  // gelu_pytorch_tanh is the same tanh GELU.
  assert.ok(architectureFromConfig({ ...b, hidden_act: 'gelu_pytorch_tanh' }, 'c') instanceof Borzoi);
});

test('multimolecule config: a MultiMolecule folder is not loaded as it is, but named for conversion', () =>
  withTempDir(async (dir) => {
    const src = join(dir, 'mm');
    mkdirSync(src);
    writeFileSync(join(src, 'config.json'), JSON.stringify(multimoleculeEnformerConfig(SMALL_ENFORMER)));
    await writeSafetensors(join(src, 'model.safetensors'), [{ name: 'model.encoder.stem.conv1.weight', dtype: 'F32', shape: [48, 5, 15], data: new Float32Array(48 * 5 * 15) }]);
    await assert.rejects(loadModel(src), (e: unknown) => e instanceof ModelDirError && /MultiMolecule parameter names .*convert the folder first: seq2track weights convert/.test(e.message));
  }));
