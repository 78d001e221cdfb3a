/**
 * MEME motif files (the "minimal MEME format" every MEME suite tool reads, and the format JASPAR and
 * HOCOMOCO publish): a reader tolerant of what those files contain, and a writer.
 *
 * Read: the `MEME version` line, `ALPHABET= ACGT` or a custom `ALPHABET … END ALPHABET` block whose
 * core letters are A, C, G, T (anything else is an error: the motif tools here are DNA only),
 * `strands:`, `Background letter frequencies` (one or more lines of letter/frequency pairs),
 * `MOTIF id [alt]`, `letter-probability matrix: alength= w= nsites= E=` followed by its rows, and
 * `URL` lines. `log-odds matrix:` blocks and any other text between motifs are skipped. Every error
 * names the file and the 1-based line.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Motif } from './motif.js';

export class MotifFormatError extends Error {}

/** A motif as read from a MEME file: the shared matrix plus what the file says about it. */
export interface MemeMotif extends Motif {
  /** `URL` line of the motif, when given. */
  readonly url?: string;
  /** `E=` of the matrix header as written (e.g. `4.1e-009`), when given. */
  readonly evalue?: string;
}

export interface MemeFile {
  /** `MEME version` as written (e.g. `4`, `5.5.4`). */
  readonly version: string;
  /** `strands:` (both when the file does not say). */
  readonly strands: ('+' | '-')[];
  /** Background letter frequencies in A, C, G, T order, normalised; undefined when the file has none. */
  readonly background?: Float64Array;
  readonly motifs: MemeMotif[];
}

const LETTERS = 'ACGT';

/** How far a matrix row's sum may stray from 1 before it is an error (files round to 6 decimals). */
const ROW_SUM_TOLERANCE = 0.02;

function parseNumber(text: string): number {
  // Number('') is 0 and Number('0x10') is 16: accept decimal and exponent forms only.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return NaN;
  return Number(text);
}

/** Letter/frequency pairs of a background line (`A 0.25 C 0.25 …`), added to `into`. */
function readPairs(line: string, into: Map<string, number>, where: () => string): void {
  const f = line.trim().split(/\s+/);
  if (f.length % 2 !== 0) throw new MotifFormatError(`${where()}: background frequencies must come in letter/frequency pairs (found ${JSON.stringify(line.trim())})`);
  for (let i = 0; i < f.length; i += 2) {
    const letter = f[i]!.toUpperCase();
    const value = parseNumber(f[i + 1]!);
    if (!Number.isFinite(value) || value < 0) throw new MotifFormatError(`${where()}: background frequency of ${f[i]} is not a non-negative number (${JSON.stringify(f[i + 1])})`);
    into.set(letter, value);
  }
}

function backgroundVector(freqs: Map<string, number>, where: string): Float64Array {
  const out = new Float64Array(4);
  let sum = 0;
  for (let b = 0; b < 4; b += 1) {
    const v = freqs.get(LETTERS[b]!);
    if (v === undefined) throw new MotifFormatError(`${where}: background letter frequencies lack ${LETTERS[b]}`);
    out[b] = v;
    sum += v;
  }
  if (!(sum > 0)) throw new MotifFormatError(`${where}: background letter frequencies sum to 0`);
  for (let b = 0; b < 4; b += 1) out[b] = out[b]! / sum;
  return out;
}

/** Parses `alength= 4 w= 19 nsites= 17 E= 4.1e-009` into its fields (spaces around `=` optional). */
function matrixFields(rest: string): Map<string, string> {
  const fields = new Map<string, string>();
  const re = /([A-Za-z]+)\s*=\s*(\S+)/g;
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) fields.set(m[1]!.toLowerCase(), m[2]!);
  return fields;
}

/**
 * Parses the text of a MEME file. `source` names it in errors (`source:line: problem`).
 * A file with no motifs is an error.
 */
