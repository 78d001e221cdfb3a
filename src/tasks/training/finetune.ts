/**
 * Head fine-tuning on a frozen trunk: a new head (Linear(embedding → tracks) + softplus, like the
 * model's own heads) or an existing one, trained on the user's tracks (genome + targets table of
 * bigWigs + BED regions) or on Basenji2-style TFRecords.
 *
 *   1. Every training window's embeddings (the input of the heads) are computed once per augmented
 *      variant (shifts × strands) and cached on disk (embedding-cache.ts); validation windows once.
 *   2. Each epoch visits the training windows in a seeded order, each with a seeded variant, in
 *      batches; one head step is a run of the head graph with its backward (head-graph.ts) and an
 *      Adam update (optimizer.ts). Validation loss and per-track Pearson after each epoch.
 *   3. A checkpoint after each epoch (atomic); a rerun with the same arguments resumes from it, and
 *      since every random draw derives from (seed, epoch), ends with the same weights.
 *   4. The model directory: config.json declaring the head, model.safetensors (the base weights
 *      plus the head), the head's targets table; written as `<out>.partial` and renamed.
 *
 * Work files (caches, checkpoint) live in `<out>.work/` and are removed once the model is written.
 */
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile, access } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { Engine } from '../../engine/engine.js';
import { loadModel, readConfig, findWeightsFile, architectureFromConfig, TF_GAMMA_FILE, type LoadOptions } from '../../models/load.js';
import type { Model } from '../../models/model.js';
import type { Architecture, HeadParameters } from '../../models/architecture.js';
import type { Reference } from '../../genome/reference.js';
import type { WindowGeometry } from '../../genome/regions.js';
import { SafetensorsFile } from '../../weights/safetensors.js';
import { WeightSet } from '../../weights/weight-set.js';
import { fileNamesByCanonical } from '../../weights/weight-names.js';
import { writeWeightSet } from '../../weights/write.js';
import { parseTargets, unnamedTracks, type TargetsTable } from '../../formats/targets.js';
import { readTrainingTable, TrackCoverage, TrackCoverageError } from '../../formats/track-coverage.js';
import { readBasenjiExamples, readStatistics, type DatasetStatistics } from '../../formats/tfrecord.js';
import { Adam } from '../../train/optimizer.js';
import { Rng } from '../../train/rng.js';
import { lossValue, type LossName } from '../../train/losses.js';
import { PearsonAccumulator, summarise } from '../../train/metrics.js';
import { headEvaluationGraph, headTrainingGraph, type HeadGraphShape } from '../../train/head-graph.js';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint } from '../../train/checkpoint.js';
import { cachedSplit, type CachedSplit, type Example } from './embedding-cache.js';
import { bedWindows, reverseTargets, variants as allVariants, windowSequence, windowTargets, type Variant } from './training-data.js';

export class FinetuneError extends Error {}

/** Defaults sized so a plain run converges on a small problem in minutes (docs/training.md). */
export const FINETUNE_DEFAULTS = { epochs: 20, lr: 1e-2, batchSize: 4, seed: 0, warmupSteps: 10, clipNorm: 1, loss: 'poisson' as LossName };

export interface FinetuneOptions {
  model: string;
  head: string;
  out: string;
  /** Tracks from bigWigs: genome, targets table, BED files of training and validation regions. */
  genome?: Reference;
  targets?: string;
  train?: string;
  valid?: string;
  /** Or: Basenji2 TFRecord files (training) and, optionally, validation TFRecord files. */
  tfrecords?: string[];
  validTfrecords?: string[];
  loss?: LossName;
  epochs?: number;
  lr?: number;
  batchSize?: number;
  seed?: number;
  windowLength?: number;
  rc?: boolean;
  shifts?: number[];
  warmupSteps?: number;
  clipNorm?: number;
  weightDecay?: number;
  load?: LoadOptions;
  onCache?: (split: string, done: number, total: number) => void;
  onStep?: (done: number, total: number, loss: number) => void;
  onEpoch?: (e: EpochReport) => void;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  trainLoss: number;
  validLoss?: number;
  validPearson?: number;
  resumed?: boolean;
}

