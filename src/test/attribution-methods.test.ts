/**
 * The attribution methods beyond the gradient: the seeded shuffles, integrated gradients against an
 * independent float64 computation (all three fixtures, tiled and untiled), IG's completeness gap as
 * the Riemann sum refines, shuffle ISM against brute-force forwards, and the NumPy writer read back
 * by NumPy.
 *
 * The repository has no float64 model, so the float64 IG reference is built from pieces checked
 * elsewhere and not from the IG code: (1) the gradient at every interpolation point from single-point
 * untiled `inputGradients` runs, summed and multiplied by x − x₀ in float64 (the gradient path itself
 * is checked against the fixtures' float64 `grad_x_f64` in gradients.test.ts, and here at the k = m
 * point, which is x); (2) independently of any backward, the IG summed over a block of positions
 * against central differences of the forward along the block's direction at each point, in float64:
 * Σ_{i∈S} IG_i = (1/m) Σ_k d/dh f(z_k + h·(x − x₀)_S).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Model, OneHotBatch } from '../models/model.js';
import { Model as ModelClass } from '../models/model.js';
import { loadModel } from '../models/load.js';
import { assertClose, fixturePath, readRef, skipUnless, tempDir } from './fixtures.js';
import { tiledPair } from './fixture-models.js';
import { fixtureRecords, fixtureRunOptions, gradsOf } from './attribution-fixtures.js';
import { dinucShuffle, monoShuffle, seededRandom, seedOf } from '../tasks/attribution/shuffle.js';
import { completenessGap, integratedGradients } from '../tasks/attribution/integrated-gradients.js';
import { integratedGradientsRecords } from '../tasks/attribution/attribute.js';
import { objectiveOf, runObjective, type Objective } from '../tasks/attribution/objective.js';
import { reverseComplement } from '../genome/sequence.js';
import { shuffleIsmRecords, shuffleWindows, windowShuffles, checkShuffleIsm } from '../tasks/attribution/shuffle-ism.js';
import { writeNpz } from '../formats/npz.js';
import { rng } from './genome-files.js';

function counts(s: string, k: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + k <= s.length; i++) m.set(s.slice(i, i + k), (m.get(s.slice(i, i + k)) ?? 0) + 1);
  return m;
}

const same = (a: Map<string, number>, b: Map<string, number>) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

test('dinucleotide shuffle keeps every dinucleotide count, first and last letter; seeded; mono keeps letters', () => {
  const r = rng(3);
  for (let t = 0; t < 200; t++) {
    const n = 2 + Math.floor(r() * 300);
    const alphabet = t % 3 === 0 ? 'AC' : 'ACGTN';
    const s = Array.from({ length: n }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
    const d = dinucShuffle(s, seededRandom(seedOf(7, t)));
    assert.equal(d.length, s.length);
    assert.ok(same(counts(d, 2), counts(s, 2)), `dinucleotide counts of ${s} -> ${d}`);
    assert.equal(d[0], s[0]);
    assert.equal(d[d.length - 1], s[s.length - 1]);
    assert.equal(dinucShuffle(s, seededRandom(seedOf(7, t))), d, 'same seed, same shuffle');
    const m = monoShuffle(s, seededRandom(t));
    assert.ok(same(counts(m, 1), counts(s, 1)));
  }
  // It does shuffle, and reaches many of the sequences with those counts.
  const s = 'ACGTTGCAACGGTACCATGA';
  const seen = new Set(Array.from({ length: 200 }, (_, i) => dinucShuffle(s, seededRandom(i))));
  assert.ok(seen.size > 50, `${seen.size} distinct shuffles of ${s}`);
});

test('npz: float32 arrays as np.savez writes them, read by NumPy (plain and ZIP64 records)', { skip: spawnSync('python3', ['-c', 'import numpy']).status === 0 ? false : 'python3-numpy is not installed' }, async () => {
  const tmp = tempDir('seq2track-npz-');
  try {
    const data = Float32Array.from({ length: 3 * 4 * 5 }, (_, i) => i * 0.5 - 7);
    for (const zip64 of [false, true]) {
      const path = join(tmp.dir, `a-${zip64}.npz`);
      await writeNpz(path, [{ name: 'arr_0', dtype: '<f4', shape: [3, 4, 5], chunks: () => [new Uint8Array(data.buffer, 0, 80), new Uint8Array(data.buffer, 80)] }], zip64);
      const out = execFileSync('python3', ['-c', `import numpy as np, zipfile; zipfile.ZipFile('${path}').testzip(); a = np.load('${path}')['arr_0']; print(a.shape, a.dtype, float(a.sum()), float(a[2, 3, 4]))`], { encoding: 'utf8' });
      const sum = data.reduce((a, b) => a + b, 0);
      assert.equal(out.trim(), `(3, 4, 5) float32 ${sum.toFixed(1)} ${data[59]!.toFixed(1)}`, `zip64 ${zip64}`);
    }
  } finally {
    tmp.cleanup();
  }
});

/** The fixture objective: mean of bins 14-17 (enformer) of one track of the human head. */
async function fixtureObjective(name: string): Promise<Objective> {
  const g = await gradsOf(name);
  const bins = Array.from({ length: g.bins[1] - g.bins[0] + 1 }, (_, i) => g.bins[0] + i);
  return { head: 'human', tracks: [g.track], bins, aggregate: 'mean' };
}

