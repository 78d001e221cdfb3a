/**
 * Targets tables (the `targets_*.txt` files that name each output track of a head) read from files
 * and URLs; the format, parsing and track selection are in track-selection.ts.
 *
 * A table is tab-separated with a header row. Enformer's (basenji cross2020) columns are
 * index, genome, identifier, file, clip, scale, sum_stat, description; Borzoi's have an unnamed
 * first index column and a `strand_pair` column (the index of the opposite-strand twin of a
 * stranded track). Row i of a table is output track i of its head; the `index` column (which counts
 * on across heads in Enformer's mouse table, from 5313) is only used to resolve `strand_pair`.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { cacheDir } from '../cache.js';
import { retryingFetch } from '../genome/http-retry.js';
import { remoteFailure } from '../genome/remote-file.js';
import { parseTargets, TargetsError, type TargetsTable } from './track-selection.js';

export * from './track-selection.js';

/** Reads a table from a file, or from a URL through the cache (fetched once). */
export async function readTargets(location: string, cache = cacheDir()): Promise<TargetsTable> {
  if (!/^https?:\/\//i.test(location)) {
    let text: string;
    try {
      text = await readFile(location, 'utf8');
    } catch (e) {
      throw new TargetsError(`${location}: cannot read targets table (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    return parseTargets(text, location);
  }
  const dir = join(cache, 'targets');
  const name = createHash('sha256').update(location).digest('hex').slice(0, 16) + '-' + (location.split('/').pop() || 'targets.txt');
  const path = join(dir, name);
  try {
    return parseTargets(await readFile(path, 'utf8'), location);
  } catch {
    // not cached yet (or a bad cached copy): fetch
  }
  let text: string;
  try {
    // Timeouts and retries on transient failures, as for remote genomes.
    const r = await retryingFetch()(location);
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    text = await r.text();
  } catch (e) {
    throw new TargetsError(`${location}: cannot fetch targets table (${remoteFailure(e)}); download it and pass --targets FILE`);
  }
  const table = parseTargets(text, location);
  await mkdir(dir, { recursive: true });
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
  return table;
}
