/**
 * Full-size AlphaGenome forward with random weights generated in memory (issue 24, item 6):
 *   npm run bench -- alphagenome [--length BP] [--runs N] [--threads N] [--port DIR] [--port-runs N] [--port-timeout S] [--query-chunks N]
 * The published dimensions (the fixture config's `full_size` values where the fixture is present,
 * which are also the config parser's defaults), 131,072 bp by default. Prints seconds per sequence
 * (median of the timed runs after one warm-up: steady.ts), the FLOPs from the config
 * (models/alphagenome/flops.ts), effective GFLOP/s against the machine's FMA peak probed in the same
 * run (before the first run and after every run; disturbed when the probes disagree), peak RSS, and a
 * RESULT line. With `--port DIR` (an unpacked genomicsxai/alphagenome-pytorch checkout) the reference
 * port then runs the same length in a child process with Debian's python3-torch (python/alphagenome_port.py),
 * its own random initialisation, the same thread count, under `--port-timeout` seconds.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { Model } from '../models/model.js';
import { WeightSet } from '../weights/weight-set.js';
import { expectedAlphaGenomeWeights, parseAlphaGenomeConfig, type AlphaGenomeConfig } from '../models/alphagenome/config.js';
import { alphaGenomeFlops, alphaGenomeTensorBytes } from '../models/alphagenome/flops.js';
import { AlphaGenomeModel, type AlphaGenomeSink } from '../models/alphagenome/model.js';
import { openSpillFile } from '../engine/spill-file.js';
import '../models/alphagenome/load.js';
import { describeMachine, machineInfo } from './machine.js';
import { machineProbes, probeNote, runsNote, spread, spreadFields, spreadText, verdictFields, verdictLine } from './steady.js';

export interface AlphaGenomeBenchOptions {
  length: number;
  runs: number;
  threads?: number;
  queryChunks?: number;
  /** Core length of the encoder's and decoder's tiles (AlphaGenomeOptions.tileLength). */
  tileLength?: number;
  port?: string;
  portRuns: number;
  portTimeoutS: number;
}

export interface BenchHelpers {
  randomFiller: (seed: number) => (name: string, shape: number[], data: Float32Array) => void;
  randomSequence: (length: number, seed: number) => string;
  peakRssMb: () => number;
}

/** The published model: the fixture's `full_size` block when the fixture is here (checked against the parser's defaults), else the defaults. */
export function fullSizeAlphaGenomeConfig(): AlphaGenomeConfig {
  const defaults = parseAlphaGenomeConfig({ model_type: 'alphagenome' }, 'alphagenome full size');
  const path = fileURLToPath(new URL('../../../shared/fixtures/alphagenome-small/config.json', import.meta.url));
  if (!existsSync(path)) return defaults;
  const full = (JSON.parse(readFileSync(path, 'utf8')) as { full_size?: Record<string, unknown> }).full_size;
  if (!full) return defaults;
  const { tracks, ...rest } = full as { tracks?: Record<string, number> } & Record<string, unknown>;
  const { contact_maps, ...trackCounts } = tracks ?? {};
  const cfg = parseAlphaGenomeConfig({ model_type: 'alphagenome', ...rest, tracks: trackCounts, ...(contact_maps !== undefined ? { contact_maps_tracks: contact_maps } : {}) }, `${path} (full_size)`);
  if (JSON.stringify(cfg) !== JSON.stringify(defaults)) throw new Error(`${path}: full_size disagrees with the published dimensions the config parser defaults to`);
  return cfg;
}

interface PortResult {
  times_s: number[];
  init_s: number;
  peak_rss_mb: number;
  torch: string;
  threads: number;
}

/** Runs the port in a child process; its result, or why there is none. */
function runPort(dir: string, length: number, runs: number, threads: number, timeoutS: number): Promise<PortResult | { problem: string; partial?: number[] }> {
  const script = fileURLToPath(new URL('../../src/bench/python/alphagenome_port.py', import.meta.url));
  // Debian's python3-torch lives in the system interpreter, not in any pyenv/venv python3 earlier on PATH.
  const python = process.env.PORT_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  return new Promise((resolve) => {
    const child = spawn(python, [script, dir, String(length), String(runs), String(threads)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const partial: number[] = [];
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const m of d.toString().matchAll(/"partial_s": ([\d.]+)/g)) {
        partial.push(Number(m[1]));
        console.log(`  port forward ${partial.length}: ${Number(m[1]).toFixed(1)} s`);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.includes('times_s')) return resolve(JSON.parse(last) as PortResult);
      const why = signal === 'SIGKILL' ? `killed after the ${timeoutS} s limit` : `exit ${code ?? signal}: ${err.trim().split('\n').slice(-3).join(' | ')}`;
      resolve({ problem: why, partial });
    });
  });
}

