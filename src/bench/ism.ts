/**
 * ISM benchmark: 32 substitutions around the centre of one full-size window, scored by the
 * incremental path (reference trunk once; per batch of mutants only the trunk tile their positions
 * reach, then the head) and by brute force (a full forward per mutant), with the largest difference
 * between the two. The objective is the central bins of the first head's first track.
 */
import type { Model, OneHotBatch } from '../models/model.js';
import { substitutionEffects, type Substitution } from '../tasks/attribution/ism.js';
import { centralBins, runObjective } from '../tasks/attribution/objective.js';
import { unnamedTracks } from '../formats/targets.js';

/** `count` substitutions at consecutive positions from the centre, three per position (every non-reference base). */
export function centralSubstitutions(ref: OneHotBatch, count: number): Substitution[] {
  const subs: Substitution[] = [];
  const start = Math.floor(ref.length / 2) - Math.floor(count / 6);
  for (let p = start; subs.length < count; p++) {
    const hot = Array.from(ref.data.subarray(p * 4, p * 4 + 4)).indexOf(1);
    for (let k = 0; k < 4 && subs.length < count; k++) if (k !== hot) subs.push({ pos: p, base: k });
  }
  return subs;
}

export async function benchIsm(model: Model, ref: OneHotBatch, count: number, batchSize: number, bruteCount: number): Promise<string> {
  const head = model.headNames[0]!;
  const outputBins = model.outputBins(ref.length);
  const objective = runObjective({ head, tracks: unnamedTracks(head, model.arch.tracks(head)).tracks.slice(0, 1), bins: centralBins(outputBins), outputBins, aggregate: 'mean' }, false);
  const subs = centralSubstitutions(ref, count);
  let t = performance.now();
  const inc = await substitutionEffects(model, ref, subs, objective, { batchSize });
  const incSeconds = (performance.now() - t) / 1000;
  console.log(`incremental: ${subs.length} substitutions (batches of ${batchSize}) in ${incSeconds.toFixed(1)} s, ${(incSeconds / subs.length).toFixed(2)} s each (reference forward included)`);
  const bruteSubs = subs.slice(0, Math.min(bruteCount, subs.length));
  t = performance.now();
  const brute = await substitutionEffects(model, ref, bruteSubs, objective, { bruteForce: true, batchSize: 1 });
  const bruteSeconds = (performance.now() - t) / 1000;
  const perBrute = bruteSeconds / (bruteSubs.length + 1);
  console.log(`brute force: ${bruteSubs.length} substitutions + reference, one full forward each, in ${bruteSeconds.toFixed(1)} s (${perBrute.toFixed(2)} s per forward)`);
  const bruteAll = perBrute * (subs.length + 1);
  let maxDiff = Math.abs(inc.reference - brute.reference);
  bruteSubs.forEach((_, i) => (maxDiff = Math.max(maxDiff, Math.abs(inc.effects[i]! - brute.effects[i]!))));
  let maxEffect = 0;
  for (const e of inc.effects) maxEffect = Math.max(maxEffect, Math.abs(e));
  console.log(`brute force for all ${subs.length}: ${bruteAll.toFixed(1)} s${bruteSubs.length < subs.length ? ' (extrapolated)' : ''}; speed-up ${(bruteAll / incSeconds).toFixed(2)}x`);
  console.log(`max |incremental - brute force| over ${bruteSubs.length} effects and the reference objective: ${maxDiff.toExponential(2)} (max |effect| ${maxEffect.toExponential(2)})`);
  return `substitutions=${subs.length} incremental_seconds=${incSeconds.toFixed(1)} brute_seconds=${bruteAll.toFixed(1)} brute_measured=${bruteSubs.length} speedup=${(bruteAll / incSeconds).toFixed(2)} max_abs_diff=${maxDiff.toExponential(2)}`;
}
