/**
 * `--model NAME|DIR`: a directory is used as is. Anything that looks like a path (it has a path
 * separator or starts with '.') is also passed on as is, so loading reports what is wrong with it.
 * A bare name is a published model name; those resolve through the weights cache (`seq2track
 * weights fetch`).
 */
import { stat } from 'node:fs/promises';
import { sep } from 'node:path';

export class UnknownModelError extends Error {}

export async function resolveModelDir(nameOrDir: string): Promise<string> {
  try {
    if ((await stat(nameOrDir)).isDirectory()) return nameOrDir;
  } catch {
    // not there: decide below
  }
  if (nameOrDir.includes('/') || nameOrDir.includes(sep) || nameOrDir.startsWith('.')) return nameOrDir;
  throw new UnknownModelError(`unknown model ${nameOrDir} (not a directory); published names need \`seq2track weights fetch\``);
}
