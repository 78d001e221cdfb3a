/**
 * `finetune --train-trunk`: every weight of the model trained (BatchNorm's running statistics aside),
 * the head new or existing as in head mode. Each step accumulates the gradients of `batchSize`
 * windows, one window per forward/backward pass (gradient accumulation: memory is one window's),
 * then makes one Adam update of the float32 master weights. Windows, augmentation, seeds,
 * checkpoints, resume and the output directory are those of head mode (finetune.ts); the data stay
 * in memory; the trunk runs on tiles and the head block by block (models/trainable.ts).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { architectureFromConfig, modelGammaTable } from '../../models/load.js';
import { Model } from '../../models/model.js';
import { WholeModelTrainer } from '../../models/trainable.js';
import { SafetensorsFile } from '../../weights/safetensors.js';
import { fileNamesByCanonical } from '../../weights/weight-names.js';
import { Adam } from '../../train/optimizer.js';
import { lossGraph, lossValue } from '../../train/losses.js';
import { PearsonAccumulator, summarise } from '../../train/metrics.js';
import { removeCheckpoint } from '../../train/checkpoint.js';
import { reverseTargets, variantSequence } from './training-data.js';
import type { Example } from './embedding-cache.js';
import { exists, fileKey, FinetuneError, freshHead, plan, settings, sha, trainEpochs, writeModelDir, type FinetuneOptions, type FinetuneResult } from './finetune.js';

async function collect(examples: AsyncIterable<Example>): Promise<Example[]> {
  const out: Example[] = [];
  for await (const e of examples) out.push(e);
  return out;
}

export async function finetuneWholeModel(opts: FinetuneOptions): Promise<FinetuneResult> {
  if (await exists(opts.out)) throw new FinetuneError(`${opts.out}: already exists (choose a new --out)`);
  const { loss, seed, adam: adamOptions } = settings(opts);
  const p = await plan(opts);
  const { bins, length } = p.geometry;

  // The architecture with the head to train, and every weight as a float32 array.
  const config = p.existing ? p.config : p.arch.configWithHead(p.config, opts.head, p.tracks);
  const arch = architectureFromConfig(config, join(opts.model, 'config.json'));
  const file = await SafetensorsFile.open(p.weightsPath);
  const fileNames = fileNamesByCanonical(file.tensors.values(), (n) => arch.canonicalName(n), p.weightsPath);
  arch.adaptToWeights?.(new Map([...file.tensors.values()].map((t) => [arch.canonicalName(t.name) ?? t.name, t.shape])));
  const fresh = p.existing ? undefined : freshHead(p.tracks, arch.embeddingSize, seed);
  const params = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  for (const t of arch.expectedWeights()) {
    shapes.set(t.name, t.shape);
    if (t.name === p.headParams.weight && fresh) params.set(t.name, fresh.weight);
    else if (t.name === p.headParams.bias && fresh) params.set(t.name, fresh.bias);
    else {
      const name = fileNames.get(t.name);
      if (!name) throw new FinetuneError(`${p.weightsPath}: no weight '${t.name}'`);
      params.set(t.name, file.readFloat32(name));
    }
  }

  const work = `${opts.out}.work`;
  const checkpointPath = join(work, 'checkpoint.safetensors');
  const freshWork = !(await exists(work));
  await mkdir(work, { recursive: true });
  let finished = false;
  // Enformer with use_tf_gamma: the TF gamma table, found as loadModel finds it.
  const gammaTable = await modelGammaTable(arch, opts.model, opts.load ?? {});
  const trainer = await WholeModelTrainer.create(arch, params, opts.head, (g, pred, target, b) => lossGraph(loss, g, pred, target, b), bins, { ...opts.load, gammaTable });
  try {
    const train = await collect(p.train.examples());
    const valid = p.valid ? await collect(p.valid.examples()) : [];
    if (train.length === 0) throw new FinetuneError('no training windows');
    const trainable = trainer.trainable;
    const adam = new Adam(new Map(trainable.map((n) => [n, params.get(n)!])), adamOptions);
    const shape = { batch: 1, bins, tracks: p.tracks };
    const splits = { train, valid };
    const evaluate = async (split: 'train' | 'valid') => {
      const acc = new PearsonAccumulator(p.tracks);
      let total = 0;
      for (const ex of splits[split]) {
        const pred = await trainer.predict(Model.encode([ex.sequence]));
        total += lossValue(loss, pred, ex.targets, shape);
        acc.add(pred, ex.targets);
      }
      return { loss: total / splits[split].length, pearson: summarise(acc.pearson()).mean };
    };
    // The batch's gradient, accumulated window by window (one gradient per weight in memory).
    const sum = new Map(trainable.map((n) => [n, new Float32Array(params.get(n)!.length)]));
    const modelKey = [await fileKey(p.weightsPath), sha(JSON.stringify(p.config)), `L${length}`].join('|');
    const { history, startEpoch } = await trainEpochs(
      opts,
      p,
      {
        adam,
        shapes,
        count: train.length,
        hasValid: valid.length > 0,
        evaluate,
        restored: () => trainer.weightsChanged(),
        step: async (idx, picks) => {
          for (const acc of sum.values()) acc.fill(0);
          let stepLoss = 0;
          for (const [k, i] of idx.entries()) {
            const v = p.variants[picks[k]!]!;
            const ex = train[i]!;
            const targets = v.rc ? reverseTargets(ex.targets, bins, p.table.tracks) : ex.targets;
            const r = await trainer.lossAndGradients(Model.encode([variantSequence(ex.sequence, v)]), targets, { grads: sum, scale: 1 / idx.length });
            stepLoss += r.loss / idx.length;
          }
          adam.update(sum);
          trainer.weightsChanged();
          return stepLoss;
        },
      },
      checkpointPath,
      { trunk: true, modelKey },
    );
    await writeModelDir(opts, p, new Map(trainable.map((n) => [n, { shape: shapes.get(n)!, data: params.get(n)! }])), history);
    await removeCheckpoint(checkpointPath);
    await rm(work, { recursive: true, force: true });
    finished = true;
    return { out: opts.out, head: opts.head, tracks: p.tracks, history, resumedFromEpoch: startEpoch };
  } finally {
    await trainer.close();
    if (!finished && freshWork && !(await exists(checkpointPath))) await rm(work, { recursive: true, force: true });
  }
}
