/**
 * Input gradients of AlphaGenome (`alphagenome-small`, 2 × 8,192 bp) through the model runner, at
 * 128 bp and 1 bp: the whole-head backward (the tower's pair representation cannot be cut into
 * block segments) and the encoder's backward on the trunk's tiles.
 *
 * The fixture has no reference gradients, so the gradient is checked against central differences of
 * the forward, d f / d x[q, pos, base] ≈ (f(x + h·e) − f(x − h·e)) / 2h, at positions away from the
 * objective's bins and beside them, both sequences. Step and tolerance, and why:
 * - The forward is float32; ~1e-6 relative round-off of f divided by 2h is the noise. At h = 1e-2 the
 *   truncation error dominates next to the objective's bins (up to 3.5e-2 · max|grad| at 1 bp: the
 *   1-bp heads see the input through the decoder's skips, strongly curved); at h = 1e-3 the observed
 *   error is ≤ 5.3e-3 · max|grad| over all four objectives (noise, and ReLU/MaxPool kinks within h).
 *   Tolerance 1e-2 · max|grad|; a wrong rule (like the garbage gradients of an ONNX Runtime fusion
 *   that tracks-architecture.ts avoids) is off by O(max|grad|).
 * - No position lies in sequence 1's N run [2500, 3400): all-zero rows give equal activations, so
 *   MaxPool windows tie there; the gradient goes to the first maximum (as PyTorch) while a central
 *   difference averages the two one-sided slopes.
 * Tiled (2,048 bp) and untiled gradients agree to 1e-5 · max|grad| (float32 convolutions on a tile
 * and on the whole window round differently; the tiles themselves are exact).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../models/load.js';
import { Model, type Objective, type OneHotBatch } from '../models/model.js';
import { completenessGap, integratedGradients } from '../tasks/attribution/integrated-gradients.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { assertClose, assertCliOk, fixtureInput, runCli, withTempDir } from './fixtures.js';
import { ALPHAGENOME, alphaGenomeDir, alphaGenomeSkip } from './alphagenome-fixture.js';
import { randomGenome, writeFastaFai } from './genome-files.js';

const skip = alphaGenomeSkip;
const dir = alphaGenomeDir;
const H = 1e-3;
const FD_TOLERANCE = 1e-2;

let x: OneHotBatch;
before(async () => {
  if (!skip) x = await fixtureInput(ALPHAGENOME);
});

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** The objective per sequence from a forward pass, in float64 (as `objectiveOf` reads the head). */
async function forwardObjective(model: Model, batch: OneHotBatch, o: Objective): Promise<number[]> {
  const h = (await model.predict(batch)).heads[o.head]!;
  const [, n, T] = h.shape as [number, number, number];
  return Array.from({ length: batch.batch }, (_, q) => {
    const per = o.tracks.map((t) => {
      const a = o.bins.reduce((acc, bin) => acc + h.data[(q * n + bin) * T + t]!, 0);
      return o.logPseudocount === undefined ? a : Math.log(a + o.logPseudocount);
    });
    return per.reduce((p, v) => p + v, 0) / per.length;
  });
}

for (const resolution of [128, 1] as const) {
  // The objective's bins: 4 bins (512 bp) or 5 bp, around position ~4,030 of both sequences.
  const bins = resolution === 128 ? [30, 31, 32, 33] : [4000, 4001, 4002, 4003, 4004];
  const centre = resolution === 128 ? 4032 : 4002;
  // [sequence, position, base]: inside and beside the bins, 300-1,500 bp away; none in the N run.
  const points = [[0, centre, 1], [0, centre + 300, 2], [1, centre + 40, 0], [1, centre - 500, 2], [0, centre - 1500, 3], [1, 5000, 1]] as const;

  test(`alphagenome gradients at ${resolution} bp: central differences of the forward, tiled == untiled, with and without a log`, { skip }, async () => {
    const untiled = await loadModel(dir, { resolution, tileLength: 0, threads: 2 });
    const tiled = await loadModel(dir, { resolution, tileLength: 2048, threads: 2 });
    try {
      for (const logPseudocount of [undefined, 1]) {
        const objective: Objective = { head: 'human', tracks: [0, 1, 2], bins, aggregate: 'sum', ...(logPseudocount ? { logPseudocount } : {}) };
        const label = `${resolution} bp${logPseudocount ? ', log' : ''}`;
        let t = performance.now();
        const a = await untiled.inputGradients(x, objective);
        const untiledMs = performance.now() - t;
        t = performance.now();
        const tiles: number[] = [];
        const b = await tiled.inputGradients(x, objective, { onProgress: (done) => tiles.push(done) });
        const tiledMs = performance.now() - t;
        assert.equal(Math.max(...tiles), 4, 'four tiles of 2,048 bp');
        const scale = maxAbs(a.grad);
        assert.ok(scale > 0 && Number.isFinite(scale), `${label}: max|grad| ${scale}`);
        const tiledGap = assertClose(b.grad, a.grad, { atol: 1e-5 * scale }, `${label}: tiled vs untiled grad`);
        assertClose(b.objective, a.objective, { atol: 1e-6 * maxAbs(a.objective) }, `${label}: tiled vs untiled objective`);
        const base = await forwardObjective(untiled, x, objective);
        assertClose(a.objective, base, { atol: 1e-6 * maxAbs(base) }, `${label}: objective vs the forward`);

        let worst = 0;
        for (const [q, pos, k] of points) {
          const at = (q * x.length + pos) * 4 + k;
          const shifted = (h: number) => {
            const data = x.data.slice();
            data[at]! += h;
            return forwardObjective(untiled, { ...x, data }, objective);
          };
          const fd = ((await shifted(H))[q]! - (await shifted(-H))[q]!) / (2 * H);
          const err = Math.abs(fd - a.grad[at]!) / scale;
          assert.ok(err <= FD_TOLERANCE, `${label}: finite difference at [${q}, ${pos}, ${k}] ${fd} vs gradient ${a.grad[at]} (error ${err.toExponential(2)} · max|grad|)`);
          worst = Math.max(worst, err);
        }
        console.log(
          `# ${label}: max|grad| ${scale.toExponential(3)}; worst |fd − grad| ${worst.toExponential(2)} · max|grad| (h = ${H}); ` +
            `tiled vs untiled ${(tiledGap / scale).toExponential(2)} · max|grad|; gradient untiled ${untiledMs.toFixed(0)} ms, tiled ${tiledMs.toFixed(0)} ms`,
        );
      }
    } finally {
      await untiled.close();
      await tiled.close();
    }
  });
}

