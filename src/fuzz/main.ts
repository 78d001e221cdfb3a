/**
 * `npm run fuzz -- TARGET|all [--seconds N] [--seed S] [--runs N]`: mutation fuzzing of the parsers of outside
 * bytes with fast-check (see targets.ts). Each target runs in a worker thread with a capped heap;
 * the parent stops a worker that makes no progress for 10 s (a hang). A finding is saved under
 * `fuzz-findings/<target>-<sha>.bin` and the exit code is 1.
 */
import { Worker } from 'node:worker_threads';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TARGETS } from './targets.js';

export interface FuzzResult {
  target: string;
  executions: number;
  seconds: number;
  finding?: string;
  saved?: string;
}

const HANG_MS = 10_000;

/** Fuzzes one target for `seconds`, or until `runs` inputs have run (a deterministic run: same seed, same inputs). */
export function fuzzTarget(target: string, seconds: number, seed: number, findingsDir = 'fuzz-findings', runs?: number): Promise<FuzzResult> {
  const scratch = mkdtempSync(join(tmpdir(), 'seq2track-fuzz-'));
  const current = join(scratch, 'current.bin');
  const started = Date.now();
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { target, seconds, seed, current, runs },
      resourceLimits: { maxOldGenerationSizeMb: 768 },
    });
    let executions = 0;
    let last = Date.now();
    let settled = false;
    const finish = (finding?: string) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      const result: FuzzResult = { target, executions, seconds: (Date.now() - started) / 1000 };
      if (finding) {
        result.finding = finding;
        if (existsSync(current)) {
          mkdirSync(findingsDir, { recursive: true });
          const sha = createHash('sha256').update(readFileSync(current)).digest('hex').slice(0, 12);
          result.saved = join(findingsDir, `${target}-${sha}.bin`);
          copyFileSync(current, result.saved);
        }
      }
      rmSync(scratch, { recursive: true, force: true });
      resolve(result);
    };
    const watchdog = setInterval(() => {
      if (Date.now() - last > HANG_MS) finish(`hang: no progress for ${HANG_MS / 1000} s`);
      if (process.memoryUsage().rss > 3 * 2 ** 30) finish(`memory: RSS ${(process.memoryUsage().rss / 2 ** 30).toFixed(1)} GB`);
    }, 500);
    worker.on('message', (m: { type: string; executions: number; finding?: string }) => {
      last = Date.now();
      executions = m.executions;
      if (m.type === 'done') finish(m.finding);
    });
    worker.on('error', (e) => finish(`crash: ${e.message}`));
    worker.on('exit', (code) => finish(code === 0 ? undefined : `crash: worker exited with code ${code}`));
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { seconds: { type: 'string', default: '30' }, seed: { type: 'string' }, runs: { type: 'string' } } });
  const name = positionals[0];
  if (!name || (name !== 'all' && !TARGETS[name])) {
    console.error(`usage: npm run fuzz -- TARGET|all [--seconds N] [--seed S] [--runs N]\ntargets: ${Object.keys(TARGETS).join(', ')}`);
    process.exit(2);
  }
  const seconds = Number(values.seconds);
  const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
  let failed = false;
  for (const t of name === 'all' ? Object.keys(TARGETS) : [name]) {
    const r = await fuzzTarget(t, seconds, seed, 'fuzz-findings', values.runs !== undefined ? Number(values.runs) : undefined);
    console.log(`${t}: ${r.executions} executions in ${r.seconds.toFixed(1)} s (seed ${seed})${r.finding ? ` FINDING: ${r.finding}${r.saved ? ` (input saved to ${r.saved})` : ''}` : ', no findings'}`);
    if (r.finding) failed = true;
  }
  process.exit(failed ? 1 : 0);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*[\\/]/, ''))) await main();