const f = async (model: Model, data: Float32Array, length: number, o: Objective): Promise<number> => {
  const out = (await model.predict({ data, batch: 1, length }, { heads: [o.head] })).heads[o.head]!.data;
  return objectiveOf(out, 0, model.outputBins(length), model.arch.tracks(o.head), o);
};

const point = (x: Float32Array, x0: Float32Array, a: number) => Float32Array.from(x, (v, i) => x0[i]! + a * (v - x0[i]!));

/** float64 IG reference from single-point untiled gradients. */
async function referenceIg(model: Model, x: Float32Array, x0: Float32Array, length: number, o: Objective, m: number): Promise<{ ig: Float64Array; gradAtX: Float32Array }> {
  const sum = new Float64Array(x.length);
  let gradAtX: Float32Array = new Float32Array(0);
  for (let k = 1; k <= m; k++) {
    const g = await model.inputGradients({ data: point(x, x0, k / m), batch: 1, length }, o);
    for (let i = 0; i < sum.length; i++) sum[i] += g.grad[i]!;
    if (k === m) gradAtX = g.grad;
  }
  return { ig: Float64Array.from(sum, (s, i) => ((x[i]! - x0[i]!) * s) / m), gradAtX };
}

// Tolerances relative to max |IG|: tiled and untiled gradients agree to 1e-5 of max |grad| (gradients.test.ts).
const STEPS = 4;
for (const name of ['enformer-small', 'borzoi-small', 'flashzoi-small']) {
  const models = tiledPair(name);
  test(`integrated gradients: ${name} equals the float64 reference (untiled and tiled), and central differences of the forward`, { skip: skipUnless(name) }, async () => {
    const { untiled, tiled, x: batch } = models;
    const L = batch.length;
    const x = batch.data.slice(0, L * 4);
    const o = await fixtureObjective(name);
    const g = await gradsOf(name);
    // Zero baseline for the Borzoi models, a dinucleotide-shuffled one for Enformer.
    const seq = fixtureRecords(name)[0]!.sequence;
    const x0: Float32Array = name === 'enformer-small' ? ModelClass.encode([dinucShuffle(seq, seededRandom(seedOf(0, 0)))]).data : new Float32Array(L * 4);
    const ref = await referenceIg(untiled, x, x0, L, o, STEPS);
    // The k = m point is x: its gradient against the fixture's float64 gradient (GRADS.md tolerance, grad_x_f64 atol).
    assertClose(ref.gradAtX, readRef(g.file, 'grad_x_f64').subarray(0, L * 4), { atol: name === 'enformer-small' ? 2e-3 : 1e-5 }, `${name} gradient at x vs grad_x_f64`);
    const scale = ref.ig.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const xb: OneHotBatch = { data: x, batch: 1, length: L };
    const x0b: OneHotBatch = { data: x0, batch: 1, length: L };
    for (const [label, model] of [['untiled', untiled], ['tiled', tiled]] as const) {
      const r = await integratedGradients(model, xb, x0b, o, STEPS, 3);
      const err = assertClose(r.ig, ref.ig, { atol: 2e-5 * scale }, `${name} ${label} IG vs float64 reference`);
      console.log(`# ${name} ${label}: max |IG − reference| = ${err.toExponential(2)} (max |IG| ${scale.toExponential(2)}); gap at m=${STEPS}: ${completenessGap(r.ig, r.objective, r.baseline).toExponential(3)}`);
      assert.ok(Math.abs(r.objective - (await f(untiled, x, L, o))) < 1e-5, 'f(x) from the last point');
    }
    // Central differences along the direction of a block of positions around the objective's bins, in float64.
    const centre = Math.floor(L / 2);
    const block: [number, number] = [centre - 16, centre + 16];
    const d = new Float32Array(L * 4);
    for (let i = block[0] * 4; i < block[1] * 4; i++) d[i] = x[i]! - x0[i]!;
    const h = 1e-3;
    let fd = 0;
    for (let k = 1; k <= STEPS; k++) {
      const z = point(x, x0, k / STEPS);
      const plus = Float32Array.from(z, (v, i) => v + h * d[i]!);
      const minus = Float32Array.from(z, (v, i) => v - h * d[i]!);
      fd += ((await f(untiled, plus, L, o)) - (await f(untiled, minus, L, o))) / (2 * h) / STEPS;
    }
    let blockIg = 0;
    for (let i = block[0] * 4; i < block[1] * 4; i++) blockIg += ref.ig[i]!;
    console.log(`# ${name}: block IG ${blockIg.toExponential(4)} vs central differences ${fd.toExponential(4)} (|diff| ${Math.abs(blockIg - fd).toExponential(2)})`);
    // Loose on purpose: the forward is float32 and only piecewise smooth (Enformer's ReLUs, GRADS.md's
    // finite-difference table), so a difference quotient over a 32-position direction carries a few %.
    assert.ok(Math.abs(blockIg - fd) <= 0.15 * Math.abs(fd) + 1e-4, `block IG ${blockIg} vs central differences ${fd}`);
  });
}

