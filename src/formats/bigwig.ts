/**
 * A bigWig writer (UCSC bbi format, version 4): header, zoom headers, total summary, chromosome
 * B+ tree, zlib-compressed bedGraph-type data sections, an R-tree index over them, and zoom levels
 * (each with its own sections and R-tree) so genome browsers can draw wide views quickly.
 *
 * Layout written, all little-endian:
 *   header (64) | zoom headers (24 each) | total summary (40) | chrom B+ tree |
 *   data count (u64) + sections | R-tree | per zoom level: record count (u32) + sections + R-tree | magic
 *
 * One writer serves both whole-array input (`encodeBigWig`) and streamed input
 * (`writeBigWigStream`): it sees the intervals (coordinates only, known up front) and a re-readable
 * source of their values, and makes one pass over the values for the full-resolution sections and
 * one per zoom level. The zoom levels are chosen from the coordinates alone, the sections are
 * written as they fill, and only the sections' bounds (one entry per 1,024 intervals) are kept for
 * the R-trees, so memory does not grow with the number of intervals beyond the coordinates.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';

export class BigWigError extends Error {}

const BIGWIG_MAGIC = 0x888ffc26;
const BPT_MAGIC = 0x78ca8c91;
const RTREE_MAGIC = 0x2468ace0;
const ITEMS_PER_SLOT = 1024;
const RTREE_BLOCK = 256;
const MAX_ZOOMS = 10;

/** Intervals of one chromosome, sorted by start, not overlapping. */
export interface BigWigSection {
  chrom: string;
  starts: ArrayLike<number>;
  ends: ArrayLike<number>;
  values: ArrayLike<number>;
}

/** Coordinates of intervals of one chromosome (their values come separately). */
export interface BigWigLayoutSection {
  chrom: string;
  starts: ArrayLike<number>;
  ends: ArrayLike<number>;
}

/** The values of every interval in layout order, as chunks; called once per pass. */
export type BigWigValues = () => Iterable<ArrayLike<number>>;

interface Block {
  chromId: number;
  start: number;
  endChromId: number;
  end: number;
  /** Compressed size and file offset. */
  size: number;
  rawSize: number;
  offset: number;
}

/** Where the bytes go: appended in order, with earlier bytes patched once their content is known. */
interface Sink {
  size: number;
  push(b: Buffer): number;
  patch(at: number, b: Buffer): void;
}

class MemorySink implements Sink {
  private parts: Buffer[] = [];
  size = 0;

  push(b: Buffer): number {
    const at = this.size;
    this.parts.push(Buffer.from(b));
    this.size += b.length;
    return at;
  }

  patch(at: number, b: Buffer): void {
    const all = this.bytes();
    b.copy(all, at);
    this.parts = [all];
  }

  bytes(): Buffer {
    if (this.parts.length !== 1) this.parts = [Buffer.concat(this.parts)];
    return this.parts[0] ?? Buffer.alloc(0);
  }
}

class FileSink implements Sink {
  size = 0;
  constructor(private readonly fd: number) {}

  push(b: Buffer): number {
    const at = this.size;
    this.write(at, b);
    this.size += b.length;
    return at;
  }

  patch(at: number, b: Buffer): void {
    this.write(at, b);
  }

  private write(at: number, b: Buffer): void {
    for (let done = 0; done < b.length; ) done += writeSync(this.fd, b, done, b.length - done, at + done);
  }
}