/**
 * Completeness along a short path: the baseline is x with a 300-bp block over the objective's bins
 * set to N, so the integrand <grad f(z_α), x − x₀> varies smoothly and the right Riemann sum converges
 * at its first-order rate (observed gaps 4.3e-2 at m = 4, 3.7e-3 at m = 16 for f(x) − f(x₀) = 6.7e-2).
 * From the all-N baseline the integrand swings (0.11 at α = 0, 1.16 at α = 1, for a change of −0.22)
 * and the sum converges erratically, which tests the quadrature rather than the gradients.
 */
test('alphagenome gradients: integrated gradients are complete (Σ IG → f(x) − f(x₀) as the Riemann sum refines)', { skip }, async () => {
  const model = await loadModel(dir, { resolution: 128, tileLength: 2048, threads: 2 });
  try {
    const one: OneHotBatch = { data: x.data.subarray(0, x.length * 4), batch: 1, length: x.length };
    const masked = one.data.slice();
    masked.fill(0, 3900 * 4, 4200 * 4);
    const baseline: OneHotBatch = { data: masked, batch: 1, length: x.length };
    const objective: Objective = { head: 'human', tracks: [0, 1, 2], bins: [30, 31, 32, 33], aggregate: 'sum', logPseudocount: 1 };
    const gaps: number[] = [];
    let change = 0;
    for (const steps of [4, 16]) {
      const r = await integratedGradients(model, one, baseline, objective, steps, 8);
      gaps.push(completenessGap(r.ig, r.objective, r.baseline));
      change = Math.abs(r.objective - r.baseline);
    }
    console.log(`# IG completeness gap at m = 4, 16: ${gaps.map((g) => g.toExponential(3)).join(', ')} (|f(x) − f(x₀)| = ${change.toExponential(3)})`);
    // A right Riemann sum's error is ~ (g(1) − g(0)) / 2m: four times the steps, about a quarter of the gap.
    assert.ok(gaps[1]! < gaps[0]! / 2.5, `gaps ${gaps}`);
    assert.ok(gaps[1]! < 0.1 * change, `gap ${gaps[1]} vs |f(x) − f(x₀)| ${change}`);
  } finally {
    await model.close();
  }
});

test('alphagenome gradients: attribute --genome --region and --bed run AlphaGenome (128 bp gradient, 1 bp integrated gradients)', { skip }, async () => {
  await withTempDir(async (tmp) => {
    const genome = randomGenome({ chrA: 20_000, chrB: 12_000 }, 5);
    const fa = join(tmp, 'g.fa');
    writeFastaFai(fa, genome);
    const out = join(tmp, 'region');
    assertCliOk(await runCli(['attribute', '--model', dir, '--genome', fa, '--region', 'chrA:9001-9100', '--tracks', '0-2', '--tile-length', '2048', '--threads', '2', '--out', out]));
    // The window (8,192 bp centred on the region, 0-based [4954, 13146)) through the API: the same gradient.
    const file = await SafetensorsFile.open(join(out, 'attribute.safetensors'));
    const model = await loadModel(dir, { tileLength: 0, threads: 2 });
    try {
      const window = Model.encode([genome.get('chrA')!.slice(4954, 13146)]);
      const want = await model.inputGradients(window, { head: 'human', tracks: [0, 1, 2], bins: [31, 32], aggregate: 'mean' });
      assertClose(file.readFloat32('grad'), want.grad, { atol: 1e-5 * maxAbs(want.grad) }, '--genome --region grad vs inputGradients on its window');
    } finally {
      await model.close();
    }

    const bed = join(tmp, 'r.bed');
    writeFileSync(bed, 'chrA\t9000\t9100\nchrB\t5000\t5010\n');
    const bedOut = join(tmp, 'bed');
    assertCliOk(await runCli(['attribute', '--model', dir, '--genome', fa, '--bed', bed, '--resolution', '1', '--tracks', '0-2', '--method', 'integrated-gradients', '--steps', '2', '--threads', '2', '--out', bedOut]));
    const ig = await SafetensorsFile.open(join(bedOut, 'attribute.safetensors'));
    assert.deepEqual(ig.tensors.get('integrated_gradients')!.shape, [2, 8192, 4]);
    const values = ig.readFloat32('integrated_gradients');
    assert.ok(values.every(Number.isFinite) && maxAbs(values) > 0, 'finite, non-zero integrated gradients');
    assert.ok(ig.readFloat32('completeness_gap').every(Number.isFinite));
  });
});