test('integrated gradients: the completeness gap shrinks like the Riemann error as m grows (enformer-small, 4,096 bp)', { skip: skipUnless('enformer-small') }, async () => {
  const model = await loadModel(fixturePath('enformer-small'), { threads: 2, tileLength: 0 });
  try {
    const r = rng(11);
    const seq = Array.from({ length: 4096 }, () => 'ACGT'[Math.floor(r() * 4)]).join('');
    const x = ModelClass.encode([seq]);
    const x0 = { data: new Float32Array(x.data.length), batch: 1, length: 4096 };
    const o: Objective = { head: 'human', tracks: [1], bins: [7, 8], aggregate: 'mean' };
    const gaps: number[] = [];
    for (const m of [4, 16, 64]) {
      const ig = await integratedGradients(model, x, x0, o, m, 8);
      gaps.push(completenessGap(ig.ig, ig.objective, ig.baseline));
    }
    console.log(`# completeness gap at m = 4, 16, 64: ${gaps.map((g) => g.toExponential(3)).join(', ')}`);
    // A right Riemann sum's error is ~ (g'(1) − g'(0)) / 2m: ×4 steps, ÷~4 gap (float32 round-off sets a floor).
    assert.ok(gaps[1]! < gaps[0]! / 2.5 && gaps[2]! < gaps[1]! / 2.5, `gaps ${gaps}`);
  } finally {
    await model.close();
  }
});

