/**
 * A bigWig writer (UCSC bbi format, version 4): header, zoom headers, total summary, chromosome
 * B+ tree, zlib-compressed bedGraph-type data sections, an R-tree index over them, and zoom levels
 * (each with its own sections and R-tree) so genome browsers can draw wide views quickly.
 *
 * Layout written, all little-endian:
 *   header (64) | zoom headers (24 each) | total summary (40) | chrom B+ tree |
 *   data count (u64) + sections | R-tree | per zoom level: record count (u32) + sections + R-tree | magic
 */
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

interface Interval {
  chromId: number;
  start: number;
  end: number;
  value: number;
}

interface Block {
  chromId: number;
  start: number;
  endChromId: number;
  end: number;
  /** Compressed bytes. */
  data: Buffer;
  rawSize: number;
  offset?: number;
}

class Writer {
  private parts: Buffer[] = [];
  size = 0;

  push(b: Buffer): number {
    const at = this.size;
    this.parts.push(b);
    this.size += b.length;
    return at;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Sorted chromosome names (byte order, as the B+ tree's key search needs) and their ids. */
function chromOrder(names: string[]): Map<string, number> {
  const sorted = [...new Set(names)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return new Map(sorted.map((n, i) => [n, i]));
}

function collect(sections: BigWigSection[], ids: Map<string, number>, sizes: Map<string, number>): Interval[] {
  const out: Interval[] = [];
  for (const s of sections) {
    const chromId = ids.get(s.chrom)!;
    const size = sizes.get(s.chrom);
    if (size === undefined) throw new BigWigError(`no length given for chromosome ${s.chrom}`);
    for (let i = 0; i < s.starts.length; i++) {
      const start = s.starts[i]!;
      const end = s.ends[i]!;
      if (!(start >= 0 && end > start && end <= size)) throw new BigWigError(`interval ${s.chrom}:${start}-${end} is empty or outside the chromosome (${size} bp)`);
      out.push({ chromId, start, end, value: s.values[i]! });
    }
  }
  out.sort((a, b) => a.chromId - b.chromId || a.start - b.start);
  for (let i = 1; i < out.length; i++) {
    const p = out[i - 1]!;
    const c = out[i]!;
    if (p.chromId === c.chromId && c.start < p.end) {
      const name = [...ids].find(([, id]) => id === c.chromId)![0];
      throw new BigWigError(`intervals overlap on ${name} (${p.start}-${p.end} and ${c.start}-${c.end}); a bigWig needs non-overlapping bins`);
    }
  }
  return out;
}

/** Full-resolution sections: up to ITEMS_PER_SLOT bedGraph items of one chromosome each. */
function dataBlocks(items: Interval[]): Block[] {
  const blocks: Block[] = [];
  for (let i = 0; i < items.length; ) {
    let j = i;
    while (j < items.length && j - i < ITEMS_PER_SLOT && items[j]!.chromId === items[i]!.chromId) j++;
    const raw = Buffer.alloc(24 + 12 * (j - i));
    const first = items[i]!;
    const last = items[j - 1]!;
    raw.writeUInt32LE(first.chromId, 0);
    raw.writeUInt32LE(first.start, 4);
    raw.writeUInt32LE(last.end, 8);
    raw.writeUInt32LE(0, 12); // itemStep
    raw.writeUInt32LE(0, 16); // itemSpan
    raw.writeUInt8(1, 20); // type 1: bedGraph
    raw.writeUInt8(0, 21);
    raw.writeUInt16LE(j - i, 22);
    for (let k = i; k < j; k++) {
      const o = 24 + 12 * (k - i);
      raw.writeUInt32LE(items[k]!.start, o);
      raw.writeUInt32LE(items[k]!.end, o + 4);
      raw.writeFloatLE(items[k]!.value, o + 8);
    }
    blocks.push({ chromId: first.chromId, start: first.start, endChromId: last.chromId, end: last.end, data: deflateSync(raw), rawSize: raw.length });
    i = j;
  }
  return blocks;
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

/** Summaries over windows of `reduction` bp (aligned to the chromosome start), weighted by bases covered. */
function zoomRecords(items: Interval[], reduction: number): ZoomRecord[] {
  const out: ZoomRecord[] = [];
  let cur: ZoomRecord | undefined;
  for (const it of items) {
    for (let s = it.start; s < it.end; ) {
      const binStart = Math.floor(s / reduction) * reduction;
      const e = Math.min(it.end, binStart + reduction);
      if (!cur || cur.chromId !== it.chromId || cur.start < binStart || cur.start >= binStart + reduction) {
        if (cur) out.push(cur);
        cur = { chromId: it.chromId, start: s, end: e, validCount: 0, min: Infinity, max: -Infinity, sum: 0, sumSquares: 0 };
      }
      const bases = e - s;
      cur.end = e;
      cur.validCount += bases;
      cur.min = Math.min(cur.min, it.value);
      cur.max = Math.max(cur.max, it.value);
      cur.sum += it.value * bases;
      cur.sumSquares += it.value * it.value * bases;
      s = e;
    }
  }
  if (cur) out.push(cur);
  return out;
}

function zoomBlocks(records: ZoomRecord[]): Block[] {
  const blocks: Block[] = [];
  for (let i = 0; i < records.length; ) {
    let j = i;
    while (j < records.length && j - i < ITEMS_PER_SLOT) j++;
    const raw = Buffer.alloc(32 * (j - i));
    for (let k = i; k < j; k++) {
      const r = records[k]!;
      const o = 32 * (k - i);
      raw.writeUInt32LE(r.chromId, o);
      raw.writeUInt32LE(r.start, o + 4);
      raw.writeUInt32LE(r.end, o + 8);
      raw.writeUInt32LE(r.validCount, o + 12);
      raw.writeFloatLE(r.min, o + 16);
      raw.writeFloatLE(r.max, o + 20);
      raw.writeFloatLE(r.sum, o + 24);
      raw.writeFloatLE(r.sumSquares, o + 28);
    }
    const first = records[i]!;
    const last = records[j - 1]!;
    blocks.push({ chromId: first.chromId, start: first.start, endChromId: last.chromId, end: last.end, data: deflateSync(raw), rawSize: raw.length });
    i = j;
  }
  return blocks;
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
          buf.writeBigUInt64LE(BigInt(b.data.length), o + 24);
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

/** Writes blocks then their R-tree; returns the offsets of both. */
function writeBlocksAndIndex(w: Writer, blocks: Block[], countBytes: 4 | 8): { dataOffset: number; indexOffset: number } {
  const count = Buffer.alloc(countBytes);
  if (countBytes === 8) count.writeBigUInt64LE(BigInt(blocks.length));
  else count.writeUInt32LE(blocks.length);
  const dataOffset = w.push(count);
  for (const b of blocks) b.offset = w.push(b.data);
  const indexOffset = w.size;
  w.push(rTree(blocks, indexOffset, indexOffset));
  return { dataOffset, indexOffset };
}

/**
 * Writes a bigWig of non-overlapping intervals. `chromSizes` must give the length of every
 * chromosome with data; only those chromosomes enter the file.
 */
export function encodeBigWig(sections: BigWigSection[], chromSizes: Map<string, number>): Buffer {
  const ids = chromOrder(sections.map((s) => s.chrom));
  const items = collect(sections, ids, chromSizes);
  const blocks = dataBlocks(items);

  // Zoom levels: reductions of 4×, 16×, … the typical interval span, while each still shrinks the data.
  const zooms: { reduction: number; blocks: Block[] }[] = [];
  if (items.length > 0) {
    const spans = items.map((i) => i.end - i.start).sort((a, b) => a - b);
    let reduction = Math.max(1, spans[Math.floor(spans.length / 2)]!) * 4;
    let previous = items.length;
    while (zooms.length < MAX_ZOOMS) {
      const records = zoomRecords(items, reduction);
      if (records.length >= previous || records.length === 0) break;
      zooms.push({ reduction, blocks: zoomBlocks(records) });
      previous = records.length;
      if (records.length <= 1) break;
      reduction *= 4;
    }
  }

  const w = new Writer();
  const header = Buffer.alloc(64);
  w.push(header);
  const zoomHeaders = Buffer.alloc(24 * zooms.length);
  w.push(zoomHeaders);
  const summary = Buffer.alloc(40);
  const summaryOffset = w.push(summary);
  const chromTreeOffset = w.push(chromTree(ids, chromSizes));
  const full = writeBlocksAndIndex(w, blocks, 8);
  zooms.forEach((z, i) => {
    const at = writeBlocksAndIndex(w, z.blocks, 4);
    zoomHeaders.writeUInt32LE(z.reduction, 24 * i);
    zoomHeaders.writeBigUInt64LE(BigInt(at.dataOffset), 24 * i + 8);
    zoomHeaders.writeBigUInt64LE(BigInt(at.indexOffset), 24 * i + 16);
  });
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(BIGWIG_MAGIC);
  w.push(tail);

  let bases = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSquares = 0;
  for (const it of items) {
    const n = it.end - it.start;
    bases += n;
    min = Math.min(min, it.value);
    max = Math.max(max, it.value);
    sum += it.value * n;
    sumSquares += it.value * it.value * n;
  }
  summary.writeBigUInt64LE(BigInt(bases), 0);
  summary.writeDoubleLE(items.length ? min : 0, 8);
  summary.writeDoubleLE(items.length ? max : 0, 16);
  summary.writeDoubleLE(sum, 24);
  summary.writeDoubleLE(sumSquares, 32);

  const maxRaw = Math.max(0, ...blocks.map((b) => b.rawSize), ...zooms.flatMap((z) => z.blocks.map((b) => b.rawSize)));
  header.writeUInt32LE(BIGWIG_MAGIC, 0);
  header.writeUInt16LE(4, 4);
  header.writeUInt16LE(zooms.length, 6);
  header.writeBigUInt64LE(BigInt(chromTreeOffset), 8);
  header.writeBigUInt64LE(BigInt(full.dataOffset), 16);
  header.writeBigUInt64LE(BigInt(full.indexOffset), 24);
  header.writeUInt16LE(0, 32); // fieldCount
  header.writeUInt16LE(0, 34); // definedFieldCount
  header.writeBigUInt64LE(0n, 36); // autoSqlOffset
  header.writeBigUInt64LE(BigInt(summaryOffset), 44);
  header.writeUInt32LE(maxRaw, 52); // uncompressBufSize
  header.writeBigUInt64LE(0n, 56); // extensionOffset
  return w.bytes();
}

export async function writeBigWig(path: string, sections: BigWigSection[], chromSizes: Map<string, number>): Promise<void> {
  await writeFile(path, encodeBigWig(sections, chromSizes));
}