export function parseMeme(text: string, source: string): MemeFile {
  const lines = text.split(/\r?\n/);
  let i = 0;
  const where = (n = i) => `${source}:${n + 1}`;
  let version: string | undefined;
  let strands: ('+' | '-')[] = ['+', '-'];
  let background: Float64Array | undefined;
  const motifs: MemeMotif[] = [];
  const ids = new Map<string, number>();
  // The motif being read: its header line and what has been read of it.
  let current: { id: string; alt?: string; line: number; url?: string; probabilities?: Float64Array; length?: number; sites?: number; evalue?: string } | undefined;

  const finish = () => {
    if (current === undefined) return;
    if (current.probabilities === undefined) throw new MotifFormatError(`${where(current.line)}: MOTIF ${current.id} has no letter-probability matrix`);
    motifs.push({
      id: current.id,
      ...(current.alt !== undefined ? { altName: current.alt } : {}),
      probabilities: current.probabilities,
      length: current.length!,
      ...(current.sites !== undefined ? { sites: current.sites } : {}),
      ...(current.url !== undefined ? { url: current.url } : {}),
      ...(current.evalue !== undefined ? { evalue: current.evalue } : {}),
    });
    current = undefined;
  };

  while (i < lines.length) {
    const raw = lines[i]!;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) {
      i += 1;
      continue;
    }
    let m: RegExpMatchArray | null;
    if ((m = /^MEME\s+version\s+(\S+)/i.exec(line))) {
      if (version !== undefined) throw new MotifFormatError(`${where()}: second 'MEME version' line (one file, one header)`);
      if (motifs.length > 0 || current !== undefined) throw new MotifFormatError(`${where()}: 'MEME version' line after the first motif`);
      version = m[1]!;
      i += 1;
      continue;
    }
    if (version === undefined) throw new MotifFormatError(`${where()}: expected the 'MEME version' line first (is this a MEME motif file?), found ${JSON.stringify(line.slice(0, 60))}`);

    if ((m = /^ALPHABET\s*=\s*(\S*)\s*$/i.exec(line))) {
      const letters = m[1]!.toUpperCase();
      if (letters !== 'ACGT') throw new MotifFormatError(`${where()}: ALPHABET= ${m[1]} is not supported (DNA motifs only: ALPHABET= ACGT)`);
      i += 1;
      continue;
    }
    if (/^ALPHABET\b/i.test(line)) {
      // Custom alphabet block (MEME 5): core letters are the definitions without '='.
      const start = i;
      const core: string[] = [];
      i += 1;
      for (; i < lines.length && !/^END\s+ALPHABET\b/i.test(lines[i]!.trim()); i += 1) {
        const def = lines[i]!.trim();
        if (def === '' || def.startsWith('#')) continue;
        if (def.includes('=')) continue; // ambiguity codes and aliases
        // `A "Adenine" CC0000 ~ T "Thymine" 008000` or `A`: the letters are the first token of each side of '~'.
        for (const side of def.split('~')) {
          const letter = side.trim().split(/\s+/)[0];
          if (letter !== undefined && letter !== '') core.push(letter.toUpperCase());
        }
      }
      if (i >= lines.length) throw new MotifFormatError(`${where(start)}: ALPHABET block has no 'END ALPHABET' line`);
      const sorted = [...core].sort().join('');
      if (sorted !== 'ACGT') throw new MotifFormatError(`${where(start)}: alphabet with core letters ${core.join('') || '(none)'} is not supported (DNA motifs only: A, C, G, T)`);
      i += 1;
      continue;
    }
    if ((m = /^strands\s*:\s*(.*)$/i.exec(line))) {
      const s = m[1]!.trim().split(/\s+/);
      if (s.length === 0 || s.some((x) => x !== '+' && x !== '-')) throw new MotifFormatError(`${where()}: strands must be '+', '-' or '+ -' (found ${JSON.stringify(m[1])})`);
      strands = s as ('+' | '-')[];
      i += 1;
      continue;
    }
    if (/^Background\s+letter\s+frequencies/i.test(line)) {
      const start = i;
      const freqs = new Map<string, number>();
      // Frequencies follow on the next lines (MEME output may add `(from …)` on the header line).
      i += 1;
      while (i < lines.length && /^\s*[A-Za-z]\s+[\d.eE+-]+(\s+[A-Za-z]\s+[\d.eE+-]+)*\s*$/.test(lines[i]!)) {
        readPairs(lines[i]!, freqs, () => where());
        i += 1;
      }
      if (freqs.size === 0) throw new MotifFormatError(`${where(start)}: 'Background letter frequencies' is not followed by letter/frequency pairs`);
      background = backgroundVector(freqs, where(start));
      continue;
    }
    if ((m = /^MOTIF\s+(.*)$/i.exec(line)) || /^MOTIF$/i.test(line)) {
      finish();
      const words = (m?.[1] ?? '').trim().split(/\s+/).filter((w) => w !== '');
      if (words.length === 0) throw new MotifFormatError(`${where()}: MOTIF line has no identifier`);
      const id = words[0]!;
      const previous = ids.get(id);
      if (previous !== undefined) throw new MotifFormatError(`${where()}: motif ${id} appears twice (first at line ${previous + 1})`);
      ids.set(id, i);
      current = { id, line: i, ...(words.length > 1 ? { alt: words.slice(1).join(' ') } : {}) };
      i += 1;
      continue;
    }
    if ((m = /^letter-probability\s+matrix\s*:?(.*)$/i.exec(line))) {
      if (current === undefined) throw new MotifFormatError(`${where()}: letter-probability matrix outside a MOTIF (no MOTIF line before it)`);
      if (current.probabilities !== undefined) throw new MotifFormatError(`${where()}: second letter-probability matrix for motif ${current.id}`);
      const header = i;
      const fields = matrixFields(m[1]!);
      const alength = fields.get('alength');
      if (alength !== undefined && parseNumber(alength) !== 4) throw new MotifFormatError(`${where()}: alength= ${alength}: DNA matrices have 4 columns`);
      let width: number | undefined;
      const w = fields.get('w');
      if (w !== undefined) {
        width = parseNumber(w);
        if (!Number.isInteger(width) || width < 1) throw new MotifFormatError(`${where()}: w= ${w} is not a positive integer`);
      }
      const nsites = fields.get('nsites');
      if (nsites !== undefined) {
        const n = parseNumber(nsites);
        if (!Number.isFinite(n) || n < 0) throw new MotifFormatError(`${where()}: nsites= ${nsites} is not a non-negative number`);
        current.sites = n;
      }
      const e = fields.get('e');
      if (e !== undefined) current.evalue = e;
      i += 1;
      const rows: number[] = [];
      let count = 0;
      while (i < lines.length && (width === undefined || count < width)) {
        const rowText = lines[i]!.trim();
        if (rowText === '') {
          if (width === undefined) break;
          i += 1;
          continue;
        }
        const f = rowText.split(/\s+/);
        const values = f.map(parseNumber);
        if (values.some((v) => Number.isNaN(v))) {
          if (width === undefined && count > 0) break; // matrix ended; the line is read as the next item
          throw new MotifFormatError(`${where()}: motif ${current.id}: expected row ${count + 1} of ${width ?? '?'} (four probabilities), found ${JSON.stringify(rowText.slice(0, 60))}`);
        }
        if (values.length !== 4) throw new MotifFormatError(`${where()}: motif ${current.id}: row ${count + 1} has ${values.length} values (expected 4: A C G T)`);
        let sum = 0;
        for (const v of values) {
          if (v < 0) throw new MotifFormatError(`${where()}: motif ${current.id}: negative probability in row ${count + 1}`);
          sum += v;
        }
        if (Math.abs(sum - 1) > ROW_SUM_TOLERANCE) throw new MotifFormatError(`${where()}: motif ${current.id}: row ${count + 1} sums to ${sum.toFixed(4)} (expected 1)`);
        for (const v of values) rows.push(v / sum);
        count += 1;
        i += 1;
      }
      if (width !== undefined && count < width) throw new MotifFormatError(`${where(header)}: motif ${current.id}: w= ${width} but the file ends after ${count} row${count === 1 ? '' : 's'}`);
      if (count === 0) throw new MotifFormatError(`${where(header)}: motif ${current.id}: letter-probability matrix has no rows`);
      current.probabilities = Float64Array.from(rows);
      current.length = count;
      continue;
    }
    if (/^log-odds\s+matrix/i.test(line)) {
      // Skip the block: its rows are numbers; the probabilities are what we read.
      i += 1;
      while (i < lines.length && /^[\s\d.eE+-]+$/.test(lines[i]!) && lines[i]!.trim() !== '') i += 1;
      continue;
    }
    if ((m = /^URL\s+(\S+)/i.exec(line))) {
      if (current !== undefined) current.url = m[1]!;
      i += 1;
      continue;
    }
    if (current !== undefined && current.probabilities === undefined && /^[\d.\s eE+-]+$/.test(line)) {
      throw new MotifFormatError(`${where()}: motif ${current.id}: numbers before its 'letter-probability matrix:' line`);
    }
    // Anything else (MEME's own prose, sites sections, `E-value` summaries) is skipped.
    i += 1;
  }
  finish();
  if (version === undefined) throw new MotifFormatError(`${source}: no 'MEME version' line (empty file, or not a MEME motif file)`);
  if (motifs.length === 0) throw new MotifFormatError(`${source}: no motifs (no MOTIF line with a letter-probability matrix)`);
  return { version, strands, ...(background ? { background } : {}), motifs };
}

