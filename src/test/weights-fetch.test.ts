/**
 * `weights fetch` against a local server (127.0.0.1, random port) that serves the format fixtures in the
 * layouts of the real sources: the Hugging Face hub (`/<repo>/resolve/<revision>/<file>`, with the
 * resolved commit in X-Repo-Commit; LFS files answer HEAD with a 302 and X-Linked-Size / X-Linked-Etag =
 * sha256, the bytes come from `/cdn/<sha256>` with Range support), the Borzoi bucket (`x-goog-hash:
 * md5=…`) and GitHub raw (enformer-pytorch's tf_gammas.pt, made here with torch.save's layout). Never the
 * internet: every base URL points at this server. The fixtures are small random models, so wherever the
 * registry pins a real digest they must fail it: that is the mismatch test.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SOURCES, fetchModel, resolveModel, type PublishedModel, type RegistryOptions } from '../tasks/model-store/registry.js';
import { SafetensorsFile } from '../weights/safetensors.js';
import { compare, fixture, fixtureInput, fixturePath, skipUnless, tempDir } from './fixtures.js';
import { expectSameTensors, kerasWithShiftedTrunk, runCli, torchSaveTensor } from './weights-helpers.js';
import { writeLegacyModel } from './legacy-enformer.js';
import { loadModel } from '../models/load.js';

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
/** What the local hub says `main` resolves to. */
const MAIN_COMMIT = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';
const REP1 = SOURCES.find((m) => m.name === 'borzoi-human-rep1')!.weights.revision!;
const OFFICIAL = SOURCES.find((m) => m.name === 'enformer')!.weights.revision!;
const ENFORMER_191K = SOURCES.find((m) => m.name === 'enformer-191k')!.weights.revision!;
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
  const hub = (repo: string, rev: string, file: string, s: Served) => files.set(`/${repo}/resolve/${rev}/${file}`, s);
  const borzoiConfig = { data: f('borzoi-small', 'config.json') };
  hub('johahi/borzoi-replicate-0', 'main', 'config.json', borzoiConfig);
  hub('johahi/borzoi-replicate-0', 'main', 'pytorch_model.bin', { data: f('borzoi-small', 'pytorch_model.bin'), lfs: true, interruptOnce: true });
  hub('johahi/borzoi-replicate-0', 'abc1234', 'config.json', borzoiConfig);
  hub('johahi/borzoi-replicate-0', 'abc1234', 'pytorch_model.bin', { data: f('borzoi-small', 'pytorch_model.bin'), lfs: true });
  hub('johahi/borzoi-replicate-1', REP1, 'config.json', borzoiConfig);
  hub('johahi/borzoi-replicate-1', REP1, 'pytorch_model.bin', { data: f('borzoi-small', 'pytorch_model.bin'), lfs: true, corrupt: true });
  // Pinned in the registry with the real digests, which these fixtures cannot have.
  hub('johahi/borzoi-replicate-2', 'main', 'config.json', borzoiConfig);
  hub('johahi/borzoi-replicate-2', 'main', 'model.safetensors', { data: readFileSync(fixturePath('borzoi-small', 'weights.safetensors')), lfs: true });
  const flashConfig = { data: f('flashzoi-small', 'config.json') };
  hub('johahi/flashzoi-replicate-0', 'main', 'config.json', flashConfig);
  hub('johahi/flashzoi-replicate-0', 'main', 'pytorch_model.bin', { data: f('flashzoi-small', 'pytorch_model.bin') });
  hub('johahi/flashzoi-replicate-0', 'feedbee', 'config.json', flashConfig);
  hub('johahi/flashzoi-replicate-0', 'feedbee', 'pytorch_model.bin', { data: f('flashzoi-small', 'pytorch_model.bin'), lfs: true });
  hub('EleutherAI/enformer-official-rough', OFFICIAL, 'config.json', { data: f('enformer-small', 'config.json') });
  hub('EleutherAI/enformer-official-rough', OFFICIAL, 'pytorch_model.bin', { data: f('enformer-small', 'pytorch_model.bin'), lfs: true });
  if (!skipUnless('enformer-small')) {
    // EleutherAI's February 2022 checkpoints: enformer-pytorch's pre-0.5 layout, and a config.json with the
    // keys of the hub's (EleutherAI/enformer-corr_coef_obj, commit 41850a4: transformers 4.16.2's
    // save_pretrained of that EnformerConfig, no use_tf_gamma) at the fixture's sizes.
    const legacy = join(tmp.dir, 'enformer-191k');
    mkdirSync(legacy);
    const config = {
      architectures: ['Enformer'], attn_dim_key: 16, attn_dropout: 0.05, depth: 2, dim: 96, dim_divisible_by: 8, dropout_rate: 0.4, heads: 4,
      model_type: 'enformer', num_downsamples: 7, output_heads: { human: 12, mouse: 5 }, pos_dropout: 0.01, target_length: 32,
      torch_dtype: 'float32', transformers_version: '4.16.2', use_checkpointing: false, use_convnext: false,
    };
    const bin = await writeLegacyModel(legacy, { format: 'bin', names: 'both', config });
    hub('EleutherAI/enformer-191k', ENFORMER_191K, 'config.json', { data: readFileSync(join(legacy, 'config.json')) });
    hub('EleutherAI/enformer-191k', ENFORMER_191K, 'pytorch_model.bin', { data: readFileSync(bin), lfs: true });
  }
  // The official Keras pair as it really is: the mouse file's trunk differs from the human file's.
  const shifted = join(tmp.dir, 'model1_best.h5');
  await kerasWithShiftedTrunk(fixturePath('formats', 'borzoi-small', 'model1_best.h5'), shifted);
  files.set('/gcs/f0/model0_best.h5', { data: f('borzoi-small', 'model0_best.h5'), md5: true });
  files.set('/gcs/f0/model1_best.h5', { data: readFileSync(shifted), md5: true });
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
    const rev = /^\/[^/]+\/[^/]+\/resolve\/([^/]+)\//.exec(url)?.[1];
    if (rev) res.setHeader('x-repo-commit', /^[0-9a-f]{40}$/.test(rev) ? rev : MAIN_COMMIT);
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
  // Neither the revision nor the file is pinned for this replicate: said, and what was seen is recorded.
  assert.match(r.stderr, new RegExp(`warning: borzoi-human-rep0: no pinned revision for johahi/borzoi-replicate-0; fetching main \\(commit ${MAIN_COMMIT}\\)`));
  assert.match(r.stderr, /warning: borzoi-human-rep0: pytorch_model\.bin: no pinned sha256 in the registry, so it could not be verified against a known value \(server sha256 only; sha256 [0-9a-f]{64}, recorded in source\.json\)/);
  const source = JSON.parse(readFileSync(join(dir, 'source.json'), 'utf8'));
  const bin = sha256(readFileSync(fixturePath('formats', 'borzoi-small', 'pytorch_model.bin')));
  assert.deepEqual(source.revision, { pinned: null, requested: null, fetched: MAIN_COMMIT });
  assert.equal(source.sources.weights.sha256, bin);
  assert.equal(source.sources.weights.pinned_sha256, null);
  assert.equal(source.sources.weights.verified, 'server sha256 only');
  assert.equal(source.sources.weights.revision, MAIN_COMMIT);
  assert.equal(source.sources.config.sha256, sha256(readFileSync(fixturePath('formats', 'borzoi-small', 'config.json'))));
  assert.ok(!existsSync(join(cacheDir(), 'downloads')), 'downloads are removed once converted');
});

