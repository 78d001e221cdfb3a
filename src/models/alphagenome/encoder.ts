/**
 * Sequence encoder (channels-first [B, C, L]): the DNA embedder at 1 bp, then six down-sampling
 * residual blocks, each followed by a max-pool by 2, to the trunk at 128 bp. The output of the
 * embedder and of each block is kept as the decoder's U-Net skip at its resolution (1 … 64 bp).
 */
import type { Value } from '../../engine/graph.js';
import type { LayerContext } from '../layers.js';
import type { AlphaGenomeConfig } from './config.js';
import { convBlock } from './layers.js';
import type { Tap } from './taps.js';

/** conv15 (bias) → + ConvBlock(k5) of itself. */
function dnaEmbedder(c: LayerContext, x: Value, eps: number): Value {
  const g = c.g;
  const h = g.op('Conv', [x, c.param('encoder.dna_embedder.conv1.weight'), c.param('encoder.dna_embedder.conv1.bias')], { kernel_shape: [15], pads: [7, 7] });
  return g.op('Add', [h, convBlock(c, h, 'encoder.dna_embedder.block', eps)]);
}

/** o = ConvBlock(x) (to c + inc channels) + x zero-padded by inc channels; then o + ConvBlock(o). */
function downResBlock(c: LayerContext, x: Value, prefix: string, increment: number, eps: number): Value {
  const g = c.g;
  const padded = g.op('Pad', [x, g.ints([0, 0, 0, 0, increment, 0])]);
  const o = g.op('Add', [convBlock(c, x, `${prefix}.block1`, eps), padded]);
  return g.op('Add', [o, convBlock(c, o, `${prefix}.block2`, eps)]);
}

function maxPool2(c: LayerContext, x: Value): Value {
  return c.g.op('MaxPool', [x], { kernel_shape: [2], strides: [2] });
}

/** One-hot [B, 4, L] → trunk [B, D, L/128] and the skips at 1, 2, …, 64 bp (finest first). */
export function sequenceEncoder(c: LayerContext, cfg: AlphaGenomeConfig, x: Value, tap: Tap): { trunk: Value; skips: Value[] } {
  const eps = cfg.normEps;
  const skips = [dnaEmbedder(c, x, eps)];
  tap('encoder_dna_embedder', skips[0]!, 'ncl');
  let h = maxPool2(c, skips[0]!);
  for (let i = 0; i < 6; i++) {
    const o = downResBlock(c, h, `encoder.down_blocks.${i}`, cfg.encoderChannels[i + 1]! - cfg.encoderChannels[i]!, eps);
    tap(`encoder_down_block_${i}`, o, 'ncl');
    skips.push(o);
    h = maxPool2(c, o);
  }
  tap('encoder_output', h, 'ncl');
  return { trunk: h, skips };
}
