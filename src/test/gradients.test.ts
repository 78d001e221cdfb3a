/**
 * Model.inputGradients against each fixture's grads.safetensors (see its GRADS.md), untiled and tiled.
 * Tolerances are GRADS.md's suggested ones (10× the reference's own float32-vs-float64 spread):
 *   objective vs objective_f64: enformer 6e-6, borzoi 2e-6, flashzoi 3e-6
 *   grad vs grad_x_f64:         enformer 2e-3 (one transformer-MLP ReLU sits within float32
 *                                round-off of its kink), borzoi 8e-6, flashzoi 1e-5
 *   grad × input, centred grad × input vs the float32 tensors: twice the table's atol (two float32
 *   computations, each up to the spread from float64): enformer 4e-3, borzoi 1.2e-5/1.4e-5, flashzoi 1.4e-5
 * Tiled and untiled gradients agree to 1e-5 relative to max|grad| (observed ≤ 1.4e-6): the tiles are
 * exact (halo covers the receptive field), but float32 convolutions on a tile and on the whole window
 * round differently (the forward trunk differs by ~1e-7), and the backward compounds it through every
 * layer; 1e-5 is still far inside the fixture tolerances above (≥ 5e-5 relative).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { architectureOf, findWeightsFile, loadModel } from '../models/load.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';
import type { SessionRunner } from '../engine/runner.js';
import type { SessionOpts } from '../engine/protocol.js';
import { Model, type Objective } from '../models/model.js';
import { assertClose, fixture, fixtureInput, readRef, skipUnless } from './fixtures.js';
import { tiledPair } from './fixture-models.js';
import { gradsOf } from './attribution-fixtures.js';
import { Graph } from '../engine/graph.js';
import { selectedOutputName } from '../models/architecture.js';
import { buildTailBackward, tailStages, type ObjectiveForm } from '../models/gradients.js';
import { LayerContext } from '../models/layers.js';

interface Tolerances {
  objective: number;
  grad: number;
  gradTimesInput: number;
  centred: number;
}

const SETS: Record<string, Tolerances> = {
  'enformer-small': { objective: 6e-6, grad: 2e-3, gradTimesInput: 4e-3, centred: 4e-3 },
  'borzoi-small': { objective: 2e-6, grad: 8e-6, gradTimesInput: 1.2e-5, centred: 1.4e-5 },
  'flashzoi-small': { objective: 3e-6, grad: 1e-5, gradTimesInput: 1.4e-5, centred: 1.4e-5 },
};

/** Σ_k grad·x and Σ_k (grad − mean_j grad)·x per position (GRADS.md's two contribution scores). */
function scores(grad: Float32Array, x: Float32Array): { times: Float64Array; centred: Float64Array } {
  const n = x.length / 4;
  const times = new Float64Array(n);
  const centred = new Float64Array(n);
  for (let p = 0; p < n; p++) {
    let mean = 0;
    for (let k = 0; k < 4; k++) mean += grad[p * 4 + k]! / 4;
    for (let k = 0; k < 4; k++) {
      times[p]! += grad[p * 4 + k]! * x[p * 4 + k]!;
      centred[p]! += (grad[p * 4 + k]! - mean) * x[p * 4 + k]!;
    }
  }
  return { times, centred };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

for (const [name, tol] of Object.entries(SETS)) {
  const models = tiledPair(name);

  test(`${name}: inputGradients reproduces grads.safetensors (untiled and tiled)`, { skip: skipUnless(name) }, async () => {
    const { untiled, tiled, x } = models;
    const g = await gradsOf(name);
    const grads = g.file;
    const [first, last] = g.bins;
    const objective: Objective = { head: 'human', tracks: [g.track], bins: Array.from({ length: last - first + 1 }, (_, i) => first + i), aggregate: 'mean' };
    const a = await untiled.inputGradients(x, objective);
    const b = await tiled.inputGradients(x, objective);
    for (const [label, r] of [['untiled', a], ['tiled', b]] as const) {
      assertClose(r.objective, readRef(grads, 'objective_f64'), { atol: tol.objective }, `${name} ${label} objective`);
      assertClose(r.grad, readRef(grads, 'grad_x_f64'), { atol: tol.grad }, `${name} ${label} grad`);
      const s = scores(r.grad, x.data);
      assertClose(s.times, readRef(grads, 'grad_times_input'), { atol: tol.gradTimesInput }, `${name} ${label} grad_times_input`);
      assertClose(s.centred, readRef(grads, 'grad_centered_times_input'), { atol: tol.centred }, `${name} ${label} grad_centered_times_input`);
    }
    assertClose(b.grad, a.grad, { atol: 1e-5 * maxAbs(a.grad) }, `${name} tiled vs untiled grad`);
  });
}

/**
 * A length, batch and objective the fixture does not have: a random 3-sequence batch of 6,144 bp
 * (with an N run), two tracks, a sum over 6 off-centre bins, log(x + 1). Checks tiled == untiled, and
 * the gradient against central differences of the forward for a few entries. The forward is float32,
 * so the step is h = 1e-2 (one-hot inputs are O(1)): truncation h²/6·|f'''| and round-off
 * ~6e-8·|f|/h ≈ 6e-6·|f| bound the error; 2e-3·max(|grad|, |objective|) covers both with room.
 */
test('enformer-small: another length, batch and objective; tiled == untiled; finite differences', { skip: skipUnless('enformer-small') }, async () => {
  const dir = fixture('enformer-small')!;
  const untiled = await loadModel(dir, { tileLength: 0, threads: 2 });
  const tiled = await loadModel(dir, { tileLength: 2048, threads: 2 });
  try {
    let s = 7;
    const seq = () =>
      Array.from({ length: 6144 }, (_, i) => {
        s = (s * 1103515245 + 12345) >>> 0;
        return i >= 2000 && i < 2100 ? 'N' : 'ACGT'[(s >>> 16) & 3];
      }).join('');
    const batch = Model.encode([seq(), seq(), seq()]);
    const bins = untiled.outputBins(batch.length);
    const objective: Objective = { head: 'mouse', tracks: [0, 3], bins: [3, 4, 5, 6, 7, bins - 1], aggregate: 'sum', logPseudocount: 1 };
    const a = await untiled.inputGradients(batch, objective);
    const b = await tiled.inputGradients(batch, objective);
    const scale = maxAbs(a.grad);
    assertClose(b.objective, a.objective, { atol: 1e-6 }, 'tiled vs untiled objective');
    assertClose(b.grad, a.grad, { atol: 1e-5 * scale }, 'tiled vs untiled grad');

    const f = async (data: Float32Array) => {
      const p = await untiled.predict({ ...batch, data });
      const h = p.heads.mouse!;
      const [, T, C] = h.shape;
      return Array.from({ length: batch.batch }, (_, q) => {
        const per = objective.tracks.map((t) => Math.log(objective.bins.reduce((acc, bin) => acc + h.data[(q * T + bin) * C + t]!, 0) + 1));
        return per.reduce((x1, x2) => x1 + x2, 0) / per.length;
      });
    };
    const base = await f(batch.data);
    assertClose(a.objective, base, { atol: 1e-5 }, 'objective vs the forward');
    const h = 1e-2;
    for (const [q, pos, k] of [[0, 3000, 2], [1, 1500, 0], [2, 2050, 1], [2, 5800, 3]] as const) {
      const at = (q * batch.length + pos) * 4 + k;
      const plus = batch.data.slice();
      plus[at]! += h;
      const minus = batch.data.slice();
      minus[at]! -= h;
      const fd = ((await f(plus))[q]! - (await f(minus))[q]!) / (2 * h);
      const tolerance = 2e-3 * Math.max(scale, Math.abs(base[q]!));
      assert.ok(Math.abs(fd - a.grad[at]!) <= tolerance, `finite difference at [${q}, ${pos}, ${k}]: ${fd} vs gradient ${a.grad[at]} (tolerance ${tolerance})`);
    }
  } finally {
    await untiled.close();
    await tiled.close();
  }
});

test('inputGradients: a bad objective is a one-line error naming it', { skip: skipUnless('enformer-small') }, async () => {
  const model = await loadModel(fixture('enformer-small')!, { tileLength: 0, threads: 1 });
  try {
    const batch = Model.encode(['A'.repeat(4096)]);
    const base: Objective = { head: 'human', tracks: [0], bins: [0], aggregate: 'mean' };
    await assert.rejects(model.inputGradients(batch, { ...base, tracks: [12] }), /objective: track 12 is outside head 'human' \(12 tracks\)/);
    await assert.rejects(model.inputGradients(batch, { ...base, bins: [32] }), /objective: bin 32 is outside the 32 output bins/);
    await assert.rejects(model.inputGradients(batch, { ...base, head: 'fly' }), /no head named 'fly'/);
    await assert.rejects(model.inputGradients(batch, { ...base, bins: [] }), /objective: no bins selected/);
  } finally {
    await model.close();
  }
});

/**
 * `gradientsOnly`: the gradient path never makes the prediction sessions (recorded through a runner
 * that notes every session made), its gradients are the default load's (same sessions, so within
 * 1e-6 of max|grad|: observed identical), and a prediction made afterwards builds them on demand
 * and matches the default load's prediction exactly (same graphs, same weights).
 */
test('enformer-small: a gradients-only load makes no prediction session, same gradients, predicts on demand', { skip: skipUnless('enformer-small') }, async () => {
  const dir = fixture('enformer-small')!;
  const made: string[] = [];
  const engine = Model.defaultRunner!({ threads: 1 });
  const recording = recordingRunner(engine, (id) => made.push(id));
  const plain = await loadModel(dir, { threads: 1 });
  try {
    const arch = await architectureOf(dir);
    const weights = WeightSet.fromSafetensors(await SafetensorsFile.open(await findWeightsFile(dir)), (n) => arch.canonicalName(n));
    const model = await Model.create(arch, weights, 'enformer-small', { threads: 1, gradientsOnly: true }, recording);
    const g = await gradsOf('enformer-small');
    const [first, last] = g.bins;
    const objective: Objective = { head: 'human', tracks: [g.track], bins: Array.from({ length: last - first + 1 }, (_, i) => first + i), aggregate: 'mean' };
    const x = await fixtureInput('enformer-small');
    const a = await model.inputGradients(x, objective);
    assert.ok(!made.includes('trunk') && !made.includes('head'), `prediction sessions made by the gradient path: ${made.join(', ')}`);
    const b = await plain.inputGradients(x, objective);
    assertClose(a.grad, b.grad, { atol: 1e-6 * maxAbs(b.grad) }, 'gradients-only vs default load');
    const p = await model.predict(x);
    assert.ok(made.includes('trunk') && made.includes('head'), 'predict made the prediction sessions');
    const q = await plain.predict(x);
    assert.deepEqual(p.heads.human!.data, q.heads.human!.data);
  } finally {
    await plain.close();
    await engine.close();
  }
});

/**
 * Both halves of the blocks' and of the trunk's split graphs keep ONNX Runtime's memory arena as
 * `backwardArena` says (by default where memory allows: an `ifAvailable` figure; the blocks' forward
 * only where a block's attention is small, as here), and no other session does; the arena changes
 * where tensors live, not what is computed: the gradients are identical with it and without.
 */
test('enformer-small: both halves of the blocks\' and of the trunk\'s split keep a memory arena as backwardArena says, same gradients', { skip: skipUnless('enformer-small') }, async () => {
  const dir = fixture('enformer-small')!;
  const arch = await architectureOf(dir);
  const g = await gradsOf('enformer-small');
  const [first, last] = g.bins;
  const objective: Objective = { head: 'human', tracks: [g.track], bins: Array.from({ length: last - first + 1 }, (_, i) => first + i), aggregate: 'mean' };
  const x = await fixtureInput('enformer-small');
  const gradientsWith = async (backwardArena: boolean | undefined) => {
    const arenas = new Map<string, SessionOpts['memoryArena']>();
    const recording = recordingRunner(Model.defaultRunner!({ threads: 1 }), (id, opts) => arenas.set(id, opts?.memoryArena));
    try {
      const weights = WeightSet.fromSafetensors(await SafetensorsFile.open(await findWeightsFile(dir)), (n) => arch.canonicalName(n));
      const model = await Model.create(arch, weights, 'enformer-small', { threads: 1, gradientsOnly: true, backwardArena }, recording);
      return { grad: (await model.inputGradients(x, objective)).grad, arenas };
    } finally {
      await recording.close();
    }
  };
  const on = await gradientsWith(true);
  const off = await gradientsWith(false);
  const auto = await gradientsWith(undefined);
  const withArena = ['head_block_grad_forward', 'head_block_grad_backward', 'trunk_grad_forward', 'trunk_grad_backward'];
  for (const id of withArena) {
    assert.equal(on.arenas.get(id), true, id);
    assert.equal(off.arenas.get(id), false, id);
    const byMemory = auto.arenas.get(id);
    assert.ok(typeof byMemory === 'object' && byMemory.ifAvailable > 0, `${id} by default: by available memory, got ${JSON.stringify(byMemory)}`);
  }
  for (const [id, arena] of on.arenas) if (!withArena.includes(id)) assert.equal(arena, undefined, `${id} keeps no arena`);
  assert.deepEqual(on.grad, off.grad);
  assert.deepEqual(auto.grad, off.grad);
});

/** A runner that hands everything to `engine` and tells `onCreate` of every session made. */
function recordingRunner(engine: SessionRunner, onCreate: (id: string, opts?: SessionOpts) => void): SessionRunner {
  return {
    loadBlob: (...a) => engine.loadBlob(...a),
    dropBlob: (...a) => engine.dropBlob(...a),
    createSession: (id, model, blobs, opts) => {
      onCreate(id, opts);
      return engine.createSession(id, model, blobs, opts);
    },
    run: (...a) => engine.run(...a),
    dropStash: (...a) => engine.dropStash(...a),
    release: (...a) => engine.release(...a),
    close: () => engine.close(),
  };
}

/**
 * A selection objective reads a few tracks of one head: the tail backward graph outputs those alone
 * (`HeadExtras.selectTracks`), no full head and no embeddings; a cotangent objective reads the whole
 * head. (The gradients on this path are the fixtures' above, within their tolerances.)
 */
test('borzoi-small and enformer-small: a selection objective builds only the selected tracks of its head', { skip: skipUnless('borzoi-small') || skipUnless('enformer-small') }, async () => {
  for (const name of ['borzoi-small', 'enformer-small']) {
    const arch = await architectureOf(fixture(name)!);
    const shapes = new Map(arch.expectedWeights().map((t) => [t.name, t.shape]));
    const outputsOf = (form: ObjectiveForm) => {
      const g = new Graph('tail');
      const context = new LayerContext(g, (n) => (shapes.has(n) ? { offset: 0, length: shapes.get(n)!.reduce((a, b) => a * b, 1) * 4 } : undefined), shapes, '2d', 'tail');
      buildTailBackward(arch, context, form, tailStages(arch).length - 1);
      return g.outputList.map((o) => o.name);
    };
    for (const log of [false, true]) {
      const selection = outputsOf({ kind: 'selection', head: 'human', log });
      assert.ok(selection.includes(selectedOutputName('human')), `${name}: ${selection.join(', ')}`);
      for (const full of ['human', 'mouse', 'embeddings']) assert.ok(!selection.includes(full), `${name}: no '${full}' output with a selection`);
    }
    const cotangent = outputsOf({ kind: 'cotangent', head: 'human' });
    assert.ok(cotangent.includes('human') && !cotangent.includes(selectedOutputName('human')), `${name}: ${cotangent.join(', ')}`);
  }
});
