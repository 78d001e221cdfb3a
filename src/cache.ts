/** Where downloaded upstream data (weights, targets tables) is cached. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `explicit`, else `$SEQ2TRACK_CACHE`, else `$XDG_CACHE_HOME/seq2track`, else `~/.cache/seq2track`. */
export function cacheDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  if (env.SEQ2TRACK_CACHE) return env.SEQ2TRACK_CACHE;
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && xdg.trim() !== '' ? xdg : join(homedir(), '.cache'), 'seq2track');
}
