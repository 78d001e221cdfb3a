import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import {
  openH5Scores,
  openParquetScores,
  SCORE_STATS,
  type ScoreColumns,
  type ScoreStat,
  type ScoreWriter,
} from '../formats/score-writers.js';
import { withTempDir } from './fixtures.js';
import { withH5File } from './h5-files.js';

const tracks = [
  { identifier: 'ENCFF833POA', description: 'DNASE:cerebellum male adult' },
  { identifier: 'CNhs11760', description: 'CAGE:aorta adult pool1' },
  { identifier: 't3', description: '' },
];
const T = tracks.length;
const N = 300;

/** Deterministic float32 values, with a NaN and infinities where real scores can have them. */
function sample(): { variants: ScoreColumns[]; stats: Record<ScoreStat, Float32Array>[] } {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const variants: ScoreColumns[] = [];
  const stats: Record<ScoreStat, Float32Array>[] = [];
  for (let i = 0; i < N; i++) {
    const indel = i % 7 === 3;
    variants.push({
      chrom: i < N / 2 ? 'chr1' : 'chrX',
      pos: 10_000 + 37 * i,
      id: i % 5 === 0 ? '.' : `rs${1000 + i}`,
      ref: indel ? 'ACGTT' : 'ACGT'[i % 4]!,
      alt: indel ? 'A' : 'CGTA'[i % 4]!,
    });
    const s = {} as Record<ScoreStat, Float32Array>;
    for (const [k, stat] of SCORE_STATS.entries()) s[stat] = Float32Array.from({ length: T }, () => rand() * 10 ** (k - 1));
    stats.push(s);
  }
  stats[5]!.SAR[1] = NaN;
  stats[6]!.SAX[0] = Infinity;
  stats[7]!.SAD[2] = -Infinity;
  return { variants, stats };
}

/** Writes the whole sample to `dir/name` with `open`; the finished file must be all the directory holds. */
async function writeSample(dir: string, name: string, open: (path: string) => Promise<ScoreWriter>) {
  const path = join(dir, name);
  const data = sample();
  const w = await open(path);
  // Not awaited one by one: the writer must keep the order of calls.
  await Promise.all(data.variants.map((v, i) => w.write(v, data.stats[i]!)));
  await w.close();
  assert.deepEqual(readdirSync(dir), [name]);
  return { path, data };
}

test('parquet: round trip (long format, columns and order of the TSV, exact float32, several row groups)', () =>
  withTempDir(async (dir) => {
    const { path, data } = await writeSample(dir, 'scores.parquet', (p) => openParquetScores(p, tracks, { rowGroupRows: 100 }));
    const file = await asyncBufferFromFile(path);
    const meta = await parquetMetadataAsync(file);
    assert.deepEqual(
      meta.schema.slice(1).map((e) => [e.name, e.type]),
      [
        ['chrom', 'BYTE_ARRAY'], ['pos', 'INT32'], ['id', 'BYTE_ARRAY'], ['ref', 'BYTE_ARRAY'], ['alt', 'BYTE_ARRAY'],
        ['track', 'BYTE_ARRAY'], ['SAD', 'FLOAT'], ['SAR', 'FLOAT'], ['D2', 'FLOAT'], ['SAX', 'FLOAT'],
      ],
    );
    assert.equal(meta.num_rows, BigInt(N * T));
    assert.equal(meta.row_groups.length, Math.ceil(N / Math.ceil(100 / T)));
    const kv = meta.key_value_metadata?.find((k) => k.key === 'seq2track.tracks');
    assert.deepEqual(JSON.parse(kv?.value ?? 'null'), tracks);
    const rows = await parquetReadObjects({ file });
    assert.equal(rows.length, N * T);
    for (let i = 0; i < N; i++) {
      for (let t = 0; t < T; t++) {
        const row = rows[i * T + t]!;
        const v = data.variants[i]!;
        assert.deepEqual(
          [row.chrom, row.pos, row.id, row.ref, row.alt, row.track],
          [v.chrom, v.pos, v.id, v.ref, v.alt, tracks[t]!.identifier],
        );
        for (const stat of SCORE_STATS) assert.ok(Object.is(row[stat], data.stats[i]![stat][t]), `${stat} row ${i * T + t}`);
      }
    }
  }));

