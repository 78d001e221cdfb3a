/**
 * `seq2track serve`'s HTTP server without a browser: the isolation headers on every response, model
 * directories with range requests and a listing, no way out of the served folders, and bad --model
 * arguments as one-line CLI errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../serve/server.js';
import { assertCliError, runCli, tempDir } from './fixtures.js';

test('serve: page and model files carry COOP/COEP/CORP; model files answer range requests', async () => {
  const { dir, cleanup } = tempDir();
  const page = join(dir, 'page');
  const model = join(dir, 'model');
  mkdirSync(page);
  mkdirSync(model);
  writeFileSync(join(page, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'secret.txt'), 'not served');
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));
  writeFileSync(join(model, 'model.safetensors'), bytes);
  writeFileSync(join(model, 'config.json'), '{}');
  const server = await startServer({ port: 0, pageDir: page, models: { m1: model } });
  try {
    const isolated = (r: Response) => {
      assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin');
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
      assert.equal(r.headers.get('cross-origin-resource-policy'), 'same-origin');
    };
    const root = await fetch(server.url);
    assert.equal(root.status, 200);
    assert.match(root.headers.get('content-type') ?? '', /text\/html/);
    isolated(root);
    assert.match(await root.text(), /<title>t<\/title>/);

    const index = await fetch(new URL('models/index.json', server.url));
    isolated(index);
    assert.deepEqual(await index.json(), [{ name: 'm1', files: ['config.json', 'model.safetensors'] }]);

    const part = await fetch(new URL('models/m1/model.safetensors', server.url), { headers: { Range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    isolated(part);
    assert.equal(part.headers.get('content-range'), 'bytes 10-19/1000');
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(10, 20));
    const tail = await fetch(new URL('models/m1/model.safetensors', server.url), { headers: { Range: 'bytes=-5' } });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), bytes.subarray(995));
    const whole = await fetch(new URL('models/m1/model.safetensors', server.url));
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.equal((await whole.arrayBuffer()).byteLength, 1000);
    const past = await fetch(new URL('models/m1/model.safetensors', server.url), { headers: { Range: 'bytes=1000-1001' } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), 'bytes */1000');

    for (const path of ['models/m1/%2e%2e/secret.txt', 'models/m1/..%2fsecret.txt', '%2e%2e/secret.txt', 'models/nope/config.json', 'missing.js']) {
      const r = await fetch(new URL(path, server.url));
      assert.equal(r.status, 404, path);
      isolated(r);
    }
  } finally {
    await server.close();
    cleanup();
  }
});

test('serve: a bad --model argument or model directory is a one-line error', async () => {
  assertCliError(await runCli(['serve', '--port', '0', '--model', 'no-equals-sign']), /--model no-equals-sign: write NAME=DIR/, 'missing =');
  assertCliError(await runCli(['serve', '--port', '0', '--model', 'x=/nonexistent/model']), /--model x=\/nonexistent\/model: cannot read the model directory \(ENOENT\)/, 'missing dir');
});
