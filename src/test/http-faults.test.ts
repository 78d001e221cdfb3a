/**
 * Remote genome reads against a fault-injecting server on 127.0.0.1: connection resets, 5xx, slow
 * responses past the timeout and truncated bodies. Reads retry and return exactly the local bytes;
 * a server that keeps failing ends in one clear line naming the URL and the cause.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openGenome } from '../genome/reference.js';
import { randomGenome, writeFastaFai, writeTwoBit } from './genome-files.js';
import { tempDir } from './fixtures.js';

type Fault = 'reset' | '503' | 'slow' | 'truncate' | 'ok';

let tmp: { dir: string; cleanup: () => void };
let server: Server;
let base = '';
let plan: Fault[] = [];
let always: Fault | undefined;
const seen: Fault[] = [];
const genome = randomGenome({ chr1: 5_000, chr2: 777 }, 3);

before(async () => {
  tmp = tempDir('seq2track-http-faults-');
  writeFastaFai(join(tmp.dir, 'g.fa'), genome);
  writeTwoBit(join(tmp.dir, 'g.2bit'), genome);
  process.env.SEQ2TRACK_HTTP_TIMEOUT_MS = '400';
  process.env.SEQ2TRACK_HTTP_RETRIES = '6';
  server = createServer((req, res) => {
    const fault = always ?? plan.shift() ?? 'ok';
    seen.push(fault);
    const data = readFileSync(join(tmp.dir, new URL(req.url ?? '/', 'http://x').pathname));
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m ? Math.min(data.length - 1, m[2] ? Number(m[2]) : data.length - 1) : data.length - 1;
    const body = data.subarray(start, end + 1);
    const headers = { 'content-length': body.length, 'accept-ranges': 'bytes', ...(m ? { 'content-range': `bytes ${start}-${end}/${data.length}` } : {}) };
    if (fault === 'reset') return req.socket.destroy();
    if (fault === '503') return void res.writeHead(503).end('busy');
    if (fault === 'slow') return void setTimeout(() => res.writeHead(m ? 206 : 200, headers).end(body), 1500).unref();
    if (fault === 'truncate') {
      res.writeHead(m ? 206 : 200, headers);
      res.write(body.subarray(0, Math.floor(body.length / 2)));
      return void setTimeout(() => req.socket.destroy(), 20);
    }
    res.writeHead(m ? 206 : 200, headers).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  delete process.env.SEQ2TRACK_HTTP_TIMEOUT_MS;
  delete process.env.SEQ2TRACK_HTTP_RETRIES;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  tmp.cleanup();
});

for (const file of ['g.fa', 'g.2bit']) {
  test(`http faults (${file}): resets, 5xx, slow and truncated responses are retried; the bases equal the local file's`, async () => {
    always = undefined;
    seen.length = 0;
    // Every request's first attempt fails, in turn with each kind of fault.
    const faults: Fault[] = ['reset', '503', 'slow', 'truncate'];
    plan = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? faults[(i / 2) % faults.length]! : 'ok'));
    const remote = await openGenome(`${base}/${file}`);
    const local = await openGenome(join(tmp.dir, file));
    for (const [chrom, a, b] of [['chr1', 0, 5000], ['chr1', 1234, 1300], ['chr2', -10, 800]] as const) {
      assert.equal(await remote.getSequence(chrom, a, b), await local.getSequence(chrom, a, b), `${chrom}:${a}-${b}`);
    }
    for (const f of faults) assert.ok(seen.includes(f), `fault ${f} was injected`);
  });
}

test('http faults: a server that keeps failing is one clear error naming the URL and cause', async () => {
  for (const [fault, cause] of [['503', /HTTP 503/], ['reset', /ECONNRESET|socket|other side closed|terminated/i], ['slow', /timed out/]] as const) {
    always = fault;
    const started = Date.now();
    await assert.rejects(openGenome(`${base}/g.2bit`), (e: Error) => {
      assert.match(e.message, new RegExp(`${base.replace(/[.]/g, '\\.')}/g\\.2bit.*gave up after 6 attempts`));
      assert.match(e.message, cause);
      assert.doesNotMatch(e.message, /[\r\n]/);
      return true;
    });
    assert.ok(Date.now() - started < 20_000, 'bounded by timeouts and backoff');
  }
  always = undefined;
});
