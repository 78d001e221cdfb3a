/**
 * The Node side of the run core: models from directories (loaded one at a time by the schedule) and
 * the one way every job finds a head's targets table.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type LoadOptions } from '../../models/load.js';
import { PUBLISHED_TARGETS, readTargets, TargetsError, unnamedTracks, type TargetsTable } from '../../formats/targets.js';
import { family, type EnsembleOptions, type Setup } from './ensemble.js';
import { openEnsemble, type Ensemble, type EnsembleSpec, type ModelSource, type TableResolver } from './run-core.js';

/** Model directories, each loaded with `load` when the schedule asks for it. */
export function modelDirectories(dirs: string[], load: LoadOptions = {}): ModelSource {
  return {
    count: dirs.length,
    label: (i) => dirs[i]!,
    directory: (i) => dirs[i],
    open: (i) => loadModel(dirs[i]!, load),
    close: (model) => model.close(),
  };
}

/**
 * The targets table of a head: `targets` (`--targets`), else `targets_<head>.txt` in the model
 * directory (as `finetune` writes it beside a trained head), else the published one when the track
 * count matches, else the architecture's own names (`fallback`), else `<head>_<i>`.
 */
export async function tableFor(kind: string, head: string, headTracks: number, targets: string | undefined, cache: string | undefined, modelDir: string | undefined, fallback?: TargetsTable): Promise<TargetsTable> {
  const beside = modelDir === undefined ? undefined : join(modelDir, `targets_${head}.txt`);
  if (targets === undefined && beside !== undefined && existsSync(beside)) targets = beside;
  if (targets !== undefined) {
    const table = await readTargets(targets, cache);
    if (table.tracks.length !== headTracks) {
      throw new TargetsError(`${targets}: the targets table has ${table.tracks.length} tracks but the ${head} head has ${headTracks}`);
    }
    return table;
  }
  const published = PUBLISHED_TARGETS[family(kind)]?.[head];
  if (published && published.tracks === headTracks) return readTargets(published.url, cache);
  return fallback ?? unnamedTracks(head, headTracks);
}

/** `tableFor` as the run core asks for it. */
export function tables(targets: string | undefined, cache: string | undefined): TableResolver {
  return (setup: Setup, dir: string | undefined) => tableFor(setup.kind, setup.head, setup.headTracks, targets, cache, dir, setup.defaultTable);
}

/** Opens the ensemble of a job's model directories (see openEnsemble). */
export function openModels(opts: EnsembleOptions, spec: Omit<EnsembleSpec, 'head' | 'rc' | 'shifts' | 'tracks' | 'expandTracks'> & { load?: LoadOptions } = {}): Promise<Ensemble> {
  const { load, ...rest } = spec;
  return openEnsemble(
    modelDirectories(opts.models, load ?? opts.load),
    { head: opts.head, windowLength: opts.windowLength, rc: opts.rc, shifts: opts.shifts, tracks: opts.tracks, expandTracks: opts.expandTracks, ...rest },
    tables(opts.targets, opts.cacheDir),
  );
}
