/**
 * Variant-scoring benchmark: per SNV, the brute-force path (two full forward passes, ref and alt)
 * against the incremental one (ref forward once; for alt, only the trunk tile the variant reaches,
 * spliced into the ref trunk, then the head). Prints variants per second and FLOPs per variant.
 */
import { Model, type OneHotBatch } from '../models/model.js';

function snv(ref: OneHotBatch, pos: number): OneHotBatch {
  const data = ref.data.slice();
  const row = data.subarray(pos * 4, pos * 4 + 4);
  const hot = row.indexOf(1);
  row.fill(0);
  row[(hot + 1) % 4] = 1;
  return { ...ref, data };
}

export async function benchVariants(model: Model, windows: OneHotBatch[]): Promise<string> {
  const length = windows[0]!.length;
  const pos = length / 2; // the variant's base at index L/2, as the official scoring centres it
  const brute: number[] = [];
  const incremental: number[] = [];
  let maxDiff = 0;
  for (const [i, ref] of windows.entries()) {
    const alt = snv(ref, pos);
    let t = performance.now();
    await model.head(await model.trunk(ref), length);
    const altA = await model.head(await model.trunk(alt), length);
    brute.push((performance.now() - t) / 1000);

    t = performance.now();
    const refTrunk = await model.trunk(ref);
    await model.head(refTrunk, length);
    const altB = await model.head(await model.trunkPatch(refTrunk, alt, pos, pos + 1), length);
    incremental.push((performance.now() - t) / 1000);
    for (const h of Object.keys(altA.heads)) {
      const a = altA.heads[h]!.data;
      const b = altB.heads[h]!.data;
      for (let k = 0; k < a.length; k++) maxDiff = Math.max(maxDiff, Math.abs(a[k]! - b[k]!));
    }
    console.log(`variant ${i + 1}: brute force ${brute[i]!.toFixed(2)} s, incremental ${incremental[i]!.toFixed(2)} s`);
  }
  const arch = model.arch;
  const total = arch.flops(length).total;
  const trunkFull = model.trunkFlops(length);
  const halo = arch.trunkHaloBp;
  const grid = Math.max(...arch.trunkOutputs.map((o) => o.resolution));
  const core = Math.ceil((pos + 1 + halo) / grid) * grid - Math.floor((pos - halo) / grid) * grid;
  const tile = core + 2 * halo;
  const bruteFlops = 2 * total;
  const incFlops = total + model.trunkFlops(tile) + (total - trunkFull);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`FLOPs per variant: brute force ${(bruteFlops / 1e9).toFixed(1)} GFLOP, incremental ${(incFlops / 1e9).toFixed(1)} GFLOP (${(bruteFlops / incFlops).toFixed(2)}x fewer; alt trunk tile ${tile} bp)`);
  console.log(`variants per second: brute force ${(1 / mean(brute)).toFixed(4)}, incremental ${(1 / mean(incremental)).toFixed(4)} (${(mean(brute) / mean(incremental)).toFixed(2)}x faster)`);
  console.log(`max |alt head, incremental - brute force|: ${maxDiff.toExponential(2)}`);
  return `variants_per_s_brute=${(1 / mean(brute)).toFixed(4)} variants_per_s_incremental=${(1 / mean(incremental)).toFixed(4)} gflop_per_variant_brute=${(bruteFlops / 1e9).toFixed(1)} gflop_per_variant_incremental=${(incFlops / 1e9).toFixed(1)} flop_ratio=${(bruteFlops / incFlops).toFixed(2)}`;
}
