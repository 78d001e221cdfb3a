/**
 * `weights fetch` against a local server (127.0.0.1, random port) that serves the format fixtures in the
 * layouts of the real sources: the Hugging Face hub (`/<repo>/resolve/main/<file>`; LFS files answer HEAD
 * with a 302 and X-Linked-Size / X-Linked-Etag = sha256, the bytes come from `/cdn/<sha256>` with Range
 * support), the Borzoi bucket (`x-goog-hash: md5=…`) and GitHub raw (enformer-pytorch's tf_gammas.pt, made
 * here with torch.save's layout). Never the internet: every base URL points at this server.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fetchModel, resolveModel, type RegistryOptions } from '../tasks/model-store/registry.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { compare, fixture, fixturePath, skipUnless, tempDir } from './fixtures.js';
import { expectSameTensors, runCli, torchSaveTensor } from './weights-helpers.js';

const skip = skipUnless('formats') || skipUnless('tf-gamma');

interface Served {
  data: Buffer;
  /** LFS-style: HEAD redirects to the CDN with X-Linked-* headers. */
  lfs?: boolean;
  /** Google bucket style md5 header. */
  md5?: boolean;
  /** Serve these bytes instead (a corrupted copy), while reporting the digest of `data`. */
  corrupt?: boolean;
  /** Drop the connection half-way through the first full GET. */
  interruptOnce?: boolean;
}

const files = new Map<string, Served>();
const cdn = new Map<string, Served>();
const requests: { method: string; url: string; range?: string }[] = [];
let server: Server;
let base = '';
let tmp: { dir: string; cleanup: () => void };

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const cdnPath = (url: string, s: Served) => `/cdn/${sha256(Buffer.from(url)).slice(0, 8)}/${sha256(s.data)}`;

function serve(res: import('node:http').ServerResponse, method: string, s: Served, range: string | undefined) {
  const body = s.corrupt ? Buffer.from(s.data).fill(0x41, 1000, 1010) : s.data;
  const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
  const start = m ? Number(m[1]) : 0;
  const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
  if (s.md5) headers['x-goog-hash'] = `crc32c=AAAAAA==,md5=${createHash('md5').update(s.data).digest('base64')}`;
  if (start >= body.length && m) {
    res.writeHead(416, headers).end();
    return;
  }
  const part = body.subarray(start);
  headers['content-length'] = part.length;
  if (m) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
  res.writeHead(m ? 206 : 200, headers);
  if (method === 'HEAD') return void res.end();
  if (s.interruptOnce && !m) {
    s.interruptOnce = false;
    res.write(part.subarray(0, part.length >> 1), () => setTimeout(() => res.destroy(), 20));
    return;
  }
  res.end(part);
}

