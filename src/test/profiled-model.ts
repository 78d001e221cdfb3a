/** A fixture model on the bench's profiling engine (`npm run bench -- … --profile`), for the profile tests. */
import { join } from 'node:path';
import { architectureFromConfig, findWeightsFile, readConfig } from '../models/load.js';
import { Model, type ModelOptions } from '../models/model.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';
import { ProfilingEngine } from '../bench/profiling-engine.js';

/** The model does not own the engine: close both, the engine last (it writes the profiles). */
export async function profiledModel(dir: string, options: ModelOptions, prefix: string): Promise<{ model: Model; engine: ProfilingEngine }> {
  const configPath = join(dir, 'config.json');
  const arch = architectureFromConfig(await readConfig(configPath), configPath);
  const weightsPath = await findWeightsFile(dir);
  const weights = WeightSet.fromSafetensors(await SafetensorsFile.open(weightsPath), (n) => arch.canonicalName(n));
  const engine = new ProfilingEngine(options, prefix);
  try {
    return { model: await Model.create(arch, weights, weightsPath, options, engine), engine };
  } catch (e) {
    await engine.close();
    throw e;
  }
}