test('fetch: a corrupted file fails its checksum, and nothing of it stays in the cache', { skip }, async () => {
  const r = await runCli(['weights', 'fetch', 'borzoi-human-rep1'], env());
  assert.equal(r.code, 1);
  // The pinned revision is fetched, not main.
  assert.ok(requests.some((q) => q.url === `/johahi/borzoi-replicate-1/resolve/${REP1}/pytorch_model.bin`));
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('seq2track: error:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, /^seq2track: error: .*pytorch_model\.bin: sha256 mismatch \(got [0-9a-f]{64}, the server reports [0-9a-f]{64}\); the corrupt download was deleted$/);
  assert.ok(!existsSync(join(cacheDir(), 'models', 'borzoi-human-rep1')));
  assert.ok(!existsSync(join(cacheDir(), 'downloads', 'borzoi-human-rep1')));
  const models = join(cacheDir(), 'models');
  assert.deepEqual(existsSync(models) ? readdirSync(models).filter((n) => n.includes('rep1')) : [], []);
});

test('fetch: a file that no longer matches its pinned sha256 is an error naming the file and both digests', { skip }, async () => {
  // The server reports the digest (LFS): refused before the weights are downloaded.
  const before = requests.length;
  const r = await runCli(['weights', 'fetch', 'borzoi-human-rep2'], env());
  assert.equal(r.code, 1);
  const pinned = SOURCES.find((m) => m.name === 'borzoi-human-rep2')!.weights.sha256!;
  const served = sha256(readFileSync(fixturePath('borzoi-small', 'weights.safetensors')));
  assert.match(r.stderr, new RegExp(`error: borzoi-human-rep2: model\\.safetensors \\(.*\\): sha256 mismatch: expected ${pinned} \\(pinned\\), the server reports ${served}; nothing was downloaded`));
  assert.ok(!requests.slice(before).some((q) => q.method === 'GET' && q.url.startsWith('/cdn/')), 'no weights transfer');
  // The server reports none: downloaded, checked, deleted.
  const f = await runCli(['weights', 'fetch', 'flashzoi-rep0'], env());
  assert.equal(f.code, 1);
  const want = SOURCES.find((m) => m.name === 'flashzoi-rep0')!.weights.sha256!;
  const got = sha256(readFileSync(fixturePath('formats', 'flashzoi-small', 'pytorch_model.bin')));
  assert.match(f.stderr, new RegExp(`error: .*/johahi/flashzoi-replicate-0/resolve/main/pytorch_model\\.bin: sha256 mismatch: expected ${want} \\(pinned\\), found ${got}; the download was deleted`));
  for (const sub of ['models', 'downloads']) {
    const d = join(cacheDir(), sub);
    assert.deepEqual(existsSync(d) ? readdirSync(d).filter((n) => n.includes('flashzoi') || n.includes('rep2')) : [], [], sub);
  }
});

test('fetch --revision: another hub revision, the pinned digests do not apply, recorded in source.json, cached as NAME@REV', { skip }, async () => {
  const r = await runCli(['weights', 'fetch', 'flashzoi-rep0', '--revision', 'feedbee'], env());
  assert.equal(r.code, 0, r.stderr);
  const dir = join(cacheDir(), 'models', 'flashzoi-rep0@feedbee');
  assert.equal(r.stdout.trim(), dir);
  assert.match(r.stderr, /warning: flashzoi-rep0: fetching revision feedbee of johahi\/flashzoi-replicate-0 instead of main \(no revision is pinned\); the registry's digests do not apply/);
  assert.match(r.stderr, /warning: flashzoi-rep0: pytorch_model\.bin: no pinned sha256 for this revision/);
  await expectSameTensors(dir, 'flashzoi-small');
  const source = JSON.parse(readFileSync(join(dir, 'source.json'), 'utf8'));
  assert.equal(source.revision.requested, 'feedbee');
  assert.equal(source.sources.weights.pinned_sha256, null);
  assert.equal(source.sources.weights.sha256, sha256(readFileSync(fixturePath('formats', 'flashzoi-small', 'pytorch_model.bin'))));
  assert.ok(!existsSync(join(cacheDir(), 'models', 'flashzoi-rep0')), 'the published name still means the pinned files');
  // A model whose weights are not on the hub has no revision to choose.
  const m = await runCli(['weights', 'fetch', 'borzoi-mouse-rep2', '--revision', 'feedbee'], env());
  assert.equal(m.code, 1);
  assert.match(m.stderr, /borzoi-mouse-rep2: --revision selects a Hugging Face hub revision; this model's weights come from the official Borzoi bucket/);
});

test('fetch: a pinned revision and digest, when the bytes match, verify without warnings', { skip }, async () => {
  const bin = readFileSync(fixturePath('formats', 'borzoi-small', 'pytorch_model.bin'));
  const rev = '0123456789abcdef0123456789abcdef01234567';
  files.set(`/test/pinned/resolve/${rev}/config.json`, { data: readFileSync(fixturePath('formats', 'borzoi-small', 'config.json')) });
  files.set(`/test/pinned/resolve/${rev}/pytorch_model.bin`, { data: bin });
  const cfg = readFileSync(fixturePath('formats', 'borzoi-small', 'config.json'));
  const table: PublishedModel[] = [
    {
      name: 'pinned-test',
      description: 'a test entry',
      license: 'test',
      config: { origin: 'hub', repo: 'test/pinned', revision: rev, file: 'config.json', sha256: sha256(cfg) },
      weights: { origin: 'hub', repo: 'test/pinned', revision: rev, file: 'pytorch_model.bin', sha256: sha256(bin) },
    },
  ];
  const log: string[] = [];
  const dir = await fetchModel('pinned-test', { ...opts(), sources: table, log: (l) => log.push(l) });
  await expectSameTensors(dir, 'borzoi-small');
  assert.deepEqual(log.filter((l) => l.startsWith('warning')), []);
  const source = JSON.parse(readFileSync(join(dir, 'source.json'), 'utf8'));
  assert.equal(source.sources.weights.verified, 'pinned sha256');
  assert.equal(source.sources.weights.pinned_sha256, sha256(bin));
  assert.deepEqual(source.revision, { pinned: rev, requested: null, fetched: rev });
});

test('Borzoi Keras pair with different trunks: two models (human, mouse), a removed merged name, and the explicit graft', { skip }, async () => {
  // Two models from the pair: the mouse one fetched (bucket), the human one converted from its own file.
  const mouse = await fetchModel('borzoi-mouse-rep0', opts());
  const mouseSt = await SafetensorsFile.open(join(mouse, 'model.safetensors'));
  assert.ok(mouseSt.tensors.has('mouse_head.weight') && !mouseSt.tensors.has('human_head.weight'));
  assert.ok(!requests.some((q) => q.url === '/gcs/f0/model0_best.h5'), 'the human Keras file is not part of the mouse model');
  const model0 = fixturePath('formats', 'borzoi-small', 'model0_best.h5');
  const config = fixturePath('formats', 'borzoi-small', 'config.json');
  const human = join(tmp.dir, 'human-keras');
  const h = await runCli(['weights', 'convert', model0, '--config', config, '--out', human], env());
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stderr, /heads human, 108 tensors/);
  // The merged name is gone, with the reason and the way to a combined model.
  const gone = await runCli(['weights', 'fetch', 'borzoi-rep0'], env());
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /borzoi-rep0: no longer a published name: the official human and mouse files of replicate 0 sit on different trunks .* borzoi-human-rep0 and borzoi-mouse-rep0; .*--graft-mouse-head/);
  await assert.rejects(resolveModel('borzoi-rep0', opts()), /no longer a published name/);
  // The graft: the mouse head of the mouse model on the human file's trunk, with the caveat.
  const both = join(tmp.dir, 'grafted');
  const g = await runCli(['weights', 'convert', model0, '--config', config, '--graft-mouse-head', mouse, '--out', both], env());
  assert.equal(g.code, 0, g.stderr);
  assert.match(g.stderr, /caveat: grafted mouse head: the mouse head now sits on the trunk of model0_best\.h5, not on the trunk it was trained with \(1 of 106 trunk tensors differ, max \|difference\| 0\.500\)/);
  await expectSameTensors(both, 'borzoi-small');
  const graft = JSON.parse(readFileSync(join(both, 'graft.json'), 'utf8'));
  assert.equal(graft.trunk_tensors_differing, 1);
  assert.equal(JSON.parse(readFileSync(join(both, 'config.json'), 'utf8')).enable_mouse_head, true);
  // Refused before the second file is read: a missing graft file, a model that already has a mouse head.
  const missing = await runCli(['weights', 'convert', both, '--graft-mouse-head', join(tmp.dir, 'no-such.h5'), '--out', join(tmp.dir, 'x')], env());
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /--graft-mouse-head .*no-such\.h5: no such file or directory/);
  const twice = await runCli(['weights', 'convert', both, '--graft-mouse-head', mouse, '--out', join(tmp.dir, 'y')], env());
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /already has a mouse head; --graft-mouse-head would replace it/);
});