before(async () => {
  tmp = tempDir('seq2track-fetch-');
  if (skip) return;
  const f = (name: string, file: string) => readFileSync(fixturePath('formats', name, file));
  const hub = (repo: string, file: string, s: Served) => files.set(`/${repo}/resolve/main/${file}`, s);
  hub('johahi/borzoi-replicate-0', 'config.json', { data: f('borzoi-small', 'config.json') });
  hub('johahi/borzoi-replicate-0', 'pytorch_model.bin', { data: f('borzoi-small', 'pytorch_model.bin'), lfs: true, interruptOnce: true });
  hub('johahi/borzoi-replicate-1', 'config.json', { data: f('borzoi-small', 'config.json') });
  hub('johahi/borzoi-replicate-1', 'pytorch_model.bin', { data: f('borzoi-small', 'pytorch_model.bin'), lfs: true, corrupt: true });
  hub('EleutherAI/enformer-official-rough', 'config.json', { data: f('enformer-small', 'config.json') });
  hub('EleutherAI/enformer-official-rough', 'pytorch_model.bin', { data: f('enformer-small', 'pytorch_model.bin'), lfs: true });
  for (const k of [0]) {
    files.set(`/gcs/f${k}/model0_best.h5`, { data: f('borzoi-small', 'model0_best.h5'), md5: true });
    files.set(`/gcs/f${k}/model1_best.h5`, { data: f('borzoi-small', 'model1_best.h5'), md5: true });
  }
  const gammas = await SafetensorsFile.open(fixturePath('tf-gamma', 'tf_gammas.safetensors'));
  files.set('/gh/lucidrains/enformer-pytorch/5a5974d2821c728f93294731c50b55f1f55fd86d/enformer_pytorch/precomputed/tf_gammas.pt', {
    data: torchSaveTensor(gammas.readFloat32('tf_gammas'), [3071, 32]),
  });
  // CDN addresses are per file (two repos may serve the same bytes, one of them corrupted).
  for (const [url, s] of files) if (s.lfs) cdn.set(cdnPath(url, s), s);

  server = createServer((req, res) => {
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    requests.push({ method, url, range: req.headers.range });
    const s = files.get(url);
    if (s?.lfs && method === 'HEAD') {
      res.writeHead(302, { location: cdnPath(url, s), 'x-linked-size': s.data.length, 'x-linked-etag': `"${sha256(s.data)}"` }).end();
      return;
    }
    const target = s ?? cdn.get(url);
    if (!target) return void res.writeHead(404).end('Entry not found');
    serve(res, method, target, req.headers.range);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  if (server) await new Promise((r) => server.close(r));
  tmp.cleanup();
});

const cacheDir = () => join(tmp.dir, 'cache');
const opts = (): RegistryOptions => ({ cacheDir: cacheDir(), hubUrl: base, bucketUrl: `${base}/gcs`, githubUrl: `${base}/gh` });
const env = () => ({ SEQ2TRACK_CACHE: cacheDir(), SEQ2TRACK_HUB_URL: base, SEQ2TRACK_BUCKET_URL: `${base}/gcs`, SEQ2TRACK_GITHUB_URL: `${base}/gh` });

test('fetch: an interrupted download resumes with a Range request, verifies sha256, converts into the cache', { skip }, async () => {
  const r = await runCli(['weights', 'fetch', 'borzoi-human-rep0'], env());
  assert.equal(r.code, 0, r.stderr);
  const dir = join(cacheDir(), 'models', 'borzoi-human-rep0');
  assert.equal(r.stdout.trim(), dir);
  const gets = requests.filter((q) => q.method === 'GET' && q.url.startsWith('/cdn/'));
  assert.equal(gets.length, 2, JSON.stringify(gets));
  assert.equal(gets[0]!.range, undefined);
  assert.match(gets[1]!.range ?? '', /^bytes=\d+-$/);
  assert.ok(Number(/\d+/.exec(gets[1]!.range!)![0]) > 0, 'resumed from where the first transfer stopped');
  await expectSameTensors(dir, 'borzoi-small');
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'source.json']);
  const source = JSON.parse(readFileSync(join(dir, 'source.json'), 'utf8'));
  assert.equal(source.sources.weights.sha256, sha256(readFileSync(fixturePath('formats', 'borzoi-small', 'pytorch_model.bin'))));
  assert.ok(!existsSync(join(cacheDir(), 'downloads')), 'downloads are removed once converted');
});

test('fetch: a corrupted file fails its checksum, and nothing of it stays in the cache', { skip }, async () => {
  const r = await runCli(['weights', 'fetch', 'borzoi-human-rep1'], env());
  assert.equal(r.code, 1);
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('seq2track: downloading'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^seq2track: error: .*pytorch_model\.bin: sha256 mismatch \(got [0-9a-f]{64}, the server reports [0-9a-f]{64}\); the corrupt download was deleted$/);
  assert.ok(!existsSync(join(cacheDir(), 'models', 'borzoi-human-rep1')));
  assert.ok(!existsSync(join(cacheDir(), 'downloads', 'borzoi-human-rep1')));
  const models = join(cacheDir(), 'models');
  assert.deepEqual(existsSync(models) ? readdirSync(models).filter((n) => n.includes('rep1')) : [], []);
});

