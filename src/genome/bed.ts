/** Regions from a BED file (0-based, half-open; `track`, `browser` and `#` lines skipped; extra columns ignored). */
import { readFile } from 'node:fs/promises';
import { RegionError, type Region } from './regions.js';

/** Reads the regions of a BED file (columns chrom, start, end; browser/track/# lines skipped). */
export async function readBed(path: string): Promise<Region[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new RegionError(`${path}: cannot read BED file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const regions: Region[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || /^(#|track\b|browser\b)/.test(line)) return;
    const f = line.split('\t');
    const where = `${path}:${i + 1}`;
    if (f.length < 3) throw new RegionError(`${where}: expected tab-separated chrom, start, end (found ${f.length} column${f.length === 1 ? '' : 's'})`);
    const [chrom, s, e] = f as [string, string, string];
    if (!/^\d+$/.test(s) || !/^\d+$/.test(e)) throw new RegionError(`${where}: start and end must be non-negative integers (found ${JSON.stringify(s)}, ${JSON.stringify(e)})`);
    const start = Number(s);
    const end = Number(e);
    if (end <= start) throw new RegionError(`${where}: empty region (end ${end} is not after start ${start})`);
    regions.push({ chrom, start, end, label: `${where} ${chrom}:${start + 1}-${end}` });
  });
  if (regions.length === 0) throw new RegionError(`${path}: no regions`);
  return regions;
}
