/** Opens a model directory as on the Hugging Face hub: `config.json` beside one safetensors weights file. */
import { access, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';
import { isLegacyEnformerLayout } from '../weights/enformer-legacy-names.js';
import { isMultiMoleculeNames } from '../weights/multimolecule.js';
import { Enformer } from './enformer.js';
import { Borzoi } from './borzoi.js';
import { AlphaGenomeTracks } from './alphagenome/tracks-architecture.js';
import { architectureFromConfig, ModelDirError, parseConfigText, pickWeightsFile } from './from-config.js';
import { Model } from './model.js';
import type { Architecture, GammaTable } from './architecture.js';
import type { LoadOptions } from './load-options.js';

export type { LoadOptions } from './load-options.js';

export { architectureFromConfig, ModelDirError, pickWeightsFile } from './from-config.js';

export async function readConfig(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ModelDirError(`${path}: cannot read config (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parseConfigText(text, path);
}

/** The weights file of a model directory: model.safetensors, weights.safetensors, or the only *.safetensors. */
export async function findWeightsFile(dir: string): Promise<string> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new ModelDirError(`${dir}: cannot read model directory (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return join(dir, pickWeightsFile(names, dir));
}

export const TF_GAMMA_FILE = 'tf_gammas.safetensors';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Reads a gamma table file (safetensors with `tf_gammas` [2n-1, F/6]). */
export async function readGammaTable(path: string): Promise<{ n: number; values: Float32Array }> {
  const file = await SafetensorsFile.open(path);
  const info = file.tensors.get('tf_gammas');
  if (!info || info.shape.length !== 2) throw new ModelDirError(`${path}: expected a tensor 'tf_gammas' of shape [2n-1, features]`);
  return { n: (info.shape[0]! + 1) / 2, values: file.readFloat32('tf_gammas') };
}

/**
 * The TF gamma table of a model directory whose Enformer config sets `use_tf_gamma` (with the TF
 * normalisation): `options.gammaTable`, else the file `options.gammaTablePath`, else
 * `tf_gammas.safetensors` in `dir` when it is there. Undefined when none applies: the table is needed
 * only at its own length (1,536 positions), where `positionFeeds` then says it is missing.
 */
export async function modelGammaTable(arch: Architecture, dir: string, options: Pick<LoadOptions, 'gammaTable' | 'gammaTablePath'>): Promise<GammaTable | undefined> {
  if (options.gammaTable) return options.gammaTable;
  if (!(arch instanceof Enformer && arch.config.useTfGamma && arch.config.gamma === 'tf')) return undefined;
  const path = options.gammaTablePath ?? join(dir, TF_GAMMA_FILE);
  if (options.gammaTablePath === undefined && !(await exists(path))) return undefined;
  try {
    return await readGammaTable(path);
  } catch (e) {
    throw new ModelDirError(`${join(dir, 'config.json')} sets use_tf_gamma, but the TF gamma table could not be read: ${(e as Error).message}`);
  }
}

/**
 * The architecture of a model directory from its config alone (no weights read), as `loadModel` makes
 * it with these options: `fullOutput` and `gamma` override the config's crop and gamma features.
 */
export async function architectureOf(dir: string, options: Pick<LoadOptions, 'fullOutput' | 'gamma' | 'organism' | 'resolution'> = {}): Promise<Architecture> {
  const configPath = join(dir, 'config.json');
  const json = await readConfig(configPath);
  const arch = architectureFromConfig({ ...json, ...(options.fullOutput ? { return_center_bins_only: false } : {}), ...(options.gamma ? { positional_gamma: options.gamma } : {}) }, configPath, {
    organism: options.organism,
    resolution: options.resolution,
  });
  if (options.resolution !== undefined && !(arch instanceof AlphaGenomeTracks)) throw new ModelDirError(`${configPath}: --resolution is for AlphaGenome models (this is ${arch.kind})`);
  if (options.fullOutput && !(arch instanceof Borzoi)) throw new ModelDirError(`${configPath}: --full-output is for Borzoi/Flashzoi models (this is ${arch.kind})`);
  if (options.gamma && !(arch instanceof Enformer)) throw new ModelDirError(`${configPath}: --gamma is for Enformer models (this is ${arch.kind})`);
  return arch;
}

/** Loads a model directory and starts its engine. */
export async function loadModel(dir: string, options: LoadOptions = {}): Promise<Model> {
  const arch = await architectureOf(dir, options);
  const weightsPath = await findWeightsFile(dir);
  const file = await SafetensorsFile.open(weightsPath);
  // enformer-pytorch's pre-0.5 layout needs tensors transposed, which conversion does once (and checks), not every load.
  if (arch instanceof Enformer && isLegacyEnformerLayout([...file.tensors.keys()], weightsPath)) {
    throw new ModelDirError(`${weightsPath}: enformer-pytorch's layout from before 0.5 (e.g. EleutherAI's February 2022 checkpoints); convert it once: seq2track weights convert ${dir} --out NEW_DIR`);
  }
  // MultiMolecule folders need their tensors renamed and re-laid-out (and their gamma table split off) once.
  if (isMultiMoleculeNames(file.tensors.keys())) throw new ModelDirError(`${weightsPath}: MultiMolecule parameter names (model.encoder.*); convert the folder first: seq2track weights convert ${dir} --out NEW_DIR`);
  const weights = WeightSet.fromSafetensors(file, (n) => arch.canonicalName(n));
  const gammaTable = await modelGammaTable(arch, dir, options);
  return Model.create(arch, weights, weightsPath, { ...options, gammaTable });
}
