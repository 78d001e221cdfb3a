/**
 * Training numerics: the losses against every fixture's `grads.safetensors` (float64 references
 * and the ONNX graphs), Adam with warm-up and clipping against a hand transcription, the bigWig
 * target transform of basenji_data_read.py on hand-computed bins, the streaming Pearson, the RNG.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Graph } from '../engine/graph.js';
import { Engine } from '../engine/engine.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { writeBigWig } from '../formats/bigwig.js';
import { readTrainingTable, TrackCoverage } from '../formats/track-coverage.js';
import { lossGraph, poissonLoss, poissonMultinomialLoss, type LossName } from '../train/losses.js';
import { Adam } from '../train/optimizer.js';
import { PearsonAccumulator, summarise } from '../train/metrics.js';
import { Rng } from '../train/rng.js';
import { headTrainingGraph } from '../train/head-graph.js';
import { reverseTargets, variants, variantSequence } from '../tasks/training/training-data.js';
import { assertClose, fixturePath, skipUnless, withTempDir } from './fixtures.js';
import { withFixtureModel } from './fixture-models.js';

/** GRADS.md's suggested atol against the `_f64` losses (10× the observed float32-vs-float64 error). */
const LOSS_ATOL: Record<string, { poisson: number; pmn: number }> = {
  'enformer-small': { poisson: 2e-7, pmn: 3e-7 },
  'borzoi-small': { poisson: 6e-7, pmn: 3e-6 },
  'flashzoi-small': { poisson: 2e-6, pmn: 4e-6 },
};

/** GRADS.md's suggested atol for the head gradients against their `_f64` tensors: weight, bias per loss. */
const GRAD_ATOL: Record<string, { poisson: [number, number]; pmn: [number, number] }> = {
  'enformer-small': { poisson: [7e-7, 2e-7], pmn: [6e-7, 7e-8] },
  'borzoi-small': { poisson: [2e-7, 5e-8], pmn: [2e-7, 7e-8] },
  'flashzoi-small': { poisson: [3e-7, 6e-8], pmn: [3e-7, 5e-8] },
};

async function runLossGraph(name: LossName, pred: Float32Array, target: Float32Array, dims: number[]): Promise<number> {
  const g = new Graph('loss');
  const p = g.input('pred', 'float32', dims);
  const t = g.input('target', 'float32', dims);
  g.output(lossGraph(name, g, p, t, dims[1]!), 'loss', 'float32', []);
  const engine = Engine.start({ threads: 1 });
  try {
    await engine.createSession('loss', g.toModel(), []);
    const out = await engine.run('loss', { pred: { dtype: 'float32', dims, data: pred }, target: { dtype: 'float32', dims, data: target } }, ['loss']);
    return (out.loss!.data as Float32Array)[0]!;
  } finally {
    await engine.close();
  }
}

for (const set of Object.keys(LOSS_ATOL)) {
  test(`losses: ${set} Poisson and Poisson-multinomial of the human head equal grads.safetensors`, { skip: skipUnless(set) }, async () => {
    const grads = await SafetensorsFile.open(fixturePath(set, 'grads.safetensors'));
    const { data: pred, shape: dims } = await withFixtureModel(set, async (model, x) => (await model.predict(x, { heads: ['human'] })).heads.human!);
    const target = grads.readFloat32('targets_human');
    const shape = { batch: dims[0]!, bins: dims[1]!, tracks: dims[2]! };
    const tol = LOSS_ATOL[set]!;
    const p = poissonLoss(pred, target);
    const pmn = poissonMultinomialLoss(pred, target, shape);
    assert.ok(Math.abs(p - grads.readFloat64('poisson_loss_f64')[0]!) <= tol.poisson, `poisson ${p}`);
    assert.ok(Math.abs(pmn - grads.readFloat64('poisson_multinomial_loss_f64')[0]!) <= tol.pmn, `poisson-multinomial ${pmn}`);
    // The graphs (float32 in ONNX Runtime) against the float64 references of the same predictions.
    const gp = await runLossGraph('poisson', pred, target, dims);
    const gpmn = await runLossGraph('poisson-multinomial', pred, target, dims);
    assert.ok(Math.abs(gp - p) <= 1e-6 * Math.abs(p), `poisson graph ${gp} vs ${p}`);
    assert.ok(Math.abs(gpmn - pmn) <= 1e-6 * Math.abs(pmn), `poisson-multinomial graph ${gpmn} vs ${pmn}`);
  });
}