test('integrated gradients records: --rc with a shuffled baseline is the mean of the forward run and the mapped-back reverse-complement run (flashzoi-small)', { skip: skipUnless('flashzoi-small') }, async () => {
  const name = 'flashzoi-small';
  const g = await gradsOf(name);
  const records = fixtureRecords(name).slice(0, 1);
  const seq = records[0]!.sequence;
  const L = seq.length;
  const r = await integratedGradientsRecords(records, 'fixture', { ...fixtureRunOptions(name, g, 2), rc: true, steps: 2, baseline: 'shuffle', seed: 5 });
  assert.equal(r.job.ensemble, 2);
  const model = await loadModel(fixturePath(name), { threads: 2 });
  try {
    const o = await fixtureObjective(name);
    const base = dinucShuffle(seq, seededRandom(seedOf(5, 0)));
    const fwd = await integratedGradients(model, ModelClass.encode([seq]), ModelClass.encode([base]), o, 2, 2);
    const rcObjective = runObjective({ head: 'human', tracks: r.job.objective.tracks, bins: r.job.objective.bins, outputBins: r.job.objective.outputBins, aggregate: 'mean' }, true);
    const rev = await integratedGradients(model, ModelClass.encode([reverseComplement(seq)]), ModelClass.encode([reverseComplement(base)]), rcObjective, 2, 2);
    const want = new Float64Array(L * 4);
    for (let p = 0; p < L; p++) for (let k = 0; k < 4; k++) want[p * 4 + k] = (fwd.ig[p * 4 + k]! + rev.ig[(L - 1 - p) * 4 + 3 - k]!) / 2;
    assertClose(r.values, want, { atol: 1e-6 }, 'ensemble IG vs the mean of the two runs');
    assert.ok(Math.abs(r.objective[0]! - (fwd.objective + rev.objective) / 2) < 1e-6);
    assert.ok(Math.abs(r.baseline[0]! - (fwd.baseline + rev.baseline) / 2) < 1e-6);
    let total = 0;
    for (const v of r.values) total += v;
    assert.ok(Math.abs(Math.abs(total - (r.objective[0]! - r.baseline[0]!)) - r.gap[0]!) < 1e-5, 'gap = |Σ IG − (f(x) − f(x₀))|');
  } finally {
    await model.close();
  }
});

test('shuffle ISM equals brute force: every shuffled sequence through a full forward (enformer-small)', { skip: skipUnless('enformer-small') }, async () => {
  const name = 'enformer-small';
  const g = await gradsOf(name);
  const records = fixtureRecords(name).slice(0, 1);
  const seq = records[0]!.sequence;
  const settings = { window: g.window, shuffleWindow: 6, samples: 2, shuffle: 'mono' as const, seed: 3 };
  const r = await shuffleIsmRecords(records, 'fixture', { ...fixtureRunOptions(name, g, 3), ...settings });
  const model = await loadModel(fixturePath(name), { threads: 2 });
  try {
    const o = await fixtureObjective(name);
    const ref = await f(model, ModelClass.encode([seq]).data, seq.length, o);
    const windows = shuffleWindows(g.window, 6);
    assert.deepEqual(r.windows, windows);
    const want: number[] = [];
    for (const [wi, w] of windows.entries()) {
      let sum = 0;
      const shuffles = windowShuffles(seq, w, 0, wi, checkShuffleIsm(settings));
      for (const s of shuffles) {
        const mutant = seq.slice(0, w[0]) + s + seq.slice(w[1] + 1);
        sum += (await f(model, ModelClass.encode([mutant]).data, seq.length, o)) - ref;
      }
      want.push(sum / shuffles.length);
    }
    const err = assertClose(r.scores, want, { atol: 8e-6 }, 'shuffle ISM vs brute force');
    console.log(`# shuffle ISM vs brute force: max |diff| ${err.toExponential(2)}, scores ${Array.from(r.scores, (v) => v.toExponential(2)).join(' ')}`);
    assert.ok(want.some((v) => v !== 0), 'some shuffle changes the objective');
    // --rc: incremental equals brute force in every run's coordinates.
    const dinuc = { ...settings, shuffle: 'dinuc' as const, shuffleWindow: 8 };
    const rc = await shuffleIsmRecords(records, 'fixture', { ...fixtureRunOptions(name, g, 3), ...dinuc, rc: true, shifts: [0, 2] });
    const rcBrute = await shuffleIsmRecords(records, 'fixture', { ...fixtureRunOptions(name, g, 3), ...dinuc, rc: true, shifts: [0, 2], bruteForce: true });
    assertClose(rc.scores, rcBrute.scores, { atol: 8e-6 }, 'shuffle ISM --rc: incremental vs brute force');
  } finally {
    await model.close();
  }
});


