/**
 * 'torch-global-max' gamma features: enformer-pytorch's get_positional_features_gamma as it was before
 * commit dcb5751 (2022-05-31), when the gamma densities were divided by one torch.amax over every
 * distance and basis function (the normalisation EleutherAI's enformer-preview, enformer-191k and
 * enformer-corr_coef_obj were trained with). Checked against an independent float64 evaluation of that
 * formula, and through the model: config.json, the load option, `weights convert` overrides and the CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../models/load.js';
import { Model } from '../models/model.js';
import type { Prediction } from '../models/model-types.js';
import { enformerPositionalFeatures } from '../models/positional.js';
import { convertModel } from '../tasks/model-store/convert-model.js';
import { assertCliError, assertCliOk, compare, fixture, fixtureInput, runCli, skipUnless, withTempDir } from './fixtures.js';

const skip = skipUnless('enformer-small');

/**
 * log Γ(x) for x > 0, written for this test: shift x up to at least 20 with Γ(x+1) = xΓ(x), then
 * Stirling's series to the x^-9 term (truncation error < 1e-14 at x >= 20). The library uses Lanczos.
 */
function logGamma(x: number): number {
  let shift = 0;
  for (; x < 20; x += 1) shift += Math.log(x);
  const inv = 1 / x;
  const inv2 = inv * inv;
  const series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188))));
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + series - shift;
}

/**
 * The gamma block of enformer-pytorch's get_positional_embed before dcb5751, in float64, laid out
 * [2n-1 distances from -(n-1), f basis functions], from the upstream code (9edf7f3,
 * modeling_enformer.py): stddev = n / (2f), start_mean = n / f, mean = linspace(start_mean, n, f),
 * concentration = (mean / stddev)^2, rate = mean / stddev^2, probabilities = exp(xlogy(concentration - 1, |d|)
 * - rate |d| - (lgamma(concentration) - concentration log rate)) + 1e-8, outputs = probabilities /
 * amax(probabilities) over the whole [2n-1, f] array.
 */
function oldGammaBlock(n: number, f: number): Float64Array {
  const stddev = n / (2 * f);
  const startMean = n / f;
  const mean = Array.from({ length: f }, (_, k) => (f === 1 ? startMean : startMean + ((n - startMean) * k) / (f - 1)));
  const rows = 2 * n - 1;
  const p = new Float64Array(rows * f);
  for (let r = 0; r < rows; r++) {
    const x = Math.abs(r - (n - 1));
    for (let k = 0; k < f; k++) {
      const concentration = (mean[k]! / stddev) ** 2;
      const rate = mean[k]! / stddev ** 2;
      // torch.xlogy(a, 0) is 0 only for a == 0; here a = concentration - 1 >= 3, so a·log 0 = -inf.
      const xlogy = x === 0 ? (concentration - 1 === 0 ? 0 : -Infinity) : (concentration - 1) * Math.log(x);
      const logNormalization = logGamma(concentration) - concentration * Math.log(rate);
      p[r * f + k] = Math.exp(xlogy - rate * x - logNormalization) + 1e-8;
    }
  }
  const max = maxOf(p);
  return p.map((v) => v / max);
}

function maxOf(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]!);
  return max;
}

/** Columns [from, from + f) of a [rows, 6f] feature table. */
function columns(table: Float64Array, rows: number, f: number, from: number): Float64Array {
  const out = new Float64Array(rows * f);
  for (let r = 0; r < rows; r++) for (let k = 0; k < f; k++) out[r * f + k] = table[r * 6 * f + from + k]!;
  return out;
}

test('gamma torch-global-max: equals an independent float64 evaluation of the pre-dcb5751 formula (n = 8..1536)', () => {
  for (const [n, features] of [[8, 6], [64, 24], [257, 48], [1000, 192], [1536, 192]] as const) {
    const f = features / 6;
    const rows = 2 * n - 1;
    const ours = enformerPositionalFeatures(n, features, { gamma: 'torch-global-max' });
    const want = oldGammaBlock(n, f);
    // Both are float64 evaluations of one formula; what separates them is the lgamma algorithm
    // (Lanczos vs Stirling, each ~1e-15 relative on lgamma values up to ~3e4 at concentration 4096,
    // so ~1e-11 absolute in the log-density) and linspace's last-bit rounding of the means. The
    // features are at most 1, so 1e-9 absolute is 100x that bound (observed: at most 6.5e-12, at
    // n = 1000 and 1536) yet far below float32's 6e-8 resolution, the precision the model uses them at.
    const gamma = compare(columns(ours, rows, f, 2 * f), want, 1e-9);
    assert.ok(gamma.ok, `n=${n} F=${features}: max abs ${gamma.maxAbs}`);
    const signed = want.map((v, i) => Math.sign(Math.floor(i / f) - (n - 1)) * v);
    const s = compare(columns(ours, rows, f, 5 * f), signed, 1e-9);
    assert.ok(s.ok, `n=${n} F=${features} sign(d) block: max abs ${s.maxAbs}`);
    // One maximum for the whole table: its largest value is exactly 1.
    assert.equal(maxOf(columns(ours, rows, f, 2 * f)), 1);
    // The exponential and central-mask blocks do not depend on the gamma normalisation.
    const torch = enformerPositionalFeatures(n, features, { gamma: 'torch' });
    for (const from of [0, f, 3 * f, 4 * f]) assert.deepEqual(columns(ours, rows, f, from), columns(torch, rows, f, from), `n=${n} block at ${from}`);
    // 'torch' divides each distance's densities by their own maximum, so within a distance the two
    // normalisations differ by one factor: global[d,k] / torch[d,k] is the same for every k.
    const g = columns(ours, rows, f, 2 * f);
    const t = columns(torch, rows, f, 2 * f);
    for (let r = 0; r < rows; r++) {
      const ratio = g[r * f]! / t[r * f]!;
      for (let k = 1; k < f; k++) assert.ok(Math.abs(g[r * f + k]! / t[r * f + k]! / ratio - 1) < 1e-12, `n=${n} row ${r} basis ${k}`);
    }
  }
  // Unlike 'torch' (each distance peaks at 1, so distance 0 is all ones) and 'tf', distance 0 carries
  // only the 1e-8 floor over the global maximum at the full length.
  const n = 1536;
  const full = enformerPositionalFeatures(n, 192, { gamma: 'torch-global-max' });
  const atZero = full.subarray((n - 1) * 192 + 64, (n - 1) * 192 + 96);
  assert.ok(maxOf(atZero) < 1e-6, `distance 0: ${maxOf(atZero)}`);
  assert.equal(enformerPositionalFeatures(n, 192, { gamma: 'torch' })[(n - 1) * 192 + 64], 1);
});