test('fetch: enformer brings the TF gamma table (read from tf_gammas.pt by the restricted unpickler) and sets use_tf_gamma', { skip }, async () => {
  // The registry's entry with the fixture's digests in place of the real ones (which the fixture cannot match).
  const real = SOURCES.find((m) => m.name === 'enformer')!;
  const file = (n: string) => sha256(readFileSync(fixturePath('formats', 'enformer-small', n)));
  const table = [{ ...real, config: { ...real.config, sha256: file('config.json') }, weights: { ...real.weights, sha256: file('pytorch_model.bin') } }];
  const dir = await fetchModel('enformer', { ...opts(), sources: table });
  await expectSameTensors(dir, 'enformer-small');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.use_tf_gamma, true);
  const got = await SafetensorsFile.open(join(dir, 'tf_gammas.safetensors'));
  const want = await SafetensorsFile.open(fixturePath('tf-gamma', 'tf_gammas.safetensors'));
  assert.deepEqual(got.tensors.get('tf_gammas')!.shape, [3071, 32]);
  assert.ok(Buffer.from(got.readBytes('tf_gammas')).equals(Buffer.from(want.readBytes('tf_gammas'))));
  // One file set at the pinned revision: no fallback to another weights file.
  assert.ok(requests.some((q) => q.url === `/EleutherAI/enformer-official-rough/resolve/${OFFICIAL}/pytorch_model.bin`));
  assert.ok(!requests.some((q) => q.url.includes('enformer-official-rough') && q.url.endsWith('model.safetensors')));
  const source = JSON.parse(readFileSync(join(dir, 'source.json'), 'utf8'));
  assert.equal(source.sources.gamma_table.verified, 'pinned sha256 of the values');
  assert.equal(source.sources.weights.verified, 'pinned sha256');
  assert.equal(source.sources.config.verified, 'pinned sha256');
  assert.equal(source.revision.pinned, OFFICIAL);
  // With the real table the same server is refused before the weights are downloaded.
  const refused = await runCli(['weights', 'fetch', 'enformer', '--cache-dir', join(tmp.dir, 'other-cache')], env());
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`enformer: pytorch_model\\.bin \\(.*\\): sha256 mismatch: expected ${real.weights.sha256} \\(pinned\\), the server reports ${file('pytorch_model.bin')}; nothing was downloaded`));
});

