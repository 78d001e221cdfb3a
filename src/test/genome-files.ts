/**
 * Test genomes written by hand: random ACGT chromosomes with N runs and soft-masked stretches, as
 * FASTA + .fai, bgzipped FASTA (BGZF blocks) + .fai + .gzi, and .2bit; and a tiny static HTTP
 * server with Range support on 127.0.0.1 to read them remotely; and a one-sequence genome in memory.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, crc32 } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { Reference } from '../genome/reference.js';

/** A small deterministic PRNG, so failures reproduce. */
import { seededRandom as rng } from '../seeded-random.js';
export { rng };

/** A genome of one sequence held in memory, N past its ends: window arithmetic on short strings. */
export function memoryReference(chrom: string, seq: string): Reference {
  return {
    source: 'mem',
    location: 'mem',
    kind: 'fasta',
    getSequenceNames: async () => [chrom],
    getSequenceSize: async () => seq.length,
    getSequenceSizes: async () => new Map([[chrom, seq.length]]),
    getSequence: async (_c, s, e) => Array.from({ length: e - s }, (_, i) => seq[s + i] ?? 'N').join(''),
  };
}

/** Random chromosomes: ACGT with a run of N and a lower-case stretch in each. */
export function randomGenome(lengths: Record<string, number>, seed = 1): Map<string, string> {
  const r = rng(seed);
  const out = new Map<string, string>();
  for (const [name, n] of Object.entries(lengths)) {
    const chars: string[] = [];
    for (let i = 0; i < n; i++) chars.push('ACGT'[Math.floor(r() * 4)]!);
    const nStart = Math.floor(n * 0.3);
    for (let i = nStart; i < Math.min(n, nStart + 500, Math.floor(n * 0.4)); i++) chars[i] = 'N';
    const lower = Math.floor(n * 0.7);
    for (let i = lower; i < Math.min(n, lower + 300); i++) chars[i] = chars[i]!.toLowerCase();
    out.set(name, chars.join(''));
  }
  return out;
}

/** FASTA with 60-column lines and its .fai. */
export function writeFastaFai(path: string, genome: Map<string, string>, width = 60): void {
  const parts: string[] = [];
  const fai: string[] = [];
  let offset = 0;
  for (const [name, seq] of genome) {
    const header = `>${name} test chromosome\n`;
    offset += Buffer.byteLength(header);
    const lines = seq.match(new RegExp(`.{1,${width}}`, 'g'))!.map((l) => `${l}\n`);
    fai.push(`${name}\t${seq.length}\t${offset}\t${width}\t${width + 1}\n`);
    parts.push(header, ...lines);
    offset += lines.reduce((a, l) => a + l.length, 0);
  }
  writeFileSync(path, parts.join(''));
  writeFileSync(`${path}.fai`, fai.join(''));
}

/** One BGZF block: a gzip member with the BC extra field giving its size. */
export function bgzfBlock(data: Buffer): Buffer {
  const deflated = deflateRawSync(data, { level: 6 });
  const block = Buffer.alloc(18 + deflated.length + 8);
  block.set([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 0x42, 0x43, 2, 0], 0);
  block.writeUInt16LE(block.length - 1, 16);
  block.set(deflated, 18);
  block.writeUInt32LE(crc32(data), 18 + deflated.length);
  block.writeUInt32LE(data.length, 22 + deflated.length);
  return block;
}

/** bgzip of a FASTA file (blocks of `blockSize` bytes) with .gzi; the .fai is the plain file's. */
export function writeBgzipFasta(plainPath: string, path: string, blockSize = 8000): void {
  const plain = readFileSync(plainPath);
  const blocks: Buffer[] = [];
  const index: [number, number][] = [];
  let compressed = 0;
  for (let u = 0; u < plain.length; u += blockSize) {
    if (u > 0) index.push([compressed, u]);
    const b = bgzfBlock(plain.subarray(u, u + blockSize));
    blocks.push(b);
    compressed += b.length;
  }
  blocks.push(bgzfBlock(Buffer.alloc(0))); // EOF marker block
  writeFileSync(path, Buffer.concat(blocks));
  const gzi = Buffer.alloc(8 + 16 * index.length);
  gzi.writeBigUInt64LE(BigInt(index.length), 0);
  index.forEach(([c, u], i) => {
    gzi.writeBigUInt64LE(BigInt(c), 8 + 16 * i);
    gzi.writeBigUInt64LE(BigInt(u), 16 + 16 * i);
  });
  writeFileSync(`${path}.gzi`, gzi);
  writeFileSync(`${path}.fai`, readFileSync(`${plainPath}.fai`));
}

