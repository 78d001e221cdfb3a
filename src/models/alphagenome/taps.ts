/** Named intermediate outputs of the AlphaGenome graph (layer-by-layer parity, debugging). */
import type { Value } from '../../engine/graph.js';

/**
 * Offers a value as the graph output `name`: 'ncl' values ([B, C, L]) are written [B, L, C] like the
 * fixture's; 'as-is' ones unchanged. A graph built without intermediates ignores the offer.
 */
export type Tap = (name: string, value: Value, form: 'ncl' | 'as-is') => void;

export const noTap: Tap = () => {};