export interface History {
  initialTrainLoss: number;
  /** Training-set loss after the last epoch (no augmentation), comparable with the initial one. */
  finalTrainLoss?: number;
  epochs: EpochReport[];
}

export interface FinetuneResult {
  out: string;
  head: string;
  tracks: number;
  history: History;
  resumedFromEpoch: number;
}

export const sha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex').slice(0, 16);

export async function fileKey(path: string): Promise<string> {
  const s = await stat(path);
  return `${path}:${s.size}:${s.mtimeMs}`;
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Where the training examples come from: one description for the cache key, and the examples. */
interface DataSource {
  key: string;
  count?: number;
  examples: () => AsyncIterable<Example>;
}

function oneHotToSequence(x: Float32Array): string {
  const out = new Array<string>(x.length / 4);
  for (let i = 0; i < out.length; i++) {
    const r = x.subarray(4 * i, 4 * i + 4);
    out[i] = r[0] ? 'A' : r[1] ? 'C' : r[2] ? 'G' : r[3] ? 'T' : 'N';
  }
  return out.join('');
}

async function tfrecordSource(files: string[], stats: DatasetStatistics): Promise<DataSource> {
  const keys = await Promise.all(files.map(fileKey));
  return {
    key: keys.join('|'),
    examples: async function* () {
      for (const f of files) for await (const ex of readBasenjiExamples(f, stats)) yield { sequence: oneHotToSequence(ex.sequence), targets: ex.target };
    },
  };
}

/** statistics.json beside the first TFRecord file, or in the folder above it (basenji's layout). */
async function findStatistics(file: string): Promise<DatasetStatistics> {
  const dir = join(file, '..');
  for (const candidate of [join(dir, 'statistics.json'), join(dir, '..', 'statistics.json')]) {
    if (await exists(candidate)) return readStatistics(candidate);
  }
  throw new FinetuneError(`${file}: no statistics.json beside it or in the folder above (the dataset's statistics name its lengths)`);
}

export interface Plan {
  arch: Architecture;
  config: Record<string, unknown>;
  weightsPath: string;
  headParams: HeadParameters;
  existing: boolean;
  table: TargetsTable;
  tableText?: string;
  tracks: number;
  geometry: WindowGeometry;
  train: DataSource;
  valid?: DataSource;
  variants: Variant[];
}

/** Checks every input before any model work: head, table, tracks, windows, TFRecord statistics. */
export async function plan(opts: FinetuneOptions): Promise<Plan> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(opts.head)) throw new FinetuneError(`--head ${JSON.stringify(opts.head)}: a head name is letters, digits and _`);
  const config = await readConfig(join(opts.model, 'config.json'));
  const probe = architectureFromConfig(config, join(opts.model, 'config.json'));
  const weightsPath = await findWeightsFile(opts.model);
  const weightsFile = await SafetensorsFile.open(weightsPath);
  probe.adaptToWeights?.(new Map([...weightsFile.tensors.values()].map((t) => [probe.canonicalName(t.name) ?? t.name, t.shape])));
  const existing = probe.headNames.includes(opts.head);
  const shifts = opts.shifts ?? [-3, -2, -1, 0, 1, 2, 3];
  if (new Set(shifts).size !== shifts.length) throw new FinetuneError(`--shifts must list distinct integers (got ${shifts.join(',')})`);
  const variants = allVariants(shifts, opts.rc === true);
  const base = { arch: probe, config, weightsPath, existing, variants };
  const geometryAt = (length: number): WindowGeometry => {
    const { start, end } = probe.cropRange(length);
    return { length, offset: start * probe.binSize, bins: end - start, binSize: probe.binSize };
  };

  if (opts.tfrecords) {
    if (opts.tfrecords.length === 0) throw new FinetuneError('--tfrecords matches no files');
    const stats = await findStatistics(opts.tfrecords[0]!);
    const length = opts.windowLength ?? stats.seqLength;
    if (length !== stats.seqLength) throw new FinetuneError(`--window-length ${length} differs from the TFRecords' seq_length ${stats.seqLength}`);
    const lengthProblem = probe.lengthProblem(length);
    if (lengthProblem) throw new FinetuneError(`the TFRecords' seq_length ${length}: ${lengthProblem}`);
    const { start, end } = probe.cropRange(length);
    if (end - start !== stats.targetLength) throw new FinetuneError(`the model predicts ${end - start} bins for ${length} bp; the TFRecords hold target_length ${stats.targetLength}`);
    const tracks = stats.numTargets;
    let table: TargetsTable = unnamedTracks(opts.head, tracks);
    let tableText: string | undefined;
    if (opts.targets) {
      tableText = await readFile(opts.targets, 'utf8').catch((e) => {
        throw new FinetuneError(`${opts.targets}: cannot read targets table (${(e as NodeJS.ErrnoException).code ?? e})`);
      });
      table = parseTargets(tableText, opts.targets);
      if (table.tracks.length !== tracks) throw new FinetuneError(`${opts.targets}: the targets table has ${table.tracks.length} rows but the TFRecords hold ${tracks} targets`);
    }
    if (existing && probe.tracks(opts.head) !== tracks) throw new FinetuneError(`the ${opts.head} head has ${probe.tracks(opts.head)} tracks; the TFRecords hold ${tracks} targets (choose a new --head name)`);
    const train = await tfrecordSource(opts.tfrecords, stats);
    const valid = opts.validTfrecords?.length ? await tfrecordSource(opts.validTfrecords, stats) : undefined;
    return { ...base, headParams: probe.headParameters(opts.head, tracks), table, tableText, tracks, geometry: geometryAt(length), train, valid };
  }

  if (!opts.genome || !opts.targets || !opts.train || !opts.valid) throw new FinetuneError('training on tracks needs --genome, --targets, --train and --valid (or --tfrecords)');
  const training = await readTrainingTable(opts.targets);
  const tracks = training.tracks.length;
  if (existing && probe.tracks(opts.head) !== tracks) {
    throw new TrackCoverageError(`${opts.targets}: the targets table has ${tracks} rows but the existing ${opts.head} head has ${probe.tracks(opts.head)} tracks (rows must match the head's tracks, or choose a new --head name)`);
  }
  const length = opts.windowLength ?? probe.defaultSequenceLength;
  const lengthProblem = probe.lengthProblem(length);
  if (lengthProblem) throw new FinetuneError(`--window-length ${length}: ${lengthProblem}`);
  const geometry = geometryAt(length);
  if (opts.rc && 2 * geometry.offset + geometry.bins * geometry.binSize !== length) throw new FinetuneError(`--rc needs output bins centred in the window; a ${length} bp window is cropped unevenly`);
  const genome = opts.genome;
  const trainWindows = await bedWindows(opts.train, genome, geometry);
  const validWindows = await bedWindows(opts.valid, genome, geometry);
  const coverage = await TrackCoverage.open(training);
  const source = async (bed: string, windows: typeof trainWindows): Promise<DataSource> => ({
    key: [genome.source, await fileKey(bed), sha(training.text), ...training.tracks.map((t) => t.file)].join('|'),
    count: windows.length,
    examples: async function* () {
      for (const w of windows) yield { sequence: await windowSequence(genome, w, length), targets: await windowTargets(coverage, w, geometry) };
    },
  });
  const train = await source(opts.train, trainWindows);
  const valid = await source(opts.valid, validWindows);
  return { ...base, headParams: probe.headParameters(opts.head, tracks), table: training.table, tableText: training.text, tracks, geometry, train, valid };
}

