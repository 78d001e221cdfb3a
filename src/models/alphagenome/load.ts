/** Opens an AlphaGenome model directory (config.json with model_type "alphagenome" beside the port's safetensors state dict) on Node. */
import { join } from 'node:path';
import { Engine } from '../../engine/engine.js';
import { openSpillFile } from '../../engine/spill-file.js';
import { SafetensorsFile } from '../../weights/safetensors.js';
import { WeightSet } from '../../weights/weight-set.js';
import { findWeightsFile, readConfig } from '../load.js';
import { ModelDirError } from '../from-config.js';
import { parseAlphaGenomeConfig, type AlphaGenomeConfig } from './config.js';
import { AlphaGenomeModel, type AlphaGenomeOptions } from './model.js';

AlphaGenomeModel.defaultRunner ??= (options) => Engine.start(options);

/** Whether a parsed config.json describes an AlphaGenome model. */
export function isAlphaGenomeConfig(json: Record<string, unknown>): boolean {
  return String(json.model_type ?? '').toLowerCase() === 'alphagenome';
}

/** The configuration of an AlphaGenome model directory (no weights read). */
export async function alphaGenomeConfigOf(dir: string): Promise<AlphaGenomeConfig> {
  const path = join(dir, 'config.json');
  const json = await readConfig(path);
  if (!isAlphaGenomeConfig(json)) throw new ModelDirError(`${path}: not an AlphaGenome config (model_type ${JSON.stringify(json.model_type)})`);
  return parseAlphaGenomeConfig(json, path);
}

/** Loads an AlphaGenome directory: the weights are checked by name and shape against the config, then one session is made. */
export async function loadAlphaGenome(dir: string, options: AlphaGenomeOptions = {}): Promise<AlphaGenomeModel> {
  const config = await alphaGenomeConfigOf(dir);
  const weightsPath = await findWeightsFile(dir);
  const file = await SafetensorsFile.open(weightsPath);
  return AlphaGenomeModel.create(config, WeightSet.fromSafetensors(file), weightsPath, { openSpill: () => openSpillFile(), ...options });
}
