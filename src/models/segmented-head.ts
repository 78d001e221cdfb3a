/**
 * The head as its segments describe it (architecture.ts `HeadSegments`): the transformer blocks one
 * after the other, collecting attention maps when asked, then the tail. The forward graph is built
 * from the same segments the checkpointed gradients run one by one.
 */
import type { HeadExtras, HeadSegments } from './architecture.js';
import { AttentionMaps } from './attention-maps.js';
import type { LayerContext } from './layers.js';

/** `positions` names the input's position axis (symbolic: any length). */
export function buildSegmentedHead(c: LayerContext, segments: HeadSegments, depth: number, positions: string, extras: HeadExtras = {}): void {
  let x = c.g.input(segments.input, 'float32', ['batch', positions, segments.channels]);
  const maps = extras.attention ? new AttentionMaps(c, extras.attention) : undefined;
  const block = segments.blocks(c, maps);
  for (let j = 0; j < depth; j++) x = block(x, j);
  maps?.emit();
  segments.tail(c, x, extras);
}
