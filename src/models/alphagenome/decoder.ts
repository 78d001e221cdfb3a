/**
 * Sequence decoder (channels-first): seven up-sampling residual blocks from the 128-bp trunk back to
 * 1 bp, each joined with the encoder's skip of its resolution (U-Net).
 *
 *   o = ConvBlock_k5(x) (to the skip's width) + x's first skip-width channels
 *   o = repeat each position twice · residual_scale + ConvBlock_k1(skip)
 *   o + ConvBlock_k5(o)
 */
import type { Value } from '../../engine/graph.js';
import type { LayerContext } from '../layers.js';
import type { AlphaGenomeConfig } from './config.js';
import { convBlock, repeatInterleave } from './layers.js';
import type { Tap } from './taps.js';

function upResBlock(c: LayerContext, x: Value, skip: Value, skipChannels: number, prefix: string, eps: number): Value {
  const g = c.g;
  const narrowed = g.op('Slice', [x, g.ints([0]), g.ints([skipChannels]), g.ints([1])]);
  let o = g.op('Add', [convBlock(c, x, `${prefix}.conv_in`, eps), narrowed]);
  o = g.op('Mul', [repeatInterleave(c, o, 2, 2, 3), c.param(`${prefix}.residual_scale`)]);
  o = g.op('Add', [o, convBlock(c, skip, `${prefix}.pointwise`, eps)]);
  return g.op('Add', [o, convBlock(c, o, `${prefix}.conv_out`, eps)]);
}

/** Trunk [B, D, S] and the encoder's skips (1 … 64 bp) → [B, decoder_dim, L]. */
export function sequenceDecoder(c: LayerContext, cfg: AlphaGenomeConfig, trunk: Value, skips: Value[], tap: Tap): Value {
  let x = trunk;
  for (let i = 0; i < 7; i++) {
    const level = 6 - i;
    x = upResBlock(c, x, skips[level]!, cfg.encoderChannels[level]!, `decoder.up_blocks.${i}`, cfg.normEps);
    if (i < 5) tap(`decoder_up_block_${i}`, x, 'ncl');
  }
  tap('decoder_output', x, 'ncl');
  return x;
}
