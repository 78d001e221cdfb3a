/** The full-size models the benches build from the published configurations (random weights). */
import type { Architecture } from '../models/architecture.js';
import { Enformer, parseEnformerConfig } from '../models/enformer.js';
import { Borzoi, parseBorzoiConfig } from '../models/borzoi.js';

export interface BenchModel {
  arch: Architecture;
  length: number;
  /** The model name of the reference port's recorded timings for this exact model, if any were recorded. */
  baselineModel?: string;
}

export const MODELS: Record<string, () => BenchModel> = {
  enformer: () => ({
    arch: new Enformer(parseEnformerConfig({ dim: 1536, depth: 11, heads: 8, output_heads: { human: 5313, mouse: 1643 }, target_length: 896, attn_dim_key: 64, num_downsamples: 7, dim_divisible_by: 128 }, 'enformer full size')),
    length: 196_608,
    baselineModel: 'enformer',
  }),
  // The published replicates: human head (7,611 tracks), 524,288 bp in, 6,144 bins out.
  borzoi: () => ({ arch: new Borzoi(parseBorzoiConfig({}, 'borzoi full size')), length: 524_288, baselineModel: 'borzoi' }),
  // No reference timing of Flashzoi was recorded: Borzoi's would be a different model's.
  flashzoi: () => ({ arch: new Borzoi(parseBorzoiConfig({ flashed: true }, 'flashzoi full size')), length: 524_288 }),
};

/** The architecture of bench model `name` (enformer, borzoi, flashzoi). */
export function benchArchitecture(name: string): Architecture {
  const make = MODELS[name];
  if (!make) throw new Error(`unknown model '${name}' (${Object.keys(MODELS).join(', ')})`);
  return make().arch;
}
