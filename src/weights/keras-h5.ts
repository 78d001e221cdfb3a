/**
 * Official calico Borzoi Keras weights (`model0_best.h5` = trunk + human head, `model1_best.h5` = trunk +
 * mouse head) read through h5wasm, mapped to borzoi-pytorch's state-dict names and layouts. The Keras
 * layer names are derived from the transformer depth D (official D = 8):
 *
 *   conv1d, conv1d_1..5, conv1d_6, conv1d_7      stem, res tower, U-Net bottleneck, final conv
 *   sync_batch_normalization{,_1.._10}           norms before conv1d_1..6, U-Net paths, final conv
 *   layer_normalization_{2j,2j+1}, dense_{2j,2j+1}, multihead_attention_j    transformer block j
 *   dense_{2D..2D+3}                             U-Net 1x1 projections (upsample 1, skip 1, upsample 0, skip 0)
 *   separable_conv1d, separable_conv1d_1         U-Net separable convs (stage 1, stage 0)
 *   dense_{2D+4} (human) / dense_{2D+5} (mouse)  output head
 *
 * Layouts: Conv1D [k, in, out] -> [out, in, k]; Dense [in, out] -> Linear [out, in] or 1x1 Conv1d
 * [out, in, 1]; depthwise [k, in, 1] -> [in, 1, k]; pointwise [1, in, out] -> [out, in, 1].
 */
/** What the reader needs of a Borzoi architecture (a models/ Borzoi fits; weights/ imports no models/). */
export interface KerasBorzoiShape {
  config: { flashed: boolean; depth: number; heads: number; attnDimKey: number };
}
import { WeightSet } from './weight-set.js';
import { permute } from './permute.js';
import { closeQuietly, hdf5, hdf5Message, isHdf5Failure } from '../formats/hdf5.js';

export class KerasH5Error extends Error {}

export function isHdf5(prefix: Uint8Array): boolean {
  const magic = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  return prefix.length >= 8 && magic.every((b, i) => prefix[i] === b);
}

type H5 = typeof import('h5wasm/node').default;
type H5File = InstanceType<H5['File']>;

interface Mapped {
  shape: number[];
  data: Float32Array;
}

export interface KerasWeights {
  weights: WeightSet;
  /** The head the file carries. */
  head: 'human' | 'mouse';
}

/** Reads a Borzoi Keras `.h5` into canonical tensors (every tensor but the other species' head). */
export async function readKerasBorzoi(path: string, arch: KerasBorzoiShape): Promise<KerasWeights> {
  if (arch.config.flashed) throw new KerasH5Error(`${path}: Keras weights exist only for Borzoi; the config is a Flashzoi (flashed) model`);
  const h5wasm = await hdf5();
  let file: H5File;
  try {
    file = new h5wasm.File(path, 'r');
  } catch (e) {
    if (!isHdf5Failure(e)) throw e;
    throw new KerasH5Error(`${path}: cannot open as HDF5 (${hdf5Message(e)})`, { cause: e });
  }
  try {
    return readFrom(h5wasm, file, path, arch);
  } catch (e) {
    // HDF5 failures past the superblock (a truncated or damaged object header, a chunk beyond the end).
    if (!isHdf5Failure(e)) throw e;
    throw new KerasH5Error(`${path}: cannot read HDF5 (${hdf5Message(e)})`, { cause: e });
  } finally {
    closeQuietly(file);
  }
}

