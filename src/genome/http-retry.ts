/**
 * HTTP reads that survive flaky servers: each request gets a timeout (headers and body), and
 * transient failures (connection errors, resets, timeouts, 408/429/5xx, a body shorter than its
 * Content-Length) are retried with exponential backoff and jitter. The body is read whole before
 * it is handed on, so a truncated range never reaches a parser. What still fails after the last
 * attempt is one line naming the URL, the cause and the attempts.
 *
 * Defaults: 5 attempts, 30 s per attempt, backoff 0.5 s × 2^k (±25 %); SEQ2TRACK_HTTP_RETRIES and
 * SEQ2TRACK_HTTP_TIMEOUT_MS override them (tests use short ones).
 */
export class HttpReadError extends Error {
  constructor(
    readonly url: string,
    /** The cause and the attempts, without the URL (for messages that name the URL already). */
    readonly detail: string,
  ) {
    super(`${url}: ${detail}`);
  }
}

export const isHttpUrl = (s: string) => /^https?:\/\//i.test(s);

export interface RetryOptions {
  attempts?: number;
  timeoutMs?: number;
  backoffMs?: number;
}

const TRANSIENT_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

function defaults(o: RetryOptions): Required<RetryOptions> {
  const env = (name: string) => (process.env[name] !== undefined && Number.isFinite(Number(process.env[name])) ? Number(process.env[name]) : undefined);
  return {
    attempts: Math.max(1, o.attempts ?? env('SEQ2TRACK_HTTP_RETRIES') ?? 5),
    timeoutMs: o.timeoutMs ?? env('SEQ2TRACK_HTTP_TIMEOUT_MS') ?? 30_000,
    backoffMs: o.backoffMs ?? (env('SEQ2TRACK_HTTP_TIMEOUT_MS') !== undefined ? 50 : 500),
  };
}

function cause(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'timed out';
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
}

/** A fetch with timeouts and retries, for generic-filehandle2's RemoteFile and other readers. */
export function retryingFetch(options: RetryOptions = {}): typeof fetch {
  const o = defaults(options);
  return async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    let last = '';
    for (let attempt = 1; attempt <= o.attempts; attempt++) {
      if (attempt > 1) {
        const delay = o.backoffMs * 2 ** (attempt - 2) * (0.75 + Math.random() * 0.5);
        await new Promise((r) => setTimeout(r, delay));
      }
      const signal = init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(o.timeoutMs)]) : AbortSignal.timeout(o.timeoutMs);
      try {
        const res = await fetch(input, { ...init, signal });
        if (TRANSIENT_STATUS.has(res.status)) {
          last = `HTTP ${res.status}`;
          await res.body?.cancel().catch(() => {});
          continue;
        }
        const body = await res.arrayBuffer();
        const declared = res.headers.get('content-length');
        if (declared !== null && Number(declared) !== body.byteLength && !res.headers.get('content-encoding')) {
          last = `truncated body (${body.byteLength} of ${declared} bytes)`;
          continue;
        }
        return new Response(res.status === 204 || res.status === 304 ? null : body, { status: res.status, statusText: res.statusText, headers: res.headers });
      } catch (e) {
        if (init?.signal?.aborted) throw e;
        last = cause(e);
      }
    }
    throw new HttpReadError(url, `${last} (gave up after ${o.attempts} attempt${o.attempts === 1 ? '' : 's'})`);
  };
}