/** PyTorch's nn.Linear initialisation: weight and bias uniform in ±1/√fan_in, from the run's seed. */
export function freshHead(tracks: number, embedding: number, seed: number): { weight: Float32Array; bias: Float32Array } {
  const rng = Rng.derive(seed, 'init');
  const bound = 1 / Math.sqrt(embedding);
  const weight = new Float32Array(tracks * embedding);
  for (let i = 0; i < weight.length; i++) weight[i] = rng.uniform(-bound, bound);
  const bias = new Float32Array(tracks);
  for (let i = 0; i < tracks; i++) bias[i] = rng.uniform(-bound, bound);
  return { weight, bias };
}

/** Runs the head graph over a whole split (no augmentation): mean loss over batches weighted by size, and per-track Pearson. */
async function evaluateSplit(engine: Engine, split: CachedSplit, params: Map<string, Float32Array>, s: HeadGraphShape, loss: LossName, batchSize: number): Promise<{ loss: number; pearson: number }> {
  const acc = new PearsonAccumulator(s.tracks);
  let total = 0;
  for (let i = 0; i < split.count; i += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, split.count - i) }, (_, k) => i + k);
    const emb = await gather(idx.map((j) => split.embeddings(j, 0)));
    const tgt = await gather(idx.map((j) => split.targets(j)));
    const out = await engine.run('eval', feeds(emb, tgt, params, s, idx.length), ['pred']);
    const pred = out.pred!.data as Float32Array;
    // The reported loss is the float64 reference of the same definition (exact mean over the split).
    total += lossValue(loss, pred, tgt, { batch: idx.length, bins: s.bins, tracks: s.tracks }) * idx.length;
    acc.add(pred, tgt);
  }
  return { loss: total / split.count, pearson: summarise(acc.pearson()).mean };
}