for (const set of Object.keys(GRAD_ATOL)) {
  test(`head gradients: ${set} d loss / d (head weight, bias) from backward() equal grads.safetensors`, { skip: skipUnless(set) }, async () => {
    const grads = await SafetensorsFile.open(fixturePath(set, 'grads.safetensors'));
    const weights = await SafetensorsFile.open(fixturePath(set, 'weights.safetensors'));
    const { batch, emb, dims, head } = await withFixtureModel(set, async (model, x) => {
      const out = await model.predict(x, { heads: [], embeddings: true });
      return { batch: x.batch, emb: out.embeddings!.data, dims: out.embeddings!.shape, head: model.arch.headParameters('human', model.arch.tracks('human')) };
    });
    const tracks = head.weightShape[0]!;
    const shape = { embedding: dims[2]!, tracks, bins: dims[1]! };
    const target = grads.readFloat32('targets_human');
    const engine = Engine.start({ threads: 1 });
    try {
      for (const [loss, key] of [['poisson', 'poisson'], ['poisson-multinomial', 'pmn']] as const) {
        await engine.createSession(key, headTrainingGraph(shape, loss), []);
        const out = await engine.run(
          key,
          {
            embeddings: { dtype: 'float32', dims, data: emb },
            targets: { dtype: 'float32', dims: [batch, shape.bins, tracks], data: target },
            weight: { dtype: 'float32', dims: [tracks, shape.embedding], data: weights.readFloat32(head.weight) },
            bias: { dtype: 'float32', dims: [tracks], data: weights.readFloat32(head.bias) },
          },
          ['loss', 'grad_weight', 'grad_bias'],
        );
        const [wTol, bTol] = GRAD_ATOL[set]![key];
        assertClose(out.grad_weight!.data as Float32Array, grads.readFloat64(`grad_head_weight_${key}_f64`), { atol: wTol }, `${set} ${key} weight gradient`);
        assertClose(out.grad_bias!.data as Float32Array, grads.readFloat64(`grad_head_bias_${key}_f64`), { atol: bTol }, `${set} ${key} bias gradient`);
        const lossRef = grads.readFloat64(key === 'poisson' ? 'poisson_loss_f64' : 'poisson_multinomial_loss_f64')[0]!;
        assert.ok(Math.abs((out.loss!.data as Float32Array)[0]! - lossRef) <= 2 * LOSS_ATOL[set]![key] + 1e-6 * lossRef, `${set} ${key} loss`);
      }
    } finally {
      await engine.close();
    }
  });
}

test('adam: warm-up, global-norm clipping and bias-corrected moments as transcribed by hand', () => {
  const params = new Map([
    ['a', Float32Array.from([1, -2])],
    ['b', Float32Array.from([0.5])],
  ]);
  const adam = new Adam(params, { lr: 0.1, warmupSteps: 4, clipNorm: 1, weightDecay: 0.01 });
  const grads = [
    [[3, 0], [4]], // norm 5: clipped to 1
    [[0.1, -0.2], [0.05]], // below the clip
  ];
  // Oracle, float64.
  const p = [1, -2, 0.5];
  const m = [0, 0, 0];
  const v = [0, 0, 0];
  grads.forEach((g, s) => {
    const flat = [...g[0]!, ...g[1]!];
    const norm = Math.hypot(...flat);
    const f = norm > 1 ? 1 / norm : 1;
    const t = s + 1;
    const lr = 0.1 * Math.min(1, t / 4);
    for (let i = 0; i < 3; i++) {
      const gi = flat[i]! * f;
      m[i] = 0.9 * m[i]! + 0.1 * gi;
      v[i] = 0.999 * v[i]! + 0.001 * gi * gi;
      p[i] = p[i]! - lr * 0.01 * p[i]!;
      p[i] = p[i]! - (lr * (m[i]! / (1 - 0.9 ** t))) / (Math.sqrt(v[i]! / (1 - 0.999 ** t)) + 1e-8);
    }
    const r = adam.update(new Map([['a', g[0]!], ['b', g[1]!]]));
    assert.ok(Math.abs(r.gradNorm - norm) < 1e-12);
    assert.equal(r.lr, lr);
  });
  const got = [...params.get('a')!, ...params.get('b')!];
  got.forEach((x, i) => assert.ok(Math.abs(x - p[i]!) <= 1e-6 * Math.abs(p[i]!), `param ${i}: ${x} vs ${p[i]}`));
  assert.throws(() => adam.update(new Map([['a', [NaN, 0]], ['b', [0]]])), /gradient norm is NaN at step 3/);
});

test('augmentation: variants list shifts × strands; a reverse complement reverses bins and swaps strand pairs', () => {
  assert.deepEqual(variants([-1, 0], true), [{ shift: -1, rc: false }, { shift: -1, rc: true }, { shift: 0, rc: false }, { shift: 0, rc: true }]);
  assert.equal(variantSequence('ACGTT', { shift: 1, rc: false }), 'NACGT');
  assert.equal(variantSequence('ACGTT', { shift: -1, rc: true }), 'NAACG');
  // Tracks 0/1 are a +/- pair, track 2 unstranded; 3 bins.
  const tracks = [0, 1, 2].map((i) => ({ index: i, identifier: `t${i}`, description: '', strandPair: i === 2 ? 2 : 1 - i }));
  const t = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...reverseTargets(t, 3, tracks)], [8, 7, 9, 5, 4, 6, 2, 1, 3]);
});

test('rng: streams derive from (seed, purpose, epoch) alone', () => {
  const a = Rng.derive(7, 'order', 3).permutation(50);
  assert.deepEqual(Rng.derive(7, 'order', 3).permutation(50), a);
  assert.notDeepEqual(Rng.derive(7, 'order', 4).permutation(50), a);
  assert.notDeepEqual(Rng.derive(8, 'order', 3).permutation(50), a);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
});

