/**
 * Checks a 2bit sequence record's N-block and mask-block tables before @gmod/twobit decodes bases
 * from them: the reader walks the blocks assuming they are sorted and disjoint, and loops forever on
 * a damaged table (found by fuzzing). Layout (UCSC twoBit): dnaSize, nBlockCount, nBlockStarts[],
 * nBlockSizes[], maskBlockCount, maskBlockStarts[], maskBlockSizes[], reserved, packed bases.
 */
import type { GenericFilehandle } from 'generic-filehandle2';

export class TwoBitRecordError extends Error {}

async function u32s(file: GenericFilehandle, offset: number, count: number, what: string): Promise<Uint32Array> {
  const bytes = await file.read(count * 4, offset);
  if (bytes.length < count * 4) throw new TwoBitRecordError(`the ${what} table runs past the end of the file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Uint32Array.from({ length: count }, (_, i) => view.getUint32(i * 4, true));
}

function checkBlocks(starts: Uint32Array, sizes: Uint32Array, dnaSize: number, what: string): void {
  let end = 0;
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i]!;
    const e = s + sizes[i]!;
    if (s < end || e > dnaSize) throw new TwoBitRecordError(`${what} block ${i} [${s}, ${e}) overlaps the previous one or passes the sequence end ${dnaSize}`);
    end = e;
  }
}

/** Throws a TwoBitRecordError unless the record at `offset` has sorted, disjoint, in-range blocks. */
export async function checkTwoBitRecord(file: GenericFilehandle, offset: number): Promise<void> {
  const [dnaSize, nCount] = await u32s(file, offset, 2, 'record header');
  const n = await u32s(file, offset + 8, 2 * nCount! + 1, 'N-block');
  checkBlocks(n.subarray(0, nCount!), n.subarray(nCount!, 2 * nCount!), dnaSize!, 'N');
  const maskCount = n[2 * nCount!]!;
  const m = await u32s(file, offset + 8 + (2 * nCount! + 1) * 4, 2 * maskCount, 'mask-block');
  checkBlocks(m.subarray(0, maskCount), m.subarray(maskCount), dnaSize!, 'mask');
}
