/**
 * Targets tables (the `targets_*.txt` files that name each output track of a head): parsing and
 * track selection, with no I/O (the page uses them too); reading files and URLs is in targets.ts.
 *
 * A table is tab-separated with a header row. Enformer's (basenji cross2020) columns are
 * index, genome, identifier, file, clip, scale, sum_stat, description; Borzoi's have an unnamed
 * first index column and a `strand_pair` column (the index of the opposite-strand twin of a
 * stranded track). Row i of a table is output track i of its head; the `index` column (which counts
 * on across heads in Enformer's mouse table, from 5313) is only used to resolve `strand_pair`.
 */
export class TargetsError extends Error {}

export interface Track {
  /** Output column of the head (0-based). */
  index: number;
  identifier: string;
  description: string;
  /** Output column of the opposite-strand twin (itself for unstranded tracks). */
  strandPair: number;
  /** The table's `scale`, `clip_soft` and `sum_stat` columns, when it has them (the untransform needs them). */
  scale?: number;
  clipSoft?: number;
  sumStat?: string;
}

export interface TargetsTable {
  source: string;
  tracks: Track[];
  /** Whether the table had a strand_pair column. */
  stranded: boolean;
}

/** Upstream tables by architecture family and head, with the track counts of the published models. */
export const PUBLISHED_TARGETS: Record<string, Record<string, { url: string; tracks: number }>> = {
  enformer: {
    human: { url: 'https://raw.githubusercontent.com/calico/basenji/master/manuscripts/cross2020/targets_human.txt', tracks: 5313 },
    mouse: { url: 'https://raw.githubusercontent.com/calico/basenji/master/manuscripts/cross2020/targets_mouse.txt', tracks: 1643 },
  },
  borzoi: {
    human: { url: 'https://raw.githubusercontent.com/calico/borzoi/main/examples/targets_human.txt', tracks: 7611 },
    mouse: { url: 'https://raw.githubusercontent.com/calico/borzoi/main/examples/targets_mouse.txt', tracks: 2608 },
  },
};


/** Parses the text of a targets table. */
export function parseTargets(text: string, source: string): TargetsTable {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) throw new TargetsError(`${source}: not a targets table (needs a header row and at least one track)`);
  const header = lines[0]!.split('\t').map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  const idCol = col('identifier');
  const descCol = col('description');
  if (idCol < 0 || descCol < 0) throw new TargetsError(`${source}: not a targets table (the header has no 'identifier' and 'description' columns)`);
  const indexCol = col('index') >= 0 ? col('index') : header[0] === '' ? 0 : -1;
  const pairCol = col('strand_pair');
  const scaleCol = col('scale');
  const clipSoftCol = col('clip_soft');
  const sumStatCol = col('sum_stat');
  const rows = lines.slice(1).map((l, i) => {
    const f = l.split('\t');
    if (f.length !== header.length) throw new TargetsError(`${source}:${i + 2}: ${f.length} columns, the header has ${header.length}`);
    return f;
  });
  const rowOfIndex = new Map<string, number>();
  rows.forEach((f, i) => rowOfIndex.set(indexCol >= 0 ? f[indexCol]!.trim() : String(i), i));
  const tracks = rows.map((f, i): Track => {
    let strandPair = i;
    if (pairCol >= 0) {
      const p = rowOfIndex.get(f[pairCol]!.trim());
      if (p === undefined) throw new TargetsError(`${source}:${i + 2}: strand_pair ${JSON.stringify(f[pairCol])} names no track of the table`);
      strandPair = p;
    }
    const number = (c: number, name: string) => {
      if (c < 0) return undefined;
      const v = Number(f[c]!.trim());
      if (f[c]!.trim() === '' || !Number.isFinite(v)) throw new TargetsError(`${source}:${i + 2}: ${name} ${JSON.stringify(f[c])} is not a number`);
      return v;
    };
    const track: Track = { index: i, identifier: f[idCol]!.trim(), description: f[descCol]!.trim(), strandPair };
    const scale = number(scaleCol, 'scale');
    const clipSoft = number(clipSoftCol, 'clip_soft');
    if (scale !== undefined) track.scale = scale;
    if (clipSoft !== undefined) track.clipSoft = clipSoft;
    if (sumStatCol >= 0) track.sumStat = f[sumStatCol]!.trim();
    return track;
  });
  for (const t of tracks) {
    if (tracks[t.strandPair]!.strandPair !== t.index) throw new TargetsError(`${source}: strand_pair is not symmetric for track ${t.index} (${t.identifier})`);
  }
  return { source, tracks, stranded: pairCol >= 0 };
}

/** Tracks of a head without a table: `<head>_<i>`. */
export function unnamedTracks(head: string, count: number): TargetsTable {
  return {
    source: `${head} head (no targets table)`,
    stranded: false,
    tracks: Array.from({ length: count }, (_, i) => ({ index: i, identifier: `${head}_${i}`, description: `${head} track ${i}`, strandPair: i })),
  };
}

/**
 * Selects tracks by a comma-separated list of terms; each term is a 0-based index, an index range
 * `a-b` (inclusive), an exact identifier, or else a regular expression searched in the description.
 * Order follows the terms, duplicates dropped. A term that matches nothing is an error.
 */
export function selectTracks(table: TargetsTable, spec: string | undefined): Track[] {
  if (spec === undefined || spec.trim() === '' || spec.trim() === 'all') return table.tracks;
  const chosen = new Map<number, Track>();
  for (const raw of splitTerms(spec)) {
    const term = raw.trim();
    if (term === '') continue;
    let hits: Track[];
    const range = /^(\d+)(?:-(\d+))?$/.exec(term);
    if (range) {
      const a = Number(range[1]);
      const b = range[2] === undefined ? a : Number(range[2]);
      if (b < a || b >= table.tracks.length) {
        throw new TargetsError(`--tracks ${term}: no such track index (${table.source} has ${table.tracks.length} tracks, 0-${table.tracks.length - 1})`);
      }
      hits = table.tracks.slice(a, b + 1);
    } else {
      hits = table.tracks.filter((t) => t.identifier === term);
      if (hits.length === 0) {
        let re: RegExp;
        try {
          re = new RegExp(term);
        } catch (e) {
          throw new TargetsError(`--tracks ${term}: not an index, identifier or valid regular expression (${(e as Error).message})`);
        }
        hits = table.tracks.filter((t) => re.test(t.description));
      }
    }
    if (hits.length === 0) throw new TargetsError(`--tracks ${term}: no track matches (by index, identifier, or description regex in ${table.source})`);
    for (const t of hits) if (!chosen.has(t.index)) chosen.set(t.index, t);
  }
  if (chosen.size === 0) throw new TargetsError(`--tracks ${JSON.stringify(spec)}: selects no tracks`);
  return [...chosen.values()];
}

/** Splits on commas outside brackets/braces/parentheses, so `CAGE:.{1,3}K562` stays one term. */
function splitTerms(spec: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    if (c === '\\' && i + 1 < spec.length) {
      cur += c + spec[++i];
      continue;
    }
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth = Math.max(0, depth - 1);
    if (c === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}
