/**
 * `backward` w.r.t. parameters (initializers): the human head's weight and bias under the Keras Poisson
 * loss on `targets_human` (GRADS.md "Training losses": mean over all elements of
 * pred − target·log(pred + 1e-7), trunk frozen), against grad_head_*_poisson_f64. The head graph is the
 * model's own, its weights in an external blob as in Model; the trunk features come from the forward.
 * Tolerances are GRADS.md's suggested atol vs the float64 tensors (10× the reference's own float32
 * spread): enformer weight 7e-7, bias 2e-7; borzoi weight 2e-7, bias 5e-8.
 */
import { test } from 'node:test';
import { join } from 'node:path';
import { backward } from '../engine/autodiff.js';
import { Engine } from '../engine/engine.js';
import { Graph, type Value } from '../engine/graph.js';
import { architectureFromConfig, loadModel, readConfig } from '../models/load.js';
import { Model } from '../models/model.js';
import { LayerContext } from '../models/layers.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { WeightSet } from '../weights/weight-set.js';
import { assertClose, fixture, fixtureInput, readRef, skipUnless } from './fixtures.js';

/** Keras `poisson` with AUTO reduction: mean of pred − target·log(pred + 1e-7) over every element. */
function poissonLoss(g: Graph, pred: Value, target: Value): Value {
  const perElement = g.op('Sub', [pred, g.op('Mul', [target, g.op('Log', [g.op('Add', [pred, g.scalar(1e-7)])])])]);
  return g.op('ReduceMean', [perElement], { keepdims: 0 });
}

const CASES: { set: string; weight: string; bias: string; atol: { weight: number; bias: number } }[] = [
  { set: 'enformer-small', weight: '_heads.human.0.weight', bias: '_heads.human.0.bias', atol: { weight: 7e-7, bias: 2e-7 } },
  { set: 'borzoi-small', weight: 'human_head.weight', bias: 'human_head.bias', atol: { weight: 2e-7, bias: 5e-8 } },
];

for (const { set, weight, bias, atol } of CASES) {
  test(`${set}: backward w.r.t. the human head's weight and bias under the Poisson loss matches grad_head_*_poisson_f64`, { skip: skipUnless(set) }, async () => {
    const dir = fixture(set)!;
    const model = await loadModel(dir, { tileLength: 0, threads: 2 });
    const engine = Engine.start({ threads: 2 });
    try {
      const x = await fixtureInput(set);
      const { length } = x;
      const features = await model.trunk(x);

      const arch = architectureFromConfig(await readConfig(join(dir, 'config.json')), set);
      const file = await SafetensorsFile.open(join(dir, 'weights.safetensors'));
      const weights = WeightSet.fromSafetensors(file, (n) => arch.canonicalName(n));
      arch.adaptToWeights?.(weights.shapes());
      const part = Model.weightParts(arch).find((p) => p.id === 'head')!;
      const { spec, offsets } = weights.pack(part.names);
      const g = new Graph('head_loss');
      const c = new LayerContext(g, (n) => offsets.get(n), weights.shapes(), '2d', 'head');
      arch.buildHead(c);
      const grads = await SafetensorsFile.open(join(dir, 'grads.safetensors'));
      const targetsShape = grads.tensors.get('targets_human')!.shape;
      const targets = g.input('targets', 'float32', targetsShape);
      const loss = poissonLoss(g, { name: 'human' }, targets);
      // The head reads its weight through a reshaped view in Borzoi (conv1 as Linear): ask for the same one.
      const tracks = arch.tracks('human');
      const w = c.param(weight, arch.kind === 'enformer' ? undefined : [tracks, arch.embeddingSize]);
      const b = c.param(bias);
      const [gw, gb] = backward(g, loss, [w, b]);
      g.output(gw!, 'grad_weight', 'float32', [tracks, arch.embeddingSize]);
      g.output(gb!, 'grad_bias', 'float32', [tracks]);
      g.output(loss, 'loss', 'float32', []);
      await engine.loadBlob('head', spec);
      await engine.createSession('head_loss', g.toModel(), ['head']);
      await engine.dropBlob('head');

      const { start, end } = arch.cropRange(length);
      const out = await engine.run(
        'head_loss',
        {
          ...features,
          ...arch.positionFeeds(length),
          crop: { dtype: 'int64', dims: [2], data: BigInt64Array.from([BigInt(start), BigInt(end)]) },
          targets: { dtype: 'float32', dims: targetsShape, data: grads.readFloat32('targets_human') },
        },
        ['grad_weight', 'grad_bias', 'loss'],
      );
      assertClose(out.loss!.data as Float32Array, readRef(grads, 'poisson_loss_f64'), { atol: 2e-7 }, `${set} poisson loss`);
      assertClose(out.grad_weight!.data as Float32Array, readRef(grads, 'grad_head_weight_poisson_f64'), { atol: atol.weight }, `${set} head weight gradient`);
      assertClose(out.grad_bias!.data as Float32Array, readRef(grads, 'grad_head_bias_poisson_f64'), { atol: atol.bias }, `${set} head bias gradient`);
    } finally {
      await engine.close();
      await model.close();
    }
  });
}
