/**
 * Model-level check of an int8 trunk (issue 15, part 4; int8-trunk.ts): the same model loaded as
 * float32 and with the int8 trunk, run alternately on the same input in one process; prints seconds (trunk,
 * head), the speed-up, and agreement with float32 (Pearson per track over bins: min / median; max
 * abs error) per head.
 *   npm run bench -- quantization-model DIR             (a model directory, e.g. ../shared/fixtures/enformer-small: its inputs.safetensors if present)
 *   npm run bench -- quantization-model enformer [--length BP] [--runs 2] [--threads N] [--tile-length BP]   (full size, random weights)
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { Model, type ModelOptions, type OneHotBatch, type Prediction } from '../models/model.js';
import { architectureFromConfig, findWeightsFile, readConfig } from '../models/load.js';
import type { Architecture } from '../models/architecture.js';
import { WeightSet } from '../weights/weight-set.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { Engine } from '../engine/engine.js';
import { describeMachine, machineInfo } from './machine.js';
import { createInt8Model } from './int8-trunk.js';

export interface TrackAgreement {
  head: string;
  tracks: number;
  minPearson: number;
  medianPearson: number;
  maxAbsError: number;
  /** Largest |float32 value| of the head, for scale. */
  maxAbs: number;
}

function pearson(a: Float32Array, b: Float32Array): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= a.length;
  mb /= b.length;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < a.length; i++) {
    cov += (a[i]! - ma) * (b[i]! - mb);
    va += (a[i]! - ma) ** 2;
    vb += (b[i]! - mb) ** 2;
  }
  // A constant track agrees exactly when both are constant.
  if (va === 0 || vb === 0) return va === vb ? 1 : 0;
  return cov / Math.sqrt(va * vb);
}

/** Per head: Pearson of each track over all bins of all sequences (min, median), and max abs error. */
export function trackAgreement(reference: Prediction, other: Prediction): TrackAgreement[] {
  return Object.entries(reference.heads).map(([head, ref]) => {
    const got = other.heads[head]!;
    const [b, t, tracks] = ref.shape;
    const rs: number[] = [];
    let maxAbsError = 0;
    let maxAbs = 0;
    for (let k = 0; k < tracks; k++) {
      const x = new Float32Array(b * t);
      const y = new Float32Array(b * t);
      for (let i = 0; i < b * t; i++) {
        x[i] = ref.data[i * tracks + k]!;
        y[i] = got.data[i * tracks + k]!;
        maxAbsError = Math.max(maxAbsError, Math.abs(x[i]! - y[i]!));
        maxAbs = Math.max(maxAbs, Math.abs(x[i]!));
      }
      rs.push(pearson(x, y));
    }
    rs.sort((p, q) => p - q);
    return { head, tracks, minPearson: rs[0]!, medianPearson: rs[Math.floor(rs.length / 2)]!, maxAbsError, maxAbs };
  });
}

export function describeAgreement(a: TrackAgreement[]): string[] {
  return a.map((h) => `  ${h.head} (${h.tracks} tracks): Pearson per track min ${h.minPearson.toFixed(6)}, median ${h.medianPearson.toFixed(6)}; max abs error ${h.maxAbsError.toExponential(2)} (max |float32| ${h.maxAbs.toExponential(2)})`);
}

export interface ModelBenchOptions {
  runs: number;
  threads?: number;
  tileLength?: number;
  length?: number;
}

const load = () => loadavg().map((v) => v.toFixed(2)).join(', ');

/**
 * Times `float32` and `int8` alternately (`runs` rounds after a warm-up each) on `input` and prints
 * speeds and agreement. Both models are closed afterwards.
 */
