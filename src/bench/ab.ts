/**
 * A/B timing of two builds of this project in one process, runs alternating (A, B, A, B, …), so that
 * load from other work on the machine falls on both alike:
 *   npm run bench -- ab --a DIST_A [--b DIST_B] [MODEL] [--part trunk|head|full|gradient] [--length BP] [--runs 4] [--threads N] [--spinning-a 0|1] [--spinning-b 0|1] [--stash-mb MB]
 * DIST_A / DIST_B are `dist` folders of two builds (B defaults to this one), e.g. made with
 * `git stash && npm run build && cp -r dist /tmp/dist-a && git stash pop && npm run build`.
 * Each side builds its own full-size model (its own code for graphs and weights; the same random
 * weights and sequence), and the outputs of both are compared (max abs difference).
 * `gradient`: each side's input gradient (the gradients bench's objective: track 0, the 4 central
 * bins) on a gradients-only load of one random-weights safetensors file written here (the backward
 * sessions re-read their weights, so in-memory weights would not do); both models stay resident, so
 * memory is the two sides' sum (at Borzoi's size the pressure makes fresh pages dearer than in a run
 * of one model: a memory arena's gain looks larger here than it is, BENCHMARKS.md "A/B runs").
 * Prints per-run seconds of each side, the medians, B/A, each engine session's median wall seconds
 * per run on each side (where the two builds differ) and the time outside the engine's runs, and a
 * RESULT line.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { spinningOptions } from './session-options.js';
import { median } from './steady.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchObjective, writeRandomWeights } from './gradients.js';
import { benchArchitecture } from './models.js';

interface Side {
  label: string;
  run(): Promise<Float32Array[]>;
  close(): Promise<void>;
  /** Wall seconds of the engine's runs per session id since it was last cleared (each timed round clears it). */
  sessions: Map<string, number>;
}

type Filler = (name: string, shape: number[], data: Float32Array) => void;

export interface AbOptions {
  a: string;
  b: string;
  model: string;
  /** trunk: the trunk's tiles; head: the head graph on trunk features computed once; full: both; gradient: input gradients. */
  part: 'trunk' | 'head' | 'full' | 'gradient';
  /** `gradient`: the random weights' safetensors file (written by `benchAb`). */
  weightsFile?: string;
  /** `gradient`: bytes of saved activations in memory (EngineOptions.stashMemory). */
  stashMemory?: number;
  length?: number;
  runs: number;
  threads?: number;
  tileLength?: number;
  /** Intra-op spinning of each side's sessions (undefined: ORT's default). */
  spinning?: { A?: boolean; B?: boolean };
}

async function side(label: string, dist: string, o: AbOptions, deps: { randomFiller: (seed: number) => Filler; randomSequence: (n: number, seed: number) => string }): Promise<Side> {
  const load = (m: string) => import(pathToFileURL(resolve(dist, m)).href);
  const { Model } = await load('models/model.js');
  const { WeightSet } = await load('weights/weight-set.js');
  let arch;
  if (o.model === 'enformer') {
    const { Enformer, parseEnformerConfig } = await load('models/enformer.js');
    arch = new Enformer(parseEnformerConfig({ dim: 1536, depth: 11, heads: 8, output_heads: { human: 5313, mouse: 1643 }, target_length: 896, attn_dim_key: 64, num_downsamples: 7, dim_divisible_by: 128 }, 'enformer full size'));
  } else if (o.model === 'borzoi' || o.model === 'flashzoi') {
    const { Borzoi, parseBorzoiConfig } = await load('models/borzoi.js');
    arch = new Borzoi(parseBorzoiConfig(o.model === 'flashzoi' ? { flashed: true } : {}, `${o.model} full size`));
  } else throw new Error(`unknown model '${o.model}' (enformer, borzoi, flashzoi)`);
  const length = o.length ?? arch.defaultSequenceLength;
  const shapes = new Map<string, number[]>(arch.expectedWeights().map((t: { name: string; shape: number[] }) => [t.name, t.shape]));
  const parts = Model.weightParts(arch, '2d') as { id: string; names: string[] }[];
  const groups = parts.map((p) => p.names.map((n) => ({ name: n, shape: shapes.get(n)! })));
  const gradient = o.part === 'gradient';
  const weights = gradient
    ? WeightSet.fromSafetensors(await (await load('weights/safetensors.js')).SafetensorsFile.open(o.weightsFile!), (n: string) => arch.canonicalName(n))
    : WeightSet.allocatePacked(groups, deps.randomFiller(1234));
  const spinning = o.spinning?.[label as 'A' | 'B'];
  // Both forms of the switch: builds before EngineOptions.sessionOptions read `spinning`, later ones ignore it.
  const switches = spinning === undefined ? {} : { spinning, sessionOptions: spinningOptions(spinning) };
  // Builds from before `gradientsOnly` ignore it (and hold their prediction sessions too).
  const extra = gradient ? { gradientsOnly: true, stashMemory: o.stashMemory } : {};
  // The side's own engine, its runs timed per session (wall time, the copies of feeds and outputs included).
  const { Engine } = await load('engine/engine.js');
  const engine = Engine.start({ threads: o.threads, ...switches, ...extra });
  const sessions = new Map<string, number>();
  const run = engine.run.bind(engine);
  engine.run = async (id: string, ...rest: unknown[]) => {
    const t0 = performance.now();
    try {
      return await run(id, ...rest);
    } finally {
      sessions.set(id, (sessions.get(id) ?? 0) + (performance.now() - t0) / 1000);
    }
  };
  const model = await Model.create(arch, weights, `${o.model} (${label})`, { threads: o.threads, tileLength: o.tileLength, ...switches, ...extra }, engine);
  const close = async () => {
    await model.close();
    await engine.close();
  };
  const batch = Model.encode([deps.randomSequence(length, 42)]);
  if (gradient) {
    const objective = benchObjective(model.headNames[0] as string, model.outputBins(length) as number);
    return { label, run: async () => [(await model.inputGradients(batch, objective)).grad as Float32Array], close, sessions };
  }
  const cached = o.part === 'head' ? await model.trunk(batch) : undefined;
  return {
    label,
    async run() {
      const trunk = cached ?? (await model.trunk(batch));
      const outs: Float32Array[] = Object.values(trunk).map((t) => (t as { data: Float32Array }).data);
      if (o.part !== 'trunk') {
        const p = await model.head(trunk, length);
        for (const h of Object.values(p.heads)) outs.push((h as { data: Float32Array }).data);
      }
      return outs;
    },
    close,
    sessions,
  };
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.length !== y.length) return Infinity;
    for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j]! - y[j]!));
  }
  return m;
}


