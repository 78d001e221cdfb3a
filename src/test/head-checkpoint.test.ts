/**
 * Variants of the backward that must agree: saved activations (default) against recomputed ones,
 * tiled, with every saved value sent through the spill file; and
 * the checkpointed head backward (default: blocks' forward one by one, tail backward, each block's
 * backward in reverse with its forward recomputed, block weights fed from a per-run blob) against the
 * whole-head backward (one session), on each fixture model: an objective selection (with the log)
 * and a free cotangent, on the fixture's input and its reverse as a batch of 2.
 * Tolerance: both compute the same float32 operations on the same values; only ONNX Runtime's
 * fusions across block boundaries (and weights as inputs rather than prepacked initializers) may
 * round differently, so they agree to 1e-5 relative to max |grad| (observed: 0 for Enformer and
 * Borzoi, 1e-6 for Flashzoi) and the
 * objectives to 1e-6 relative (the free cotangent's objective, a sum that cancels, to 1e-7 of its
 * terms' total magnitude); far inside GRADS.md's tolerances (which gradients.test.ts checks).
 * And Borzoi's checkpointed tail (its stages' backward one by one: borzoi.ts `tailStages`) against
 * the same tail as one session (`stagedTail` false), to the same tolerances: the same operations on
 * the same values, only fusions across the two stage cuts may round differently (observed: 0).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Borzoi } from '../models/borzoi.js';
import { loadModel } from '../models/load.js';
import type { Model, Objective } from '../models/model.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { assertClose, fixture, skipUnless } from './fixtures.js';

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

for (const name of ['enformer-small', 'borzoi-small', 'flashzoi-small']) {
  const skip = skipUnless(name);
  let checkpointed: Model;
  let whole: Model;
  /** Borzoi's checkpointed head with its tail in one session. */
  let oneTail: Model | undefined;

  let batch: { data: Float32Array; batch: number; length: number };

  before(async () => {
    if (skip) return;
    const dir = fixture(name)!;
    checkpointed = await loadModel(dir, { tileLength: 0, threads: 2 });
    whole = await loadModel(dir, { tileLength: 0, threads: 2, headBackward: 'whole' });
    if (name !== 'enformer-small') {
      oneTail = await loadModel(dir, { tileLength: 0, threads: 2 });
      (oneTail.arch as Borzoi).stagedTail = false;
    }
    const inputs = await SafetensorsFile.open(join(dir, 'inputs.safetensors'));
    const [, length] = inputs.tensors.get('x')!.shape as [number, number];
    const x = inputs.readFloat32('x').subarray(0, length * 4);
    // Two sequences: the fixture's and its reverse (sequences of a batch must not interact).
    const reversed = new Float32Array(length * 4);
    for (let p = 0; p < length; p++) reversed.set(x.subarray((length - 1 - p) * 4, (length - p) * 4), p * 4);
    const data = new Float32Array(2 * length * 4);
    data.set(x, 0);
    data.set(reversed, length * 4);
    batch = { data, batch: 2, length };
  });

  after(async () => {
    await checkpointed?.close();
    await whole?.close();
    await oneTail?.close();
  });

  /** `scale`: the objective's magnitude before cancellation (default |objective|). */
  const same = (a: { objective: Float32Array; grad: Float32Array }, b: { objective: Float32Array; grad: Float32Array }, what: string, scale = maxAbs(b.objective)) => {
    assertClose(a.objective, b.objective, { atol: 1e-6 * Math.max(1e-30, scale) }, `${name} ${what}: objective`);
    assertClose(a.grad, b.grad, { atol: 1e-5 * maxAbs(b.grad) }, `${name} ${what}: grad`);
  };

  /** A reproducible cotangent of ±1-bounded values. */
  const randomCotangent = (n: number) => {
    const cotangent = new Float32Array(n);
    let s = 11;
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      cotangent[i] = ((s >>> 8) / 2 ** 24) * 2 - 1;
    }
    return cotangent;
  };

  test(`${name}: checkpointed head backward equals the whole-head backward`, { skip }, async () => {
    const bins = whole.outputBins(batch.length);
    const objective: Objective = { head: 'human', tracks: [0, 2], bins: [0, bins / 2, bins - 1], aggregate: 'sum', logPseudocount: 1 };
    same(await checkpointed.inputGradients(batch, objective), await whole.inputGradients(batch, objective), 'objective');

    const tracks = whole.arch.tracks('human');
    const cotangent = randomCotangent(batch.batch * bins * tracks);
    // Σ cotangent · head over ±1 cotangents cancels (borzoi-small: |Σ| ≈ 5 of Σ|·| ≈ 550), so its
    // float32 rounding is relative to Σ |cotangent · head|: 1e-6 of |Σ| would be below float32's
    // resolution there and hold only when both sessions' outputs agree almost to the bit (with the
    // cropped decoder, Borzoi's two sessions differ by a few ulp: 1.1e-5 = 2e-8 of Σ|·|). 1e-7 of Σ|·|.
    const head = (await whole.predict(batch)).heads.human!.data;
    const magnitude = [0, 0];
    for (let i = 0; i < head.length; i++) magnitude[Math.floor(i / (bins * tracks))]! += Math.abs(head[i]! * cotangent[i]!);
    same(await checkpointed.cotangentGradients(batch, 'human', cotangent), await whole.cotangentGradients(batch, 'human', cotangent), 'cotangent', 0.1 * Math.max(...magnitude));
  });

  test(`${name}: the checkpointed tail's stages give the gradients of the tail in one session`, { skip: skip || (name === 'enformer-small' && 'Enformer: its tail is one stage') }, async () => {
    const stages = oneTail!;
    const bins = stages.outputBins(batch.length);
    const objective: Objective = { head: 'human', tracks: [1, 2], bins: [1, bins / 2, bins - 2], aggregate: 'mean', logPseudocount: 0.5 };
    same(await checkpointed.inputGradients(batch, objective), await stages.inputGradients(batch, objective), 'staged tail, objective');
    const cotangent = randomCotangent(batch.batch * bins * stages.arch.tracks('human'));
    same(await checkpointed.cotangentGradients(batch, 'human', cotangent), await stages.cotangentGradients(batch, 'human', cotangent), 'staged tail, cotangent');
  });
}

