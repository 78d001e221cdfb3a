/** `seq2track weights convert | fetch | list`. */
import { convertModel, type ConvertOptions } from '../tasks/model-store/convert-model.js';
import { PUBLISHED_MODELS, cacheRoot, cachedModelDir, fetchModel, listCached, resolveModel, type RegistryOptions } from '../tasks/model-store/registry.js';

const say = (line: string) => process.stderr.write(`seq2track: ${line}\n`);

/** Download progress on stderr, only on a terminal. */
/** `--model NAME|DIR` to a model directory, fetching a published model on first use (progress on stderr). */
export async function resolveModelArg(model: string, cacheDir?: string): Promise<string> {
  const download = downloadProgress();
  try {
    return await resolveModel(model, {
      cacheDir,
      log: (line) => process.stderr.write(`seq2track: ${line}\n`),
      onProgress: download.onProgress,
    });
  } finally {
    download.done();
  }
}

export function downloadProgress(): { onProgress: RegistryOptions['onProgress']; done: () => void } {
  const tty = process.stderr.isTTY === true;
  let active = false;
  let last = 0;
  return {
    onProgress: (file, done, total) => {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100 && done !== total) return;
      last = now;
      active = true;
      const mb = (n: number) => (n / 1e6).toFixed(1);
      if (total) {
        const width = 30;
        const filled = Math.round((done / total) * width);
        process.stderr.write(`\r\x1b[K${file} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${mb(done)}/${mb(total)} MB`);
      } else process.stderr.write(`\r\x1b[K${file} ${mb(done)} MB`);
    },
    done: () => {
      if (active) process.stderr.write('\r\x1b[K');
      active = false;
    },
  };
}

export type ConvertArgs = Pick<ConvertOptions, 'input' | 'out' | 'config' | 'weights' | 'graftMouseHead' | 'species' | 'gammaTable' | 'force'>;

export async function runConvert(args: ConvertArgs): Promise<void> {
  const started = Date.now();
  const r = await convertModel({ ...args, log: say });
  say(`converted ${r.source} (${r.format}) -> ${r.out}: ${r.kind}, heads ${r.heads.join(', ')}, ${r.tensors} tensors, verified, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (r.graft) say(`caveat: grafted mouse head: ${r.graft.caveat} (recorded in ${r.out}/graft.json)`);
}

export async function runFetch(names: string[], options: { cacheDir?: string; force?: boolean; revision?: string }): Promise<void> {
  for (const name of names) {
    const progress = downloadProgress();
    try {
      const dir = cachedModelDir(name, options);
      if (dir && !options.force) {
        say(`${name} is cached: ${dir}`);
        continue;
      }
      const out = await fetchModel(name, { ...options, log: say, onProgress: progress.onProgress });
      process.stdout.write(`${out}\n`);
    } finally {
      progress.done();
    }
  }
}

export function runList(options: { cacheDir?: string; all?: boolean }): void {
  const cached = listCached(options);
  const byName = new Map(cached.map((c) => [c.name, c]));
  const rows: string[] = [];
  for (const m of PUBLISHED_MODELS) {
    const c = byName.get(m.name);
    if (!c && !options.all) continue;
    rows.push(`${m.name}\t${c ? `cached\t${(c.bytes / 1e6).toFixed(1)} MB\t${c.dir}` : 'not cached\t-\t-'}\t${m.description}`);
  }
  for (const c of cached) if (!c.known) rows.push(`${c.name}\tcached\t${(c.bytes / 1e6).toFixed(1)} MB\t${c.dir}\t(not a published name)`);
  process.stdout.write(`# cache: ${cacheRoot(options)}\n`);
  if (rows.length === 0) process.stdout.write(`# nothing cached; see all names with: seq2track weights list --all\n`);
  else process.stdout.write(`name\tstatus\tsize\tdir\tdescription\n${rows.join('\n')}\n`);
}
