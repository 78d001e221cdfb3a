/**
 * The binary gene-score writers (Parquet, sed.h5) on the shared writer base: one operation at a
 * time, write after close and after a failure refused with one line naming the file, abort()
 * leaving nothing behind, and sed.h5's string columns waiting in a side file during the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { openGeneParquet, openSedH5, type GeneScoreRow, type GeneWriter } from '../formats/gene-score-writers.js';
import type { ScoreColumns } from '../formats/score-writers.js';
import { withTempDir } from './fixtures.js';
import { withH5File } from './h5-files.js';

const tracks = [
  { identifier: 'CNhs11760', description: 'CAGE:aorta adult pool1' },
  { identifier: 'CNhs12336', description: 'CAGE:liver' },
  { identifier: 't3', description: '' },
];
const T = tracks.length;
const stats = ['SED', 'logSED'];

/** Variant i has i % 3 + 1 genes (the first variant's gene list is empty for `withEmpty`); values are exact in float32. */
function sample(n: number, withEmpty = false): { variants: ScoreColumns[]; rows: GeneScoreRow[][] } {
  const variants: ScoreColumns[] = [];
  const rows: GeneScoreRow[][] = [];
  for (let i = 0; i < n; i++) {
    variants.push({ chrom: i < n / 2 ? 'chr1' : 'chr22', pos: 1000 + 17 * i, id: i % 4 === 0 ? '.' : `rs${500 + i}`, ref: i % 5 === 2 ? 'ACG' : 'A', alt: 'T' });
    const genes = withEmpty && i === 0 ? 0 : (i % 3) + 1;
    rows.push(
      Array.from({ length: genes }, (_, g) => ({
        gene: { id: `ENSG${String(100 + i * 10 + g).padStart(11, '0')}`, name: `G${i}_${g}` },
        stats: Object.fromEntries(stats.map((s, k) => [s, Float32Array.from({ length: T }, (_, t) => (i * 100 + g * 10 + t) / 4 - k)])),
      })),
    );
  }
  return { variants, rows };
}

const oneLineNaming = (path: string, pattern: RegExp) => (e: Error) => e.message.startsWith(`${path}: `) && !e.message.includes('\n') && pattern.test(e.message);

const WRITERS = [
  ['genes.parquet', (path: string, flush: number) => openGeneParquet(path, tracks, stats, flush)],
  ['sed.h5', (path: string, flush: number) => openSedH5(path, tracks, stats, flush)],
] as const;

/** Each writer opened on `dir/<its name>` (`flush` variants per flush) with the first variant of `data` written. */
async function* afterOneVariant(dir: string, flush: number, data: ReturnType<typeof sample>) {
  for (const [name, open] of WRITERS) {
    const path = join(dir, name);
    const w = await open(path, flush);
    await w.write(data.variants[0]!, data.rows[0]!);
    yield { name, path, w };
  }
}

test('gene writers: a write after close is refused, one line naming the file', () =>
  withTempDir(async (dir) => {
    const data = sample(3);
    for await (const { name, path, w } of afterOneVariant(dir, 2, data)) {
      await w.close();
      await assert.rejects(w.write(data.variants[1]!, data.rows[1]!), oneLineNaming(path, /write after close/), name);
      assert.ok(existsSync(path), `${name}: the closed file stays`);
    }
  }));

test('gene writers: after a failed write every later write and close is refused (the output would be incomplete)', () =>
  withTempDir(async (dir) => {
    const data = sample(3);
    for await (const { name, path, w } of afterOneVariant(dir, 100, data)) {
      const short = [{ gene: { id: 'ENSGX', name: 'X' }, stats: { SED: new Float32Array(T), logSED: new Float32Array(T - 1) } }];
      await assert.rejects(w.write(data.variants[1]!, short), oneLineNaming(path, /gene ENSGX: logSED has 2 values, expected one per track \(3\)/), name);
      await assert.rejects(w.write(data.variants[2]!, data.rows[2]!), oneLineNaming(path, /an earlier write failed; the output is incomplete/), name);
      await assert.rejects(w.close(), oneLineNaming(path, /an earlier write failed/), name);
      assert.equal(existsSync(path), false, `${name}: no file under the final name`);
      await w.abort!();
    }
    const bad = await openGeneParquet(join(dir, 'pos.parquet'), tracks, stats);
    await assert.rejects(bad.write({ ...data.variants[0]!, pos: 2 ** 31 }, data.rows[0]!), oneLineNaming(join(dir, 'pos.parquet'), /position must be an integer in \[0, 2147483647\]/));
    await bad.abort!();
    assert.deepEqual(readdirSync(dir), []);
  }));

