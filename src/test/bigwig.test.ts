/** The bigWig writer, read back with @gmod/bbi: values and coordinates exact, index and zoom levels. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BigWig } from '@gmod/bbi';
import { writeBigWig, encodeBigWig, type BigWigSection } from '../formats/bigwig.js';
import { rng } from './genome-files.js';
import { withTempDir } from './fixtures.js';

function section(chrom: string, first: number, n: number, step: number, size: number, seed: number, gapEvery = 0): BigWigSection {
  const r = rng(seed);
  const starts: number[] = [];
  const ends: number[] = [];
  const values: number[] = [];
  let at = first;
  for (let i = 0; i < n && at < size; i++) {
    starts.push(at);
    ends.push(Math.min(size, at + step));
    values.push(Math.fround((r() - 0.3) * 10));
    at += step + (gapEvery && i % gapEvery === gapEvery - 1 ? 1000 : 0);
  }
  return { chrom, starts, ends, values };
}

async function readAll(bw: BigWig, chrom: string, size: number) {
  return (await bw.getFeatures(chrom, 0, size)) as { start: number; end: number; score: number }[];
}

test('bigwig: every bin reads back exactly through @gmod/bbi, chromosomes in any order', () =>
  withTempDir('seq2track-bw-', async (dir) => {
    const sizes = new Map([['chr2', 50_000], ['chr10', 1_000_000], ['chr1', 2_500_333], ['chrUn_gl000220', 161_802]]);
    const sections = [
      section('chr10', 500, 3000, 128, 1_000_000, 1, 700),
      section('chr1', 0, 19_534, 128, 2_500_333, 2), // runs to the chromosome end: the last bin is clipped
      section('chr2', 77, 40, 32, 50_000, 3),
      section('chrUn_gl000220', 1000, 10, 128, 161_802, 4),
    ];
    const path = join(dir, 'a.bw');
    await writeBigWig(path, sections, sizes);
    const bw = new BigWig({ path });
    const header = await bw.getHeader();
    assert.deepEqual(Object.keys(header.refsByName).sort(), ['chr1', 'chr10', 'chr2', 'chrUn_gl000220']);
    assert.ok(header.zoomLevels.length >= 2, 'zoom levels written');
    let bases = 0;
    let sum = 0;
    for (const s of sections) {
      const f = await readAll(bw, s.chrom, sizes.get(s.chrom)!);
      assert.equal(f.length, s.starts.length, s.chrom);
      f.forEach((x, i) => {
        assert.equal(x.start, s.starts[i]);
        assert.equal(x.end, s.ends[i]);
        assert.equal(x.score, s.values[i]);
        bases += x.end - x.start;
        sum += x.score * (x.end - x.start);
      });
      // A window in the middle returns just the overlapping bins.
      const mid = s.starts[Math.floor(s.starts.length / 2)]!;
      // (@gmod/bbi also returns a feature that ends exactly at the query start)
      const part = ((await bw.getFeatures(s.chrom, mid, mid + 1)) as { start: number; end: number }[]).filter((x) => x.end > mid);
      assert.deepEqual(part.map((x) => x.start), [mid]);
    }
    assert.equal(s_last(sections[1]!), 2_500_333);
    assert.equal(header.totalSummary.basesCovered, bases);
    assert.ok(Math.abs(header.totalSummary.scoreSum - sum) < 1e-6 * Math.abs(sum) + 1e-6);
    // Zoom level: each summary is the base-weighted mean of the bins it covers.
    const s = sections[1]!;
    const zoom = (await bw.getFeatures('chr1', 0, 2_500_333, { scale: 1 / 4096 })) as { start: number; end: number; score: number; summary?: boolean }[];
    assert.ok(zoom.length > 0 && zoom.length < s.starts.length && zoom[0]!.summary);
    for (const z of zoom.slice(0, 20)) {
      let w = 0;
      let v = 0;
      for (let i = 0; i < s.starts.length; i++) {
        const o = Math.min(z.end, s.ends[i]!) - Math.max(z.start, s.starts[i]!);
        if (o > 0) (w += o), (v += o * s.values[i]!);
      }
      assert.ok(Math.abs(z.score - v / w) < 1e-4, `zoom ${z.start}-${z.end}: ${z.score} vs ${v / w}`);
    }
  }));

function s_last(s: BigWigSection): number {
  return s.ends[s.ends.length - 1]!;
}

test('bigwig: a multi-level R-tree (over 256 data blocks) indexes every block', () =>
  withTempDir('seq2track-bw-', async (dir) => {
    const size = 60_000_000;
    const s = section('chr1', 0, 300_000, 128, size, 5);
    const path = join(dir, 'big.bw');
    await writeBigWig(path, [s], new Map([['chr1', size]]));
    const bw = new BigWig({ path });
    for (const i of [0, 1023, 1024, 150_000, 262_143, 262_144, 299_999]) {
      const f = ((await bw.getFeatures('chr1', s.starts[i]!, s.ends[i]!)) as { start: number; end: number; score: number }[]).filter((x) => x.end > s.starts[i]! && x.start < s.ends[i]!);
      assert.deepEqual(f.map((x) => [x.start, x.score]), [[s.starts[i], s.values[i]]], `bin ${i}`);
    }
    assert.equal((await readAll(bw, 'chr1', size)).length, 300_000);
  }));

test('bigwig: overlapping or out-of-range intervals are refused', () => {
  const sizes = new Map([['c', 1000]]);
  assert.throws(() => encodeBigWig([{ chrom: 'c', starts: [0, 50], ends: [100, 150], values: [1, 2] }], sizes), /intervals overlap on c \(0-100 and 50-150\)/);
  assert.throws(() => encodeBigWig([{ chrom: 'c', starts: [900], ends: [1100], values: [1] }], sizes), /outside the chromosome/);
  assert.throws(() => encodeBigWig([{ chrom: 'd', starts: [0], ends: [1], values: [1] }], sizes), /no length given for chromosome d/);
});

/** Python with pyBigWig (libBigWig, Debian python3-pybigwig): an independent reader of our files. */
const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import pyBigWig']).status === 0);
const pyBigWig = python ? false : 'python3 with pyBigWig is not installed (apt-get install python3-pybigwig)';