async function predict(dir: string, options: Parameters<typeof loadModel>[1] = {}): Promise<Prediction> {
  const model = await loadModel(dir, { threads: 1, ...options });
  try {
    return await model.predict(await fixtureInput('enformer-small'));
  } finally {
    await model.close();
  }
}

/** A copy of the fixture model whose config.json sets `positional_gamma`. */
function withGamma(dir: string, gamma: string, extra: Record<string, unknown> = {}): string {
  const src = fixture('enformer-small')!;
  const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, positional_gamma: gamma, ...extra }));
  copyFileSync(join(src, 'weights.safetensors'), join(dir, 'weights.safetensors'));
  return dir;
}

test('gamma torch-global-max: config positional_gamma feeds its features to the model and changes the predictions vs torch; the load option and weights convert overrides agree', { skip }, () =>
  withTempDir(async (dir) => {
    for (const d of ['global', 'torch', 'converted']) mkdirSync(join(dir, d));
    const global = withGamma(join(dir, 'global'), 'torch-global-max');
    const model = await loadModel(global, { threads: 1 });
    try {
      const x = await fixtureInput('enformer-small');
      const n = x.length / 128;
      assert.deepEqual(model.arch.positionFeeds(x.length).positions!.data, Float32Array.from(enformerPositionalFeatures(n, 24, { gamma: 'torch-global-max' })));
      const a = await model.predict(x);
      const b = await predict(withGamma(join(dir, 'torch'), 'torch'));
      for (const h of ['human', 'mouse']) {
        const c = compare(a.heads[h]!.data, b.heads[h]!.data, 1e-4);
        assert.ok(!c.ok, `${h}: torch-global-max vs torch max abs ${c.maxAbs.toExponential(2)} (must differ)`);
      }
      // --gamma torch-global-max on the fixture's own config = the config key.
      const option = await predict(fixture('enformer-small')!, { gamma: 'torch-global-max' });
      for (const h of ['human', 'mouse']) assert.deepEqual(option.heads[h]!.data, a.heads[h]!.data, `${h}: option = config`);
      // As the registry converts these checkpoints: configOverrides { positional_gamma: 'torch-global-max' }.
      const out = join(dir, 'converted');
      await convertModel({ input: fixture('enformer-small')!, out, force: true, configOverrides: { positional_gamma: 'torch-global-max' } });
      assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).positional_gamma, 'torch-global-max');
      const converted = await predict(out);
      for (const h of ['human', 'mouse']) assert.deepEqual(converted.heads[h]!.data, a.heads[h]!.data, `${h}: converted with the override`);
    } finally {
      await model.close();
    }
    // No TF table is wanted, even with use_tf_gamma at the table's own length (196,608 bp).
    const tableless = await loadModel(withGamma(join(dir, 'global'), 'torch-global-max', { use_tf_gamma: true }), { threads: 1 });
    try {
      await tableless.predict(Model.encode(['ACGT'.repeat(196_608 / 4)]), { heads: ['human'] });
    } finally {
      await tableless.close();
    }
    withGamma(join(dir, 'global'), 'global-max');
    await assert.rejects(loadModel(join(dir, 'global')), /config\.json: positional_gamma must be "tf", "torch" or "torch-global-max", not "global-max"/);
  }));

test('gamma torch-global-max: --gamma torch-global-max on the CLI is accepted and differs from --gamma torch', { skip }, () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'r.fa'), `>r\n${'ACGTTGCA'.repeat(1024)}\n`);
    const run = (out: string, gamma: string) => runCli(['predict', '--model', fixture('enformer-small')!, '--fasta', join(dir, 'r.fa'), '--threads', '1', '--out', join(dir, out), '--gamma', gamma], { SEQ2TRACK_CACHE: join(dir, 'cache') });
    assertCliOk(await run('global.tsv', 'torch-global-max'));
    assertCliOk(await run('torch.tsv', 'torch'));
    assert.notEqual(readFileSync(join(dir, 'global.tsv'), 'utf8'), readFileSync(join(dir, 'torch.tsv'), 'utf8'));
    assertCliError(await run('x.tsv', 'torch-global'), /torch-global-max/, 'the choices are listed');
  }));
