/** Targets tables: the real upstream tables (copies in ../shared/data/targets), selection, fetch and cache. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTargets, readTargets, selectTracks, unnamedTracks, PUBLISHED_TARGETS } from '../formats/targets.js';
import { cacheDir } from '../cache.js';
import { serveDirectory } from './genome-files.js';
import { tempDir } from './fixtures.js';

const TARGETS = fileURLToPath(new URL('../../../shared/data/targets/', import.meta.url));
const skip = existsSync(TARGETS) ? false : `${TARGETS} not found (needs ../shared beside the repo)`;

test('targets: the four published tables parse with their track counts and strand pairs', { skip }, async () => {
  const expect: [string, number, boolean, string][] = [
    ['enformer_targets_human.txt', PUBLISHED_TARGETS.enformer!.human!.tracks, false, 'ENCFF833POA'],
    ['enformer_targets_mouse.txt', PUBLISHED_TARGETS.enformer!.mouse!.tracks, false, 'ENCFF866ZTV'],
    ['borzoi_targets_human.txt', PUBLISHED_TARGETS.borzoi!.human!.tracks, true, 'CNhs10608+'],
    ['borzoi_targets_mouse.txt', PUBLISHED_TARGETS.borzoi!.mouse!.tracks, true, 'CNhs10464+'],
  ];
  for (const [file, count, stranded, first] of expect) {
    const t = await readTargets(join(TARGETS, file));
    assert.equal(t.tracks.length, count, file);
    assert.equal(t.stranded, stranded, file);
    assert.equal(t.tracks[0]!.identifier, first);
    assert.equal(t.tracks[0]!.index, 0);
    for (const tr of t.tracks) assert.equal(t.tracks[tr.strandPair]!.strandPair, tr.index);
  }
  const borzoi = await readTargets(join(TARGETS, 'borzoi_targets_human.txt'));
  assert.equal(borzoi.tracks[0]!.strandPair, 1);
  assert.equal(borzoi.tracks[1]!.strandPair, 0);
  assert.ok(borzoi.tracks.filter((t) => t.strandPair !== t.index).length > 100, 'stranded CAGE/RNA tracks pair up');
  const enformer = await readTargets(join(TARGETS, 'enformer_targets_human.txt'));
  // Indices the Enformer notebook uses: 4828 is CAGE:K562 ENCODE, biol_.
  const k562 = selectTracks(enformer, 'CAGE:.*K562');
  assert.ok(k562.length >= 1 && k562.every((t) => /^CAGE:.*K562/.test(t.description)));
  assert.ok(k562.some((t) => t.index === 4828), 'track 4828 is CAGE K562');
  assert.deepEqual(selectTracks(enformer, '41,42').map((t) => t.identifier), [enformer.tracks[41]!.identifier, enformer.tracks[42]!.identifier]);
  assert.deepEqual(selectTracks(enformer, 'ENCFF833POA').map((t) => t.index), [0]);
  // The mouse table's `index` column counts on from the human head (5313…); row order is the head's order.
  const mouse = await readTargets(join(TARGETS, 'enformer_targets_mouse.txt'));
  assert.equal(selectTracks(mouse, '0')[0]!.identifier, 'ENCFF866ZTV');
});

test('targets: selection by index, range, identifier, regex; order kept; no match is an error', () => {
  const text = ['\tidentifier\tfile\tclip\tscale\tsum_stat\tstrand_pair\tdescription', '0\tA+\tf\t1\t1\tsum\t1\tCAGE:K562 plus', '1\tA-\tf\t1\t1\tsum\t0\tCAGE:K562 minus', '2\tB\tf\t1\t1\tmean\t2\tDNASE:HepG2', '3\tC\tf\t1\t1\tmean\t3\tCHIP:H3K27ac, K562'].join('\n');
  const t = parseTargets(text, 'mini.txt');
  assert.deepEqual(t.tracks.map((x) => x.strandPair), [1, 0, 2, 3]);
  const ids = (spec?: string) => selectTracks(t, spec).map((x) => x.identifier);
  assert.deepEqual(ids(), ['A+', 'A-', 'B', 'C']);
  assert.deepEqual(ids('3,0'), ['C', 'A+']);
  assert.deepEqual(ids('1-2'), ['A-', 'B']);
  assert.deepEqual(ids('B,CAGE'), ['B', 'A+', 'A-']);
  assert.deepEqual(ids('K562'), ['A+', 'A-', 'C']);
  assert.deepEqual(ids('CAGE:.*(plus|minus),C'), ['A+', 'A-', 'C']);
  assert.deepEqual(ids('H3K27ac.{0,2}\\, K562'), ['C']);
  assert.throws(() => selectTracks(t, 'ATAC'), /--tracks ATAC: no track matches/);
  assert.throws(() => selectTracks(t, '7'), /no such track index \(mini\.txt has 4 tracks, 0-3\)/);
  assert.throws(() => selectTracks(t, '(['), /not an index, identifier or valid regular expression/);
  assert.throws(() => parseTargets('a\tb\n1\t2', 'x.txt'), /x\.txt: not a targets table/);
  assert.throws(() => parseTargets(text.replace('\t1\tCAGE:K562 plus', '\t2\tCAGE:K562 plus'), 'bad.txt'), /strand_pair is not symmetric/);
  const u = unnamedTracks('human', 3);
  assert.deepEqual(selectTracks(u, '2,human_0').map((x) => x.identifier), ['human_2', 'human_0']);
});

test('targets: a URL is fetched once into the cache directory', async () => {
  const tmp = tempDir('seq2track-targets-');
  const served = join(tmp.dir, 'www');
  const cache = join(tmp.dir, 'cache');
  try {
    (await import('node:fs')).mkdirSync(served);
    writeFileSync(join(served, 'targets_human.txt'), 'index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n0\t0\tX1\tf\t32\t2\tmean\tDNASE:one\n');
    const server = await serveDirectory(served);
    try {
      const url = `${server.url}/targets_human.txt`;
      const a = await readTargets(url, cache);
      const b = await readTargets(url, cache);
      assert.equal(a.tracks[0]!.identifier, 'X1');
      assert.deepEqual(b, a);
      assert.equal(server.requests.length, 1, 'second read comes from the cache');
      const files = readdirSync(join(cache, 'targets'));
      assert.equal(files.length, 1);
      assert.match(readFileSync(join(cache, 'targets', files[0]!), 'utf8'), /DNASE:one/);
      await assert.rejects(readTargets(`${server.url}/missing.txt`, cache), /cannot fetch targets table \(HTTP 404\); download it and pass --targets FILE/);
    } finally {
      await server.close();
    }
  } finally {
    tmp.cleanup();
  }
  assert.equal(cacheDir(undefined, { SEQ2TRACK_CACHE: '/c' }), '/c');
  assert.equal(cacheDir(undefined, { XDG_CACHE_HOME: '/x' }), '/x/seq2track');
  assert.equal(cacheDir('/given', { SEQ2TRACK_CACHE: '/c' }), '/given');
  assert.match(cacheDir(undefined, {}), /\.cache\/seq2track$/);
});