test('gene writers: abort() closes the file and removes the partial and side files', () =>
  withTempDir(async (dir) => {
    const data = sample(10);
    for (const [name, open] of WRITERS) {
      const path = join(dir, name);
      const w: GeneWriter = await open(path, 4);
      // Not awaited one by one: abort() waits for the writes issued before it.
      const writes = data.variants.map((v, i) => w.write(v, data.rows[i]!));
      const aborted = w.abort!();
      await Promise.all(writes);
      await aborted;
      assert.deepEqual(readdirSync(dir), [], `${name}: nothing left`);
      await assert.rejects(w.write(data.variants[0]!, data.rows[0]!), oneLineNaming(path, /write after abort/), name);
      await w.abort!();
    }
  }));

test('sed.h5: strings, si and gene ids wait in the side file during the run, then fill the datasets', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'sed.h5');
    const side = `${path}.partial.strings`;
    const data = sample(12, true);
    const w = await openSedH5(path, tracks, stats, 2);
    assert.ok(existsSync(side), 'the side file is made with the partial file');
    const sizes: number[] = [];
    for (let i = 0; i < data.variants.length; i++) {
      await w.write(data.variants[i]!, data.rows[i]!);
      sizes.push(statSync(side).size);
    }
    // Flushed with the statistics, every 2 rows: it grows during the run, not only at close.
    assert.ok(sizes[0]! === 0 && sizes.at(-1)! > 0, `side file sizes ${sizes}`);
    for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! >= sizes[i - 1]!, `side file sizes ${sizes}`);
    assert.ok(new Set(sizes).size > 3, `side file grows in steps (sizes ${sizes})`);
    const text = readFileSync(side, 'utf8');
    for (const id of ['rs502', 'chr1:1068:A:T', 'ACG', 'ENSG00000000110']) assert.ok(text.includes(id), `${id} in the side file`);
    await w.close();
    assert.deepEqual(readdirSync(dir), ['sed.h5'], 'side and partial files gone');

    // Variant 0 has no genes: upstream lists only variants with genes.
    const withGenes = data.variants.map((v, i) => ({ v, rows: data.rows[i]! })).filter((x) => x.rows.length > 0);
    await withH5File(path, (dataset) => {
      const value = (name: string) => dataset(name).value;
      assert.deepEqual(value('snp'), withGenes.map(({ v }) => (v.id === '.' ? `${v.chrom}:${v.pos}:${v.ref}:${v.alt}` : v.id)));
      assert.deepEqual(value('chr'), withGenes.map(({ v }) => v.chrom));
      assert.deepEqual(value('ref_allele'), withGenes.map(({ v }) => v.ref));
      assert.deepEqual(value('alt_allele'), withGenes.map(({ v }) => v.alt));
      assert.deepEqual(value('pos'), Uint32Array.from(withGenes, ({ v }) => v.pos));
      assert.deepEqual(value('si'), BigInt64Array.from(withGenes.flatMap(({ rows }, i) => rows.map(() => BigInt(i)))));
      assert.deepEqual(value('gene'), withGenes.flatMap(({ rows }) => rows.map((r) => r.gene.id)));
      assert.deepEqual(value('target_ids'), tracks.map((t) => t.identifier));
      for (const s of stats) {
        const d = dataset(s);
        assert.deepEqual(d.shape, [withGenes.reduce((a, x) => a + x.rows.length, 0), T]);
        assert.deepEqual(d.value, Float32Array.from(withGenes.flatMap(({ rows }) => rows.flatMap((r) => [...r.stats[s]!]))), s);
      }
    });
  }));

test('gene Parquet: round trip, row groups of whole variants past the group size', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'genes.parquet');
    const data = sample(9);
    const w = await openGeneParquet(path, tracks, stats, 10);
    await Promise.all(data.variants.map((v, i) => w.write(v, data.rows[i]!)));
    await w.close();
    assert.deepEqual(readdirSync(dir), ['genes.parquet']);
    const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(path) })) as Record<string, unknown>[];
    const expected = data.variants.flatMap((v, i) =>
      data.rows[i]!.flatMap((r) => tracks.map((t, k) => ({ chrom: v.chrom, pos: v.pos, id: v.id, ref: v.ref, alt: v.alt, gene: r.gene.id, gene_name: r.gene.name, track: t.identifier, SED: r.stats.SED![k], logSED: r.stats.logSED![k] }))),
    );
    assert.deepEqual(rows, expected);
  }));