test('pearson: streaming per-track r equals the two-pass formula; log1p variant; summary', () => {
  const rng = new Rng(3);
  const bins = 200;
  const pred = Float32Array.from({ length: bins * 2 }, () => rng.next() * 5);
  const target = Float32Array.from(pred, (x, i) => (i % 2 ? rng.next() * 5 : x * 2 + rng.next()));
  const acc = new PearsonAccumulator(2);
  acc.add(pred.subarray(0, 100 * 2), target.subarray(0, 100 * 2));
  acc.add(pred.subarray(100 * 2), target.subarray(100 * 2));
  const direct = (k: number, f: (x: number) => number) => {
    const xs = Array.from({ length: bins }, (_, b) => f(pred[b * 2 + k]!));
    const ys = Array.from({ length: bins }, (_, b) => f(target[b * 2 + k]!));
    const mx = xs.reduce((a, b) => a + b) / bins;
    const my = ys.reduce((a, b) => a + b) / bins;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < bins; i++) {
      sxy += (xs[i]! - mx) * (ys[i]! - my);
      sxx += (xs[i]! - mx) ** 2;
      syy += (ys[i]! - my) ** 2;
    }
    return sxy / Math.sqrt(sxx * syy);
  };
  acc.pearson().forEach((r, k) => assert.ok(Math.abs(r - direct(k, (x) => x)) < 1e-12));
  acc.pearsonLog1p().forEach((r, k) => assert.ok(Math.abs(r - direct(k, Math.log1p)) < 1e-12));
  assert.ok(acc.pearson()[0]! > 0.9);
  assert.equal(acc.bins, bins);
  assert.deepEqual(summarise([0.5, NaN, 0.1, 0.3]), { mean: 0.3, median: 0.3 });
});

test('coverage: bins follow basenji_data_read.py (float16 coverage, scale, sum/mean, soft clip, clip)', () =>
  withTempDir(async (dir) => {
    const sizes = new Map([['chr1', 1000]]);
    await writeBigWig(join(dir, 'a.bw'), [{ chrom: 'chr1', starts: [0, 10, 25, 40], ends: [10, 20, 40, 50], values: [1, 3.3, 100, 5000] }], sizes);
    writeFileSync(
      join(dir, 'targets.txt'),
      'index\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair\tdescription\n' +
        '0\tA\ta.bw\t100000\t100000\t1\tsum\t0\tsummed\n' +
        '1\tB\ta.bw\t50\t10\t2\tmean\t1\tmean, scaled, clipped\n',
    );
    const table = await readTrainingTable(join(dir, 'targets.txt'));
    const cov = await TrackCoverage.open(table);
    const bins = await cov.bins('chr1', 0, 6, 10);
    const col = (k: number) => Array.from({ length: 6 }, (_, b) => bins[b * 2 + k]);
    // A: 10 × half(1); 10 × half(3.3) = 33.0078 -> half 33; 5 × 100; 10 × 100; 10 × 5000 = 50000 -> half tie -> 49984; 0.
    assert.deepEqual(col(0), [10, 33, 500, 1000, 49984, 0]);
    // B: mean of half(2 · half(x)); soft clip above 10: 9 + √(x - 9), then clip 50, then half.
    assert.deepEqual(col(1), [2, 6.6015625, 1187 / 64, 1460 / 64, 50, 0]);
    // Off the chromosome's end and on an unknown chromosome: zeros.
    assert.deepEqual([...(await cov.bins('chr1', 990, 3, 10))], [0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...(await cov.bins('chrX', 0, 1, 10))], [0, 0]);

    writeFileSync(join(dir, 'missing.txt'), 'identifier\tfile\tsum_stat\tdescription\nA\tnope.bw\tsum\tx\n');
    await assert.rejects(async () => TrackCoverage.open(await readTrainingTable(join(dir, 'missing.txt'))), /missing\.txt:2: cannot read bigWig nope\.bw \(ENOENT\)/);
    writeFileSync(join(dir, 'stat.txt'), 'identifier\tfile\tsum_stat\tdescription\nA\ta.bw\tsum\tx\nB\ta.bw\tmode\ty\n');
    await assert.rejects(readTrainingTable(join(dir, 'stat.txt')), /stat\.txt:3: unknown sum_stat "mode"/);
    writeFileSync(join(dir, 'clip.txt'), 'identifier\tfile\tclip\tsum_stat\tdescription\nA\ta.bw\thigh\tsum\tx\n');
    await assert.rejects(readTrainingTable(join(dir, 'clip.txt')), /clip\.txt:2: clip must be a number, found "high"/);
    writeFileSync(join(dir, 'nofile.txt'), 'identifier\tsum_stat\tdescription\nA\tsum\tx\n');
    await assert.rejects(readTrainingTable(join(dir, 'nofile.txt')), /nofile\.txt: the targets table has no 'file' column/);
  }));