test('fetch: an EleutherAI checkpoint in the pre-0.5 layout (enformer-191k) gives a working model with positional_gamma torch-global-max', { skip: skip || skipUnless('enformer-small') }, async () => {
  const log: string[] = [];
  const dir = await fetchModel('enformer-191k', { ...opts(), log: (l) => log.push(l) });
  assert.ok(requests.some((q) => q.url === `/EleutherAI/enformer-191k/resolve/${ENFORMER_191K}/pytorch_model.bin`));
  // The pre-0.5 names and the to_attn_logits matrices come back as the canonical tensors, bit for bit.
  await expectSameTensors(dir, 'enformer-small');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.positional_gamma, 'torch-global-max');
  assert.equal(config.use_convnext, false, 'the hub config is kept, with the override added');
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'source.json']);
  // It predicts what the canonical fixture predicts with the same gamma features.
  const predict = async (model: string, options: { gamma?: 'torch-global-max' }) => {
    const m = await loadModel(model, { threads: 1, ...options });
    try {
      return await m.predict(await fixtureInput('enformer-small'));
    } finally {
      await m.close();
    }
  };
  const got = await predict(dir, {});
  const want = await predict(fixture('enformer-small')!, { gamma: 'torch-global-max' });
  for (const h of ['human', 'mouse']) {
    const a = got.heads[h]!.data;
    const b = want.heads[h]!.data;
    assert.ok(a.every(Number.isFinite), h);
    assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `${h}: differs from the fixture with torch-global-max`);
  }
});