test('fetch: Borzoi mouse head from the bucket (md5 checked); both Keras files merge into borzoi-rep0', { skip }, async () => {
  const mouse = await fetchModel('borzoi-mouse-rep0', opts());
  await expectSameTensors(mouse, 'borzoi-small', (n) => n.startsWith('human_head.'));
  const both = await fetchModel('borzoi-rep0', opts());
  await expectSameTensors(both, 'borzoi-small');
  assert.ok(requests.some((q) => q.method === 'HEAD' && q.url === '/gcs/f0/model1_best.h5'));
});

test('fetch: enformer brings the TF gamma table (read from tf_gammas.pt by the restricted unpickler) and sets use_tf_gamma', { skip }, async () => {
  const dir = await fetchModel('enformer', opts());
  await expectSameTensors(dir, 'enformer-small');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.use_tf_gamma, true);
  const got = await SafetensorsFile.open(join(dir, 'tf_gammas.safetensors'));
  const want = await SafetensorsFile.open(fixturePath('tf-gamma', 'tf_gammas.safetensors'));
  assert.deepEqual(got.tensors.get('tf_gammas')!.shape, [3071, 32]);
  assert.ok(Buffer.from(got.readBytes('tf_gammas')).equals(Buffer.from(want.readBytes('tf_gammas'))));
  // The hub has no model.safetensors for it (404) and the .bin was used.
  assert.ok(requests.some((q) => q.url === '/EleutherAI/enformer-official-rough/resolve/main/model.safetensors'));
});

test('weights list shows the cached models; resolveModel: directories as is, names from the cache, unknown names named', { skip }, async () => {
  const r = await runCli(['weights', 'list'], env());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^borzoi-human-rep0\tcached\t[\d.]+ MB\t.*borzoi-human-rep0\t/m);
  assert.doesNotMatch(r.stdout, /borzoi-human-rep1/);
  const all = await runCli(['weights', 'list', '--all'], env());
  assert.match(all.stdout, /^flashzoi-rep3\tnot cached/m);
  const offline = { ...opts(), hubUrl: 'http://127.0.0.1:9' };
  assert.equal(await resolveModel('borzoi-human-rep0', offline), join(cacheDir(), 'models', 'borzoi-human-rep0'));
  assert.equal(await resolveModel(fixture('borzoi-small')!, offline), fixture('borzoi-small'));
  await assert.rejects(resolveModel('borzoi-human-rep7', offline), /borzoi-human-rep7: neither a model directory nor a known model name \(known: enformer, /);
  await assert.rejects(resolveModel('flashzoi-rep2', { ...offline, fetch: false }), /flashzoi-rep2: not in the cache .*; run: seq2track weights fetch flashzoi-rep2/);
});

test('predict --model NAME resolves from the cache (no server needed) and reproduces the fixture', { skip: skip || skipUnless('borzoi-small') }, async () => {
  const sequences: string[] = JSON.parse(readFileSync(fixturePath('borzoi-small', 'reference.json'), 'utf8')).inputs.sequences;
  const fasta = join(tmp.dir, 'in.fa');
  writeFileSync(fasta, sequences.map((s, i) => `>seq${i + 1}\n${s}\n`).join(''));
  const out = join(tmp.dir, 'pred.safetensors');
  const r = await runCli(['predict', '--model', 'borzoi-human-rep0', '--fasta', fasta, '--out', out, '--threads', '1'], { ...env(), SEQ2TRACK_HUB_URL: 'http://127.0.0.1:9' });
  assert.equal(r.code, 0, r.stderr);
  const got = await SafetensorsFile.open(out);
  const ref = await SafetensorsFile.open(fixturePath('borzoi-small', 'outputs.safetensors'));
  for (const h of ['human', 'mouse']) {
    const c = compare(got.readFloat32(h), ref.readFloat32(h), 5e-5, 1e-4);
    assert.ok(c.ok, `${h}: max abs ${c.maxAbs}`);
  }
});