export async function benchAlphaGenome(o: AlphaGenomeBenchOptions, h: BenchHelpers): Promise<void> {
  const cfg = fullSizeAlphaGenomeConfig();
  const machine = machineInfo();
  const threads = o.threads ?? machine.cpus;
  console.log(describeMachine(machine));
  // The generated weights go out of scope once the sessions hold them (1.8 GB less in the peak RSS).
  const model = await (async () => {
    const t0 = performance.now();
    const expected = expectedAlphaGenomeWeights(cfg);
    const weights = WeightSet.allocatePacked([expected], h.randomFiller(1234));
    const params = expected.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    console.log(`alphagenome: ${(params / 1e6).toFixed(1)} M parameters generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const t1 = performance.now();
    const m = await AlphaGenomeModel.create(cfg, weights, 'alphagenome (random weights)', { threads: o.threads, queryChunks: o.queryChunks, tileLength: o.tileLength, openSpill: () => openSpillFile() });
    console.log(`sessions ready in ${((performance.now() - t1) / 1000).toFixed(1)} s, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);
    return m;
  })();
  model.checkLength(o.length);

  const probes = machineProbes(machine.vectorWidth, threads);
  const peak = probes.first();
  if ('problem' in peak) console.log(`FMA peak: not measured (${peak.problem})`);
  else console.log(`FMA peak (measured, ${peak.width}-wide FP32 FMA, ${peak.threads} threads): ${peak.gflops.toFixed(1)} GFLOP/s (one thread got ${peak.clockGhz.toFixed(2)} G cycles/s)`);
  const batch = Model.encode([h.randomSequence(o.length, 42)]);
  const flops = alphaGenomeFlops(cfg, o.length);
  const loads: number[] = [];
  const times: number[] = [];
  // Outputs are counted and dropped as the model hands them over (predict --fasta writes them to disk the same way).
  let outBytes = 0;
  const sink: AlphaGenomeSink = { rows: (_n, _i, _f, d) => void (outBytes += d.byteLength), whole: (_n, _i, d) => void (outBytes += d.byteLength) };
  for (let i = 0; i <= o.runs; i++) {
    const before = probes.last;
    const a = performance.now();
    outBytes = 0;
    await model.predict(batch, 'human', { sink });
    const s = (performance.now() - a) / 1000;
    loads.push(loadavg()[0]!);
    const around = probeNote(before, await probes.after());
    console.log(`${i === 0 ? (o.runs === 0 ? 'cold run (the only one: --runs 0)' : 'warm-up') : `run ${i}`}: ${s.toFixed(2)} s (outputs ${(outBytes / 2 ** 20).toFixed(0)} MB, streamed), peak RSS ${h.peakRssMb().toFixed(0)} MB, load average ${loads.at(-1)!.toFixed(2)}${around}`);
    if (i > 0 || o.runs === 0) times.push(s);
  }
  await model.close();
  const ourRss = h.peakRssMb();
  const sp = spread(times);
  const gflop = flops.total / 1e9;
  console.log(`FLOPs per sequence (${o.length} bp, from the config): ${gflop.toFixed(1)} GFLOP`);
  for (const [stage, f] of Object.entries(flops.stages)) console.log(`  ${stage}: ${(f / 1e9).toFixed(1)} GFLOP`);
  console.log(`seconds per sequence: ${spreadText(sp)}`);
  const note = runsNote(o.runs);
  if (note) console.log(note);
  const effective = gflop / sp.median;
  console.log(`effective GFLOP/s: ${effective.toFixed(1)}`);
  const fmaPeak = probes.peak;
  const ofPeak = fmaPeak === undefined ? undefined : effective / fmaPeak;
  if (fmaPeak !== undefined) console.log(`effective GFLOP/s = ${ofPeak!.toFixed(3)} of the FMA peak (the highest of the probes ${probes.values.map((x) => x.toFixed(0)).join(', ')} GFLOP/s)`);
  const verdict = probes.verdict();
  console.log(verdictLine(verdict));
  console.log(`peak RSS: ${ourRss.toFixed(0)} MB; load average after the runs ${loads.map((l) => l.toFixed(2)).join(', ')} (${machine.cpus} CPUs)`);

  for (const L of [...new Set([o.length, 1_048_576])]) {
    const sizes = Object.entries(alphaGenomeTensorBytes(cfg, L, o.length === L ? o.queryChunks : Math.max(1, Math.ceil(L / 2048 / 32))));
    console.log(`largest tensors at ${L} bp (GiB, float32, from shapes): ${sizes.map(([k, v]) => `${k} ${(v / 2 ** 30).toFixed(2)}`).join(', ')}`);
  }

  let portFields = '';
  if (o.port) {
    console.log(`reference port (${o.port}): ${o.portRuns} forward(s) at ${o.length} bp, ${threads} threads, limit ${o.portTimeoutS} s`);
    const r = await runPort(o.port, o.length, o.portRuns, threads, o.portTimeoutS);
    if ('problem' in r) {
      console.log(`reference port: no time (${r.problem})${r.partial?.length ? `; finished forwards ${r.partial.map((t) => t.toFixed(1)).join(', ')} s` : ''}`);
      portFields = ' port_seconds=none';
    } else {
      const best = Math.min(...r.times_s);
      console.log(`reference port (torch ${r.torch}, ${r.threads} threads, its own random init in ${r.init_s.toFixed(1)} s): ${r.times_s.map((t) => t.toFixed(1)).join(', ')} s per forward, peak RSS ${r.peak_rss_mb.toFixed(0)} MB; ours ${sp.median.toFixed(1)} s (port ÷ ours = ${(best / sp.median).toFixed(2)}); load average now ${loadavg()[0]!.toFixed(2)}`);
      portFields = ` port_seconds=${best.toFixed(3)} port_peak_rss_mb=${r.peak_rss_mb.toFixed(0)} speedup_vs_port=${(best / sp.median).toFixed(2)}`;
    }
  }
  const peakFields = fmaPeak === undefined ? '' : ` fma_peak_gflops=${fmaPeak.toFixed(1)} of_fma_peak=${ofPeak!.toFixed(3)}`;
  console.log(
    `RESULT model=alphagenome length=${o.length} seconds_per_seq=${sp.median.toFixed(3)} gflops=${gflop.toFixed(1)} effective_gflops=${effective.toFixed(1)} peak_rss_mb=${ourRss.toFixed(0)}${peakFields} runs=${sp.count} ${spreadFields('seconds', sp)} ${verdictFields(verdict)} load1=${Math.max(...loads).toFixed(2)}${portFields}`,
  );
}