for (const name of ['enformer-small', 'borzoi-small', 'flashzoi-small']) {
  test(`${name}: saved activations (spilled to a file) give the gradients of recomputed ones`, { skip: skipUnless(name) }, async () => {
    const dir = fixture(name)!;
    const models = await Promise.all([loadModel(dir, { tileLength: 1024, threads: 1, backwardActivations: 'recompute' }), loadModel(dir, { tileLength: 1024, threads: 1, stashMemory: 0 })]);
    try {
      const [recomputed, saved] = models;
      const inputs = await SafetensorsFile.open(join(dir, 'inputs.safetensors'));
      const [, length] = inputs.tensors.get('x')!.shape as [number, number];
      const batch = { data: inputs.readFloat32('x').slice(0, length * 4), batch: 1, length };
      const bins = saved.outputBins(length);
      const objective: Objective = { head: 'human', tracks: [1], bins: [bins / 2 - 1, bins / 2], aggregate: 'mean' };
      const a = await saved.inputGradients(batch, objective);
      const b = await recomputed.inputGradients(batch, objective);
      assertClose(a.objective, b.objective, { atol: 1e-6 * Math.max(1e-30, maxAbs(b.objective)) }, `${name}: objective`);
      assertClose(a.grad, b.grad, { atol: 1e-5 * maxAbs(b.grad) }, `${name}: grad`);
      // Everything saved went through the spill file (stashMemory 0); recomputation saves nothing.
      assert.ok(a.savedActivations!.bytes > 0 && a.savedActivations!.spilledBytes === a.savedActivations!.bytes, JSON.stringify(a.savedActivations));
      assert.deepEqual(b.savedActivations, { bytes: 0, spilledBytes: 0 });
    } finally {
      await Promise.all(models.map((m) => m.close()));
    }
  });
}