/** Reads and parses a MEME motif file. */
export async function readMeme(path: string): Promise<MemeFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new MotifFormatError(`${path}: cannot read MEME motif file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parseMeme(text, path);
}

/**
 * A background file as the MEME suite writes them (`fasta-get-markov`): lines `A 0.295` (comments
 * `#`), order-0 entries used, longer words (higher orders) ignored. A, C, G, T, normalised.
 */
export function parseBackground(text: string, source: string): Float64Array {
  const freqs = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const f = line.split(/\s+/);
    if (f.length !== 2) throw new MotifFormatError(`${source}:${n + 1}: expected 'LETTER FREQUENCY' (found ${JSON.stringify(line.slice(0, 60))})`);
    if (f[0]!.length !== 1) return; // higher-order entry
    const v = parseNumber(f[1]!);
    if (!Number.isFinite(v) || v < 0) throw new MotifFormatError(`${source}:${n + 1}: frequency of ${f[0]} is not a non-negative number (${JSON.stringify(f[1])})`);
    freqs.set(f[0]!.toUpperCase(), v);
  });
  return backgroundVector(freqs, source);
}

export async function readBackground(path: string): Promise<Float64Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new MotifFormatError(`${path}: cannot read background file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parseBackground(text, path);
}

export interface MemeWriteOptions {
  /** Background letter frequencies (A, C, G, T); uniform by default. */
  background?: ArrayLike<number>;
  /** `strands:` line (both by default). */
  strands?: ('+' | '-')[];
}

const fixed = (x: number) => x.toFixed(6);

/** The text of a MEME file (minimal MEME format, version 4) holding `motifs`. */
export function formatMeme(motifs: readonly (Motif & { url?: string; evalue?: string })[], options: MemeWriteOptions = {}): string {
  const bg = options.background ?? [0.25, 0.25, 0.25, 0.25];
  const out: string[] = [
    'MEME version 4',
    '',
    'ALPHABET= ACGT',
    '',
    `strands: ${(options.strands ?? ['+', '-']).join(' ')}`,
    '',
    'Background letter frequencies',
    `A ${fixed(bg[0]!)} C ${fixed(bg[1]!)} G ${fixed(bg[2]!)} T ${fixed(bg[3]!)}`,
    '',
  ];
  const seen = new Set<string>();
  for (const m of motifs) {
    if (!/^\S+$/.test(m.id)) throw new MotifFormatError(`motif identifier ${JSON.stringify(m.id)} must be one word (no spaces) in a MEME file`);
    if (seen.has(m.id)) throw new MotifFormatError(`motif identifier ${m.id} appears twice`);
    seen.add(m.id);
    if (m.probabilities.length !== m.length * 4 || m.length < 1) throw new MotifFormatError(`motif ${m.id}: matrix of ${m.probabilities.length} values does not hold ${m.length} rows of 4`);
    out.push(`MOTIF ${m.id}${m.altName ? ` ${m.altName}` : ''}`);
    out.push(`letter-probability matrix: alength= 4 w= ${m.length} nsites= ${m.sites ?? 20} E= ${m.evalue ?? '0'}`);
    for (let r = 0; r < m.length; r += 1) {
      const row = m.probabilities.subarray(r * 4, r * 4 + 4);
      const sum = row[0]! + row[1]! + row[2]! + row[3]!;
      out.push(` ${[...row].map((v) => fixed(sum > 0 ? v / sum : 0.25)).join('  ')}`);
    }
    if (m.url) out.push(`URL ${m.url}`);
    out.push('');
  }
  return out.join('\n');
}

export async function writeMeme(path: string, motifs: readonly Motif[], options: MemeWriteOptions = {}): Promise<void> {
  await writeFile(path, formatMeme(motifs, options));
}
