/**
 * Full-size forward benchmark with random weights generated in memory (nothing downloaded or stored).
 *   npm run bench -- enformer|borzoi|flashzoi [--runs 5] [--threads N] [--layout 2d|1d] [--tile-length BP] [--length BP]
 *   npm run bench -- alphagenome [--length 131072] [--runs N (0: one cold run)] [--tile-length BP] [--port DIR] [--query-chunks N]   (full-size AlphaGenome, random weights; the reference port timed in a child process: alphagenome.ts)
 *   npm run bench -- variants [MODEL] [--variants 2]   (SNV scoring: brute force vs incremental)
 *   npm run bench -- ism [MODEL] [--substitutions 32] [--batch-size 4] [--brute 32]   (ISM: incremental vs brute force)
 *   npm run bench -- block [borzoi|flashzoi|enformer] [--runs 5] [--profile P]   (one head block: prediction vs the gradient's forward: src/bench/block.ts)
 *   npm run bench -- gradients [enformer|borzoi|flashzoi] [--runs 5] [--length BP] [--head-backward whole|checkpointed] [--activations saved|recompute] [--backward-arena on|off]   (forward vs input gradients, default Enformer: src/bench/gradients.ts)
 *   npm run bench -- enformer --attention central|all   (forward plus head-mean attention maps of every layer)
 *   npm run bench -- train [--runs 3] [--models enformer,borzoi] [--whole-runs 1] [--whole-length BP]   (training steps: head only, and whole-model steps vs the forward; src/bench/train.ts)
 *   npm run bench -- browser [enformer|borzoi|alphagenome] [--length BP] [--resolution 128|1]   (one window in headless Chromium beside Node: browser.ts)
 *   npm run bench -- genome-rss [MODEL_DIR] [--lengths 250000,1000000,4000000]   (predict --genome peak RSS vs region length)
 *   npm run bench -- genome-throughput [enformer|borzoi|flashzoi] [--windows 8]   (genome job windows/s with and without trunk reuse: genome-throughput.ts)
 *   npm run bench -- quantization [--rounds 3] [--threads N] [--scale 1]   (float32 vs int8/float16 layers: quantization.ts)
 *   npm run bench -- quantization-model enformer|borzoi|flashzoi|DIR [--runs 2] [--length BP]   (float32 vs int8 trunk: quantization-model.ts)
 *   npm run bench -- kernels [--runs 3] [--threads-list 1,2]   (FMA peak and ORT kernels on the model's shapes: kernels.ts)
 *   npm run bench -- profile-summary FILE.json [MORE.json] [--passes N]   (an ORT profile (--profile) by op class: profile-summary.ts)
 *   npm run bench -- ab --a DIST_A [--b DIST_B] [MODEL] [--part trunk|head|full]   (two builds timed alternately in one process: ab.ts)
 * Prints seconds per sequence (the median of the timed runs after one warm-up, with their min and
 * max: src/bench/steady.ts), the FLOP count from the config, effective GFLOP/s, peak RSS, and a final
 * machine-readable RESULT line. The forward mode also prints the CPU (model, vector width, load) and
 * ORT's own 4096³ SGEMM throughput measured in the same run, and the model's speed as a fraction of
 * it; the machine's FMA peak is probed before the first run and after every run, and a bench whose
 * probes disagree by more than 10 % says it was disturbed (`disturbed=1`).
 */
import { readFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { Model, type ModelOptions } from '../models/model.js';
import { WeightSet } from '../weights/weight-set.js';
import type { ConvLayout } from '../models/layers.js';
import { benchVariants } from './variants.js';
import { describeMachine, machineInfo, measureGemmCeiling } from './machine.js';
import { benchIsm } from './ism.js';
import { benchGradients } from './gradients.js';
import { forwardChildMain, type ForwardChildSpec } from './forward-child.js';
import { benchBlock } from './block.js';
import { benchTrain, benchWholeStep } from './train.js';
import { benchBrowser } from './browser.js';
import { benchGenomeRss } from './genome-rss.js';
import { benchQuantization } from './quantization.js';
import { benchQuantizedModel } from './quantization-model.js';
import { benchKernels } from './kernels.js';
import { benchGenomeThroughput, genomeThroughputChild } from './genome-throughput.js';
import { benchCrc32c } from './crc32c.js';
import { benchAb } from './ab.js';
import { benchAlphaGenome } from './alphagenome.js';
import { machineProbes, probeNote, runsNote, spread, spreadFields, spreadText, STEADY_RUNS, verdictFields, verdictLine } from './steady.js';
import { profileSummary } from './profile-summary.js';
import { ProfilingEngine } from './profiling-engine.js';
import { xorshift32 } from './xorshift.js';
import { MODELS } from './models.js';

/** xorshift32 uniform with unit variance: cheap, deterministic, scale-correct random weights. */
function randomFiller(seed: number) {
  const next = xorshift32(seed);
  const uniform = () => (next() / 4294967296 - 0.5) * 2 * Math.sqrt(3);
  return (name: string, shape: number[], data: Float32Array) => {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    let f: () => number;
    if (name.endsWith('running_var')) f = () => 1 + 0.2 * uniform();
    else if (name.endsWith('running_mean')) f = () => 0.1 * uniform();
    else if (shape.length === 1 && name.endsWith('weight')) f = () => 1 + 0.1 * uniform();
    else if (shape.length === 1) f = () => 0.1 * uniform();
    else if (name.includes('rel_content_bias') || name.includes('rel_pos_bias')) f = () => 0.3 * uniform();
    else f = () => uniform() / Math.sqrt(fanIn);
    for (let i = 0; i < data.length; i++) data[i] = f();
  };
}

function randomSequence(length: number, seed: number): string {
  let s = seed;
  const letters = 'ACGT';
  let out = '';
  for (let i = 0; i < length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out += letters[(s >>> 16) & 3];
  }
  return out;
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

interface BaselineFile {
  machine?: { cpus?: number; cpu_model?: string };
  runs: { model: string; times_s: number[]; peak_rss_mb: number; blas: string }[];
}

/** The reference port's fastest recorded run of `model`, with the machine it was recorded on. */
export function baselineLine(model: string | undefined, file: BaselineFile): string | null {
  if (model === undefined) return null;
  const best = file.runs.filter((r) => r.model === model).sort((a, b) => Math.min(...a.times_s) - Math.min(...b.times_s))[0];
  if (!best) return null;
  const m = file.machine;
  const where = m?.cpu_model ? `${m.cpu_model}, ${m.cpus ?? '?'} CPUs` : 'an unrecorded machine';
  const here = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs`;
  return `baseline (reference PyTorch port, ${best.blas}, recorded on ${where}; this machine: ${here}): ${best.times_s.map((t) => t.toFixed(1)).join(', ')} s, peak RSS ${best.peak_rss_mb.toFixed(0)} MB`;
}

/** An on/off switch (unset: undefined, the default's choice). */
function onOff(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'on' || v === 'off') return v === 'on';
  throw new Error(`expected on or off, got '${v}'`);
}

function recordedBaseline(model: string | undefined): string | null {
  const path = new URL('../../../shared/fixtures/cpu-baseline.json', import.meta.url);
  if (model === undefined || !existsSync(path)) return null;
  return baselineLine(model, JSON.parse(readFileSync(path, 'utf8')) as BaselineFile);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      // No default here: each mode has its own (the forward and gradients benches: STEADY_RUNS).
      runs: { type: 'string' },
      mb: { type: 'string', default: '256' },
      threads: { type: 'string' },
      layout: { type: 'string', default: '2d' },
      'tile-length': { type: 'string' },
      length: { type: 'string' },
      resolution: { type: 'string' },
      profile: { type: 'string' },
      variants: { type: 'string', default: '2' },
      attention: { type: 'string' },
      'whole-length': { type: 'string' },
      'whole-runs': { type: 'string', default: '1' },
      models: { type: 'string', default: 'enformer,borzoi' },
      substitutions: { type: 'string', default: '32' },
      'batch-size': { type: 'string', default: '4' },
      brute: { type: 'string' },
      lengths: { type: 'string' },
      outputs: { type: 'string' },
      'head-backward': { type: 'string' },
      'backward-arena': { type: 'string' },
      'activations': { type: 'string' },
      rounds: { type: 'string', default: '3' },
      scale: { type: 'string', default: '1' },
      'threads-list': { type: 'string', default: '1,2' },
      a: { type: 'string' },
      b: { type: 'string' },
      part: { type: 'string', default: 'full' },
      'spinning-a': { type: 'string' },
      'spinning-b': { type: 'string' },
      ceiling: { type: 'string' },
      passes: { type: 'string' },
      windows: { type: 'string' },
      mode: { type: 'string' },
      out: { type: 'string' },
      port: { type: 'string' },
      'port-runs': { type: 'string', default: '1' },
      'port-timeout': { type: 'string', default: '1800' },
      'query-chunks': { type: 'string' },
      spec: { type: 'string' },
      'stash-mb': { type: 'string' },
    },
  });
  /** `--runs`, or the mode's default; an integer of at least `least`. */
  const runsOr = (fallback: number, least = 1): number => {
    if (values.runs === undefined) return fallback;
    const n = Number(values.runs);
    if (!Number.isInteger(n) || n < least) throw new Error(`--runs must be an integer of at least ${least}, not '${values.runs}'`);
    return n;
  };
  if (positionals[0] === 'quantization-model') {
    const target = positionals[1] ?? 'enformer';
    const opt = (k: 'threads' | 'tile-length' | 'length') => (values[k] !== undefined ? Number(values[k]) : undefined);
    const random = MODELS[target] ? { arch: MODELS[target], filler: () => randomFiller(1234), sequence: randomSequence } : undefined;
    return benchQuantizedModel(target, { runs: runsOr(3), threads: opt('threads'), tileLength: opt('tile-length'), length: opt('length') }, random);
  }
  if (positionals[0] === 'alphagenome') {
    const length = values.length !== undefined ? Number(values.length) : 131_072;
    // Default: query chunks of at most 32 pair rows (512 tokens), so the logits stay ≤ 8 × 512 × S.
    const chunks = values['query-chunks'] !== undefined ? Number(values['query-chunks']) : Math.max(1, Math.ceil(length / 2048 / 32));
    return benchAlphaGenome(
      { length, runs: runsOr(STEADY_RUNS, 0), threads: values.threads ? Number(values.threads) : undefined, queryChunks: chunks, tileLength: values['tile-length'] !== undefined ? Number(values['tile-length']) : undefined, port: values.port, portRuns: Math.max(1, Number(values['port-runs'])), portTimeoutS: Number(values['port-timeout']) },
      { randomFiller, randomSequence, peakRssMb },
    );
  }
  if (positionals[0] === 'quantization') return benchQuantization({ rounds: Math.max(1, Number(values.rounds)), threads: values.threads ? Number(values.threads) : undefined, scale: Math.max(1, Number(values.scale)) });
  if (positionals[0] === 'profile-summary') return profileSummary(positionals.slice(1), values.ceiling ? Number(values.ceiling) : undefined, values.passes ? Number(values.passes) : undefined);
  if (positionals[0] === 'ab') {
    if (!values.a) throw new Error('ab needs --a DIST (the dist folder of the build to compare against)');
    const opt = (k: 'threads' | 'tile-length' | 'length') => (values[k] !== undefined ? Number(values[k]) : undefined);
    const flag = (v: string | undefined) => (v === undefined ? undefined : v === '1');
    return benchAb({ a: values.a, b: values.b ?? new URL('..', import.meta.url).pathname, model: positionals[1] ?? 'enformer', part: values.part === 'trunk' || values.part === 'head' || values.part === 'gradient' ? values.part : 'full', stashMemory: values['stash-mb'] !== undefined ? Number(values['stash-mb']) * 2 ** 20 : undefined, length: opt('length'), runs: runsOr(3), threads: opt('threads'), tileLength: opt('tile-length'), spinning: { A: flag(values['spinning-a']), B: flag(values['spinning-b']) } }, { randomFiller, randomSequence, peakRssMb });
  }
  if (positionals[0] === 'genome-throughput' || positionals[0] === 'genome-throughput-run') {
    const name = positionals[1] ?? 'enformer';
    const make = MODELS[name];
    if (!make) throw new Error(`genome-throughput: unknown model '${name}' (${Object.keys(MODELS).join(', ')})`);
    const opt = (k: 'threads' | 'tile-length') => (values[k] !== undefined ? Number(values[k]) : undefined);
    const windows = Number(values.windows ?? '8');
    if (!Number.isInteger(windows) || windows < 2) throw new Error(`--windows must be an integer of at least 2, not ${values.windows}`);
    const o = { name, arch: make, windows, threads: opt('threads'), tileLength: opt('tile-length') };
    if (positionals[0] === 'genome-throughput') return benchGenomeThroughput(o);
    const mode = values.mode === 'reuse' || values.mode === 'full' ? values.mode : undefined;
    if (!mode || !values.out) throw new Error('genome-throughput-run needs --mode reuse|full and --out FILE (it is the child process of genome-throughput)');
    return genomeThroughputChild({ ...o, mode, out: values.out }, randomFiller(1234));
  }
  if (positionals[0] === 'crc32c') return benchCrc32c({ mb: Math.max(1, Number(values.mb)), runs: runsOr(3) });
  if (positionals[0] === 'kernels') return benchKernels({ runs: runsOr(3), threadsList: values['threads-list']!.split(',').map(Number) });
  if (positionals[0] === 'browser') {
    const resolution = values.resolution === undefined ? undefined : (Number(values.resolution) as 1 | 128);
    if (resolution !== undefined && ![1, 128].includes(resolution)) throw new Error(`--resolution ${values.resolution}: AlphaGenome's outputs are at 128 or 1 bp`);
    const o = { threads: values.threads ? Number(values.threads) : undefined, tileLength: values['tile-length'] ? Number(values['tile-length']) : undefined, length: values.length ? Number(values.length) : undefined, resolution };
    return benchBrowser(positionals[1] ?? 'enformer', o, { fill: randomFiller(1234), sequence: randomSequence });
  }
  if (positionals[0] === 'genome-rss') {
    const model = positionals[1] ?? new URL('../../../shared/fixtures/enformer-small', import.meta.url).pathname;
    const lengths = (values.lengths ?? '250000,1000000,4000000').split(',').map(Number);
    const outputs = (values.outputs ?? 'bigwig,tsv').split(',');
    await benchGenomeRss({ model, lengths, outputs, threads: values.threads ? Number(values.threads) : 1 });
    return;
  }
  if (positionals[0] === 'train') {
    const models = values.models === 'none' ? [] : values.models!.split(',');
    const wholeLength = values['whole-length'] !== undefined ? Number(values['whole-length']) : undefined;
    await benchTrain({ runs: runsOr(3), threads: values.threads ? Number(values.threads) : undefined, models, wholeRuns: Math.max(1, Number(values['whole-runs'])), wholeLength }, { randomFiller, randomSequence, peakRssMb });
    return;
  }
  if (positionals[0] === 'train-whole') {
    const wholeLength = values['whole-length'] !== undefined ? Number(values['whole-length']) : undefined;
    return benchWholeStep(positionals[1] ?? 'enformer', { runs: Math.max(1, Number(values['whole-runs'])), threads: values.threads ? Number(values.threads) : undefined, length: wholeLength }, { randomFiller, randomSequence, peakRssMb });
  }
  if (positionals[0] === 'block') return benchBlock(positionals[1] ?? 'borzoi', { runs: runsOr(STEADY_RUNS), threads: values.threads ? Number(values.threads) : undefined, profilePrefix: values.profile, fill: randomFiller(1234) });
  if (positionals[0] === 'gradients-forward-child') {
    // The gradients bench's forward process (forward-child.ts), not a bench of its own.
    const spec = JSON.parse(values.spec ?? 'null') as ForwardChildSpec | null;
    const make = spec && MODELS[spec.model];
    if (!spec || !make) throw new Error('gradients-forward-child is started by the gradients bench (--spec JSON)');
    return forwardChildMain(spec, make().arch, randomSequence(spec.length, 42));
  }
  if (positionals[0] === 'gradients') {
    const modelName = positionals[1] ?? 'enformer';
    const make = MODELS[modelName];
    if (!make) throw new Error(`gradients: unknown model '${modelName}' (${Object.keys(MODELS).join(', ')})`);
    const { arch, length } = make();
    const opt = (k: 'threads' | 'tile-length' | 'length') => (values[k] !== undefined ? Number(values[k]) : undefined);
    const headBackward = values['head-backward'];
    if (headBackward !== undefined && headBackward !== 'whole' && headBackward !== 'checkpointed') throw new Error(`--head-backward must be whole or checkpointed, not '${headBackward}'`);
    const activations = values.activations;
    if (activations !== undefined && activations !== 'saved' && activations !== 'recompute') throw new Error(`--activations must be saved or recompute, not '${activations}'`);
    // --runs: timed (warm) rounds after the cold one, STEADY_RUNS unless given.
    return benchGradients({ activations, runs: runsOr(STEADY_RUNS), name: modelName, arch, fill: randomFiller(1234), sequence: randomSequence(opt('length') ?? length, 42), threads: opt('threads'), tileLength: opt('tile-length'), layout: values.layout as ConvLayout, headBackward, profilePrefix: values.profile, stashMemory: values['stash-mb'] !== undefined ? Number(values['stash-mb']) * 2 ** 20 : undefined, backwardArena: onOff(values['backward-arena']) });
  }
  const mode = positionals[0] === 'variants' || positionals[0] === 'ism' ? positionals[0] : 'forward';
  // `variants [MODEL]` scores SNVs on MODEL (default enformer); otherwise the argument is the model.
  const name = (mode !== 'forward' ? positionals[1] : positionals[0]) ?? 'enformer';
  const make = MODELS[name];
  if (!make) throw new Error(`unknown model '${name}' (known: ${Object.keys(MODELS).join(', ')})`);
  const { arch, length: defaultLength, baselineModel } = make();
  const length = values.length ? Number(values.length) : defaultLength;
  const runs = runsOr(STEADY_RUNS);

  const t0 = performance.now();
  const fill = randomFiller(1234);
  const expected = arch.expectedWeights();
  const shapes = new Map(expected.map((t) => [t.name, t.shape]));
  const layout = values.layout as ConvLayout;
  const groups = Model.weightParts(arch, layout).map((p) => p.names.map((n) => ({ name: n, shape: shapes.get(n)! })));
  const weights = WeightSet.allocatePacked(groups, fill);
  const params = expected.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  console.log(`${name}: ${(params / 1e6).toFixed(1)} M parameters generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const t1 = performance.now();
  const options: ModelOptions = {
    threads: values.threads ? Number(values.threads) : undefined,
    layout,
    tileLength: values['tile-length'] !== undefined ? Number(values['tile-length']) : undefined,
    attention: values.attention ? { layers: Array.from({ length: arch.transformer.layers }, (_, i) => i), heads: 'mean' } : undefined,
  };
  const profiling = values.profile !== undefined ? new ProfilingEngine(options, values.profile) : undefined;
  const model = await Model.create(arch, weights, `${name} (random weights)`, options, profiling);
  // A model closes only an engine it started itself.
  const close = async () => (await model.close(), await profiling?.close());
  console.log(`sessions ready in ${((performance.now() - t1) / 1000).toFixed(1)} s, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);

  if (mode === 'variants') {
    const count = Math.max(1, Number(values.variants));
    const windows = Array.from({ length: count }, (_, i) => Model.encode([randomSequence(length, 100 + i)]));
    // Warm-up: one forward pass allocates what the timed runs reuse.
    await model.head(await model.trunk(windows[0]!), length);
    const fields = await benchVariants(model, windows);
    await close();
    console.log(`peak RSS: ${peakRssMb().toFixed(0)} MB`);
    console.log(`RESULT model=${name} mode=variants ${fields} peak_rss_mb=${peakRssMb().toFixed(0)}`);
    return;
  }

  if (mode === 'ism') {
    const count = Math.max(1, Number(values.substitutions));
    const fields = await benchIsm(model, Model.encode([randomSequence(length, 42)]), count, Math.max(1, Number(values['batch-size'])), values.brute !== undefined ? Number(values.brute) : count);
    await close();
    console.log(`peak RSS: ${peakRssMb().toFixed(0)} MB`);
    console.log(`RESULT model=${name} mode=ism ${fields} peak_rss_mb=${peakRssMb().toFixed(0)}`);
    return;
  }

  const threads = values.threads ? Number(values.threads) : undefined;
  const machine = machineInfo();
  console.log(describeMachine(machine));
  // The engine's practical ceiling on this machine, now: the model's speed is reported against it.
  const ceiling = await measureGemmCeiling({ threads });
  console.log(`ORT SGEMM ceiling (MatMul ${ceiling.n}³, ${threads ?? 'all'} threads): ${ceiling.gflops.toFixed(1)} GFLOP/s (${ceiling.seconds.toFixed(2)} s)`);
  // The hardware's ceiling, measured (src/bench/native/fma-peak.c; skipped without a C compiler), then
  // probed again (0.5 s) after every run, once ORT's intra-op threads have stopped spinning (they
  // busy-wait for a while after a run and would take half the probe's cores). The hardware's peak is
  // the highest probe: a lower one means something else had the cores then. The model is set against
  // that highest probe, so the fraction is never inflated by a disturbed probe; probes that disagree
  // by more than 10 % mark the whole bench as disturbed (src/bench/steady.ts).
  const probes = machineProbes(machine.vectorWidth, threads ?? machine.cpus);
  const peak = probes.first();
  if ('problem' in peak) console.log(`FMA peak: not measured (${peak.problem})`);
  else console.log(`FMA peak (measured, ${peak.width}-wide FP32 FMA, ${peak.threads} threads): ${peak.gflops.toFixed(1)} GFLOP/s (one thread got ${peak.clockGhz.toFixed(2)} G cycles/s: the core clock when nothing else runs); ORT SGEMM = ${(ceiling.gflops / peak.gflops).toFixed(2)} of it`);
  const batch = Model.encode([randomSequence(length, 42)]);
  const flops = arch.flops(length);
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const before = probes.last;
    const a = performance.now();
    const trunk = await model.trunk(batch);
    const b = performance.now();
    const rows = values.attention === 'all' ? Array.from({ length: model.transformerPositions(length) }, (_, r) => r) : values.attention ? model.centralRows(length) : undefined;
    await model.head(trunk, length, { attentionRows: rows });
    const c = performance.now();
    const s = (c - a) / 1000;
    const around = probeNote(before, await probes.after());
    console.log(`${i === 0 ? 'warm-up' : `run ${i}`}: ${s.toFixed(2)} s (trunk ${((b - a) / 1000).toFixed(2)} s, head ${((c - b) / 1000).toFixed(2)} s), peak RSS ${peakRssMb().toFixed(0)} MB${around}`);
    if (i > 0) times.push(s);
  }
  await close();
  const sp = spread(times);
  const median = sp.median;
  const gflops = flops.total / 1e9;
  console.log(`FLOPs per sequence (${length} bp, from the config): ${gflops.toFixed(1)} GFLOP`);
  for (const [stage, f] of Object.entries(flops.stages)) console.log(`  ${stage}: ${(f / 1e9).toFixed(1)} GFLOP`);
  console.log(`seconds per sequence: ${spreadText(sp)}`);
  const note = runsNote(runs);
  if (note) console.log(note);
  const fraction = gflops / median / ceiling.gflops;
  console.log(`effective GFLOP/s: ${(gflops / median).toFixed(1)} = ${fraction.toFixed(2)} of ORT's SGEMM ceiling measured above`);
  const fmaPeak = probes.peak;
  const ofPeak = fmaPeak === undefined ? undefined : gflops / median / fmaPeak;
  const peakFields = fmaPeak === undefined ? '' : ` fma_peak_gflops=${fmaPeak.toFixed(1)} of_fma_peak=${ofPeak!.toFixed(3)}`;
  if (fmaPeak !== undefined) console.log(`effective GFLOP/s = ${ofPeak!.toFixed(2)} of the FMA peak (the highest of the probes ${probes.values.map((x) => x.toFixed(0)).join(', ')} GFLOP/s)`);
  const verdict = probes.verdict();
  console.log(verdictLine(verdict));
  console.log(`peak RSS: ${peakRssMb().toFixed(0)} MB`);
  const baseline = recordedBaseline(baselineModel);
  if (baseline && length === defaultLength) console.log(baseline);
  console.log(`RESULT model=${name} seconds_per_seq=${median.toFixed(3)} gflops=${gflops.toFixed(1)} effective_gflops=${(gflops / median).toFixed(1)} sgemm_gflops=${ceiling.gflops.toFixed(1)} of_sgemm=${fraction.toFixed(3)} peak_rss_mb=${peakRssMb().toFixed(0)}${peakFields} runs=${sp.count} ${spreadFields('seconds', sp)} ${verdictFields(verdict)}`);
}

main().catch((e) => {
  console.error(`bench: error: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
