/**
 * Variant → gene scores (one row per variant × gene × output track) in three formats, each written
 * to `path + '.partial'` (TSV: resumable, see score-tsv.ts) and complete only after `close()`:
 *
 * TSV:      chrom pos id ref alt gene gene_name track <one column per statistic>, 7 significant digits.
 * Parquet:  the same columns (pos INT32, statistics FLOAT), Snappy, a row group every ~2^20 rows.
 * sed.h5:   borzoi_sed.py's layout. N variants with genes, M (variant, gene) rows, T tracks:
 *           si int64 (M) row → variant index · gene |S (M) · snp chr ref_allele alt_allele |S (N) ·
 *           pos uint32 (N) · target_ids target_labels |S (T) · one float32 (M, T) dataset per
 *           statistic (upstream: float16 with SED clipped to ±65504). Statistics are appended as the
 *           run goes; the string columns are kept in memory (a fixed width is known only at the end).
 */
import { open, rename, type FileHandle } from 'node:fs/promises';
import { ByteWriter, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer';
import type { ScoreColumns, ScoreTrack } from './score-writers.js';
import { ScoreWriterError } from './score-writers.js';
import { formatScore, TsvScores } from './score-tsv.js';

/** One (variant, gene) result: per statistic, one value per output track. */
export interface GeneScoreRow {
  gene: { id: string; name: string };
  stats: Record<string, Float32Array>;
}

/** Takes the gene rows of one variant (ALT) at a time. */
export interface GeneWriter {
  write(variant: ScoreColumns, rows: GeneScoreRow[]): Promise<void>;
  close(): Promise<void>;
}

type GeneStat = string;
type GeneRow = GeneScoreRow;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function geneTsvHeader(stats: readonly GeneStat[]): string {
  return ['chrom', 'pos', 'id', 'ref', 'alt', 'gene', 'gene_name', 'track', ...stats].join('\t') + '\n';
}

/** Whether a TSV's first line (with its newline) is a gene-score header. */
export function isGeneTsvHeader(line: string): boolean {
  return /^chrom\tpos\tid\tref\talt\tgene\tgene_name\ttrack(\t[A-Za-z0-9]+)+\n$/.test(line);
}

/** Rows of one variant as TSV text. */
export function geneTsvRows(v: ScoreColumns, rows: GeneRow[], trackIds: string[], stats: readonly GeneStat[]): string {
  const out: string[] = [];
  for (const { gene, stats: values } of rows) {
    const prefix = `${v.chrom}\t${v.pos}\t${v.id}\t${v.ref}\t${v.alt}\t${gene.id}\t${gene.name}\t`;
    trackIds.forEach((t, k) => out.push(`${prefix}${t}\t${stats.map((s) => formatScore(values[s]![k]!)).join('\t')}\n`));
  }
  return out.join('');
}

/** The resumable TSV writer with the gene row layout. */
export function geneTsvWriter(tsv: TsvScores, tracks: ScoreTrack[], stats: readonly GeneStat[]): GeneWriter {
  const ids = tracks.map((t) => t.identifier);
  return {
    write: async (v, rows) => tsv.append(geneTsvRows(v, rows, ids, stats)),
    close: () => tsv.close(),
  };
}

class FileSink extends ByteWriter {
  constructor(private readonly file: FileHandle) {
    super(1 << 16);
  }

  async flush(): Promise<void> {
    let done = 0;
    while (done < this.index) {
      const { bytesWritten } = await this.file.write(new Uint8Array(this.buffer, done, this.index - done));
      done += bytesWritten;
    }
    this.index = 0;
  }

  override finish(): void {}
}

const STRING_COLUMNS = ['chrom', 'id', 'ref', 'alt', 'gene', 'gene_name', 'track'] as const;

/** Gene scores as Parquet, long format (see the file comment). */
export async function openGeneParquet(path: string, tracks: ScoreTrack[], stats: readonly GeneStat[], groupRows = 2 ** 20): Promise<GeneWriter> {
  const partial = `${path}.partial`;
  let file: FileHandle;
  try {
    file = await open(partial, 'w');
  } catch (e) {
    throw new ScoreWriterError(`${path}: cannot create ${partial} (${message(e)})`);
  }
  const schema = schemaFromColumnData({
    columnData: [
      ...STRING_COLUMNS.slice(0, 1).map((name) => ({ name, data: [], type: 'STRING' as const, nullable: false })),
      { name: 'pos', data: [], type: 'INT32', nullable: false },
      ...STRING_COLUMNS.slice(1).map((name) => ({ name, data: [], type: 'STRING' as const, nullable: false })),
      ...stats.map((name) => ({ name, data: [], type: 'FLOAT' as const, nullable: false })),
    ],
  });
  const sink = new FileSink(file);
  const parquet = new ParquetWriter({
    writer: sink,
    schema,
    codec: 'SNAPPY',
    createdBy: 'seq2track',
    kvMetadata: [{ key: 'seq2track.tracks', value: JSON.stringify(tracks.map(({ identifier, description }) => ({ identifier, description }))) }],
  });
  const ids = tracks.map((t) => t.identifier);
  let strings: Record<(typeof STRING_COLUMNS)[number], string[]> = Object.fromEntries(STRING_COLUMNS.map((c) => [c, []])) as never;
  let pos: number[] = [];
  let values: Record<string, number[]> = Object.fromEntries(stats.map((s) => [s, []]));
  const flush = async () => {
    if (pos.length === 0) return;
    await parquet.write({
      columnData: [
        { name: 'chrom', data: strings.chrom },
        { name: 'pos', data: Int32Array.from(pos) },
        ...STRING_COLUMNS.slice(1).map((name) => ({ name, data: strings[name] })),
        ...stats.map((s) => ({ name: s, data: Float32Array.from(values[s]!) })),
      ],
      rowGroupSize: pos.length,
    });
    await sink.flush();
    strings = Object.fromEntries(STRING_COLUMNS.map((c) => [c, []])) as never;
    pos = [];
    values = Object.fromEntries(stats.map((s) => [s, []]));
  };
  return {
    async write(v, rows) {
      if (!Number.isInteger(v.pos) || v.pos < 0 || v.pos > 2 ** 31 - 1) throw new ScoreWriterError(`${path}: variant ${v.chrom}:${v.pos}: position out of INT32 range`);
      for (const { gene, stats: st } of rows) {
        ids.forEach((t, k) => {
          strings.chrom.push(v.chrom);
          pos.push(v.pos);
          strings.id.push(v.id);
          strings.ref.push(v.ref);
          strings.alt.push(v.alt);
          strings.gene.push(gene.id);
          strings.gene_name.push(gene.name);
          strings.track.push(t);
          for (const s of stats) values[s]!.push(st[s]![k]!);
        });
      }
      if (pos.length >= groupRows) await flush();
    },
    async close() {
      await flush();
      await parquet.finish();
      await sink.flush();
      await file.close();
      await rename(partial, path);
    },
  };
}

type H5 = typeof import('h5wasm/node').default;
type H5Dataset = InstanceType<H5['Dataset']>;

function width(values: Iterable<string>): number {
  let w = 1;
  for (const v of values) w = Math.max(w, Buffer.byteLength(v, 'utf8'));
  return w;
}

/** Gene scores as borzoi_sed.py's sed.h5 (see the file comment). */
export async function openSedH5(path: string, tracks: ScoreTrack[], stats: readonly GeneStat[], flushRows = Math.max(1, Math.ceil(2 ** 20 / tracks.length))): Promise<GeneWriter> {
  const T = tracks.length;
  const partial = `${path}.partial`;
  const h5wasm = (await import('h5wasm/node')).default;
  await h5wasm.ready;
  let f: InstanceType<H5['File']>;
  try {
    f = new h5wasm.File(partial, 'w');
  } catch (e) {
    throw new ScoreWriterError(`${path}: cannot create HDF5 scores (${message(e)})`);
  }
  const strings = (name: string, values: string[]) => f.create_dataset({ name, data: values, dtype: `S${width(values)}` });
  strings('target_ids', tracks.map((t) => t.identifier));
  strings('target_labels', tracks.map((t) => t.description));
  const chunkRows = Math.max(1, Math.min(flushRows, Math.floor(2 ** 18 / T)));
  const datasets = Object.fromEntries(
    stats.map((name) => [name, f.create_dataset({ name, data: new Float32Array(0), shape: [0, T], maxshape: [null, T], chunks: [chunkRows, T], dtype: '<f' })]),
  ) as Record<string, H5Dataset>;
  f.create_attribute('stat_dtype', 'float32');
  f.create_attribute('note', 'Layout of borzoi_sed.py sed.h5, but statistics are float32 (upstream: float16, SED clipped to ±65504); every ALT of a multi-allelic record is a variant.');
  f.create_attribute('writer', 'seq2track');

  const variant = { snp: [] as string[], chr: [] as string[], ref_allele: [] as string[], alt_allele: [] as string[], pos: [] as number[] };
  const si: number[] = [];
  const genes: string[] = [];
  let buffered: Record<string, Float32Array> = {};
  let rowsBuffered = 0;
  let written = 0;
  const newBuffers = () => {
    buffered = Object.fromEntries(stats.map((s) => [s, new Float32Array(flushRows * T)]));
    rowsBuffered = 0;
  };
  newBuffers();
  const flush = () => {
    if (rowsBuffered === 0) return;
    const to = written + rowsBuffered;
    for (const s of stats) {
      datasets[s]!.resize([to, T]);
      datasets[s]!.write_slice([[written, to], []], buffered[s]!.subarray(0, rowsBuffered * T));
    }
    f.flush();
    written = to;
    newBuffers();
  };
  return {
    async write(v, rows) {
      if (rows.length === 0) return;
      const index = variant.snp.length;
      variant.snp.push(v.id === '.' || v.id === '' ? `${v.chrom}:${v.pos}:${v.ref}:${v.alt}` : v.id);
      variant.chr.push(v.chrom);
      variant.ref_allele.push(v.ref);
      variant.alt_allele.push(v.alt);
      variant.pos.push(v.pos);
      for (const { gene, stats: st } of rows) {
        si.push(index);
        genes.push(gene.id);
        for (const s of stats) buffered[s]!.set(st[s]!, rowsBuffered * T);
        if (++rowsBuffered === flushRows) flush();
      }
    },
    async close() {
      flush();
      f.create_dataset({ name: 'si', data: BigInt64Array.from(si.map(BigInt)), dtype: '<q' });
      strings('gene', genes);
      for (const k of ['snp', 'chr', 'ref_allele', 'alt_allele'] as const) strings(k, variant[k]);
      f.create_dataset({ name: 'pos', data: Uint32Array.from(variant.pos), dtype: '<I' });
      f.close();
      await rename(partial, path);
    },
  };
}
