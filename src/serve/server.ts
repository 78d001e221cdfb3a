/**
 * The page's web server: the built page (dist/web) and model directories at /models/NAME/, with the
 * headers that make the page cross-origin isolated (COOP same-origin + COEP require-corp, CORP on
 * every response) so onnxruntime-web can use WASM threads. Model files answer HTTP range requests,
 * which is how the page's engine worker reads weights piece by piece.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export class ServeError extends Error {}

/** Where `npm run build:web` puts the page, beside this module's dist/ folder. */
export const PAGE_DIR = fileURLToPath(new URL('../web/', import.meta.url));

export interface ServeOptions {
  port?: number;
  host?: string;
  /** Model directories by the name they are served under. */
  models?: Record<string, string>;
  /** The built page (default: dist/web). */
  pageDir?: string;
}

export interface RunningServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Parses `--model NAME=DIR` values. */
export function parseModelArg(value: string): [string, string] {
  const i = value.indexOf('=');
  const name = i > 0 ? value.slice(0, i) : '';
  const dir = value.slice(i + 1);
  if (!MODEL_NAME.test(name) || dir === '') throw new ServeError(`--model ${value}: write NAME=DIR (NAME of letters, digits, . _ -)`);
  return [name, dir];
}

/** `path` inside `root`, or undefined when the URL path tries to leave it. */
function inside(root: string, urlPath: string): string | undefined {
  const full = resolve(root, '.' + urlPath);
  return full === resolve(root) || full.startsWith(resolve(root) + sep) ? full : undefined;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { ...ISOLATION, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

async function sendFile(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) return send(res, 404, 'not found\n');
    size = s.size;
  } catch {
    return send(res, 404, 'not found\n');
  }
  const headers: Record<string, string | number> = {
    ...ISOLATION,
    'Content-Type': TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'no-cache',
  };
  const range = req.headers.range;
  let start = 0;
  let end = size - 1;
  let status = 200;
  if (range !== undefined) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (!m || (m[1] === '' && m[2] === '')) return send(res, 416, 'only single byte ranges are supported\n');
    if (m[1] === '') start = Math.max(0, size - Number(m[2]));
    else {
      start = Number(m[1]);
      if (m[2] !== '') end = Math.min(end, Number(m[2]));
    }
    if (start >= size || start > end) {
      res.writeHead(416, { ...ISOLATION, 'Content-Range': `bytes */${size}` });
      return void res.end();
    }
    status = 206;
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['Content-Length'] = end - start + 1;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || end < start) return void res.end();
  const stream = createReadStream(path, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** Starts the server; resolves once it listens (port 0: a free port). */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const pageDir = options.pageDir ?? PAGE_DIR;
  const models = new Map<string, { dir: string; files: string[] }>();
  for (const [name, dir] of Object.entries(options.models ?? {})) {
    if (!MODEL_NAME.test(name)) throw new ServeError(`model name '${name}': use letters, digits, . _ -`);
    let files: string[];
    try {
      files = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort();
    } catch (e) {
      throw new ServeError(`--model ${name}=${dir}: cannot read the model directory (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    models.set(name, { dir: resolve(dir), files });
  }
  try {
    await stat(join(pageDir, 'index.html'));
  } catch {
    throw new ServeError(`${pageDir}: the page is not built (run npm run build:web)`);
  }
  const index = JSON.stringify([...models].map(([name, m]) => ({ name, files: m.files })));

  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return send(res, 400, 'bad URL\n');
    }
    if (path === '/models/index.json') return send(res, 200, index, TYPES['.json']);
    const m = /^\/models\/([^/]+)\/(.*)$/.exec(path);
    if (m) {
      const model = models.get(m[1]!);
      const file = model && inside(model.dir, `/${m[2]}`);
      if (!file) return send(res, 404, 'not found\n');
      return void sendFile(req, res, file);
    }
    const file = inside(pageDir, path.endsWith('/') ? `${path}index.html` : path);
    if (!file) return send(res, 404, 'not found\n');
    return void sendFile(req, res, file);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => fail(new ServeError(`cannot listen on ${host}:${options.port ?? 8080} (${e.code ?? e.message})`)));
    server.listen(options.port ?? 8080, host, () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