async function gather(parts: Promise<Float32Array>[]): Promise<Float32Array> {
  const arrays = await Promise.all(parts);
  const out = new Float32Array(arrays.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

function feeds(emb: Float32Array, tgt: Float32Array, params: Map<string, Float32Array>, s: HeadGraphShape, batch: number) {
  return {
    embeddings: { dtype: 'float32' as const, dims: [batch, s.bins, s.embedding], data: emb },
    targets: { dtype: 'float32' as const, dims: [batch, s.bins, s.tracks], data: tgt },
    weight: { dtype: 'float32' as const, dims: [s.tracks, s.embedding], data: params.get('weight')! },
    bias: { dtype: 'float32' as const, dims: [s.tracks], data: params.get('bias')! },
  };
}

/** What a training mode (head on cached embeddings, or the whole model) gives the shared epoch loop. */
export interface TrainingMode {
  adam: Adam;
  /** Shapes of the trained weights (the checkpoint's). */
  shapes: Map<string, number[]>;
  /** Training windows. */
  count: number;
  /** Mean loss and mean per-track Pearson r over a split, unaugmented. */
  evaluate(split: 'train' | 'valid'): Promise<{ loss: number; pearson: number }>;
  hasValid: boolean;
  /** One optimiser step on training windows `idx`, window k seen as variant `picks[k]`; returns the step's mean loss. */
  step(idx: number[], picks: number[]): Promise<number>;
  /** Called after a checkpoint has put its weights back. */
  restored?(): void;
}

/**
 * The epochs of a run: resumed from the checkpoint whose key matches `keyFields` and the options,
 * each visiting the training windows in a seeded order with a seeded variant each, validation and a
 * checkpoint after each; every random draw derives from (seed, epoch), so a resumed run ends with
 * the weights of an uninterrupted one.
 */
export async function trainEpochs(opts: FinetuneOptions, p: Plan, mode: TrainingMode, checkpointPath: string, keyFields: Record<string, unknown>): Promise<{ history: History; startEpoch: number }> {
  const { loss, epochs, batchSize, seed } = settings(opts);
  const runKey = sha(JSON.stringify({ ...keyFields, train: p.train.key, valid: p.valid?.key, head: opts.head, loss, epochs, lr: mode.adam.options, batchSize, seed, variants: p.variants }));
  const resumed = await loadCheckpoint<History>(checkpointPath, mode.adam, runKey);
  if (resumed) mode.restored?.();
  const history: History = resumed?.history ?? { initialTrainLoss: (await mode.evaluate('train')).loss, epochs: [] };
  const startEpoch = resumed?.epoch ?? 0;
  for (const e of history.epochs) opts.onEpoch?.({ ...e, resumed: true });
  const stepsPerEpoch = Math.ceil(mode.count / batchSize);
  for (let epoch = startEpoch; epoch < epochs; epoch++) {
    const order = Rng.derive(seed, 'order', epoch).permutation(mode.count);
    const augment = Rng.derive(seed, 'augment', epoch);
    let lossSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const idx = order.slice(s * batchSize, (s + 1) * batchSize);
      lossSum += await mode.step(idx, idx.map(() => augment.int(p.variants.length)));
      opts.onStep?.(s + 1, stepsPerEpoch, lossSum / (s + 1));
    }
    const report: EpochReport = { epoch: epoch + 1, epochs, trainLoss: lossSum / stepsPerEpoch };
    if (mode.hasValid) {
      const v = await mode.evaluate('valid');
      report.validLoss = v.loss;
      report.validPearson = v.pearson;
    }
    history.epochs.push(report);
    await saveCheckpoint(checkpointPath, mode.adam, mode.shapes, { key: runKey, epoch: epoch + 1, history });
    opts.onEpoch?.(report);
  }
  history.finalTrainLoss = (await mode.evaluate('train')).loss;
  return { history, startEpoch };
}

/** The run's settings, defaults filled in. */
export function settings(opts: FinetuneOptions) {
  return {
    loss: opts.loss ?? FINETUNE_DEFAULTS.loss,
    epochs: opts.epochs ?? FINETUNE_DEFAULTS.epochs,
    batchSize: opts.batchSize ?? FINETUNE_DEFAULTS.batchSize,
    seed: opts.seed ?? FINETUNE_DEFAULTS.seed,
    adam: { lr: opts.lr ?? FINETUNE_DEFAULTS.lr, warmupSteps: opts.warmupSteps ?? FINETUNE_DEFAULTS.warmupSteps, clipNorm: opts.clipNorm ?? FINETUNE_DEFAULTS.clipNorm, weightDecay: opts.weightDecay ?? 0 },
  };
}

export async function finetune(opts: FinetuneOptions): Promise<FinetuneResult> {
  if (await exists(opts.out)) throw new FinetuneError(`${opts.out}: already exists (choose a new --out)`);
  const { loss, batchSize, seed } = settings(opts);
  const p = await plan(opts);
  const E = p.arch.embeddingSize;
  const shape: HeadGraphShape = { embedding: E, tracks: p.tracks, bins: p.geometry.bins };

  const work = `${opts.out}.work`;
  const checkpointPath = join(work, 'checkpoint.safetensors');
  const fresh = !(await exists(work));
  await mkdir(work, { recursive: true });
  let finished = false;
  const modelKey = [await fileKey(p.weightsPath), sha(JSON.stringify(p.config)), `L${p.geometry.length}`].join('|');
  let model: Model | undefined;
  const getModel = async () => (model ??= await loadModel(opts.model, opts.load));
  const splitShape = { bins: shape.bins, embedding: E, tracks: p.tracks };
  let train: CachedSplit | undefined;
  let valid: CachedSplit | undefined;
  const engine = Engine.start(opts.load ?? {});
  try {
    const variantKey = JSON.stringify(p.variants);
    train = await cachedSplit(work, 'train', sha([modelKey, p.train.key, variantKey].join('#')), p.variants, splitShape, p.train.examples, getModel, (d) => opts.onCache?.('train', d, p.train.count ?? 0));
    if (p.valid) {
      const plain = [{ shift: 0, rc: false }];
      valid = await cachedSplit(work, 'valid', sha([modelKey, p.valid.key, JSON.stringify(plain)].join('#')), plain, splitShape, p.valid.examples, getModel, (d) => opts.onCache?.('valid', d, p.valid!.count ?? 0));
    }
    if (model) await model.close();
    model = undefined;

    // Initial parameters: the existing head's, or a fresh one.
    let init: { weight: Float32Array; bias: Float32Array };
    if (p.existing) {
      const file = await SafetensorsFile.open(p.weightsPath);
      const fileNames = fileNamesByCanonical(file.tensors.values(), (n) => p.arch.canonicalName(n), p.weightsPath);
      const name = (canonical: string) => fileNames.get(canonical) ?? canonical;
      init = { weight: file.readFloat32(name(p.headParams.weight)), bias: file.readFloat32(name(p.headParams.bias)) };
    } else init = freshHead(p.tracks, E, seed);
    const params = new Map([
      ['weight', init.weight],
      ['bias', init.bias],
    ]);
    const shapes = new Map([
      ['weight', [p.tracks, E]],
      ['bias', [p.tracks]],
    ]);
    const adam = new Adam(params, settings(opts).adam);
    await engine.createSession('train', headTrainingGraph(shape, loss), []);
    await engine.createSession('eval', headEvaluationGraph(shape, loss), []);
    const splits = { train, valid };
    const { history, startEpoch } = await trainEpochs(
      opts,
      p,
      {
        adam,
        shapes,
        count: train.count,
        hasValid: valid !== undefined,
        evaluate: (split) => evaluateSplit(engine, splits[split]!, params, shape, loss, batchSize),
        step: async (idx, picks) => {
          const emb = await gather(idx.map((i, k) => train!.embeddings(i, picks[k]!)));
          const tgt = await gather(
            idx.map(async (i, k) => {
              const t = await train!.targets(i);
              return p.variants[picks[k]!]!.rc ? reverseTargets(t, shape.bins, p.table.tracks) : t;
            }),
          );
          const out = await engine.run('train', feeds(emb, tgt, params, shape, idx.length), ['loss', 'grad_weight', 'grad_bias']);
          adam.update(
            new Map([
              ['weight', out.grad_weight!.data as Float32Array],
              ['bias', out.grad_bias!.data as Float32Array],
            ]),
          );
          return (out.loss!.data as Float32Array)[0]!;
        },
      },
      checkpointPath,
      { modelKey },
    );
    const trained = new Map([
      [p.headParams.weight, { shape: p.headParams.weightShape, data: params.get('weight')! }],
      [p.headParams.bias, { shape: [p.tracks], data: params.get('bias')! }],
    ]);
    await writeModelDir(opts, p, trained, history);
    await train.close();
    await valid?.close();
    train = valid = undefined;
    await removeCheckpoint(checkpointPath);
    await rm(work, { recursive: true, force: true });
    finished = true;
    return { out: opts.out, head: opts.head, tracks: p.tracks, history, resumedFromEpoch: startEpoch };
  } finally {
    await train?.close();
    await valid?.close();
    if (model) await model.close();
    await engine.close();
    // A run that fails before its first checkpoint leaves nothing behind (a later one resumes from a checkpoint).
    if (!finished && fresh && !(await exists(checkpointPath))) await rm(work, { recursive: true, force: true });
  }
}

/**
 * config.json with the head, model.safetensors = the base weights with `trained` (canonical names)
 * replacing or adding tensors, the head's targets table and the history; atomically.
 */
export async function writeModelDir(opts: FinetuneOptions, p: Plan, trained: Map<string, { shape: number[]; data: Float32Array }>, history: History): Promise<void> {
  const partial = `${opts.out}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const weights = WeightSet.fromSafetensors(await SafetensorsFile.open(p.weightsPath), (n) => p.arch.canonicalName(n));
  for (const [name, t] of trained) weights.entries.set(name, { shape: t.shape, source: { kind: 'bytes', bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) } });
  await writeWeightSet(join(partial, 'model.safetensors'), weights, [...weights.entries.keys()], { format: 'pt', trained_head: opts.head });
  const config = p.existing ? p.config : p.arch.configWithHead(p.config, opts.head, p.tracks);
  await writeFile(join(partial, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const table = p.tableText ?? ['index\tidentifier\tdescription', ...p.table.tracks.map((t) => `${t.index}\t${t.identifier}\t${t.description}`)].join('\n') + '\n';
  await writeFile(join(partial, `targets_${opts.head}.txt`), table);
  await writeFile(join(partial, 'training.json'), JSON.stringify({ head: opts.head, base_model: opts.model, history }, null, 2) + '\n');
  const gamma = join(opts.model, TF_GAMMA_FILE);
  if (await exists(gamma)) await copyFile(gamma, join(partial, basename(gamma)));
  await rename(partial, opts.out);
}