function runs(seq: string, test: (c: string) => boolean): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < seq.length; ) {
    if (!test(seq[i]!)) {
      i++;
      continue;
    }
    let j = i;
    while (j < seq.length && test(seq[j]!)) j++;
    out.push([i, j - i]);
    i = j;
  }
  return out;
}

/** .2bit (version 0): N runs as N blocks, lower case as mask blocks, bases packed T=0 C=1 A=2 G=3. */
export function writeTwoBit(path: string, genome: Map<string, string>): void {
  const names = [...genome.keys()];
  const indexSize = names.reduce((a, n) => a + 1 + Buffer.byteLength(n) + 4, 0);
  const records: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 16 + indexSize;
  const CODE: Record<string, number> = { T: 0, C: 1, A: 2, G: 3 };
  for (const seq of genome.values()) {
    const nBlocks = runs(seq, (c) => c === 'N' || c === 'n');
    const mBlocks = runs(seq, (c) => c !== c.toUpperCase());
    const head = Buffer.alloc(4 + 4 + 8 * nBlocks.length + 4 + 8 * mBlocks.length + 4);
    let o = 0;
    head.writeUInt32LE(seq.length, o);
    head.writeUInt32LE(nBlocks.length, (o += 4));
    o += 4;
    for (const [s] of nBlocks) head.writeUInt32LE(s, o), (o += 4);
    for (const [, l] of nBlocks) head.writeUInt32LE(l, o), (o += 4);
    head.writeUInt32LE(mBlocks.length, o);
    o += 4;
    for (const [s] of mBlocks) head.writeUInt32LE(s, o), (o += 4);
    for (const [, l] of mBlocks) head.writeUInt32LE(l, o), (o += 4);
    head.writeUInt32LE(0, o);
    const packed = Buffer.alloc(Math.ceil(seq.length / 4));
    for (let i = 0; i < seq.length; i++) {
      const code = CODE[seq[i]!.toUpperCase()] ?? 0;
      packed[i >> 2]! |= code << (6 - 2 * (i & 3));
    }
    offsets.push(offset);
    records.push(head, packed);
    offset += head.length + packed.length;
  }
  const header = Buffer.alloc(16);
  header.writeUInt32LE(0x1a412743, 0);
  header.writeUInt32LE(0, 4);
  header.writeUInt32LE(names.length, 8);
  const index: Buffer[] = names.map((n, i) => {
    const b = Buffer.alloc(1 + Buffer.byteLength(n) + 4);
    b.writeUInt8(Buffer.byteLength(n), 0);
    b.write(n, 1);
    b.writeUInt32LE(offsets[i]!, 1 + Buffer.byteLength(n));
    return b;
  });
  writeFileSync(path, Buffer.concat([header, ...index, ...records]));
}

export interface StaticServer {
  url: string;
  /** Requests seen (method, path, Range header). */
  requests: { path: string; range?: string }[];
  close(): Promise<void>;
}

/** Serves `dir` on 127.0.0.1 with single-range `Range: bytes=a-b` support. */
export async function serveDirectory(dir: string): Promise<StaticServer> {
  const requests: StaticServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push({ path, range: req.headers.range });
    const file = join(dir, path);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      res.writeHead(404).end('not found');
      return;
    }
    const data = readFileSync(file);
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      const start = Number(m[1]);
      const end = Math.min(size - 1, m[2] ? Number(m[2]) : size - 1);
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1, 'accept-ranges': 'bytes' });
      res.end(data.subarray(start, end + 1));
    } else {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
      res.end(data);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