test('registry table: one file set per name, revisions and digests well-formed or explicitly not pinned', () => {
  const names = SOURCES.map((m) => m.name);
  assert.equal(new Set(names).size, names.length);
  assert.ok(!names.some((n) => /^borzoi-rep\d$/.test(n)), 'no merged human+mouse names');
  for (const m of SOURCES) {
    for (const f of [m.config, m.weights, ...(m.gammaTable ? [m.gammaTable] : [])]) {
      assert.ok(f.revision === null || /^[0-9a-f]{40}$/.test(f.revision), `${m.name} ${f.file}: revision ${f.revision}`);
      assert.ok(f.sha256 === null || /^[0-9a-f]{64}$/.test(f.sha256), `${m.name} ${f.file}: sha256 ${f.sha256}`);
    }
    if (m.config.origin === 'hub' && m.weights.origin === 'hub') assert.equal(m.config.revision, m.weights.revision, `${m.name}: config and weights from one revision`);
  }
  for (const n of ['enformer-preview', 'enformer-191k', 'enformer-corr_coef_obj']) {
    assert.deepEqual(SOURCES.find((m) => m.name === n)?.configOverrides, { positional_gamma: 'torch-global-max' }, n);
  }
});

test('weights list shows the cached models; resolveModel: directories as is, names from the cache, unknown names named', { skip }, async () => {
  const r = await runCli(['weights', 'list'], env());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^borzoi-human-rep0\tcached\t[\d.]+ MB\t.*borzoi-human-rep0\t/m);
  assert.match(r.stdout, /^flashzoi-rep0@feedbee\tcached\t.*\(not a published name\)$/m);
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
