/**
 * The attribute task against each fixture's grads.safetensors, at GRADS.md's suggested tolerances
 * (10× the reference's own float32-vs-float64 spread; the scores vs the float32 tensors get twice
 * the table's atol, two float32 computations):
 *   objective vs objective_f64: enformer 6e-6, borzoi 2e-6, flashzoi 3e-6
 *   grad vs grad_x_f64:         enformer 2e-3 (a transformer-MLP ReLU within float32 round-off of its
 *                                kink, see its GRADS.md), borzoi 8e-6, flashzoi 1e-5
 *   grad_x_input / grad_centered_x_input: enformer 4e-3, borzoi 1.2e-5 / 1.4e-5, flashzoi 1.4e-5
 * and the ensemble mapping: a reverse-complement run and a shifted run mapped back to forward
 * positions and bases, checked against runs made by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, fixturePath, readRef, skipUnless } from './fixtures.js';
import { attributeRecords, contributionScores } from '../tasks/attribution/attribute.js';
import { loadModel } from '../models/load.js';
import { Model } from '../models/model.js';
import { reverseComplement, shiftSequence } from '../genome/sequence.js';
import { fixtureRecords, fixtureRunOptions, gradsOf } from './attribution-fixtures.js';

const SETS: Record<string, { objective: number; grad: number; times: number; centred: number }> = {
  'enformer-small': { objective: 6e-6, grad: 2e-3, times: 4e-3, centred: 4e-3 },
  'borzoi-small': { objective: 2e-6, grad: 8e-6, times: 1.2e-5, centred: 1.4e-5 },
  'flashzoi-small': { objective: 3e-6, grad: 1e-5, times: 1.4e-5, centred: 1.4e-5 },
};

for (const [name, tol] of Object.entries(SETS)) {
  test(`attribute: ${name} reproduces grads.safetensors (objective, grad, both scores)`, { skip: skipUnless(name) }, async () => {
    const g = await gradsOf(name);
    const r = await attributeRecords(fixtureRecords(name), `${name}/reference.json`, fixtureRunOptions(name, g, 2));
    assertClose(r.objective, readRef(g.file, 'objective_f64'), { atol: tol.objective }, `${name} objective`);
    assertClose(r.grad, readRef(g.file, 'grad_x_f64'), { atol: tol.grad }, `${name} grad`);
    assertClose(r.gradXInput, readRef(g.file, 'grad_times_input'), { atol: tol.times }, `${name} grad_x_input`);
    assertClose(r.gradCenteredXInput, readRef(g.file, 'grad_centered_times_input'), { atol: tol.centred }, `${name} grad_centered_x_input`);
  });
}

test('attribute: contribution scores by hand (N row gives 0)', () => {
  const grad = [1, 2, 3, 6, /* N */ 5, 5, 5, 9];
  const x = [0, 0, 1, 0, 0, 0, 0, 0];
  const s = contributionScores(grad, x, 2);
  assert.deepEqual(Array.from(s.gradXInput), [3, 0]);
  assert.deepEqual(Array.from(s.gradCenteredXInput), [0, 0]);
});

test('attribute: --rc and --shifts runs are mapped back to forward positions and bases', { skip: skipUnless('flashzoi-small') }, async () => {
  const name = 'flashzoi-small'; // the shortest window (4096 bp, 64 bins)
  const seq = fixtureRecords(name)[0]!.sequence;
  const L = seq.length;
  const bins: [number, number] = [28, 31]; // off-centre, so the rc run reads other bins
  const objective = (flip: boolean) => ({ head: 'human', tracks: [2], bins: [28, 29, 30, 31].map((b) => (flip ? 63 - b : b)), aggregate: 'mean' as const });
  const model = await loadModel(fixturePath(name), { threads: 1 });
  const run = (sequence: string, flip: boolean) => model.inputGradients(Model.encode([sequence]), objective(flip));
  let runs;
  try {
    // The four runs of --rc --shifts 0,3, made by hand.
    runs = [await run(seq, false), await run(reverseComplement(seq), true), await run(shiftSequence(seq, 3), false), await run(reverseComplement(shiftSequence(seq, 3)), true)];
  } finally {
    await model.close();
  }
  const [fwd, rev, shifted, revShifted] = runs as [typeof runs[0], typeof runs[0], typeof runs[0], typeof runs[0]];
  const common = { models: [fixturePath(name)], head: 'human', tracks: '2', bins, load: { threads: 1 } };
  const ens = await attributeRecords([{ name: 's', sequence: seq }], 'rc', { ...common, rc: true, shifts: [0, 3] });
  assert.equal(ens.job.ensemble, 4);
  // Forward position p is run position p (+3 when shifted), mirrored to L-1-q with base 3-k on the rc strand.
  const want = new Float64Array(L * 4);
  for (let p = 0; p < L; p++) {
    for (let k = 0; k < 4; k++) {
      let v = fwd.grad[p * 4 + k]! + rev.grad[(L - 1 - p) * 4 + (3 - k)]!;
      if (p + 3 < L) v += shifted.grad[(p + 3) * 4 + k]! + revShifted.grad[(L - 1 - (p + 3)) * 4 + (3 - k)]!;
      want[p * 4 + k] = v / 4;
    }
  }
  assertClose(ens.grad, want, { atol: 1e-7 }, 'ensemble grad');
  const wantObjective = (fwd.objective[0]! + rev.objective[0]! + shifted.objective[0]! + revShifted.objective[0]!) / 4;
  assertClose(ens.objective, [wantObjective], { atol: 1e-7 }, 'ensemble objective');
});
