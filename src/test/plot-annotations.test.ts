/** The attention plot's annotations (GTF genes, binned bigWig signal) and its heat-map rows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { writeBigWig } from '../formats/bigwig.js';
import { genesInWindow, signalInWindow } from '../tasks/predict/plot-annotations.js';
import { heatmapRows } from '../tasks/predict/attention-plot.js';
import { withTempDir } from './fixtures.js';

const GTF = [
  '##description: test',
  'chr1\tt\tgene\t101\t500\t.\t+\t.\tgene_id "G1"; gene_name "ONE";',
  'chr1\tt\texon\t101\t150\t.\t+\t.\tgene_id "G1"; gene_name "ONE";',
  'chr1\tt\texon\t401\t500\t.\t+\t.\tgene_id "G1"; gene_name "ONE";',
  'chr1\tt\texon\t901\t950\t.\t-\t.\tgene_id "G2";',
  'chr1\tt\texon\t1001\t1100\t.\t-\t.\tgene_id "G2";',
  'chr1\tt\tgene\t5001\t6000\t.\t+\t.\tgene_id "FAR"; gene_name "FAR";',
  'chr2\tt\tgene\t101\t500\t.\t+\t.\tgene_id "G9"; gene_name "CHR2";',
].join('\n');

test('plot annotations: GTF genes overlapping the window (1-based GTF -> 0-based), plain and gzip; bad lines name the line', () =>
  withTempDir('seq2track-ann-', async (dir) => {
    writeFileSync(join(dir, 'a.gtf'), GTF + '\n');
    writeFileSync(join(dir, 'a.gtf.gz'), gzipSync(GTF + '\n'));
    for (const f of ['a.gtf', 'a.gtf.gz']) {
      const genes = await genesInWindow(join(dir, f), 'chr1', 0, 2000);
      assert.deepEqual(genes, [
        { name: 'ONE', start: 100, end: 500, strand: '+', exons: [{ start: 100, end: 150 }, { start: 400, end: 500 }] },
        // No gene line: the span of its exons, named by gene_id.
        { name: 'G2', start: 900, end: 1100, strand: '-', exons: [{ start: 900, end: 950 }, { start: 1000, end: 1100 }] },
      ]);
    }
    writeFileSync(join(dir, 'bad.gtf'), GTF.split('\n').slice(0, 3).join('\n') + '\nchr1\tt\texon\t10\n');
    await assert.rejects(genesInWindow(join(dir, 'bad.gtf'), 'chr1', 0, 2000), /bad\.gtf: line 4: 4 tab-separated fields, a GTF line has 9/);
    await assert.rejects(genesInWindow(join(dir, 'none.gtf'), 'chr1', 0, 2000), /none\.gtf: cannot read \(ENOENT\)/);
  }));

test('plot annotations: bigWig signal binned to the plot positions (length-weighted mean of covered bases)', () =>
  withTempDir('seq2track-ann-', async (dir) => {
    const path = join(dir, 's.bw');
    await writeBigWig(path, [{ chrom: 'chr1', starts: [0, 100, 300], ends: [100, 200, 400], values: Float32Array.from([1, 3, 5]) }], new Map([['chr1', 1000]]));
    const s = await signalInWindow(path, 'chr1', 0, 400, 2);
    // [0, 200): 100 bp of 1 and 100 bp of 3; [200, 400): only [300, 400) covered, value 5.
    assert.deepEqual(s.points, [
      { start: 0, end: 200, value: 2 },
      { start: 200, end: 400, value: 5 },
    ]);
    assert.equal(s.name, 's');
    await assert.rejects(signalInWindow(path, 'chrX', 0, 400, 2), /no chromosome chrX \(it has chr1\)/);
  }));

test('attention plot rows: mean over query rows and records, labelled by layer (and head)', () => {
  // 2 records, 1 layer, 2 heads, 2 rows, 3 positions.
  const data = Float32Array.from({ length: 24 }, (_, i) => i);
  const rows = heatmapRows({
    map: { data, shape: [2, 1, 2, 2, 3], layers: [4], heads: [1, 3], rows: [10, 11] },
    records: [],
    resolution: 128,
  });
  assert.deepEqual(rows.map((r) => r.label), ['4 · head 1', '4 · head 3']);
  // head 1 (index 0): record 0 rows at 0..2, 3..5; record 1 at 12..14, 15..17 -> mean 7.5 + p.
  assert.deepEqual(Array.from(rows[0]!.values), [7.5, 8.5, 9.5]);
  assert.deepEqual(Array.from(rows[1]!.values), [13.5, 14.5, 15.5]);
});