/** Sorted chromosome names (byte order, as the B+ tree's key search needs) and their ids. */
function chromOrder(names: string[]): Map<string, number> {
  const sorted = [...new Set(names)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return new Map(sorted.map((n, i) => [n, i]));
}

/** Steps through the values of a pass in layout order. */
class ValueCursor {
  private chunks: Iterator<ArrayLike<number>>;
  private chunk: ArrayLike<number> = [];
  private at = 0;

  constructor(values: BigWigValues) {
    this.chunks = values()[Symbol.iterator]();
  }

  next(): number {
    while (this.at >= this.chunk.length) {
      const n = this.chunks.next();
      if (n.done) throw new BigWigError('fewer values than intervals');
      this.chunk = n.value;
      this.at = 0;
    }
    return this.chunk[this.at++]!;
  }

  finish(): void {
    if (this.at < this.chunk.length || !this.chunks.next().done) throw new BigWigError('more values than intervals');
  }
}

/** Checks the layout (chromosomes known, intervals inside them, in id order, not overlapping); returns the chromosome ids. */
function checkLayout(layout: BigWigLayoutSection[], chromSizes: Map<string, number>): Map<string, number> {
  const ids = chromOrder(layout.map((s) => s.chrom));
  let prevId = -1;
  let prevStart = -1;
  let prevEnd = 0;
  for (const s of layout) {
    const chromId = ids.get(s.chrom)!;
    const size = chromSizes.get(s.chrom);
    if (size === undefined) throw new BigWigError(`no length given for chromosome ${s.chrom}`);
    if (s.starts.length !== s.ends.length) throw new BigWigError(`${s.chrom}: ${s.starts.length} starts but ${s.ends.length} ends`);
    for (let i = 0; i < s.starts.length; i++) {
      const start = s.starts[i]!;
      const end = s.ends[i]!;
      if (!(start >= 0 && end > start && end <= size)) throw new BigWigError(`interval ${s.chrom}:${start}-${end} is empty or outside the chromosome (${size} bp)`);
      if (chromId < prevId || (chromId === prevId && start < prevStart)) throw new BigWigError(`intervals out of order at ${s.chrom}:${start}-${end}; sort by chromosome (byte order) and start`);
      if (chromId === prevId && start < prevEnd) {
        throw new BigWigError(`intervals overlap on ${s.chrom} (${prevStart}-${prevEnd} and ${start}-${end}); a bigWig needs non-overlapping bins`);
      }
      [prevId, prevStart, prevEnd] = [chromId, start, end];
    }
  }
  return ids;
}

/** Full-resolution sections: up to ITEMS_PER_SLOT bedGraph items of one chromosome each. */
class DataSections {
  private raw = Buffer.alloc(24 + 12 * ITEMS_PER_SLOT);
  private n = 0;
  private chromId = -1;
  private first = 0;
  private last = 0;
  readonly blocks: Block[] = [];

  constructor(private readonly sink: Sink) {}

  add(chromId: number, start: number, end: number, value: number): void {
    if (this.n === ITEMS_PER_SLOT || (this.n > 0 && chromId !== this.chromId)) this.flush();
    if (this.n === 0) [this.chromId, this.first] = [chromId, start];
    const o = 24 + 12 * this.n++;
    this.raw.writeUInt32LE(start, o);
    this.raw.writeUInt32LE(end, o + 4);
    this.raw.writeFloatLE(value, o + 8);
    this.last = end;
  }

  flush(): void {
    if (this.n === 0) return;
    const raw = this.raw.subarray(0, 24 + 12 * this.n);
    raw.writeUInt32LE(this.chromId, 0);
    raw.writeUInt32LE(this.first, 4);
    raw.writeUInt32LE(this.last, 8);
    raw.writeUInt32LE(0, 12); // itemStep
    raw.writeUInt32LE(0, 16); // itemSpan
    raw.writeUInt8(1, 20); // type 1: bedGraph
    raw.writeUInt8(0, 21);
    raw.writeUInt16LE(this.n, 22);
    const data = deflateSync(raw);
    const offset = this.sink.push(data);
    this.blocks.push({ chromId: this.chromId, start: this.first, endChromId: this.chromId, end: this.last, size: data.length, rawSize: raw.length, offset });
    this.n = 0;
  }
}

interface ZoomRecord {
  chromId: number;
  start: number;
  end: number;
  validCount: number;
  min: number;
  max: number;
  sum: number;
  sumSquares: number;
}

/** Summaries over windows of `reduction` bp (aligned to the chromosome start), weighted by bases covered; records handed on as completed. */
class ZoomSummaries {
  private cur: ZoomRecord | undefined;

  constructor(
    private readonly reduction: number,
    private readonly emit: (r: ZoomRecord) => void,
  ) {}

  add(chromId: number, start: number, end: number, value: number): void {
    const reduction = this.reduction;
    for (let s = start; s < end; ) {
      const binStart = Math.floor(s / reduction) * reduction;
      const e = Math.min(end, binStart + reduction);
      let cur = this.cur;
      if (!cur || cur.chromId !== chromId || cur.start < binStart || cur.start >= binStart + reduction) {
        if (cur) this.emit(cur);
        cur = this.cur = { chromId, start: s, end: e, validCount: 0, min: Infinity, max: -Infinity, sum: 0, sumSquares: 0 };
      }
      const bases = e - s;
      cur.end = e;
      cur.validCount += bases;
      cur.min = Math.min(cur.min, value);
      cur.max = Math.max(cur.max, value);
      cur.sum += value * bases;
      cur.sumSquares += value * value * bases;
      s = e;
    }
  }

  finish(): void {
    if (this.cur) this.emit(this.cur);
    this.cur = undefined;
  }
}

/** Zoom sections: up to ITEMS_PER_SLOT summary records each. */
class ZoomSections {
  private raw = Buffer.alloc(32 * ITEMS_PER_SLOT);
  private n = 0;
  private first: ZoomRecord | undefined;
  private last: ZoomRecord | undefined;
  readonly blocks: Block[] = [];
  records = 0;

  constructor(private readonly sink: Sink) {}

  add(r: ZoomRecord): void {
    if (this.n === ITEMS_PER_SLOT) this.flush();
    if (this.n === 0) this.first = r;
    const o = 32 * this.n++;
    this.raw.writeUInt32LE(r.chromId, o);
    this.raw.writeUInt32LE(r.start, o + 4);
    this.raw.writeUInt32LE(r.end, o + 8);
    this.raw.writeUInt32LE(r.validCount, o + 12);
    this.raw.writeFloatLE(r.min, o + 16);
    this.raw.writeFloatLE(r.max, o + 20);
    this.raw.writeFloatLE(r.sum, o + 24);
    this.raw.writeFloatLE(r.sumSquares, o + 28);
    this.last = r;
    this.records++;
  }

  flush(): void {
    if (this.n === 0) return;
    const raw = this.raw.subarray(0, 32 * this.n);
    const data = deflateSync(raw);
    const offset = this.sink.push(data);
    const first = this.first!;
    const last = this.last!;
    this.blocks.push({ chromId: first.chromId, start: first.start, endChromId: last.chromId, end: last.end, size: data.length, rawSize: raw.length, offset });
    this.n = 0;
  }
}

/** Calls `f` for every interval of the layout with its chromosome id. */
function forEachInterval(layout: BigWigLayoutSection[], ids: Map<string, number>, f: (chromId: number, start: number, end: number) => void): void {
  for (const s of layout) {
    const chromId = ids.get(s.chrom)!;
    for (let i = 0; i < s.starts.length; i++) f(chromId, s.starts[i]!, s.ends[i]!);
  }
}

/** Zoom reductions: 4×, 16×, … the median interval span, while each still shrinks the data (coordinates only). */
function zoomReductions(layout: BigWigLayoutSection[], ids: Map<string, number>): number[] {
  const spans = new Map<number, number>();
  let items = 0;
  forEachInterval(layout, ids, (_, start, end) => {
    spans.set(end - start, (spans.get(end - start) ?? 0) + 1);
    items++;
  });
  if (items === 0) return [];
  const half = Math.floor(items / 2);
  let median = 0;
  let seen = 0;
  for (const span of [...spans.keys()].sort((a, b) => a - b)) {
    seen += spans.get(span)!;
    if (seen > half) {
      median = span;
      break;
    }
  }
  const reductions: number[] = [];
  let reduction = Math.max(1, median) * 4;
  let previous = items;
  while (reductions.length < MAX_ZOOMS) {
    let records = 0;
    const z = new ZoomSummaries(reduction, () => records++);
    forEachInterval(layout, ids, (chromId, start, end) => z.add(chromId, start, end, 0));
    z.finish();
    if (records >= previous || records === 0) break;
    reductions.push(reduction);
    previous = records;
    if (records <= 1) break;
    reduction *= 4;
  }
  return reductions;
}

/** Chromosome B+ tree: a single leaf node holding every chromosome (block size = chromosome count). */
function chromTree(ids: Map<string, number>, sizes: Map<string, number>): Buffer {
  const names = [...ids.keys()];
  const keySize = Math.max(1, ...names.map((n) => Buffer.byteLength(n)));
  const count = names.length;
  const buf = Buffer.alloc(32 + 4 + count * (keySize + 8));
  buf.writeUInt32LE(BPT_MAGIC, 0);
  buf.writeUInt32LE(Math.max(1, count), 4);
  buf.writeUInt32LE(keySize, 8);
  buf.writeUInt32LE(8, 12);
  buf.writeBigUInt64LE(BigInt(count), 16);
  buf.writeUInt8(1, 32); // leaf
  buf.writeUInt16LE(count, 34);
  names.forEach((n, i) => {
    const o = 36 + i * (keySize + 8);
    buf.write(n, o, 'utf8');
    buf.writeUInt32LE(ids.get(n)!, o + keySize);
    buf.writeUInt32LE(sizes.get(n)!, o + keySize + 4);
  });
  return buf;
}

interface Bounds {
  chromId: number;
  start: number;
  endChromId: number;
  end: number;
}

/** The R-tree over blocks whose file offsets are set; `dataEnd` is the end of the last block. */
function rTree(blocks: Block[], dataEnd: number, treeOffset: number): Buffer {
  // Levels bottom-up: level 0 groups blocks into leaves, each next level groups the nodes below.
  const levels: Bounds[][][] = [];
  let items: Bounds[] = blocks;
  do {
    const nodes: Bounds[][] = [];
    for (let i = 0; i < items.length; i += RTREE_BLOCK) nodes.push(items.slice(i, i + RTREE_BLOCK));
    if (nodes.length === 0) nodes.push([]);
    levels.push(nodes);
    items = nodes.map((n) => bounds(n));
  } while (items.length > 1);
  levels.reverse(); // root first
  const nodeSize = (level: number, n: Bounds[]) => 4 + n.length * (level === levels.length - 1 ? 32 : 24);
  const levelOffsets: number[] = [];
  let at = treeOffset + 48;
  for (let l = 0; l < levels.length; l++) {
    levelOffsets.push(at);
    for (const n of levels[l]!) at += nodeSize(l, n);
  }
  const buf = Buffer.alloc(at - treeOffset);
  const all = bounds(blocks);
  buf.writeUInt32LE(RTREE_MAGIC, 0);
  buf.writeUInt32LE(RTREE_BLOCK, 4);
  buf.writeBigUInt64LE(BigInt(blocks.length), 8);
  buf.writeUInt32LE(all.chromId, 16);
  buf.writeUInt32LE(all.start, 20);
  buf.writeUInt32LE(all.endChromId, 24);
  buf.writeUInt32LE(all.end, 28);
  buf.writeBigUInt64LE(BigInt(dataEnd), 32);
  buf.writeUInt32LE(ITEMS_PER_SLOT, 40);
  let o = 48;
  for (let l = 0; l < levels.length; l++) {
    const leaf = l === levels.length - 1;
    let child = levelOffsets[l + 1] ?? 0;
    for (const node of levels[l]!) {
      buf.writeUInt8(leaf ? 1 : 0, o);
      buf.writeUInt16LE(node.length, o + 2);
      o += 4;
      for (const [i, item] of node.entries()) {
        buf.writeUInt32LE(item.chromId, o);
        buf.writeUInt32LE(item.start, o + 4);
        buf.writeUInt32LE(item.endChromId, o + 8);
        buf.writeUInt32LE(item.end, o + 12);
        if (leaf) {
          const b = item as Block;
          buf.writeBigUInt64LE(BigInt(b.offset!), o + 16);
          buf.writeBigUInt64LE(BigInt(b.size), o + 24);
          o += 32;
        } else {
          buf.writeBigUInt64LE(BigInt(child), o + 16);
          child += nodeSize(l + 1, levels[l + 1]![childIndex(levels, l, node, i)]!);
          o += 24;
        }
      }
    }
  }
  return buf;
}

/** Index, within level l+1, of the child that item i of `node` (at level l) points to. */
function childIndex(levels: Bounds[][][], l: number, node: Bounds[], i: number): number {
  return levels[l]!.indexOf(node) * RTREE_BLOCK + i;
}

function bounds(items: Bounds[]): Bounds {
  if (items.length === 0) return { chromId: 0, start: 0, endChromId: 0, end: 0 };
  const first = items[0]!;
  const last = items[items.length - 1]!;
  return { chromId: first.chromId, start: first.start, endChromId: last.endChromId, end: last.end };
}

/** Writes a bigWig to `sink` from the layout and a re-readable source of its values. */
function writeBigWigTo(sink: Sink, layout: BigWigLayoutSection[], values: BigWigValues, chromSizes: Map<string, number>): void {
  const ids = checkLayout(layout, chromSizes);
  const reductions = zoomReductions(layout, ids);

  const header = Buffer.alloc(64);
  sink.push(header);
  const zoomHeaders = Buffer.alloc(24 * reductions.length);
  const zoomHeadersOffset = sink.push(zoomHeaders);
  const summary = Buffer.alloc(40);
  const summaryOffset = sink.push(summary);
  const chromTreeOffset = sink.push(chromTree(ids, chromSizes));

  // Full resolution, with the total summary.
  const count = Buffer.alloc(8);
  const dataOffset = sink.push(count);
  const data = new DataSections(sink);
  let bases = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSquares = 0;
  let items = 0;
  let cursor = new ValueCursor(values);
  forEachInterval(layout, ids, (chromId, start, end) => {
    const value = cursor.next();
    data.add(chromId, start, end, value);
    const n = end - start;
    bases += n;
    min = Math.min(min, value);
    max = Math.max(max, value);
    sum += value * n;
    sumSquares += value * value * n;
    items++;
  });
  cursor.finish();
  data.flush();
  count.writeBigUInt64LE(BigInt(data.blocks.length));
  sink.patch(dataOffset, count);
  const indexOffset = sink.size;
  sink.push(rTree(data.blocks, indexOffset, indexOffset));
  let maxRaw = Math.max(0, ...data.blocks.map((b) => b.rawSize));

  reductions.forEach((reduction, i) => {
    const count = Buffer.alloc(4);
    const levelOffset = sink.push(count);
    const sections = new ZoomSections(sink);
    const zoom = new ZoomSummaries(reduction, (r) => sections.add(r));
    cursor = new ValueCursor(values);
    forEachInterval(layout, ids, (chromId, start, end) => zoom.add(chromId, start, end, cursor.next()));
    cursor.finish();
    zoom.finish();
    sections.flush();
    count.writeUInt32LE(sections.blocks.length);
    sink.patch(levelOffset, count);
    const levelIndex = sink.size;
    sink.push(rTree(sections.blocks, levelIndex, levelIndex));
    maxRaw = Math.max(maxRaw, ...sections.blocks.map((b) => b.rawSize));
    zoomHeaders.writeUInt32LE(reduction, 24 * i);
    zoomHeaders.writeBigUInt64LE(BigInt(levelOffset), 24 * i + 8);
    zoomHeaders.writeBigUInt64LE(BigInt(levelIndex), 24 * i + 16);
  });
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(BIGWIG_MAGIC);
  sink.push(tail);

  summary.writeBigUInt64LE(BigInt(bases), 0);
  summary.writeDoubleLE(items ? min : 0, 8);
  summary.writeDoubleLE(items ? max : 0, 16);
  summary.writeDoubleLE(sum, 24);
  summary.writeDoubleLE(sumSquares, 32);

  header.writeUInt32LE(BIGWIG_MAGIC, 0);
  header.writeUInt16LE(4, 4);
  header.writeUInt16LE(reductions.length, 6);
  header.writeBigUInt64LE(BigInt(chromTreeOffset), 8);
  header.writeBigUInt64LE(BigInt(dataOffset), 16);
  header.writeBigUInt64LE(BigInt(indexOffset), 24);
  header.writeUInt16LE(0, 32); // fieldCount
  header.writeUInt16LE(0, 34); // definedFieldCount
  header.writeBigUInt64LE(0n, 36); // autoSqlOffset
  header.writeBigUInt64LE(BigInt(summaryOffset), 44);
  header.writeUInt32LE(maxRaw, 52); // uncompressBufSize
  header.writeBigUInt64LE(0n, 56); // extensionOffset
  sink.patch(0, header);
  sink.patch(zoomHeadersOffset, zoomHeaders);
  sink.patch(summaryOffset, summary);
}

/**
 * Encodes a bigWig of non-overlapping intervals (sections in any order). `chromSizes` must give
 * the length of every chromosome with data; only those chromosomes enter the file.
 */
export function encodeBigWig(sections: BigWigSection[], chromSizes: Map<string, number>): Buffer {
  const ids = chromOrder(sections.map((s) => s.chrom));
  for (const s of sections) if (!chromSizes.has(s.chrom)) throw new BigWigError(`no length given for chromosome ${s.chrom}`);
  const items: { chromId: number; start: number; end: number; value: number; chrom: string }[] = [];
  for (const s of sections) {
    const chromId = ids.get(s.chrom)!;
    for (let i = 0; i < s.starts.length; i++) items.push({ chromId, chrom: s.chrom, start: s.starts[i]!, end: s.ends[i]!, value: s.values[i]! });
  }
  items.sort((a, b) => a.chromId - b.chromId || a.start - b.start);
  const layout: BigWigLayoutSection[] = [];
  for (let i = 0; i < items.length; ) {
    let j = i;
    while (j < items.length && items[j]!.chromId === items[i]!.chromId) j++;
    const run = items.slice(i, j);
    layout.push({ chrom: items[i]!.chrom, starts: run.map((x) => x.start), ends: run.map((x) => x.end) });
    i = j;
  }
  const values = Float64Array.from(items, (x) => x.value);
  const sink = new MemorySink();
  writeBigWigTo(sink, layout, () => [values], chromSizes);
  return sink.bytes();
}

export async function writeBigWig(path: string, sections: BigWigSection[], chromSizes: Map<string, number>): Promise<void> {
  await writeFile(path, encodeBigWig(sections, chromSizes));
}

/**
 * Writes a bigWig straight to `path`: intervals given by `layout` (sorted by chromosome, in byte
 * order, then start; not overlapping), values streamed by `values` (called once per pass).
 */
export function writeBigWigStream(path: string, layout: BigWigLayoutSection[], values: BigWigValues, chromSizes: Map<string, number>): void {
  const fd = openSync(path, 'w');
  try {
    writeBigWigTo(new FileSink(fd), layout, values, chromSizes);
  } finally {
    closeSync(fd);
  }
}
