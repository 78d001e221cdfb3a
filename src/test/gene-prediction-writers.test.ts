/** predict-genes output (formats/gene-prediction-writers.ts): TSV text and Parquet read back with hyparquet. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { writeGenePredictions, type GenePredictionRow } from '../formats/gene-prediction-writers.js';
import { withTempDir } from './fixtures.js';

const rows: GenePredictionRow[] = [
  { geneId: 'ENSG00000141510.18', geneName: 'TP53', chrom: 'chr17', start: 7661778, end: 7687538, strand: '-', bins: 41, track: 'CNhs11760', value: 1234.5678912 },
  { geneId: 'ENSG00000141510.18', geneName: 'TP53', chrom: 'chr17', start: 7661778, end: 7687538, strand: '-', bins: 41, track: 'ENCFF833POA', value: 0.000123456789 },
  { geneId: 'ENSG00000012048', geneName: 'BRCA1', chrom: 'chr17', start: 43044294, end: 43125483, strand: '+', bins: 0, track: 'CNhs11760', value: 0 },
];

test('gene predictions: TSV header and rows (coverage with 7 significant digits)', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'genes.tsv');
    await writeGenePredictions(path, rows, '.tsv');
    assert.deepEqual(readdirSync(dir), ['genes.tsv']);
    assert.equal(
      readFileSync(path, 'utf8'),
      'gene\tgene_name\tchrom\tstart\tend\tstrand\tbins\ttrack\tcoverage\n' +
        'ENSG00000141510.18\tTP53\tchr17\t7661778\t7687538\t-\t41\tCNhs11760\t1234.568\n' +
        'ENSG00000141510.18\tTP53\tchr17\t7661778\t7687538\t-\t41\tENCFF833POA\t0.0001234568\n' +
        'ENSG00000012048\tBRCA1\tchr17\t43044294\t43125483\t+\t0\tCNhs11760\t0\n',
    );
    await writeGenePredictions(join(dir, 'none.tsv'), [], '.tsv');
    assert.equal(readFileSync(join(dir, 'none.tsv'), 'utf8'), 'gene\tgene_name\tchrom\tstart\tend\tstrand\tbins\ttrack\tcoverage\n');
  }));

test('gene predictions: Parquet columns, types and values (coverage exact as float64)', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'genes.parquet');
    await writeGenePredictions(path, rows, '.parquet');
    assert.deepEqual(readdirSync(dir), ['genes.parquet']);
    const file = await asyncBufferFromFile(path);
    const meta = await parquetMetadataAsync(file);
    assert.deepEqual(
      meta.schema.slice(1).map((e) => [e.name, e.type, e.repetition_type]),
      [
        ['gene', 'BYTE_ARRAY', 'REQUIRED'], ['gene_name', 'BYTE_ARRAY', 'REQUIRED'], ['chrom', 'BYTE_ARRAY', 'REQUIRED'], ['start', 'INT32', 'REQUIRED'], ['end', 'INT32', 'REQUIRED'],
        ['strand', 'BYTE_ARRAY', 'REQUIRED'], ['bins', 'INT32', 'REQUIRED'], ['track', 'BYTE_ARRAY', 'REQUIRED'], ['coverage', 'DOUBLE', 'REQUIRED'],
      ],
    );
    assert.equal(meta.created_by, 'seq2track');
    assert.deepEqual(
      await parquetReadObjects({ file }),
      rows.map((x) => ({ gene: x.geneId, gene_name: x.geneName, chrom: x.chrom, start: x.start, end: x.end, strand: x.strand, bins: x.bins, track: x.track, coverage: x.value })),
    );
  }));

test('gene predictions: a failure names the file and leaves no partial', () =>
  withTempDir(async (dir) => {
    await assert.rejects(writeGenePredictions(join(dir, 'missing', 'g.tsv'), rows, '.tsv'), (e: Error) => e.message.startsWith(`${join(dir, 'missing', 'g.tsv')}: `) && !e.message.includes('\n'));
    await assert.rejects(writeGenePredictions(join(dir, 'missing', 'g.parquet'), rows, '.parquet'), (e: Error) => e.message.startsWith(`${join(dir, 'missing', 'g.parquet')}: `));
    const huge = [{ ...rows[0]!, end: 2 ** 31 }];
    await assert.rejects(writeGenePredictions(join(dir, 'g.parquet'), huge, '.parquet'), /g\.parquet: gene ENSG00000141510\.18: end 2147483648 is not a 32-bit integer/);
    assert.deepEqual(readdirSync(dir), []);
  }));
