/**
 * A file read over HTTP(S) by range requests, every request through `retryingFetch` (timeouts,
 * retries with backoff): generic-filehandle2's RemoteFile for readers that seek (tabix), and
 * `chunks()` for readers that stream a whole file (VCF) with bounded memory. The responses' size and
 * validators (ETag, Last-Modified) identify the file's version for job fingerprints; a file whose
 * validators change between two requests is an error rather than a mix of two versions.
 */
import { RemoteFile } from 'generic-filehandle2';
import { HttpReadError, retryingFetch } from './http-retry.js';

/** What identifies the version of a remote file (for fingerprints). */
export interface RemoteIdentity {
  url: string;
  size?: number;
  etag?: string;
  lastModified?: string;
}

/** Bytes per range request when streaming a whole file. */
export const STREAM_CHUNK_BYTES = 1 << 20;

export class RetryingRemoteFile {
  readonly file: RemoteFile;
  private etag: string | undefined;
  private lastModified: string | undefined;
  private size: number | undefined;

  constructor(readonly url: string) {
    const fetch = retryingFetch();
    this.file = new RemoteFile(url, {
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        if (res.ok) this.note(res);
        return res;
      },
    });
  }

  private note(res: Response): void {
    const etag = res.headers.get('etag') ?? undefined;
    const lastModified = res.headers.get('last-modified') ?? undefined;
    const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
    const size = total !== undefined ? Number(total) : undefined;
    const changed = (a: unknown, b: unknown) => a !== undefined && b !== undefined && a !== b;
    if (changed(this.etag, etag) || changed(this.lastModified, lastModified) || changed(this.size, size)) {
      throw new HttpReadError(this.url, 'the file changed on the server while it was being read');
    }
    this.etag ??= etag;
    this.lastModified ??= lastModified;
    this.size ??= size;
  }

  /** Reads `length` bytes at `position` (fewer at the end of the file). */
  read(length: number, position: number): Promise<Uint8Array> {
    return this.file.read(length, position);
  }

  /** The whole file, `chunkBytes` per request, in order. */
  async *chunks(chunkBytes = STREAM_CHUNK_BYTES): AsyncGenerator<Uint8Array> {
    for (let at = 0; ; ) {
      const b = await this.file.read(chunkBytes, at);
      if (b.length > 0) yield b;
      at += b.length;
      if (b.length < chunkBytes || (this.size !== undefined && at >= this.size)) return;
    }
  }

  /** Size and validators seen so far (call after a first read). */
  identity(): RemoteIdentity {
    return { url: this.url, size: this.size, etag: this.etag, lastModified: this.lastModified };
  }
}

/**
 * Whether `url` is there: a one-byte range request answered 2xx (true) or 4xx (false). A server
 * that keeps failing (5xx, resets, timeouts) is an HttpReadError, not a missing file.
 */
export async function urlExists(url: string): Promise<boolean> {
  const res = await retryingFetch()(url, { headers: { range: 'bytes=0-0' } });
  if (res.ok) return true;
  if (res.status >= 400 && res.status < 500) return false;
  throw new HttpReadError(url, `HTTP ${res.status}`);
}

/** A remote read's failure as one short phrase: the retrying reader's cause, without the URL repeated. */
export function remoteFailure(e: unknown): string {
  for (let c: unknown = e; c instanceof Error; c = (c as Error & { cause?: unknown }).cause) {
    if (c instanceof HttpReadError) return c.detail;
  }
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/ fetching \S+$/, '').replace(/[\r\n]+/g, ' ');
}
