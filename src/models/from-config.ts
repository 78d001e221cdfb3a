/** A hub-style model directory without I/O: the architecture its config.json names and which file holds the weights (Node's loader and the page share these). */
import { ConfigError } from './config.js';
import { Enformer, parseEnformerConfig } from './enformer.js';
import { Borzoi, parseBorzoiConfig } from './borzoi.js';
import type { Architecture } from './architecture.js';
import { referenceConfig } from './multimolecule-config.js';
import { parseAlphaGenomeConfig } from './alphagenome/config.js';
import { AlphaGenomeTracks, type AlphaGenomeTracksOptions } from './alphagenome/tracks-architecture.js';

/**
 * Picks the architecture named by a config (`model_type` or `architectures`): Enformer, or Borzoi, which
 * is Flashzoi when `flashed` is true (the Flashzoi hub configs say model_type "borzoi", flashed true).
 * A MultiMolecule config (hidden_size, num_hidden_layers, …) is read through its mapping onto the
 * reference keys, so it builds the same network rather than the defaults of keys it lacks.
 * AlphaGenome is seen through `alphaGenome` (its organism and output resolution: tracks-architecture.ts).
 */
export function architectureFromConfig(config: Record<string, unknown>, source: string, alphaGenome: AlphaGenomeTracksOptions = {}): Architecture {
  const json = referenceConfig(config, source);
  const type = String(json.model_type ?? (Array.isArray(json.architectures) ? json.architectures[0] : '') ?? '').toLowerCase();
  if (type.includes('enformer')) return new Enformer(parseEnformerConfig(json, source));
  if (type.includes('flashzoi')) return new Borzoi(parseBorzoiConfig({ ...json, flashed: json.flashed ?? true }, source));
  if (type.includes('borzoi')) return new Borzoi(parseBorzoiConfig(json, source));
  if (type === 'alphagenome') {
    try {
      return new AlphaGenomeTracks(parseAlphaGenomeConfig(json, source), alphaGenome);
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError(`${source}: ${(e as Error).message}`);
    }
  }
  throw new ConfigError(`${source}: unknown model_type ${JSON.stringify(json.model_type ?? json.architectures)} (supported: enformer, borzoi, flashzoi, alphagenome)`);
}

export class ModelDirError extends Error {}

/** Of a model directory's file names: model.safetensors, weights.safetensors, or the only *.safetensors. */
export function pickWeightsFile(names: string[], dir: string): string {
  for (const preferred of ['model.safetensors', 'weights.safetensors']) if (names.includes(preferred)) return preferred;
  const candidates = names.filter((n) => n.endsWith('.safetensors') && n !== 'tf_gammas.safetensors');
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    const other = names.filter((n) => /\.(bin|pt|pth|h5|ckpt)$/.test(n));
    const hint = other.length ? ` (found ${other.join(', ')}: convert it to safetensors first)` : '';
    throw new ModelDirError(`${dir}: no *.safetensors weights file${hint}`);
  }
  throw new ModelDirError(`${dir}: several safetensors files (${candidates.join(', ')}); name the weights model.safetensors`);
}

/** A config.json's text as an object; anything else is a one-line ConfigError naming the file. */
export function parseConfigText(text: string, label: string): Record<string, unknown> {
  try {
    const json = JSON.parse(text);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not an object');
    return json;
  } catch (e) {
    throw new ConfigError(`${label}: not a JSON object (${(e as Error).message})`);
  }
}
