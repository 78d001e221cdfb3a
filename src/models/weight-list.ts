/** An architecture's expected weights, listed layer by layer under the PyTorch ports' names and shapes. */
import type { ExpectedTensor } from '../weights/weight-set.js';

export class WeightList {
  readonly tensors: ExpectedTensor[] = [];

  add(name: string, shape: number[]): this {
    this.tensors.push({ name, shape });
    return this;
  }

  /** BatchNorm: scale, shift and the running statistics. */
  batchNorm(prefix: string, channels: number): this {
    for (const n of ['weight', 'bias', 'running_mean', 'running_var']) this.add(`${prefix}.${n}`, [channels]);
    return this;
  }

  /** Conv1d weight [out, in, k] and bias. */
  conv(prefix: string, out: number, inCh: number, k: number, bias = true): this {
    this.add(`${prefix}.weight`, [out, inCh, k]);
    return bias ? this.add(`${prefix}.bias`, [out]) : this;
  }

  /** Linear weight [out, in] and bias. */
  linear(prefix: string, out: number, inCh: number, bias = true): this {
    this.add(`${prefix}.weight`, [out, inCh]);
    return bias ? this.add(`${prefix}.bias`, [out]) : this;
  }

  layerNorm(prefix: string, dim: number): this {
    return this.add(`${prefix}.weight`, [dim]).add(`${prefix}.bias`, [dim]);
  }

  /** A transformer block's feed-forward residual (`transformer.j.1.fn`): LayerNorm, Linear to 2·dim, Linear back. */
  feedForward(prefix: string, dim: number): this {
    return this.layerNorm(`${prefix}.0`, dim).linear(`${prefix}.1`, 2 * dim, dim).linear(`${prefix}.4`, dim, 2 * dim);
  }

  /** Relative-position attention's projections (no q/k/v biases) and its content and position biases. */
  relativeProjections(prefix: string, dim: number, heads: number, keyDim: number, valueDim: number, positionFeatures: number): this {
    return this.linear(`${prefix}.to_q`, heads * keyDim, dim, false)
      .linear(`${prefix}.to_k`, heads * keyDim, dim, false)
      .linear(`${prefix}.to_v`, heads * valueDim, dim, false)
      .linear(`${prefix}.to_out`, dim, heads * valueDim)
      .linear(`${prefix}.to_rel_k`, heads * keyDim, positionFeatures, false);
  }

  relativeBiases(prefix: string, heads: number, keyDim: number): this {
    return this.add(`${prefix}.rel_content_bias`, [1, heads, 1, keyDim]).add(`${prefix}.rel_pos_bias`, [1, heads, 1, keyDim]);
  }
}
