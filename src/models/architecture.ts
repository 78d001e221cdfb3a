/**
 * What the model runner needs from a model family. Each family splits into a local trunk graph
 * (convolutions only, finite receptive field, so it may run on overlapping tiles) and a global head
 * graph (attention, crop, heads) that sees the whole sequence.
 */
import type { ExpectedTensor } from '../weights/weight-set.js';
import type { LayerContext } from './layers.js';

export interface FlopCount {
  stages: Record<string, number>;
  total: number;
}

export interface Architecture {
  readonly kind: string;
  /** bp per output bin. */
  readonly binSize: number;
  /** bp per position of the trunk output. */
  readonly trunkResolution: number;
  /** Halo in bp that makes a trunk tile exact; a multiple of the trunk's pooling grid. */
  readonly trunkHaloBp: number;
  readonly defaultSequenceLength: number;
  readonly headNames: string[];
  readonly embeddingSize: number;
  tracks(head: string): number;
  expectedWeights(): ExpectedTensor[];
  canonicalName(name: string): string | null;
  buildTrunk(c: LayerContext): void;
  buildHead(c: LayerContext): void;
  lengthProblem(length: number): string | null;
  cropRange(length: number): { start: number; end: number };
  /** The head graph's positional input for n trunk positions. */
  positions(n: number, gammaTable?: Float32Array): Float32Array;
  flops(length: number, headNames?: string[]): FlopCount;
}