test('hdf5: round trip in the official layout (names, dtypes, shapes, exact float32)', () =>
  withTempDir(async (dir) => {
    const { path, data } = await writeSample(dir, 'scores.h5', (p) => openH5Scores(p, tracks, { flushVariants: 37 }));
    await withH5File(path, (dataset, f) => {
      assert.deepEqual(f.keys().sort(), ['D2', 'SAD', 'SAR', 'SAX', 'alt', 'chr', 'pos', 'ref', 'snp', 'target_ids', 'target_labels']);
      const strings = (name: string, expected: string[]) => {
        const d = dataset(name);
        const m = d.metadata;
        assert.equal(m.type, 3, `${name} is a string`); // H5T_STRING
        assert.equal(m.vlen, false, `${name} is fixed-length`);
        assert.equal(m.size, Math.max(...expected.map((s) => Buffer.byteLength(s))), `${name} width`);
        assert.equal(d.dtype, `S${m.size}`);
        assert.deepEqual(d.shape, [expected.length]);
        assert.deepEqual(d.value, expected);
      };
      const v = data.variants;
      strings('snp', v.map((x) => (x.id === '.' ? `${x.chrom}:${x.pos}:${x.ref}:${x.alt}` : x.id)));
      strings('chr', v.map((x) => x.chrom));
      strings('ref', v.map((x) => x.ref));
      strings('alt', v.map((x) => x.alt));
      strings('target_ids', tracks.map((t) => t.identifier));
      // An empty description still gets a 1-byte fixed-length string.
      const labels = dataset('target_labels');
      assert.equal(labels.metadata.size, Math.max(...tracks.map((t) => t.description.length)));
      assert.deepEqual(labels.value, tracks.map((t) => t.description));

      const pos = dataset('pos');
      assert.deepEqual([pos.metadata.type, pos.metadata.size, pos.metadata.signed], [0, 4, false]); // uint32
      assert.deepEqual(pos.value, Uint32Array.from(v.map((x) => x.pos)));
      for (const stat of SCORE_STATS) {
        const d = dataset(stat);
        assert.deepEqual([d.metadata.type, d.metadata.size], [1, 4], `${stat} is float32`);
        assert.deepEqual(d.shape, [N, T]);
        const expected = new Float32Array(N * T);
        data.stats.forEach((s, i) => expected.set(s[stat], i * T));
        assert.deepEqual(d.value, expected, stat);
      }
      assert.equal(f.get_attribute('stat_dtype', false), 'float32');
      assert.match(String(f.get_attribute('note', false)), /float16/);
    });
  }));

test('score writers: zero variants give valid, empty files', () =>
  withTempDir(async (dir) => {
    const pq = join(dir, 'empty.parquet');
    await (await openParquetScores(pq, tracks)).close();
    const file = await asyncBufferFromFile(pq);
    assert.equal((await parquetMetadataAsync(file)).num_rows, 0n);
    assert.deepEqual(await parquetReadObjects({ file }), []);

    const h5path = join(dir, 'empty.h5');
    await (await openH5Scores(h5path, tracks)).close();
    await withH5File(h5path, (dataset) => {
      for (const name of ['snp', 'chr', 'pos', 'ref', 'alt']) assert.deepEqual(dataset(name).shape, [0], name);
      for (const stat of SCORE_STATS) assert.deepEqual(dataset(stat).shape, [0, T], stat);
      assert.deepEqual(dataset('target_ids').value, tracks.map((t) => t.identifier));
    });
    assert.deepEqual(readdirSync(dir).sort(), ['empty.h5', 'empty.parquet']);
  }));

test('score writers: an unclosed writer leaves no file at the output path', () =>
  withTempDir(async (dir) => {
    const data = sample();
    for (const [name, open] of [['a.parquet', openParquetScores], ['a.h5', openH5Scores]] as const) {
      const path = join(dir, name);
      const w = await open(path, tracks, { rowGroupRows: 30, flushVariants: 10 });
      for (let i = 0; i < 50; i++) await w.write(data.variants[i]!, data.stats[i]!);
      assert.equal(existsSync(path), false, name);
      assert.equal(existsSync(`${path}.partial`), true, name);
    }
  }));

test('score writers: errors name the file', () =>
  withTempDir(async (dir) => {
    const data = sample();
    for (const name of ['bad.parquet', 'bad.h5']) {
      const path = join(dir, name);
      const w = await (name.endsWith('.h5') ? openH5Scores : openParquetScores)(path, tracks);
      const short = { ...data.stats[0]!, SAR: new Float32Array(T - 1) };
      await assert.rejects(w.write(data.variants[0]!, short), (e: Error) => e.message.startsWith(`${path}: `) && /SAR has 2 values/.test(e.message));
      await assert.rejects(w.close(), (e: Error) => e.message.startsWith(`${path}: `));
      assert.equal(existsSync(path), false);
    }
    await assert.rejects(openParquetScores(join(dir, 'missing', 'x.parquet'), tracks), /missing\/x\.parquet: /);
    await assert.rejects(openH5Scores(join(dir, 'missing', 'x.h5'), tracks), /missing\/x\.h5: /);
    await assert.rejects(openH5Scores(join(dir, 'none.h5'), []), /none\.h5: no tracks/);
  }));