test('bigwig: libBigWig (pyBigWig) reads the same intervals, summary and zoom-level means', { skip: pyBigWig }, () =>
  withTempDir('seq2track-bw-', async (dir) => {
    const sizes = new Map([['chr2', 50_000], ['chr1', 300_333]]);
    const sections = [section('chr1', 0, 2_400, 128, 300_333, 5, 500), section('chr2', 77, 40, 32, 50_000, 6)];
    const path = join(dir, 'py.bw');
    await writeBigWig(path, sections, sizes);
    const script = `
import json, sys, pyBigWig
b = pyBigWig.open(sys.argv[1])
out = {'chroms': b.chroms(), 'intervals': {c: b.intervals(c) for c in b.chroms()}, 'levels': b.header()['nLevels'],
       'zoom': b.stats('chr1', 0, 300000, type='mean', nBins=4), 'exact': b.stats('chr1', 0, 300000, type='mean', nBins=4, exact=True)}
print(json.dumps(out))`;
    const r = spawnSync(python!, ['-c', script, path], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { chroms: Record<string, number>; intervals: Record<string, [number, number, number][]>; levels: number; zoom: number[]; exact: number[] };
    assert.deepEqual(got.chroms, Object.fromEntries(sizes));
    for (const s of sections) {
      const iv = got.intervals[s.chrom]!;
      assert.equal(iv.length, s.starts.length);
      iv.forEach(([start, end, value], i) => assert.deepEqual([start, end, value], [s.starts[i], s.ends[i], s.values[i]]));
    }
    assert.ok(got.levels >= 2, 'zoom levels');
    // Zoom summaries are coarser than the data: their bin means agree with the exact ones to a few %.
    got.zoom.forEach((z, i) => assert.ok(Math.abs(z - got.exact[i]!) <= 0.05 * Math.abs(got.exact[i]!) + 0.05, `zoom mean ${z} vs exact ${got.exact[i]}`));
  }));
