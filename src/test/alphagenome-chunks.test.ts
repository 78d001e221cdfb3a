/**
 * AlphaGenome's query-chunked attention (`queryChunks`) against the whole-logits graph on the
 * `alphagenome-small` fixture: every head output equal within float32 rounding (each query row's
 * logits, softmax and values are the same products in both graphs; only GEMM blocking over fewer rows
 * may differ), also with more chunks than pair positions (some chunks empty).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SafetensorsFile } from '../weights/safetensors.js';
import { loadAlphaGenome } from '../models/alphagenome/load.js';
import type { AlphaGenomeModel } from '../models/alphagenome/model.js';
import type { OneHotBatch } from '../models/model-types.js';
import { alphaGenomeDir, alphaGenomeSkip, scaledDiff } from './alphagenome-fixture.js';

const skip = alphaGenomeSkip;
const dir = alphaGenomeDir;

let whole: AlphaGenomeModel;
let chunked: AlphaGenomeModel;
let x: OneHotBatch;

before(async () => {
  if (skip) return;
  const inputs = await SafetensorsFile.open(join(dir, 'inputs.safetensors'));
  const shape = inputs.tensors.get('x')!.shape;
  x = { data: inputs.readFloat32('x'), batch: shape[0]!, length: shape[1]! };
  whole = await loadAlphaGenome(dir, { threads: 2, queryChunks: 1 });
  chunked = await loadAlphaGenome(dir, { threads: 2, queryChunks: 3 });
});

after(async () => {
  await whole?.close();
  await chunked?.close();
});


test('AlphaGenome: query-chunked attention equals the whole attention (3 chunks over 4 pair rows)', { skip }, async () => {
  const a = await whole.predict(x, 'human');
  const b = await chunked.predict(x, 'human');
  const diffs: string[] = [];
  for (const name of whole.outputNames) {
    const d = scaledDiff(a[name]!, b[name]!);
    diffs.push(`${name} ${d.toExponential(1)}`);
    // float32 rounding of a few reordered sums through the tower and heads.
    assert.ok(d <= 1e-5, `${name}: chunked vs whole ${d}`);
  }
  for (const name of ['splice_junctions_splice_site_positions', 'splice_junctions_mask']) assert.deepEqual(Array.from(b[name]!.data as ArrayLike<number | bigint>), Array.from(a[name]!.data as ArrayLike<number | bigint>), name);
  console.log(`chunked vs whole, max |Δ| / max(|x|, 1): ${diffs.join(', ')}`);
});

test('AlphaGenome: more query chunks than pair positions (empty chunks) give the same outputs', { skip }, async () => {
  const m = await loadAlphaGenome(dir, { threads: 1, queryChunks: 8 });
  try {
    const a = await whole.predict(x, 'human');
    const b = await m.predict(x, 'human');
    for (const name of whole.outputNames) assert.ok(scaledDiff(a[name]!, b[name]!) <= 1e-5, name);
  } finally {
    await m.close();
  }
});
