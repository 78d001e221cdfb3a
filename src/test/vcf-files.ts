/**
 * Test VCFs written by hand: bgzip (BGZF blocks that never split a line) with a tabix index (.tbi)
 * built from the format spec (SAMtools tabix.pdf): every record of a chromosome in one chunk of the
 * whole-range bin 0, and a linear index whose entries all point at the chromosome's first record
 * (a valid lower bound). Enough for a reader to find every record by region.
 */
import { writeFileSync } from 'node:fs';
import { bgzfBlock } from './genome-files.js';

/** Writes `text` (a VCF) as bgzip at `path` and its index at `path.tbi`. */
export function writeBgzipTabix(path: string, text: string, linesPerBlock = 3): void {
  const lines = text.split('\n').filter((l) => l !== '').map((l) => `${l}\n`);
  const header = lines.filter((l) => l.startsWith('#'));
  const data = lines.filter((l) => !l.startsWith('#'));
  const blocks: Buffer[] = [];
  let coffset = 0;
  const addBlock = (chunk: string[]): { voffsets: [number, number][] } => {
    const voffsets: [number, number][] = [];
    let u = 0;
    for (const l of chunk) {
      voffsets.push([coffset * 65536 + u, coffset * 65536 + u + Buffer.byteLength(l)]);
      u += Buffer.byteLength(l);
    }
    const b = bgzfBlock(Buffer.from(chunk.join('')));
    blocks.push(b);
    coffset += b.length;
    return { voffsets };
  };
  if (header.length) addBlock(header);
  const refs = new Map<string, { first: number; last: number; maxEnd: number }>();
  for (let i = 0; i < data.length; i += linesPerBlock) {
    const chunk = data.slice(i, i + linesPerBlock);
    const { voffsets } = addBlock(chunk);
    chunk.forEach((l, j) => {
      const f = l.split('\t');
      const end = Number(f[1]) - 1 + f[3]!.length;
      const r = refs.get(f[0]!);
      if (r) [r.last, r.maxEnd] = [voffsets[j]![1], Math.max(r.maxEnd, end)];
      else refs.set(f[0]!, { first: voffsets[j]![0], last: voffsets[j]![1], maxEnd: end });
    });
  }
  blocks.push(bgzfBlock(Buffer.alloc(0)));
  writeFileSync(path, Buffer.concat(blocks));

  const names = Buffer.from([...refs.keys()].map((n) => `${n}\0`).join(''));
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4 + 4 * 8);
  head.write('TBI\x01', 0, 'latin1');
  [refs.size, 2 /* VCF */, 1, 2, 0, '#'.charCodeAt(0), 0, names.length].forEach((v, i) => head.writeInt32LE(v, 4 + 4 * i));
  parts.push(head, names);
  for (const r of refs.values()) {
    const bin = Buffer.alloc(4 + 4 + 4 + 16);
    bin.writeInt32LE(1, 0); // n_bin
    bin.writeUInt32LE(0, 4); // bin 0: the whole range
    bin.writeInt32LE(1, 8); // n_chunk
    bin.writeBigUInt64LE(BigInt(r.first), 12);
    bin.writeBigUInt64LE(BigInt(r.last), 20);
    const nIntv = Math.floor(r.maxEnd / 16384) + 1;
    const lin = Buffer.alloc(4 + 8 * nIntv);
    lin.writeInt32LE(nIntv, 0);
    for (let i = 0; i < nIntv; i++) lin.writeBigUInt64LE(BigInt(r.first), 4 + 8 * i);
    parts.push(bin, lin);
  }
  writeFileSync(`${path}.tbi`, Buffer.concat([bgzfBlock(Buffer.concat(parts)), bgzfBlock(Buffer.alloc(0))]));
}
