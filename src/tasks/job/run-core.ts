/**
 * The run core: every job that pushes sequences through models is a plan of batches plus a sink.
 *
 *   openEnsemble  loads the first model (or all of them), checks the head and window geometry, resolves
 *                 the targets table and the tracks, and fixes the ensemble's runs (shifts × strands);
 *   runBatches    runs the plan's batches in order: each names its model (loaded when first named, one
 *                 at a time, or all resident), the core makes every item's run sequence (shifted, reverse
 *                 complemented) and one-hot batch, the job's request computes on it (predictions,
 *                 gradients, trunk patches…) and the job's sink takes the result (memory, a resumable
 *                 scratch file, statistics, attribution sums).
 *
 * No I/O here (the browser page runs its predictions through it too): model loading and targets
 * tables come in as a `ModelSource` and a `TableResolver` (Node: job/model-dirs.ts).
 */
import { Model, type OneHotBatch } from '../../models/model-core.js';
import { selectTracks, type TargetsTable, type Track } from '../../formats/track-selection.js';
import { ensembleRuns, JobError, runSequence, sameSetup, setupFor, type EnsembleRun, type Setup } from './ensemble.js';

/** Where a job's models come from: model directories (loaded on demand), or models the caller holds. */
export interface ModelSource {
  readonly count: number;
  /** The model's name in messages (its directory). */
  label(index: number): string;
  /** The model's directory, when it has one (a fine-tuned model's targets table sits there). */
  directory(index: number): string | undefined;
  open(index: number): Promise<Model>;
  /** Ends a model this source opened; a model the caller handed in stays open. */
  close(model: Model): Promise<void>;
}

/** Models the caller has loaded (the page, a library call with a `Model`): used as they are, never closed here. */
export function loadedModels(models: Model[]): ModelSource {
  return {
    count: models.length,
    label: (i) => models[i]!.source,
    directory: () => undefined,
    open: async (i) => models[i]!,
    close: async () => {},
  };
}

/**
 * Which model a batch runs on. Sequential: one model in memory at a time, the next loaded when a
 * batch first names it and the previous one closed (batches name models in ascending order).
 * Resident: every model loaded at once (the variant job scores a streamed VCF chunk by chunk
 * through all of them).
 */
export class ModelSchedule {
  private readonly loaded = new Map<number, Model>();
  /** Checks each model after the first as it is loaded (replicates must agree). */
  check: (model: Model, index: number) => void = () => {};

  constructor(
    private readonly source: ModelSource,
    readonly resident = false,
  ) {}

  get count(): number {
    return this.source.count;
  }

  label(index: number): string {
    return this.source.label(index);
  }

  /** The model of batch index `index`, loading it (and, sequentially, closing the one before). */
  async model(index: number): Promise<Model> {
    const known = this.loaded.get(index);
    if (known) return known;
    if (index < 0 || index >= this.source.count) throw new JobError(index === 0 ? 'no model given' : `no model ${index} (of ${this.source.count})`);
    for (const [i, m] of this.resident ? [] : this.loaded) {
      if (i > index) throw new Error(`model ${index} asked for after model ${i}: a sequential schedule loads models in order`);
      this.loaded.delete(i);
      await this.source.close(m);
    }
    const model = await this.source.open(index);
    this.loaded.set(index, model);
    if (index > 0) this.check(model, index);
    return model;
  }

  async close(): Promise<void> {
    const models = [...this.loaded.values()];
    this.loaded.clear();
    for (const m of models) await this.source.close(m);
  }
}

/** A sequential schedule over one model the caller holds (jobs without replicates: FASTA records, evaluation). */
export const scheduleOf = (model: Model): ModelSchedule => new ModelSchedule(loadedModels([model]));

/** The targets table of a head: `modelDirectory` is where a fine-tuned model keeps its `targets_<head>.txt`. */
export type TableResolver = (setup: Setup, modelDirectory: string | undefined) => Promise<TargetsTable>;