export async function compareModels(float32: Model, int8: Model, input: OneHotBatch, runs: number): Promise<void> {
  const forward = async (m: Model) => {
    const a = performance.now();
    const trunk = await m.trunk(input);
    const b = performance.now();
    const prediction = await m.head(trunk, input.length);
    const c = performance.now();
    return { prediction, trunk: (b - a) / 1000, head: (c - b) / 1000, total: (c - a) / 1000 };
  };
  const reference = await forward(float32);
  const quantized = await forward(int8);
  console.log(`agreement of int8 with float32 (${input.batch} × ${input.length} bp; load average ${load()}):`);
  for (const line of describeAgreement(trackAgreement(reference.prediction, quantized.prediction))) console.log(line);
  const times = { float32: [] as { trunk: number; head: number; total: number }[], int8: [] as { trunk: number; head: number; total: number }[] };
  for (let r = 0; r < runs; r++) {
    for (const [name, m] of [['float32', float32], ['int8', int8]] as const) {
      const t = await forward(m);
      times[name].push(t);
      console.log(`  run ${r + 1} ${name.padEnd(7)}: ${t.total.toFixed(2)} s (trunk ${t.trunk.toFixed(2)} s, head ${t.head.toFixed(2)} s); load average ${load()}`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  const f = { total: median(times.float32.map((t) => t.total)), trunk: median(times.float32.map((t) => t.trunk)) };
  const q = { total: median(times.int8.map((t) => t.total)), trunk: median(times.int8.map((t) => t.trunk)) };
  console.log(`median of ${runs}: float32 ${f.total.toFixed(2)} s (trunk ${f.trunk.toFixed(2)} s), int8 ${q.total.toFixed(2)} s (trunk ${q.trunk.toFixed(2)} s)`);
  console.log(`speed-up: whole model ×${(f.total / q.total).toFixed(2)}, trunk ×${(f.trunk / q.trunk).toFixed(2)}`);
  console.log(`RESULT mode=int8 float32_s=${f.total.toFixed(3)} int8_s=${q.total.toFixed(3)} speedup=${(f.total / q.total).toFixed(3)} trunk_speedup=${(f.trunk / q.trunk).toFixed(3)}`);
}

export async function benchQuantizedModel(
  target: string,
  opts: ModelBenchOptions,
  random: { arch: () => { arch: Architecture; length: number }; filler: () => (name: string, shape: number[], data: Float32Array) => void; sequence: (length: number, seed: number) => string } | undefined,
): Promise<void> {
  console.log(describeMachine(machineInfo()));
  const options: ModelOptions = { threads: opts.threads, tileLength: opts.tileLength };
  const start = (o: ModelOptions) => Engine.start(o);
  let float32: Model;
  let int8: { model: Model; close: () => Promise<void> };
  let input: OneHotBatch;
  if (random) {
    const { arch, length } = random.arch();
    const n = opts.length ?? length;
    const shapes = new Map(arch.expectedWeights().map((t) => [t.name, t.shape]));
    // Each model gets its own generated copy (a fresh filler: the same values): packing hands the
    // weights' buffer to the engine.
    const weights = () => WeightSet.allocatePacked(Model.weightParts(arch, '2d').map((p) => p.names.map((name) => ({ name, shape: shapes.get(name)! }))), random.filler());
    const t0 = performance.now();
    float32 = await Model.create(arch, weights(), `${target} (random weights)`, options);
    const t1 = performance.now();
    int8 = await createInt8Model(arch, weights(), `${target} (random weights, int8 trunk)`, options, start);
    console.log(`float32 model ready in ${((t1 - t0) / 1000).toFixed(1)} s, int8 model (weights, calibration, sessions) in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    input = Model.encode([random.sequence(n, 42)]);
  } else {
    const configPath = join(target, 'config.json');
    const json = await readConfig(configPath);
    const weightsPath = await findWeightsFile(target);
    const load = async () => {
      const arch = architectureFromConfig(json, configPath);
      return { arch, weights: WeightSet.fromSafetensors(await SafetensorsFile.open(weightsPath), (n) => arch.canonicalName(n)) };
    };
    const f = await load();
    float32 = await Model.create(f.arch, f.weights, weightsPath, options);
    const q = await load();
    int8 = await createInt8Model(q.arch, q.weights, weightsPath, options, start);
    const inputs = join(target, 'inputs.safetensors');
    if (existsSync(inputs)) {
      const file = await SafetensorsFile.open(inputs);
      const [batch, length] = file.tensors.get('x')!.shape as [number, number];
      input = { data: file.readFloat32('x'), batch, length };
    } else {
      if (!opts.length) throw new Error(`${target} has no inputs.safetensors: give --length`);
      input = Model.encode([randomDna(opts.length)]);
    }
  }
  try {
    await compareModels(float32, int8.model, input, opts.runs);
  } finally {
    await float32.close();
    await int8.close();
  }
}

function randomDna(length: number): string {
  let s = 12_345;
  let out = '';
  for (let i = 0; i < length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out += 'ACGT'[(s >>> 16) & 3];
  }
  return out;
}