export async function benchAb(o: AbOptions, deps: { randomFiller: (seed: number) => Filler; randomSequence: (n: number, seed: number) => string; peakRssMb: () => number }): Promise<void> {
  const spin = (l: 'A' | 'B') => (o.spinning?.[l] === undefined ? '' : ` (spinning ${o.spinning[l] ? 'on' : 'off'})`);
  console.log(`A = ${o.a}${spin('A')}, B = ${o.b}${spin('B')}; ${o.model}, part ${o.part}, load average ${loadavg()[0]!.toFixed(2)}`);
  const dir = o.part === 'gradient' ? mkdtempSync(join(tmpdir(), 'seq2track-ab-')) : undefined;
  try {
    if (dir) {
      o = { ...o, weightsFile: join(dir, 'weights.safetensors') };
      await writeRandomWeights(o.weightsFile!, benchArchitecture(o.model), deps.randomFiller(1234));
    }
    await alternate(o, deps);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

async function alternate(o: AbOptions, deps: { randomFiller: (seed: number) => Filler; randomSequence: (n: number, seed: number) => string; peakRssMb: () => number }): Promise<void> {
  const a = await side('A', o.a, o, deps);
  const b = await side('B', o.b, o, deps);
  const times: Record<string, number[]> = { A: [], B: [] };
  // Per side, per session id: the wall seconds of its runs in each timed round.
  const bySession: Record<string, Map<string, number[]>> = { A: new Map(), B: new Map() };
  let diff = 0;
  // Warm-up of each, then alternate; which side starts flips every round.
  const ra = await a.run();
  const rb = await b.run();
  diff = maxAbsDiff(ra, rb);
  for (let i = 0; i < o.runs; i++) {
    for (const s of i % 2 === 0 ? [a, b] : [b, a]) {
      s.sessions.clear();
      const t0 = performance.now();
      await s.run();
      const t = (performance.now() - t0) / 1000;
      times[s.label]!.push(t);
      for (const [id, sec] of s.sessions) bySession[s.label]!.set(id, [...(bySession[s.label]!.get(id) ?? []), sec]);
      console.log(`run ${i + 1} ${s.label}: ${t.toFixed(2)} s (load ${loadavg()[0]!.toFixed(2)})`);
    }
  }
  await a.close();
  await b.close();
  const [ma, mb] = [median(times.A!), median(times.B!)];
  // Where the two differ: each session's median wall seconds per round (runs, copies and waits in the engine).
  const ids = [...new Set([...bySession.A!.keys(), ...bySession.B!.keys()])];
  const cell = (l: string, id: string) => (bySession[l]!.has(id) ? median(bySession[l]!.get(id)!).toFixed(2) : '-');
  for (const id of ids) console.log(`  session ${id}: A ${cell('A', id)} s, B ${cell('B', id)} s`);
  const outside = (l: string) => median(times[l]!.map((t, i) => t - [...bySession[l]!.values()].reduce((sum, v) => sum + (v[i] ?? 0), 0)));
  console.log(`  outside the engine's runs: A ${outside('A').toFixed(2)} s, B ${outside('B').toFixed(2)} s`);
  console.log(`median A ${ma.toFixed(2)} s, B ${mb.toFixed(2)} s, B/A ${(mb / ma).toFixed(3)}; max |A − B| over the outputs ${diff.toExponential(2)}; peak RSS ${deps.peakRssMb().toFixed(0)} MB`);
  console.log(`RESULT mode=ab model=${o.model} part=${o.part} a_s=${ma.toFixed(3)} b_s=${mb.toFixed(3)} b_over_a=${(mb / ma).toFixed(3)} max_abs_diff=${diff.toExponential(2)} load_end=${loadavg()[0]!.toFixed(2)}`);
}
