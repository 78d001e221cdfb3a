/**
 * Motif discovery (src/motifs/discover/): the NumPy-compatible generator, the statistics, Leiden,
 * the .npy/.npz reader, seqlet calling against tfmodisco-lite's numbers, and a planted-motif run:
 * random sequences with two known motifs planted (the second on both strands) and synthetic
 * hypothetical contributions; discovery must find both, in the right orientation, with about the
 * right seqlets, and nothing from pure noise. The results file is read back with h5wasm and, where
 * python3-h5py is installed, with h5py.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { MersenneTwister } from '../motifs/discover/rng.js';
import { isotonicFit, percentileSorted, rocAuc, spearman } from '../motifs/discover/stats.js';
import { csrFromTriples } from '../motifs/discover/density.js';
import { leidenCluster, modularity } from '../motifs/discover/leiden.js';
import { encodeNpy, parseNpy, readNumpy, writeNpy } from '../motifs/discover/npy.js';
import { readAttributionInputs, readNpzInputs, trackSetFromArrays } from '../motifs/discover/inputs.js';
import { callSeqlets } from '../motifs/discover/seqlets.js';
import { discoverMotifs, type DiscoveryResult } from '../motifs/discover/discover.js';
import { readModiscoH5, writeModiscoH5 } from '../motifs/discover/h5.js';
import { patternMotif, summarizeResult, summarizeStored } from '../motifs/discover/results.js';
import { formatMeme } from '../motifs/meme-format.js';
import { reportHtml } from '../motifs/discover/report.js';
import { registerMotifsDiscover } from '../cli/motifs-discover.js';
import { writeSafetensors } from '../weights/safetensors.js';
import type { Motif } from '../motifs/motif.js';
import { PLANTED, plantedData, plantedPwm, type PlantedData } from './motif-planting.js';

const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import numpy']).status === 0);
const pythonH5 = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import numpy, h5py']).status === 0);

function runPython(exe: string, code: string, args: string[] = []): string {
  const r = spawnSync(exe, ['-c', code, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test("MT19937 draws what NumPy's RandomState(1234) draws", () => {
  const r = new MersenneTwister(1234);
  // np.random.RandomState(1234).uniform() ×3, permutation(10), choice(5000, 5, replace=False)
  assert.deepEqual([r.nextDouble(), r.nextDouble(), r.nextDouble()], [0.1915194503788923, 0.6221087710398319, 0.4377277390071145]);
  assert.deepEqual(Array.from(new MersenneTwister(1234).permutation(10)), [7, 2, 9, 1, 0, 8, 4, 5, 6, 3]);
  assert.deepEqual(Array.from(new MersenneTwister(1234).choiceWithoutReplacement(5000, 5)), [2706, 2436, 1201, 1486, 4286]);
});

test('statistics: percentiles, isotonic regression, Spearman, ROC AUC with ties', () => {
  assert.equal(percentileSorted([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentileSorted([0, 10], 95), 9.5);
  // Weighted pool-adjacent-violators: [1, 3, 2] → [1, 2.5, 2.5]; decreasing fits the mirror.
  assert.deepEqual(Array.from(isotonicFit([0, 1, 2], [1, 3, 2], [1, 1, 1], true).fitted), [1, 2.5, 2.5]);
  assert.deepEqual(Array.from(isotonicFit([0, 1, 2], [2, 3, 1], [1, 1, 1], false).fitted), [2.5, 2.5, 1]);
  assert.deepEqual(Array.from(isotonicFit([0, 1, 2], [1, 3, 2], [1, 3, 1], true).fitted), [1, 2.75, 2.75]);
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [10, 20, 30, 25]) - 0.8) < 1e-12);
  assert.equal(rocAuc([0, 1], [1, 2]), 0.875); // one tie counts half
});

test('Leiden recovers planted communities and beats singletons and one block on modularity', () => {
  // Four groups of 12 nodes, dense within (weight 1, p = 0.6), sparse between (weight 0.2, p = 0.05).
  const random = new MersenneTwister(5);
  const n = 48;
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < n; i += 1) {
    for (let j = i + 1; j < n; j += 1) {
      const same = Math.floor(i / 12) === Math.floor(j / 12);
      if (random.nextDouble() < (same ? 0.6 : 0.05)) {
        const w = same ? 1 : 0.2;
        rows.push(i, j);
        cols.push(j, i);
        vals.push(w, w);
      }
    }
  }
  const m = csrFromTriples(n, rows, cols, vals);
  const labels = leidenCluster(m, { seeds: 2 });
  for (let g = 0; g < 4; g += 1) assert.equal(new Set(Array.from(labels.subarray(g * 12, g * 12 + 12))).size, 1, `group ${g} split`);
  assert.equal(new Set(labels).size, 4);
  const truth = Int32Array.from({ length: n }, (_, i) => Math.floor(i / 12));
  assert.ok(Math.abs(modularity(m, labels) - modularity(m, truth)) < 1e-12);
  assert.ok(modularity(m, labels) > modularity(m, new Int32Array(n)));
});

test('.npy: our writer and reader round-trip; big-endian, float64 and Fortran-order arrays read as C order', async () => {
  const data = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
  const back = parseNpy(encodeNpy([2, 3, 4], data), 'x');
  assert.deepEqual(back.shape, [2, 3, 4]);
  assert.deepEqual(Array.from(back.data), Array.from(data));
  // A hand-made version-1 file: '>f8', Fortran order, shape (2, 3) holding [[0, 1, 2], [3, 4, 5]].
  const header = "{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }";
  const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const bytes = new Uint8Array(10 + padded.length + 48);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(bytes.buffer).setUint16(8, padded.length, true);
  bytes.set(new TextEncoder().encode(padded), 10);
  const fortran = [0, 3, 1, 4, 2, 5];
  fortran.forEach((v, i) => new DataView(bytes.buffer).setFloat64(10 + padded.length + i * 8, v, false));
  assert.deepEqual(Array.from(parseNpy(bytes, 'f').data), [0, 1, 2, 3, 4, 5]);
  assert.throws(() => parseNpy(bytes.subarray(0, bytes.length - 8), 'short.npy'), /short\.npy: 6 values of 8 bytes do not fit/);
  assert.throws(() => parseNpy(new Uint8Array(20), 'junk.npy'), /junk\.npy: not a \.npy array/);
});

test('.npz written by NumPy (stored and deflated) reads back; NumPy reads our .npy', { skip: python ? false : 'python3 with numpy is not installed' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'npz-'));
  try {
    runPython(
      python!,
      `import numpy as np, sys
a = (np.arange(2*4*5, dtype=np.float32).reshape(2, 4, 5) - 7) / 4
np.savez(sys.argv[1] + '/plain.npz', a)
np.savez_compressed(sys.argv[1] + '/packed.npz', a, other=np.ones(3))
np.save(sys.argv[1] + '/f64.npy', a.astype('>f8'))
import os
os.makedirs(sys.argv[1] + '/bed')
oh = np.zeros((2, 4, 5), dtype=np.float32); oh[:, 1, :] = 1
np.savez(sys.argv[1] + '/bed/onehot.npz', oh); np.savez(sys.argv[1] + '/bed/hypothetical.npz', a)
np.savez(sys.argv[1] + '/X.onehot.npz', oh); np.savez(sys.argv[1] + '/X.hypothetical.npz', a)`,
      [dir],
    );
    const expected = Array.from({ length: 40 }, (_, i) => (i - 7) / 4);
    for (const f of ['plain.npz', 'packed.npz', 'f64.npy']) {
      const a = await readNumpy(join(dir, f));
      assert.deepEqual(a.shape, [2, 4, 5], f);
      assert.deepEqual(Array.from(a.data), expected, f);
    }
    // attribute --bed's directory and attribute-gene's X.h5 (its X.onehot.npz and X.hypothetical.npz): [N, 4, L].
    for (const scores of [[join(dir, 'bed')], [join(dir, 'X.h5')], [join(dir, 'X.onehot.npz'), join(dir, 'bed')]]) {
      const t = await readAttributionInputs(scores);
      assert.deepEqual([t.n, t.length], [2 * scores.length, 5]);
      assert.equal(t.hypothetical[0 * 4 + 2], expected[2 * 5]); // sequence 0, position 0, base G
      assert.equal(t.contrib[1 * 4 + 1], expected[1 * 5 + 1]); // position 1, base C (the one-hot's)
      assert.equal(Math.abs(t.contrib[1 * 4 + 0]!), 0);
    }
    await assert.rejects(readNumpy(join(dir, 'packed.npz'), 'missing'), /no array 'missing' \(it holds arr_0, other\)/);
    await writeNpy(join(dir, 'ours.npy'), [2, 4, 5], Float32Array.from(expected));
    const out = runPython(python!, `import numpy as np, sys\na = np.load(sys.argv[1])\nprint(a.dtype, a.shape, float(a[1, 3, 4]))`, [join(dir, 'ours.npy')]);
    assert.equal(out.trim(), `float32 (2, 4, 5) ${expected[39]!.toFixed(1)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('inputs: [N, 4, L] and [N, L, 4] agree; the central window crops as modisco -w; attribution safetensors with a FASTA', async () => {
  const n = 2;
  const L = 6;
  const nlc = Float32Array.from({ length: n * L * 4 }, (_, i) => i);
  const ncl = new Float32Array(nlc.length);
  for (let i = 0; i < n; i += 1) for (let c = 0; c < 4; c += 1) for (let p = 0; p < L; p += 1) ncl[(i * 4 + c) * L + p] = nlc[(i * L + p) * 4 + c]!;
  const oneHot = new Float32Array(n * L * 4).fill(0);
  for (let i = 0; i < n * L; i += 1) oneHot[i * 4 + (i % 4)] = 1;
  const ohNcl = new Float32Array(oneHot.length);
  for (let i = 0; i < n; i += 1) for (let c = 0; c < 4; c += 1) for (let p = 0; p < L; p += 1) ohNcl[(i * 4 + c) * L + p] = oneHot[(i * L + p) * 4 + c]!;
  const a = trackSetFromArrays({ shape: [n, L, 4], data: oneHot }, { shape: [n, L, 4], data: nlc });
  const b = trackSetFromArrays({ shape: [n, 4, L], data: ohNcl }, { shape: [n, 4, L], data: ncl }, { layout: 'NCL' });
  assert.deepEqual(Array.from(b.hypothetical), Array.from(a.hypothetical));
  const cropped = trackSetFromArrays({ shape: [n, L, 4], data: oneHot }, { shape: [n, L, 4], data: nlc }, { window: 4 });
  assert.equal(cropped.length, 4);
  assert.deepEqual(Array.from(cropped.hypothetical.subarray(0, 4)), [4, 5, 6, 7]); // rows 1..4 of sequence 0
  assert.throws(() => trackSetFromArrays({ shape: [n, L, 4], data: oneHot }, { shape: [n, L, 4], data: nlc }, { window: 10 }), /--window 10: longer than the sequences \(6 bp\)/);

  const dir = await mkdtemp(join(tmpdir(), 'disc-in-'));
  try {
    const grad = Float32Array.from({ length: n * L * 4 }, (_, i) => (i % 4) + Math.floor(i / 4));
    await writeSafetensors(join(dir, 'a.safetensors'), [{ name: 'grad', dtype: 'F32', shape: [n, L, 4], data: grad }]);
    await writeFile(join(dir, 'x.fa'), '>r1\nACGTNA\n>r2\nTTTTTT\n');
    const t = await readAttributionInputs([dir], { fasta: join(dir, 'x.fa') });
    assert.equal(t.n, 2);
    assert.deepEqual(Array.from(t.hypothetical.subarray(0, 4)), [-1.5, -0.5, 0.5, 1.5]); // centred over the bases
    assert.deepEqual(Array.from(t.oneHot.subarray(16, 24)), [0, 0, 0, 0, 1, 0, 0, 0]); // N, then A
    assert.equal(t.contrib[1 * 4 + 1], -0.5 + 0); // C at position 1: its centred gradient
    await assert.rejects(readAttributionInputs([join(dir, 'a.safetensors')]), /no one-hot tensor; give --fasta/);
    await assert.rejects(readAttributionInputs([join(dir, 'g.h5')]), /g\.onehot\.npz is missing/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("seqlet calling gives tfmodisco-lite's threshold and seqlets on the planted set", () => {
  // tfmodisco-lite 2.4.0's extract_seqlets (sliding window 20, flank 5, FDR 0.05) on these arrays:
  // threshold 0.7575674057006836, 133 seqlets (132 positive, 1 negative after the sign split).
  const d = plantedData({ n: 160, length: 200, seed: 7, noise: 0.1 });
  const c = callSeqlets(d.tracks);
  assert.equal(c.threshold, 0.7575674057006836);
  assert.equal(c.positive.length, 132);
  assert.equal(c.negative.length, 1);
  for (const s of c.positive) assert.equal(s.length, 30);
});

/** Best agreement of a planted motif with a discovered probability matrix: Pearson r of the aligned cells, and the strand. */
function bestMatch(planted: Float64Array, found: Motif): { r: number; strand: '+' | '-' } {
  const w = planted.length / 4;
  let best = { r: -Infinity, strand: '+' as '+' | '-' };
  for (const strand of ['+', '-'] as const) {
    const m = strand === '+' ? found.probabilities : Float64Array.from({ length: found.length * 4 }, (_, i) => found.probabilities[(found.length - 1 - Math.floor(i / 4)) * 4 + 3 - (i % 4)]!);
    for (let off = -w + 3; off <= found.length - 3; off += 1) {
      const xs: number[] = [];
      const ys: number[] = [];
      for (let p = 0; p < w; p += 1) {
        const q = off + p;
        for (let b = 0; b < 4; b += 1) {
          xs.push(planted[p * 4 + b]!);
          ys.push(q >= 0 && q < found.length ? m[q * 4 + b]! : 0.25);
        }
      }
      const mx = xs.reduce((a, v) => a + v, 0) / xs.length;
      const my = ys.reduce((a, v) => a + v, 0) / ys.length;
      let sxy = 0;
      let sxx = 0;
      let syy = 0;
      xs.forEach((x, i) => {
        sxy += (x - mx) * (ys[i]! - my);
        sxx += (x - mx) ** 2;
        syy += (ys[i]! - my) ** 2;
      });
      const r = sxy / Math.sqrt(sxx * syy);
      if (r > best.r) best = { r, strand };
    }
  }
  return best;
}

