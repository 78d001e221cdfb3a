/**
 * Runs one fuzz target in a worker thread (so the parent can stop a hang and cap the heap):
 * fast-check mutates the target's seeds until the time budget is spent, writing each input to
 * `current.bin` first so a hang or a crash leaves it behind. Posts heartbeats and the result.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { TARGETS } from './targets.js';

interface Job {
  target: string;
  seconds: number;
  seed: number;
  current: string;
  /** Stop after this many inputs (default: when the time is up). */
  runs?: number;
}

/** JavaScript's bug signals, and a target's own `ContractViolation` (an untyped error, an error not naming the input, an invalid result). */
const BUG_SIGNALS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'EvalError', 'URIError', 'InternalError', 'ContractViolation']);

/** Why an outcome breaks the invariant, or undefined when it is a clean result or one-line error. */
export function violation(e: unknown): string | undefined {
  if (!(e instanceof Error)) return `threw a non-Error value: ${String(e)}`;
  if (BUG_SIGNALS.has(e.constructor.name) || BUG_SIGNALS.has(e.name)) return `${e.name}: ${e.message}`;
  if (e.message.trim() === '') return `${e.name} with an empty message`;
  if (/[\r\n]/.test(e.message)) return `a multi-line message: ${JSON.stringify(e.message.slice(0, 200))}`;
  return undefined;
}

/** Byte-level mutations of a seed: flips, overwrites with interesting bytes, inserts, deletes, truncation, splices. */
function mutated(seeds: Buffer[]): fc.Arbitrary<Buffer> {
  const interesting = [0x00, 0xff, 0x7f, 0x80, 0x0a, 0x09, 0x2c, 0x3a, 0x2d, 0x3e, 0x22, 0x7b, 0x5b, 0x30, 0x39];
  const op = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), byte: fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 255 })) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.uint8Array({ maxLength: 16 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({ kind: fc.constant('repeat' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1, max: 32 }), times: fc.integer({ min: 2, max: 64 }) }),
  );
  return fc.tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(op, { minLength: 1, maxLength: 6 })).map(([i, ops]) => {
    let b = Buffer.from(seeds[i]!);
    for (const o of ops) {
      const at = Math.min(b.length, Math.floor(o.at * (b.length + 1)));
      if (o.kind === 'flip' && at < b.length) b[at] ^= 1 << o.bit;
      else if (o.kind === 'set' && at < b.length) b[at] = o.byte;
      else if (o.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(o.bytes), b.subarray(at)]);
      else if (o.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + o.length)]);
      else if (o.kind === 'truncate') b = b.subarray(0, at);
      else if (o.kind === 'repeat') b = Buffer.concat([b.subarray(0, at), ...Array<Buffer>(o.times).fill(b.subarray(at, at + o.length)), b.subarray(at)]);
    }
    return b;
  });
}

async function main(job: Job): Promise<void> {
  const target = TARGETS[job.target]!;
  const dir = mkdtempSync(join(tmpdir(), `seq2track-fuzz-${job.target}-`));
  let executions = 0;
  try {
    const seeds = await target.seeds(dir);
    for (const s of seeds) {
      // Seeds parse, or fail cleanly only where the format is checked deeper than the seed goes (Keras layout).
      await target.run(s, dir).catch((e: unknown) => {
        const why = violation(e);
        if (why) throw new Error(`seed: ${why}`);
      });
    }
    const result = await fc.check(
      fc.asyncProperty(mutated(seeds), async (input) => {
        writeFileSync(job.current, input);
        executions++;
        if (executions % 50 === 0) parentPort!.postMessage({ type: 'beat', executions });
        try {
          await target.run(input, dir);
        } catch (e) {
          const why = violation(e);
          if (why) throw new Error(why);
        }
      }),
      { numRuns: job.runs ?? Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: job.seconds * 1000, markInterruptAsFailure: false, seed: job.seed, endOnFailure: true },
    );
    if (result.failed) {
      const input = result.counterexample?.[0] as Buffer | undefined;
      if (input) writeFileSync(job.current, input);
      const message = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
      parentPort!.postMessage({ type: 'done', executions, finding: message.split('\n')[0], seed: job.seed });
    } else parentPort!.postMessage({ type: 'done', executions });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (parentPort && workerData) {
  main(workerData as Job).catch((e) => parentPort!.postMessage({ type: 'done', executions: 0, finding: `harness: ${(e as Error).stack ?? e}` }));
}
