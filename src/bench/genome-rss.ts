/**
 * Peak RSS of `predict --genome` against region length (the streaming job's memory must not grow
 * with it): a random genome with one 4.2 Mb chromosome, the fixture Enformer with all its tracks,
 * regions of 0.25, 1 and 4 Mb, each written as bigWigs and as TSV, each run in its own process.
 *   npm run bench -- genome-rss [MODEL_DIR] [--lengths 250000,1000000,4000000] [--outputs bigwig,tsv] [--threads 1]
 * Peak RSS is the CLI process's getrusage maxRSS (worker threads included), reported at exit.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomChromosome } from './xorshift.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
// Prints the process's peak RSS as it exits (the CLI ends with process.exit on failure, or returns).
const REPORT = `data:text/javascript,process.on('exit',()=>process.stderr.write('PEAK_RSS_KB='+process.resourceUsage().maxRSS+'\\n'))`;

export async function benchGenomeRss(options: { model: string; lengths: number[]; threads: number; outputs: string[] }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'seq2track-rss-'));
  try {
    const size = Math.max(...options.lengths) + 200_000;
    const seq = randomChromosome(size, 11);
    const lines: string[] = [];
    for (let i = 0; i < size; i += 60) lines.push(seq.slice(i, i + 60));
    writeFileSync(join(dir, 'g.fa'), `>chrR\n${lines.join('\n')}\n`);
    writeFileSync(join(dir, 'g.fa.fai'), `chrR\t${size}\t6\t60\t61\n`);
    console.log(`genome-rss: model ${options.model}, threads ${options.threads}`);
    for (const kind of options.outputs.map((o) => (o === 'bigwig' ? 'bw/' : o))) {
      for (const length of options.lengths) {
        const out = join(dir, kind === 'bw/' ? `out-${length}/` : `out-${length}.tsv`);
        const args = ['--import', REPORT, CLI, 'predict', '--model', options.model, '--genome', join(dir, 'g.fa'), '--region', `chrR:100001-${100_000 + length}`, '--threads', String(options.threads), '--out', out];
        const t0 = performance.now();
        const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
        const seconds = (performance.now() - t0) / 1000;
        if (r.status !== 0) throw new Error(`predict failed: ${r.stderr}`);
        const kb = Number(/PEAK_RSS_KB=(\d+)/.exec(r.stderr)?.[1]);
        const summary = r.stderr.split('\n').find((l) => l.includes('predicted')) ?? '';
        const windows = /\((\d+) windows?/.exec(summary)?.[1];
        console.log(`${kind === 'bw/' ? 'bigWig' : 'TSV   '} ${(length / 1e6).toFixed(2)} Mb: ${windows} windows, ${seconds.toFixed(1)} s, peak RSS ${(kb / 1024).toFixed(0)} MB`);
        console.log(`RESULT mode=genome-rss output=${kind === 'bw/' ? 'bigwig' : 'tsv'} region_bp=${length} windows=${windows} seconds=${seconds.toFixed(1)} peak_rss_mb=${(kb / 1024).toFixed(0)}`);
        rmSync(out, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
