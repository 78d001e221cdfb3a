/** What `loadModel` takes beyond the model options (no I/O here: the page and the jobs' option types share it). */
import type { ModelOptions } from './model-core.js';
import type { GammaNormalisation } from './positional.js';

export interface LoadOptions extends ModelOptions {
  /** Path of the TF gamma table for Enformer configs with `use_tf_gamma` (default: `tf_gammas.safetensors` in the model dir). */
  gammaTablePath?: string;
  /**
   * Borzoi/Flashzoi: output all bins but 16 at each end (16,352 at 524,288 bp, upstream's
   * params_pred.json) instead of the centre `bins_to_return` (6,144): `return_center_bins_only` false.
   */
  fullOutput?: boolean;
  /**
   * Enformer: normalisation of the gamma positional features, overriding config.json's
   * `positional_gamma` ('tf', the default, for the published weights; 'torch' for enformer-pytorch
   * checkpoints trained from scratch with use_tf_gamma off; 'torch-global-max' for those trained
   * before that port's 2022-05-31 fix, e.g. EleutherAI's enformer-preview).
   */
  gamma?: GammaNormalisation;
  /** AlphaGenome: the organism whose outputs the model gives (its one head; default human). */
  organism?: string;
  /** AlphaGenome: the resolution of its per-position outputs, 128 (default) or 1 bp. */
  resolution?: 1 | 128;
}