describe('planted motifs', () => {
  let data: PlantedData;
  let result: DiscoveryResult;
  let dir: string;
  before(async () => {
    data = plantedData({ n: 160, length: 200, seed: 7, noise: 0.1 });
    result = discoverMotifs(data.tracks);
    dir = await mkdtemp(join(tmpdir(), 'disc-'));
  });

  test('planted motifs: both found, in the right orientation, with about the right seqlets, nothing else', async () => {
    assert.equal(result.neg, undefined, 'one negative seqlet: no negative metacluster');
    const patterns = summarizeResult(result);
    assert.equal(patterns.length, 2, patterns.map((p) => p.id).join(', '));
    const motifs = patterns.map((p) => patternMotif(p));
    PLANTED.forEach((planted, k) => {
      const pwm = plantedPwm(planted);
      const scored = motifs.map((m) => ({ m, ...bestMatch(pwm, m) })).sort((a, b) => b.r - a.r);
      const hit = scored[0]!;
      assert.ok(hit.r > 0.9, `${planted.name}: best r ${hit.r.toFixed(3)}`);
      assert.ok(scored[1]!.r < 0.6, `${planted.name} also matches ${scored[1]!.m.id} (r ${scored[1]!.r.toFixed(3)})`);
      // Sites on one strand only: the pattern is on that strand.
      if (planted.reverseFraction === 0) assert.equal(hit.strand, '+', `${planted.name} found reverse-complemented`);
      // Seqlets: at least 40 % of the planted sites, and nearly all on a site of this motif.
      const pattern = (result.pos ?? [])[patterns.indexOf(patterns.find((p) => p.id === hit.m.id)!)]!;
      const sites = data.sites.filter((s) => s.motif === k);
      const onSite = pattern.seqlets.filter((s) => sites.some((site) => site.example === s.exampleIdx && site.start < s.end && site.start + planted.consensus.length > s.start));
      assert.ok(pattern.size >= 0.4 * sites.length, `${planted.name}: ${pattern.size} seqlets for ${sites.length} sites`);
      assert.ok(onSite.length >= 0.9 * pattern.size, `${planted.name}: ${onSite.length} of ${pattern.size} seqlets on its sites`);
      // Both strands present for the motif planted on both.
      if (planted.reverseFraction > 0) {
        const rc = pattern.seqlets.filter((s) => s.isRevcomp).length;
        assert.ok(rc > 0.25 * pattern.size && rc < 0.75 * pattern.size, `${planted.name}: ${rc} of ${pattern.size} reverse`);
      }
    });
    // tfmodisco-lite 2.4.0 on the same arrays finds these two patterns with 53 and 44 seqlets, the same
    // seqlets on the same strands (see the comparison in the discover/ notes); allow for Leiden's randomness.
    assert.ok(Math.abs(patterns[0]!.nSeqlets - 53) <= 5 && Math.abs(patterns[1]!.nSeqlets - 44) <= 5, patterns.map((p) => p.nSeqlets).join(', '));
  });

  test("modisco_results.h5 has tfmodisco-lite's layout (h5wasm)", async () => {
    const path = join(dir, 'modisco_results.h5');
    await writeModiscoH5(path, result, 200);
    const back = await readModiscoH5(path);
    assert.equal(back.windowSize, 200);
    assert.equal(back.neg, undefined);
    assert.equal(back.pos!.length, result.pos!.length);
    back.pos!.forEach((p, i) => {
      const ours = result.pos![i]!;
      assert.equal(p.name, `pattern_${i}`);
      assert.equal(p.nSeqlets, ours.size);
      assert.equal(p.length, ours.length);
      assert.deepEqual(Array.from(p.contrib), Array.from(ours.contrib));
      assert.deepEqual(p.seqlets.start, ours.seqlets.map((s) => s.start));
      assert.deepEqual(p.seqlets.isRevcomp, ours.seqlets.map((s) => s.isRevcomp));
      assert.deepEqual(
        p.subpatterns.map((s) => s.nSeqlets),
        (ours.subpatterns ?? []).map((s) => s.pattern.size),
      );
      assert.ok(p.subpatterns.length >= 1);
    });
    // The stored form summarises to the same motifs.
    assert.deepEqual(summarizeStored(back).map((p) => patternMotif(p).probabilities), summarizeResult(result).map((p) => patternMotif(p).probabilities));
  });

  test('modisco_results.h5 reads in h5py as tfmodisco-lite reads it', { skip: pythonH5 ? false : 'python3 with h5py is not installed' }, async () => {
    const path = join(dir, 'modisco_results.h5');
    await writeModiscoH5(path, result, 200);
    const out = runPython(
      pythonH5!,
      `import h5py, sys, json
f = h5py.File(sys.argv[1], 'r')
out = {'window_size': int(f.attrs['window_size']), 'groups': sorted(f.keys()), 'patterns': []}
for name, p in sorted(f['pos_patterns'].items(), key=lambda x: int(x[0].split('_')[-1])):
    s = p['seqlets']
    out['patterns'].append({'name': name, 'n': int(s['n_seqlets'][:][0]), 'seq': [list(p['sequence'].shape), p['sequence'].dtype.str],
        'cwm': list(p['contrib_scores'].shape), 'hyp': list(p['hypothetical_contribs'].shape),
        'start': [len(s['start']), s['start'].dtype.str], 'rc': int(sum(bool(x) for x in s['is_revcomp'][:])),
        'seqlets': [list(s['sequence'].shape), s['contrib_scores'].dtype.str, list(s['hypothetical_contribs'].shape)],
        'sub': sorted(k for k in p.keys() if k.startswith('subpattern_')), 'keys': sorted(s.keys())})
print(json.dumps(out))`,
      [path],
    );
    const got = JSON.parse(out) as { window_size: number; groups: string[]; patterns: { name: string; n: number; seq: [number[], string]; cwm: number[]; hyp: number[]; start: [number, string]; rc: number; seqlets: [number[], string, number[]]; sub: string[]; keys: string[] }[] };
    assert.equal(got.window_size, 200);
    assert.deepEqual(got.groups, ['pos_patterns']);
    got.patterns.forEach((p, i) => {
      const ours = result.pos![i]!;
      assert.equal(p.n, ours.size);
      assert.deepEqual(p.seq, [[ours.length, 4], '<f8']);
      assert.deepEqual(p.cwm, [ours.length, 4]);
      assert.deepEqual(p.hyp, [ours.length, 4]);
      assert.deepEqual(p.start, [ours.size, '<i8']);
      assert.equal(p.rc, ours.seqlets.filter((s) => s.isRevcomp).length);
      assert.deepEqual(p.seqlets, [[ours.size, ours.length, 4], '<f4', [ours.size, ours.length, 4]]);
      assert.deepEqual(p.keys, ['contrib_scores', 'end', 'example_idx', 'hypothetical_contribs', 'is_revcomp', 'n_seqlets', 'sequence', 'start']);
      assert.deepEqual(p.sub, (ours.subpatterns ?? []).map((s) => `subpattern_${s.label}`).sort());
    });
  });

  test('report: a CWM and a PWM logo per pattern, seqlet counts, names from the namer; MEME text', async () => {
    const patterns = summarizeResult(result);
    const named: string[] = [];
    const html = await reportHtml(patterns, {
      namer: (m) => {
        named.push(m.id);
        return [{ name: `match-of-${m.id}`, pValue: 1e-6, strand: '+' }];
      },
    });
    assert.deepEqual(named, patterns.map((p) => p.id));
    assert.equal((html.match(/<svg/g) ?? []).length, 2 * patterns.length);
    for (const p of patterns) {
      assert.ok(html.includes(`<td class="name">${p.id}</td><td class="n">${p.nSeqlets}</td>`));
      assert.ok(html.includes(`match-of-${p.id} (+) p=1.00e-6`));
    }
    const meme = formatMeme(patterns.map((p) => patternMotif(p)));
    assert.match(meme, /^MEME version 4\n/);
    assert.equal((meme.match(/^MOTIF pos_patterns\.pattern_\d+$/gm) ?? []).length, patterns.length);
    const m0 = patternMotif(patterns[0]!);
    assert.ok(m0.length >= 9 && m0.length <= 20, `trimmed to ${m0.length}`);
    for (let r = 0; r < m0.length; r += 1) assert.ok(Math.abs(m0.probabilities.subarray(r * 4, r * 4 + 4).reduce((a, b) => a + b, 0) - 1) < 1e-9);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
});

test('pure noise: seqlets are called, but no pattern survives', () => {
  const d = plantedData({ n: 80, length: 200, seed: 11, noise: 0.1, motifs: [] });
  // Both metaclusters clustered (a low minimum), so the filters, not the size rule, must reject.
  const r = discoverMotifs(d.tracks, { minMetaclusterSize: 20 });
  assert.ok(r.clustered.pos > 20 && r.clustered.neg > 20, JSON.stringify(r.clustered));
  assert.equal(r.pos?.length ?? 0, 0, `${r.pos?.length} positive patterns`);
  assert.equal(r.neg?.length ?? 0, 0, `${r.neg?.length} negative patterns`);
});

test('CLI: motifs discover on .npy inputs writes the h5, the MEME file and the report; flag errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'disc-cli-'));
  try {
    const d = plantedData({ n: 60, length: 120, seed: 3, noise: 0.1, motifs: [] });
    const toNcl = (x: Float32Array) => {
      const o = new Float32Array(x.length);
      for (let i = 0; i < 60; i += 1) for (let c = 0; c < 4; c += 1) for (let p = 0; p < 120; p += 1) o[(i * 4 + c) * 120 + p] = x[(i * 120 + p) * 4 + c]!;
      return o;
    };
    await writeNpy(join(dir, 'oh.npy'), [60, 4, 120], toNcl(d.oneHot));
    await writeNpy(join(dir, 'attr.npy'), [60, 4, 120], toNcl(d.hypothetical));
    const t = await readNpzInputs(join(dir, 'oh.npy'), join(dir, 'attr.npy'), { window: 100 });
    assert.equal(t.length, 100);
    const program = new Command('seq2track').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerMotifsDiscover(program.command('motifs').exitOverride());
    const run = (args: string[]) => program.parseAsync(['node', 'seq2track', 'motifs', 'discover', ...args]);
    const out = join(dir, 'out');
    await run(['--npz-onehot', join(dir, 'oh.npy'), '--npz-attr', join(dir, 'attr.npy'), '--out', out, '--window', '100', '--quiet']);
    const back = await readModiscoH5(join(out, 'modisco_results.h5'));
    assert.equal(back.windowSize, 100);
    assert.match(await readFile(join(out, 'motifs.meme'), 'utf8'), /^MEME version 4/);
    assert.match(await readFile(join(out, 'report.html'), 'utf8'), /No patterns were found|<svg/);
    // With a matcher: --db reaches the namer factory.
    const withDb = new Command('seq2track').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    const dbs: string[] = [];
    registerMotifsDiscover(withDb.command('motifs').exitOverride(), { namerFor: (db) => (dbs.push(db), () => []) });
    await withDb.parseAsync(['node', 'seq2track', 'motifs', 'discover', '--npz-onehot', join(dir, 'oh.npy'), '--npz-attr', join(dir, 'attr.npy'), '--out', out, '--db', 'jaspar.meme', '--quiet']);
    assert.deepEqual(dbs, ['jaspar.meme']);
    await assert.rejects(run(['--npz-onehot', join(dir, 'oh.npy'), '--npz-attr', join(dir, 'attr.npy'), '--out', out, '--db', 'x.meme']), /unknown option '--db'/);
    await assert.rejects(run(['--npz-onehot', 'a.npz', '--out', out]), /--npz-onehot and --npz-attr go together/);
    await assert.rejects(run(['--out', out]), /give --scores DIR\|FILES/);
    await assert.rejects(run(['--scores', join(dir, 'missing'), '--out', out]), /--scores .*missing: cannot read \(ENOENT\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
