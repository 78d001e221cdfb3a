/**
 * Verified, resumable downloads. `probe` asks the server what the file is (without following redirects,
 * so the Hugging Face hub's `X-Linked-Size` / `X-Linked-Etag` — size and sha256 of an LFS file — are
 * seen; Google Cloud Storage reports `x-goog-hash: md5=…`). `download` writes into `<dest>.part`,
 * resuming an interrupted transfer with an HTTP Range request, then checks size and digest and only
 * then renames the file into place. A file that fails its check is deleted. The sha256 of every
 * download is computed (the caller records it; a digest pinned by the caller is checked first).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';

export class DownloadError extends Error {}

export interface RemoteFile {
  url: string;
  /** URL after redirects (where the bytes are). */
  location: string;
  size?: number;
  sha256?: string;
  md5?: string;
  /** The hub's `X-Repo-Commit`: the commit a branch name such as `main` resolved to. */
  commit?: string;
}

const MAX_REDIRECTS = 10;

function headerSize(v: string | null): number | undefined {
  if (v === null || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** HEAD without automatic redirects: collects size and digest headers along the way. Null on 404. */
export async function probe(url: string): Promise<RemoteFile | null> {
  let current = url;
  const info: RemoteFile = { url, location: url };
  for (let i = 0; i <= MAX_REDIRECTS; i++) {
    let r: Response;
    try {
      r = await fetch(current, { method: 'HEAD', redirect: 'manual', headers: { 'accept-encoding': 'identity' } });
    } catch (e) {
      throw new DownloadError(`${url}: cannot reach the server (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message})`);
    }
    const h = r.headers;
    info.size ??= headerSize(h.get('x-linked-size'));
    const linked = h.get('x-linked-etag');
    if (linked && !info.sha256) {
      const v = linked.replace(/^W\//, '').replace(/"/g, '');
      if (/^[0-9a-f]{64}$/i.test(v)) info.sha256 = v.toLowerCase();
    }
    const commit = h.get('x-repo-commit');
    if (commit && !info.commit && /^[0-9a-f]{40}$/i.test(commit)) info.commit = commit.toLowerCase();
    const goog = h.get('x-goog-hash');
    if (goog && !info.md5) {
      const m = /md5=([A-Za-z0-9+/=]+)/.exec(goog);
      if (m) info.md5 = Buffer.from(m[1]!, 'base64').toString('hex');
    }
    if (r.status >= 300 && r.status < 400 && h.get('location')) {
      current = new URL(h.get('location')!, current).toString();
      continue;
    }
    if (r.status === 404) return null;
    if (!r.ok) throw new DownloadError(`${url}: HTTP ${r.status} ${r.statusText}`);
    info.location = current;
    info.size ??= headerSize(h.get('x-goog-stored-content-length')) ?? headerSize(h.get('content-length'));
    return info;
  }
  throw new DownloadError(`${url}: too many redirects`);
}

export interface DownloadOptions {
  onProgress?: (done: number, total: number | undefined) => void;
  /** Attempts, each resuming where the previous stopped (default 5). */
  attempts?: number;
  /** The sha256 the file must have (pinned by the caller, e.g. the model registry); checked before the server's. */
  expectedSha256?: string;
}

export interface Downloaded {
  /** sha256 of the bytes written, always computed. */
  sha256: string;
  md5?: string;
}

/** sha256 (and md5 where wanted) in one pass over the file. */
async function digests(path: string, md5: boolean): Promise<Downloaded> {
  const sha = createHash('sha256');
  const md = md5 ? createHash('md5') : undefined;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
    sha.update(chunk as Buffer);
    md?.update(chunk as Buffer);
  }
  return { sha256: sha.digest('hex'), md5: md?.digest('hex') };
}

/** Downloads `remote` to `dest` (via `dest.part`, resumable) and verifies its size and digest. */
export async function download(remote: RemoteFile, dest: string, options: DownloadOptions = {}): Promise<Downloaded> {
  const part = `${dest}.part`;
  const attempts = options.attempts ?? 5;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const have = existsSync(part) ? statSync(part).size : 0;
    if (remote.size !== undefined && have === remote.size) break;
    if (remote.size !== undefined && have > remote.size) {
      await rm(part, { force: true });
      continue;
    }
    try {
      await transfer(remote, part, have, options);
      lastError = undefined;
      break;
    } catch (e) {
      lastError = e;
      if (e instanceof DownloadError && e.message.includes('HTTP 4')) break;
    }
  }
  if (lastError) throw lastError instanceof DownloadError ? lastError : new DownloadError(`${remote.url}: download failed (${(lastError as Error).message}); rerun to resume`);
  const size = statSync(part).size;
  if (remote.size !== undefined && size !== remote.size) {
    throw new DownloadError(`${remote.url}: got ${size} bytes, the server reports ${remote.size}; rerun to resume`);
  }
  const got = await digests(part, remote.md5 !== undefined && remote.sha256 === undefined);
  const pinned = options.expectedSha256?.toLowerCase();
  if (pinned && got.sha256 !== pinned) {
    await rm(part, { force: true });
    throw new DownloadError(`${remote.url}: sha256 mismatch: expected ${pinned} (pinned), found ${got.sha256}; the download was deleted`);
  }
  const checks: ['sha256' | 'md5', string | undefined, string][] = [];
  if (remote.sha256) checks.push(['sha256', got.sha256, remote.sha256]);
  else if (remote.md5) checks.push(['md5', got.md5, remote.md5]);
  for (const [algorithm, have, want] of checks) {
    if (have !== want) {
      await rm(part, { force: true });
      throw new DownloadError(`${remote.url}: ${algorithm} mismatch (got ${have}, the server reports ${want}); the corrupt download was deleted`);
    }
  }
  await rename(part, dest);
  return got;
}

async function transfer(remote: RemoteFile, part: string, from: number, options: DownloadOptions): Promise<void> {
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (from > 0) headers.range = `bytes=${from}-`;
  let r: Response;
  try {
    r = await fetch(remote.location, { headers, redirect: 'follow' });
  } catch (e) {
    throw new Error((e as Error & { cause?: Error }).cause?.message ?? (e as Error).message);
  }
  if (r.status === 416 && remote.size !== undefined && from === remote.size) return;
  if (!r.ok) throw new DownloadError(`${remote.url}: HTTP ${r.status} ${r.statusText}`);
  // A server that ignores Range sends the whole file again: start over.
  const resume = from > 0 && r.status === 206;
  const handle = await open(part, resume ? 'a' : 'w');
  let done = resume ? from : 0;
  try {
    if (!r.body) throw new Error('empty response body');
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      await handle.write(chunk);
      done += chunk.length;
      options.onProgress?.(done, remote.size);
    }
  } finally {
    await handle.close();
  }
}