function readFrom(h5wasm: H5, file: H5File, path: string, arch: KerasBorzoiShape): KerasWeights {
  const D = arch.config.depth;
  const { heads, attnDimKey } = arch.config;
  const root = file.get('model_weights') instanceof h5wasm.Group ? 'model_weights' : '';
  const at = (p: string) => (root ? `${root}/${p}` : p);
  const name = (base: string, i: number) => (i === 0 ? base : `${base}_${i}`);

  const read = (candidates: string[]): Mapped => {
    for (const p of candidates) {
      const d = file.get(at(p));
      if (d instanceof h5wasm.Dataset) {
        const shape = d.shape ?? [];
        const v = d.value;
        let data: Float32Array;
        if (v instanceof Float32Array) data = v;
        else if (v instanceof Float64Array) data = Float32Array.from(v);
        else throw new KerasH5Error(`${path}: dataset ${at(p)} has dtype ${JSON.stringify(d.dtype)}, expected float32`);
        return { shape, data };
      }
    }
    throw new KerasH5Error(`${path}: no dataset ${at(candidates[0]!)} (not an official Borzoi Keras file for a depth-${D} model?)`);
  };
  const variable = (layer: string, v: string) => read([`${layer}/${layer}/${v}:0`]);

  const out = new WeightSet();
  const put = (key: string, t: Mapped) => {
    out.entries.set(key, { shape: t.shape, source: { kind: 'bytes', bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) } });
  };
  const as = (t: Mapped, shape: number[], what: string): Mapped => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new KerasH5Error(`${path}: ${what} has shape [${t.shape}], cannot be laid out as [${shape}]`);
    return { shape, data: t.data };
  };
  const rank = (t: Mapped, r: number, what: string) => {
    if (t.shape.length !== r) throw new KerasH5Error(`${path}: ${what} has shape [${t.shape}], expected rank ${r}`);
    return t;
  };
  const conv = (layer: string, key: string) => {
    put(`${key}.weight`, permute(rank(variable(layer, 'kernel'), 3, `${layer} kernel`), [2, 1, 0]));
    put(`${key}.bias`, variable(layer, 'bias'));
  };
  const dense = (layer: string, key: string, asConv: boolean) => {
    const t = permute(rank(variable(layer, 'kernel'), 2, `${layer} kernel`), [1, 0]);
    put(`${key}.weight`, asConv ? as(t, [...t.shape, 1], layer) : t);
    put(`${key}.bias`, variable(layer, 'bias'));
  };
  const batchNorm = (layer: string, key: string) => {
    for (const [v, k] of [['gamma', 'weight'], ['beta', 'bias'], ['moving_mean', 'running_mean'], ['moving_variance', 'running_var']] as const) put(`${key}.${k}`, variable(layer, v));
  };
  const layerNorm = (layer: string, key: string) => {
    put(`${key}.weight`, variable(layer, 'gamma'));
    put(`${key}.bias`, variable(layer, 'beta'));
  };

  conv('conv1d', 'conv_dna.conv_layer');
  for (let i = 1; i <= 5; i++) conv(`conv1d_${i}`, `res_tower.${2 * (i - 1)}.conv_layer`);
  conv('conv1d_6', 'unet1.1.conv_layer');
  conv('conv1d_7', 'final_joined_convs.0.conv_layer');
  const norms = ['res_tower.0', 'res_tower.2', 'res_tower.4', 'res_tower.6', 'res_tower.8', 'unet1.1', 'upsampling_unet1.0', 'horizontal_conv1', 'upsampling_unet0.0', 'horizontal_conv0', 'final_joined_convs.0'];
  norms.forEach((key, i) => batchNorm(name('sync_batch_normalization', i), `${key}.norm`));

  for (let j = 0; j < D; j++) {
    const a = `transformer.${j}.0.fn`;
    const m = `transformer.${j}.1.fn`;
    layerNorm(name('layer_normalization', 2 * j), `${a}.0`);
    layerNorm(name('layer_normalization', 2 * j + 1), `${m}.0`);
    dense(name('dense', 2 * j), `${m}.1`, false);
    dense(name('dense', 2 * j + 1), `${m}.4`, false);
    const mha = name('multihead_attention', j);
    // The biases sit beside the inner group in the official files and inside it in later baskerville files.
    const bias = (v: string) => as(read([`${mha}/${v}:0`, `${mha}/${mha}/${v}:0`]), [1, heads, 1, attnDimKey], `${mha} ${v}`);
    put(`${a}.1.rel_content_bias`, bias('r_w_bias'));
    put(`${a}.1.rel_pos_bias`, bias('r_r_bias'));
    const sub = (s: string, v: string) => read([`${mha}/${mha}/${s}/${v}:0`]);
    for (const [s, k] of [['q_layer', 'to_q'], ['k_layer', 'to_k'], ['v_layer', 'to_v'], ['r_k_layer', 'to_rel_k'], ['embedding_layer', 'to_out']] as const) {
      put(`${a}.1.${k}.weight`, permute(rank(sub(s, 'kernel'), 2, `${mha} ${s}`), [1, 0]));
    }
    put(`${a}.1.to_out.bias`, sub('embedding_layer', 'bias'));
  }
  ['upsampling_unet1.0', 'horizontal_conv1', 'upsampling_unet0.0', 'horizontal_conv0'].forEach((key, i) => dense(`dense_${2 * D + i}`, `${key}.conv_layer`, true));
  ['separable1', 'separable0'].forEach((key, i) => {
    const layer = name('separable_conv1d', i);
    put(`${key}.conv_layer.0.weight`, permute(rank(variable(layer, 'depthwise_kernel'), 3, `${layer} depthwise`), [1, 2, 0]));
    put(`${key}.conv_layer.1.weight`, permute(rank(variable(layer, 'pointwise_kernel'), 3, `${layer} pointwise`), [2, 1, 0]));
    put(`${key}.conv_layer.1.bias`, variable(layer, 'bias'));
  });

  // The head: dense_{2D+4} in model0 (human), dense_{2D+5} in model1 (mouse).
  const has = (layer: string) => file.get(at(`${layer}/${layer}/kernel:0`)) instanceof h5wasm.Dataset;
  const humanLayer = `dense_${2 * D + 4}`;
  const mouseLayer = `dense_${2 * D + 5}`;
  const present = [has(humanLayer) && 'human', has(mouseLayer) && 'mouse'].filter((h): h is 'human' | 'mouse' => h !== false);
  if (present.length !== 1) {
    throw new KerasH5Error(`${path}: expected exactly one output head (${humanLayer} human or ${mouseLayer} mouse), found ${present.length ? present.join(' and ') : 'none'}`);
  }
  const head = present[0]!;
  dense(head === 'human' ? humanLayer : mouseLayer, `${head}_head`, true);
  return { weights: out, head };
}