export interface EnsembleSpec {
  head?: string;
  /** Window (or record) length in bp; default the model's. */
  windowLength?: number;
  /** Names the length in an error (default '--window-length'). */
  lengthWhat?: string;
  rc?: boolean;
  shifts?: number[];
  tracks?: string;
  /** Replaces the selected tracks by the ones to predict (gene scoring adds strand partners). */
  expandTracks?: (table: TargetsTable, selected: Track[]) => Track[];
  /** Every model loaded at once (default: one at a time). */
  resident?: boolean;
}

/** An ensemble ready to run: its models' schedule, what they agree on, and the tracks to predict. */
export interface Ensemble {
  schedule: ModelSchedule;
  setup: Setup;
  table: TargetsTable;
  /** The tracks the job predicts (the selection, or what `expandTracks` made of it). */
  tracks: Track[];
  /** Each sequence's runs per model. */
  runs: EnsembleRun[];
  /** Model runs averaged per sequence: models × shifts × strands. */
  size: number;
}

/** Loads the first model (all with `resident`), checks the setup and resolves the tracks, before any run. */
export async function openEnsemble(source: ModelSource, spec: EnsembleSpec, tables: TableResolver): Promise<Ensemble> {
  const runs = ensembleRuns(spec.shifts, spec.rc);
  const schedule = new ModelSchedule(source, spec.resident === true);
  try {
    const setup = setupFor(await schedule.model(0), spec.head, spec.windowLength, spec.rc === true, spec.lengthWhat);
    schedule.check = (model, index) => sameSetup(setup, setupFor(model, setup.head, setup.geometry.length, spec.rc === true, spec.lengthWhat), source.label(index));
    if (schedule.resident) for (let i = 1; i < source.count; i++) await schedule.model(i);
    const table = await tables(setup, source.directory(0));
    const selected = selectTracks(table, spec.tracks);
    const tracks = spec.expandTracks ? spec.expandTracks(table, selected) : selected;
    return { schedule, setup, table, tracks, runs, size: source.count * runs.length };
  } catch (e) {
    await schedule.close();
    throw e;
  }
}

/** One sequence of the plan under one ensemble run. */
export interface Item<U> {
  unit: U;
  run: EnsembleRun;
}

/** Items run together on one model. */
export interface Batch<U> {
  model: number;
  items: Item<U>[];
  /** Its place in the model's pass, where a job records progress by batch. */
  index?: number;
}

/** A batch's input: the run sequences and their one-hot encoding. */
export interface RunInput {
  input: OneHotBatch;
  sequences: string[];
}

export interface BatchLoop<U, R> {
  schedule: ModelSchedule;
  /** The plan, in run order (a resumed job leaves out the batches done). */
  batches: Iterable<Batch<U>> | AsyncIterable<Batch<U>>;
  /** The forward-strand sequence of a unit; the core applies each item's run. */
  sequence: (unit: U) => string | Promise<string>;
  /** Names a unit in letter errors (e.g. `FILE: record 'x'`). */
  name?: (unit: U) => string;
  /** What the model computes for a batch. */
  request: (model: Model, input: RunInput, batch: Batch<U>) => Promise<R>;
  /** Where the result goes. */
  sink: (result: R, batch: Batch<U>) => void | Promise<void>;
}

/** The one loop: every batch through its model, the result to the sink. */
export async function runBatches<U, R>(loop: BatchLoop<U, R>): Promise<void> {
  for await (const batch of loop.batches) {
    const model = await loop.schedule.model(batch.model);
    const sequences: string[] = [];
    for (const it of batch.items) sequences.push(runSequence(await loop.sequence(it.unit), it.run));
    const input = Model.encode(sequences, loop.name ? batch.items.map((it) => loop.name!(it.unit)) : undefined);
    await loop.sink(await loop.request(model, { input, sequences }, batch), batch);
  }
}

/** `items` cut into batches of `size` on model `model`, in order. */
export function cut<U>(items: Item<U>[], size: number, model: number): Batch<U>[] {
  const out: Batch<U>[] = [];
  for (let i = 0; i < items.length; i += size) out.push({ model, items: items.slice(i, i + size), index: i / size });
  return out;
}
