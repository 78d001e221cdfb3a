/**
 * MultiMolecule model folders for tests: config.json as MultiMolecule's config classes write it.
 *
 * Keys, defaults and order from DLS5-Omics/multimolecule @ cb097904a459ed0f865551ee0dd1b10599a9fabe
 * (multimolecule/models/enformer/configuration_enformer.py, borzoi/configuration_borzoi.py,
 * modules/heads/config.py), serialised the way transformers' `PretrainedConfig.to_json_string` does:
 * every key of the subclass, the base keys whose values differ from PretrainedConfig's (the token ids
 * MultiMolecule sets; `num_labels` as `id2label` / `label2id`), `architectures` from the saved class,
 * keys sorted. The converters (`convert_checkpoint.py`) set `species`, Enformer's
 * `use_precomputed_gamma_basis: true` and `sequence_length`; the rest are the class defaults.
 */

/** MultiMolecule's HeadConfig as saved (a chanfig FlatDict: every field, `problem_type` set by the model). */
const HEAD = { act: null, bias: true, dropout: 0.0, hidden_size: null, layer_norm_eps: 1e-12, loss_weight: null, num_labels: null, output_name: null, problem_type: 'regression', transform: null, transform_act: 'gelu', type: null };

function labels(n: number): { id2label: Record<string, string>; label2id: Record<string, number> } {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    id2label[String(i)] = `LABEL_${i}`;
    label2id[`LABEL_${i}`] = i;
  }
  return { id2label, label2id };
}

function sorted(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Token ids as MultiMolecule's DNA models save them (no BOS/EOS/MASK/null token on the binned axis). */
const TOKEN_IDS = { pad_token_id: 0, unk_token_id: 3, mask_token_id: null, null_token_id: null };
const SAVED_BY = { torch_dtype: 'float32', transformers_version: '4.57.1' };

export interface MultiMoleculeEnformer {
  hiddenSize: number;
  layers: number;
  heads: number;
  keySize: number;
  downsamples: number;
  divisibleBy: number;
  targetLength: number;
  sequenceLength: number;
  species: string;
  tracks: number;
}

/** An Enformer config.json as multimolecule/enformer's converter saves it (defaults elsewhere). */
export function multimoleculeEnformerConfig(o: MultiMoleculeEnformer): Record<string, unknown> {
  return sorted({
    architectures: ['EnformerForTokenPrediction'],
    model_type: 'enformer',
    vocab_size: 5,
    sequence_length: o.sequenceLength,
    hidden_size: o.hiddenSize,
    num_hidden_layers: o.layers,
    num_attention_heads: o.heads,
    attention_head_size: o.keySize,
    num_downsamples: o.downsamples,
    dim_divisible_by: o.divisibleBy,
    stem_kernel_size: 15,
    conv_tower_kernel_size: 5,
    target_length: o.targetLength,
    head_hidden_size: 2 * o.hiddenSize,
    hidden_act: 'quick_gelu',
    output_act: 'softplus',
    hidden_dropout: 0.4,
    attention_dropout: 0.05,
    position_dropout: 0.01,
    use_precomputed_gamma_basis: true,
    batch_norm_eps: 1e-5,
    batch_norm_momentum: 0.1,
    species: o.species,
    head: HEAD,
    output_contexts: false,
    ...labels(o.tracks),
    ...TOKEN_IDS,
    ...SAVED_BY,
  });
}

export interface MultiMoleculeBorzoi {
  hiddenSize: number;
  layers: number;
  heads: number;
  keySize: number;
  valueSize: number;
  stemChannels: number;
  towerChannels: number[];
  headHiddenSize: number;
  targetLength: number;
  sequenceLength: number;
  species: string;
  tracks: number;
}

/** A Borzoi config.json as multimolecule/borzoi-{human,mouse}'s converter saves it (defaults elsewhere). */
export function multimoleculeBorzoiConfig(o: MultiMoleculeBorzoi): Record<string, unknown> {
  return sorted({
    architectures: ['BorzoiForTokenPrediction'],
    model_type: 'borzoi',
    vocab_size: 5,
    sequence_length: o.sequenceLength,
    hidden_size: o.hiddenSize,
    num_hidden_layers: o.layers,
    num_attention_heads: o.heads,
    attention_head_size: o.keySize,
    attention_value_size: o.valueSize,
    num_rel_pos_features: 32,
    stem_channels: o.stemChannels,
    stem_kernel_size: 15,
    conv_tower_channels: o.towerChannels,
    conv_tower_kernel_size: 5,
    unet_kernel_size: 3,
    head_hidden_size: o.headHiddenSize,
    hidden_act: 'gelu_new',
    output_act: 'softplus',
    hidden_dropout: 0.1,
    intermediate_dropout: 0.2,
    attention_dropout: 0.05,
    position_dropout: 0.01,
    batch_norm_eps: 1e-3,
    batch_norm_momentum: 0.1,
    species: o.species,
    target_length: o.targetLength,
    head: HEAD,
    output_contexts: false,
    ...labels(o.tracks),
    ...TOKEN_IDS,
    ...SAVED_BY,
  });
}

/** The published models' configs as MultiMolecule saves them (class defaults, converter settings). */
export const PUBLISHED_ENFORMER: MultiMoleculeEnformer = { hiddenSize: 1536, layers: 11, heads: 8, keySize: 64, downsamples: 7, divisibleBy: 128, targetLength: 896, sequenceLength: 196_608, species: 'human', tracks: 5313 };
export const PUBLISHED_BORZOI: MultiMoleculeBorzoi = {
  hiddenSize: 1536,
  layers: 8,
  heads: 8,
  keySize: 64,
  valueSize: 192,
  stemChannels: 512,
  towerChannels: [608, 736, 896, 1056, 1280],
  headHiddenSize: 1920,
  targetLength: 6144,
  sequenceLength: 524_288,
  species: 'human',
  tracks: 7611,
};

/** The shared small fixtures (enformer-small, borzoi-small) as MultiMolecule configs. */
export const SMALL_ENFORMER: MultiMoleculeEnformer = { hiddenSize: 96, layers: 2, heads: 4, keySize: 16, downsamples: 7, divisibleBy: 8, targetLength: 32, sequenceLength: 8192, species: 'human', tracks: 12 };
export const SMALL_BORZOI: MultiMoleculeBorzoi = {
  hiddenSize: 96,
  layers: 2,
  heads: 4,
  keySize: 16,
  valueSize: 24,
  stemChannels: 32,
  towerChannels: [38, 46, 56, 66, 80],
  headHiddenSize: 120,
  targetLength: 128,
  sequenceLength: 8192,
  species: 'mouse',
  tracks: 5,
};
