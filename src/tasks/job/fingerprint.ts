/**
 * What identifies a resumable job: its options and the content of its weights. Weights are hashed
 * (sha256) because a model directory can be re-fetched or re-converted under the same path; the
 * hashes are cached by path, size and mtime (`<cache>/hashes.json`), so a multi-GB file is read once.
 * Other inputs (genome, VCF, BED) are identified by path, size and mtime.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { findWeightsFile, TF_GAMMA_FILE } from '../../models/load.js';
import { writeAtomic, type Fingerprint } from './job-dir.js';

type HashCache = Record<string, string>;

function readCache(path: string): HashCache {
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return c && typeof c === 'object' && !Array.isArray(c) ? (c as HashCache) : {};
  } catch {
    return {};
  }
}

/** sha256 of a file's content, cached in `cacheFile` under its path, size and mtime. */
export async function sha256File(path: string, cacheFile?: string): Promise<string> {
  const full = resolve(path);
  const s = statSync(full);
  const key = `${full}\u0000${s.size}\u0000${s.mtimeMs}`;
  const cache = cacheFile ? readCache(cacheFile) : {};
  const known = cache[key];
  if (known) return known;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(full)) hash.update(chunk as Buffer);
  const hex = hash.digest('hex');
  if (cacheFile) {
    try {
      mkdirSync(dirname(cacheFile), { recursive: true });
      const now = readCache(cacheFile);
      // Entries of files that changed since are dropped: one entry per path.
      for (const k of Object.keys(now)) if (k.startsWith(`${full}\u0000`)) delete now[k];
      now[key] = hex;
      writeAtomic(cacheFile, JSON.stringify(now));
    } catch {
      // An unwritable cache only costs a re-hash next time.
    }
  }
  return hex;
}

/** The content hashes of a model directory's files that decide its outputs (config, weights, TF gamma table). */
export async function modelContent(dir: string, cacheFile?: string): Promise<Record<string, string>> {
  const files = [join(dir, 'config.json'), await findWeightsFile(dir)];
  if (existsSync(join(dir, TF_GAMMA_FILE))) files.push(join(dir, TF_GAMMA_FILE));
  const out: Record<string, string> = {};
  for (const f of files) out[f.slice(dir.length).replace(/^[\\/]+/, '')] = await sha256File(f, cacheFile);
  return out;
}

/** Path, size and mtime of a local file (a URL or a name that is not a file stays as given). */
export function fileIdentity(p: string | undefined): unknown {
  if (p === undefined) return undefined;
  if (/^https?:/i.test(p) || !existsSync(p)) return p;
  const s = statSync(p);
  return { path: resolve(p), size: s.size, mtime: s.mtimeMs };
}

/** The hash cache file under a cache directory. */
export const hashCacheFile = (cache: string) => join(cache, 'hashes.json');

/**
 * The layout of a job's scratch files (slot-file.ts; 2: several models' float64 sums kept by the
 * pass's parity): a staging directory written with another layout is not resumed but refused, its
 * fingerprint differing in this entry.
 */
const SCRATCH_LAYOUT = 2;

export function fingerprint(args: Record<string, unknown>): Fingerprint {
  const all = { ...args, 'scratch layout': SCRATCH_LAYOUT };
  return { hash: createHash('sha256').update(JSON.stringify(all)).digest('hex'), args: all };
}
