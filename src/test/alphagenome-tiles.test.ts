/**
 * AlphaGenome's tiled stages (model.ts): the encoder and the decoder on overlapping tiles give the
 * untiled outputs — every head within float32 round-off (1e-5 of max(|value|, 1): a tile's core is
 * exact by construction, its halo covering the stage's receptive field, but ONNX Runtime may sum a
 * convolution in another order on a shorter input), and the splice sites chosen across tiles are the
 * untiled top-K exactly (the fixture's smallest deciding gap, 1.2e-5, is far above that round-off).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsFile } from '../weights/safetensors.js';
import { loadAlphaGenome } from '../models/alphagenome/load.js';
import type { AlphaGenomeModel, AlphaGenomeSink } from '../models/alphagenome/model.js';
import type { OneHotBatch } from '../models/model-types.js';
import type { TensorData } from '../engine/protocol.js';
import { assertCliOk, runCli, withTempDir } from './fixtures.js';
import { alphaGenomeDir, alphaGenomeSkip, scaledDiff } from './alphagenome-fixture.js';

const skip = alphaGenomeSkip;
const dir = alphaGenomeDir;

let whole: AlphaGenomeModel;
let tiled: AlphaGenomeModel;
let x: OneHotBatch;
let untiled: Record<string, TensorData>;

before(async () => {
  if (skip) return;
  const inputs = await SafetensorsFile.open(join(dir, 'inputs.safetensors'));
  const shape = inputs.tensors.get('x')!.shape;
  x = { data: inputs.readFloat32('x'), batch: shape[0]!, length: shape[1]! };
  whole = await loadAlphaGenome(dir, { threads: 2, tileLength: 0 });
  tiled = await loadAlphaGenome(dir, { threads: 2, tileLength: 2048 });
  untiled = await whole.predict(x, ['human', 'mouse']);
});

after(async () => {
  await whole?.close();
  await tiled?.close();
});


test('AlphaGenome tiles: four encoder and decoder tiles of 2,048 bp give the untiled outputs (a batch of two organisms)', { skip }, async () => {
  const t = await tiled.predict(x, ['human', 'mouse']);
  const diffs: string[] = [];
  for (const name of whole.outputNames) {
    if (name === 'splice_junctions_splice_site_positions' || name.endsWith('_mask')) {
      assert.deepEqual(Array.from(t[name]!.data as ArrayLike<number | bigint>), Array.from(untiled[name]!.data as ArrayLike<number | bigint>), name);
      continue;
    }
    const d = scaledDiff(untiled[name]!, t[name]!);
    diffs.push(`${name} ${d.toExponential(1)}`);
    assert.ok(d <= 1e-5, `${name}: tiled vs untiled ${d}`);
  }
  console.log(`tiled vs untiled (scaled): ${diffs.join(', ')}`);
});

test('AlphaGenome tiles: skips spilled to a temporary file between the encoder and decoder tiles give the same outputs', { skip }, async () => {
  const spilled = await loadAlphaGenome(dir, { threads: 2, tileLength: 2048, skipMemory: 0 });
  try {
    const t = await spilled.predict(x, ['human', 'mouse']);
    for (const name of whole.outputNames) assert.ok(scaledDiff(untiled[name]!, t[name]!) <= 1e-5, name);
  } finally {
    await spilled.close();
  }
});

test('AlphaGenome tiles: a sink receives each 1-bp output tile by tile (cores in order, covering the window once) and the rest whole', { skip }, async () => {
  const rows = new Map<string, number[]>();
  const wholes = new Set<string>();
  const sink: AlphaGenomeSink = {
    rows(name, item, first, data) {
      if (item !== 0) return;
      assert.equal(data.length % (untiled[name]!.dims[2]!), 0);
      rows.set(name, [...(rows.get(name) ?? []), first, first + data.length / untiled[name]!.dims[2]!]);
    },
    whole(name, item, _data, dims) {
      assert.deepEqual(dims, untiled[name]!.dims.slice(1), name);
      if (item === 0) wholes.add(name);
    },
  };
  assert.deepEqual(await tiled.predict(x, 'human', { sink }), {});
  assert.deepEqual(rows.get('atac_1bp'), [0, 2048, 2048, 4096, 4096, 6144, 6144, 8192]);
  assert.deepEqual([...rows.keys()].sort(), ['atac_1bp', 'cage_1bp', 'dnase_1bp', 'procap_1bp', 'rna_seq_1bp', 'splice_site_usage_logits', 'splice_site_usage_predictions', 'splice_sites_logits', 'splice_sites_probs']);
  for (const name of whole.outputNames) assert.ok(rows.has(name) !== wholes.has(name), `${name} comes once, by rows or whole`);
});

test('AlphaGenome tiles: predict --fasta --tile-length streams every output into its place in the file', { skip }, async () => {
  const sequences = (JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8')) as { inputs: { sequences: string[] } }).inputs.sequences;
  const human = await whole.predict(x, 'human');
  await withTempDir(async (tmp) => {
    const fasta = join(tmp, 'x.fa');
    await writeFile(fasta, sequences.map((s, i) => `>r${i}\n${s}\n`).join(''));
    const out = join(tmp, 'x.safetensors');
    assertCliOk(await runCli(['predict', '--model', dir, '--fasta', fasta, '--tile-length', '2048', '--batch-size', '1', '--out', out]));
    const file = await SafetensorsFile.open(out);
    assert.deepEqual([...file.tensors.keys()], whole.outputNames);
    for (const name of whole.outputNames) {
      const info = file.tensors.get(name)!;
      assert.deepEqual(info.shape, human[name]!.dims, name);
      const got: TensorData =
        info.dtype === 'I64'
          ? { dtype: 'int64', dims: info.shape, data: new BigInt64Array(file.readBytes(name).slice().buffer) }
          : info.dtype === 'U8'
            ? { dtype: 'float32', dims: info.shape, data: Float32Array.from(file.readBytes(name)) }
            : { dtype: 'float32', dims: info.shape, data: file.readFloat32(name) };
      assert.ok(scaledDiff(human[name]!, got) <= 1e-5, name);
    }
  });
});
