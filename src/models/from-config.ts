/** The architecture a hub-style config.json names (no I/O: Node's loader and the page share it). */
import { ConfigError } from './config.js';
import { Enformer, parseEnformerConfig } from './enformer.js';
import { Borzoi, parseBorzoiConfig } from './borzoi.js';
import type { Architecture } from './architecture.js';

/**
 * Picks the architecture named by a config (`model_type` or `architectures`): Enformer, or Borzoi, which
 * is Flashzoi when `flashed` is true (the Flashzoi hub configs say model_type "borzoi", flashed true).
 */
export function architectureFromConfig(json: Record<string, unknown>, source: string): Architecture {
  const type = String(json.model_type ?? (Array.isArray(json.architectures) ? json.architectures[0] : '') ?? '').toLowerCase();
  if (type.includes('enformer')) return new Enformer(parseEnformerConfig(json, source));
  if (type.includes('flashzoi')) return new Borzoi(parseBorzoiConfig({ ...json, flashed: json.flashed ?? true }, source));
  if (type.includes('borzoi')) return new Borzoi(parseBorzoiConfig(json, source));
  throw new ConfigError(`${source}: unknown model_type ${JSON.stringify(json.model_type ?? json.architectures)} (supported: enformer, borzoi, flashzoi)`);
}
