/**
 * Training checkpoints: parameters and the optimiser's moments as float32 safetensors, the step
 * counters, history and the run's key in its metadata. Written as `.partial` and renamed, so a kill
 * at any moment leaves either the previous checkpoint or the new one, never half of one.
 */
import { rename, rm, access } from 'node:fs/promises';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../weights/safetensors.js';
import type { Adam } from './optimizer.js';

export interface CheckpointState<H> {
  /** What the run was started with; a checkpoint of another run is not resumed. */
  key: string;
  /** Epochs completed. */
  epoch: number;
  history: H;
}

export async function saveCheckpoint<H>(path: string, adam: Adam, shapes: Map<string, number[]>, state: CheckpointState<H>): Promise<void> {
  const tensors: TensorToWrite[] = [];
  for (const [name, p] of adam.params) {
    const shape = shapes.get(name) ?? [p.length];
    tensors.push({ name: `param.${name}`, dtype: 'F32', shape, data: p });
    tensors.push({ name: `adam_m.${name}`, dtype: 'F32', shape, data: adam.m.get(name)! });
    tensors.push({ name: `adam_v.${name}`, dtype: 'F32', shape, data: adam.v.get(name)! });
  }
  const metadata = { key: state.key, epoch: String(state.epoch), step: String(adam.step), history: JSON.stringify(state.history) };
  await writeSafetensors(`${path}.partial`, tensors, metadata);
  await rename(`${path}.partial`, path);
}

/** Restores `adam` (parameters, moments, step) from a checkpoint of the same run; returns its state, or undefined when there is none to resume. */
export async function loadCheckpoint<H>(path: string, adam: Adam, key: string): Promise<CheckpointState<H> | undefined> {
  try {
    await access(path);
  } catch {
    return undefined;
  }
  const file = await SafetensorsFile.open(path);
  const meta = file.metadata ?? {};
  if (meta.key !== key) return undefined;
  for (const [name, p] of adam.params) {
    const read = (prefix: string) => {
      const data = file.readFloat32(`${prefix}.${name}`);
      if (data.length !== p.length) throw new Error(`${path}: ${prefix}.${name} has ${data.length} values, expected ${p.length}`);
      return data;
    };
    p.set(read('param'));
    adam.m.get(name)!.set(read('adam_m'));
    adam.v.get(name)!.set(read('adam_v'));
  }
  adam.step = Number(meta.step);
  return { key, epoch: Number(meta.epoch), history: JSON.parse(meta.history ?? 'null') as H };
}

export async function removeCheckpoint(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.partial`, { force: true });
}
