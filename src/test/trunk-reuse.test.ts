/**
 * Trunk reuse in the region job (tasks/predict/trunk-reuse.ts, models/stretch-trunk.ts): on every
 * fixture, regions of several overlapping windows, windows past chromosome ends, shifts (one wider
 * than the slack between the receptive field and the trunk grid, so its margin grows by a grid
 * step), reverse complement and two replicates with different trunks give the per-window result
 * within 1e-5·(1 + |x|); each stretch tile is computed exactly once per run and model; and the trunk
 * radius the margins rest on is the exact receptive field.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, skipUnless, tempDir } from './fixtures.js';
import { memoryReference, randomGenome, rng } from './genome-files.js';
import { loadModel } from '../models/load.js';
import { Model } from '../models/model-core.js';
import { trunkGrid } from '../models/architecture.js';
import { TrunkTiler } from '../models/trunk-tiler.js';
import { StretchTrunk } from '../models/stretch-trunk.js';
import { parseRegion, planRegion } from '../genome/regions.js';
import { predictRegionsOn } from '../tasks/predict/regions-in-memory.js';
import { loadedModels } from '../tasks/job/run-core.js';
import { tables } from '../tasks/job/model-dirs.js';
import { setupFor } from '../tasks/job/ensemble.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../weights/safetensors.js';
import type { Reference } from '../genome/reference-type.js';

const FIXTURE_NAMES = ['enformer-small', 'borzoi-small', 'flashzoi-small'] as const;
let tmp: { dir: string; cleanup: () => void };

before(() => {
  tmp = tempDir('seq2track-trunk-reuse-');
});
after(() => tmp.cleanup());

/** A second replicate of a fixture: every trunk weight of its first convolution scaled, so its trunk differs. */
async function replicate(dir: string, name: string): Promise<string> {
  const rep = join(tmp.dir, `${name}-replicate`);
  mkdirSync(rep, { recursive: true });
  copyFileSync(join(dir, 'config.json'), join(rep, 'config.json'));
  const file = await SafetensorsFile.open(join(dir, 'weights.safetensors'));
  const tensors: TensorToWrite[] = [];
  for (const info of file.tensors.values()) {
    const data = file.readFloat32(info.name);
    if (/^(stem\.0|conv_dna\.conv_layer)\.weight$/.test(info.name)) for (let i = 0; i < data.length; i++) data[i] = data[i]! * (1 + 0.3 * ((i % 5) - 2) / 2);
    tensors.push({ name: info.name, dtype: 'F32', shape: info.shape, data });
  }
  await writeSafetensors(join(rep, 'weights.safetensors'), tensors);
  return rep;
}

/** One sequence genome per chromosome, in memory. */
function genomeOf(chroms: Map<string, string>): Reference {
  const refs = new Map([...chroms].map(([c, s]) => [c, memoryReference(c, s)]));
  return {
    source: 'mem',
    location: 'mem',
    kind: 'fasta',
    getSequenceNames: async () => [...chroms.keys()],
    getSequenceSize: async (c) => chroms.get(c)?.length,
    getSequenceSizes: async () => new Map([...chroms].map(([c, s]) => [c, s.length])),
    getSequence: (c, s, e) => refs.get(c)!.getSequence(c, s, e),
  };
}

/** Counts the bp every untiled trunk pass (the stretch tiles) is run on. */
function countStretchTiles(model: Model): number[] {
  const lengths: number[] = [];
  const once = model.trunkOnce.bind(model);
  model.trunkOnce = (input) => (lengths.push(input.length), once(input));
  return lengths;
}

const close = (a: Float32Array, b: Float32Array, what: string) => {
  assert.equal(a.length, b.length, what);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  assert.ok(worst <= 1e-5, `${what}: worst |reuse - full| / (1 + |full|) = ${worst}`);
  return worst;
};

for (const name of FIXTURE_NAMES) {
  test(`trunk reuse (${name}): several windows, chromosome ends, shifts, rc, two replicates: equal to per-window within 1e-5·(1 + |x|), each stretch tile computed once`, { skip: skipUnless(name) }, async () => {
    const dir = fixture(name)!;
    const rep = await replicate(dir, name);
    // Tiles of 1,536 bp: several per window, their boundaries off the window starts.
    const load = { threads: 1, tileLength: 1536 };
    const models = [await loadModel(dir, load), await loadModel(rep, load)];
    try {
      const counts = models.map(countStretchTiles);
      const length = models[0]!.arch.kind === 'enformer' ? 8192 : models[0]!.arch.defaultSequenceLength;
      const g = setupFor(models[0]!, undefined, length, true).geometry;
      const stride = g.bins * g.binSize;
      const chroms = randomGenome({ chrA: 9 * stride + 1234, chrB: stride + 700 }, 3);
      const genome = genomeOf(chroms);
      const sizeA = chroms.get('chrA')!.length;
      // From the chromosome start (N before it), a middle stretch, to the end (N past it), and a chromosome shorter than a window.
      const regions = [`chrA:1-${3 * stride}`, `chrA:${4 * stride}-${5 * stride + 500}`, `chrA:${6 * stride}-${sizeA}`, `chrB:1-${stride + 700}`].map(parseRegion);
      const shifts = [0, 1, -130];
      const opts = { genome, regions, windowLength: length, rc: true, shifts, batchSize: 3 };
      const run = (trunkReuse: boolean, batchSize = opts.batchSize) => predictRegionsOn(loadedModels(models), tables(undefined, join(tmp.dir, 'cache')), { ...opts, trunkReuse, batchSize });
      const full = await run(false);
      assert.equal(counts.flat().length, 0, 'the per-window run cuts no stretch tiles');
      const reused = await run(true);
      let worst = 0;
      reused.results.forEach((r, i) => (worst = Math.max(worst, close(r.values, full.results[i]!.values, `${name} ${r.plan.region.label}`))));
      assert.ok(reused.results.some((r) => r.plan.windows.length >= 3), 'a region has several windows');
      assert.ok(reused.results.some((r) => r.plan.windows[0]! < 0) && reused.results.some((r) => r.plan.windows.at(-1)! + length > sizeA), 'windows run past both chromosome ends');

      // Each stretch (region × shift × strand) is cut into tiles once per model: exactly the tiles
      // that hold window interiors (the widest shift sets both margins), nothing twice.
      const tiler = new TrunkTiler(models[0]!.arch, 1536);
      const margin = models[0]!.trunkMargin(130);
      assert.equal(margin, 512, 'the 130-bp shift widens the 384-bp margin by one grid step');
      const expected = regions
        .map((r) => planRegion(r, chroms.get(r.chrom)!.length, g))
        .flatMap((p) => {
          const size = (p.windows.length - 1) * stride + length;
          return tiler.tilesOf(size, tiler.coreLength(length)).filter((t) => t.e > margin && t.s < size - margin).map((t) => t.te - t.ts);
        })
        .sort((a, b) => a - b);
      for (const [m, c] of counts.entries()) {
        const want = Array.from({ length: shifts.length * 2 }, () => expected).flat().sort((a, b) => a - b);
        assert.deepEqual([...c].sort((a, b) => a - b), want, `model ${m}: the stretch tiles, each once per run`);
      }
      const trunkBp = (c: number[]) => c.reduce((a, b) => a + b, 0);
      const perWindow = reused.windows * shifts.length * 2 * length;
      assert.ok(trunkBp(counts[0]!) < perWindow, `stretch trunk ${trunkBp(counts[0]!)} bp < per-window ${perWindow} bp`);

      // One window per batch: each window is assembled in its predecessor's outputs (the overlap moved within the buffer).
      const single = await run(true, 1);
      single.results.forEach((r, i) => close(r.values, full.results[i]!.values, `${name} ${r.plan.region.label}, batch size 1`));
    } finally {
      for (const m of models) await m.close();
    }
  });
}

test('trunk reuse: the default tile (longer than the window) and a one-window region take the same path', { skip: skipUnless('enformer-small') }, async () => {
  const model = await loadModel(fixture('enformer-small')!, { threads: 1 });
  try {
    const chroms = randomGenome({ chrA: 30_000 }, 9);
    const opts = { genome: genomeOf(chroms), regions: ['chrA:1-30000', 'chrA:12000-12100'].map(parseRegion), windowLength: 8192, rc: true, shifts: [0, 2] };
    const run = (trunkReuse: boolean) => predictRegionsOn(loadedModels([model]), tables(undefined, join(tmp.dir, 'cache')), { ...opts, trunkReuse });
    const full = await run(false);
    const reused = await run(true);
    reused.results.forEach((r, i) => close(r.values, full.results[i]!.values, r.plan.region.label));
  } finally {
    await model.close();
  }
});

for (const name of ['enformer-small', 'borzoi-small'] as const) {
  test(`trunk radius (${name}): a base changes trunk outputs exactly up to trunkRadiusBp from their bins, never beyond`, { skip: skipUnless(name) }, async () => {
    const model = await loadModel(fixture(name)!, { threads: 1, tileLength: 0 });
    try {
      const { trunkRadiusBp: radius, trunkHaloBp: halo, trunkOutputs } = model.arch;
      assert.equal(radius, 259);
      assert.equal(halo, Math.ceil(radius / trunkGrid(trunkOutputs)) * trunkGrid(trunkOutputs));
      const L = 4096;
      const r = rng(4);
      const base = Array.from({ length: L }, () => 'ACGT'[Math.floor(r() * 4)]!).join('');
      const ref = await model.trunk(Model.encode([base]));
      // Per output, the farthest changed position from the changed base, in bp beyond the position's bin.
      const reach = new Map<string, number>();
      // 1533 ≡ -259 and 2050 ≡ 258 (mod 128): bases exactly the radius before and after a 128-bp bin.
      for (const q of [1533, 2050, 1700]) {
        const alt = base.slice(0, q) + (base[q] === 'A' ? 'C' : 'A') + base.slice(q + 1);
        const out = await model.trunk(Model.encode([alt]));
        for (const { name: o, resolution, channels } of trunkOutputs) {
          const a = ref[o]!.data as Float32Array;
          const b = out[o]!.data as Float32Array;
          for (let p = 0; p < L / resolution; p++) {
            let changed = false;
            for (let c = 0; c < channels && !changed; c++) changed = a[p * channels + c] !== b[p * channels + c];
            if (!changed) continue;
            const beyond = q < p * resolution ? p * resolution - q : q >= (p + 1) * resolution ? q - (p + 1) * resolution + 1 : 0;
            reach.set(o, Math.max(reach.get(o) ?? 0, beyond));
          }
        }
      }
      // The coarsest output reaches the whole radius (the finer Borzoi outputs stop short of the unet1 conv's share).
      const coarsest = trunkOutputs.at(-1)!.name;
      assert.equal(reach.get(coarsest), radius, `${coarsest}: reach ${reach.get(coarsest)} bp`);
      for (const [o, d] of reach) assert.ok(d <= radius, `${o} reaches ${d} bp`);
    } finally {
      await model.close();
    }
  });
}

test('stretch trunk: windows either way along a stretch get exactly its values; each tile computed once, started anywhere; at most one tile held between windows', async () => {
  const arch = { kind: 'test', trunkHaloBp: 384, trunkOutputs: [{ name: 'x', resolution: 128, channels: 2 }, { name: 'y', resolution: 32, channels: 1 }] };
  const tiler = new TrunkTiler(arch, 1536);
  const [L, stride, margin] = [8192, 3072, 384];
  const n = 6;
  const size = (n - 1) * stride + L;
  // The "trunk" of stretch bp [ts, te): each position's value is a function of its stretch position.
  const value = (bp: number, c: number) => bp + 0.25 * c;
  const computed: number[] = [];
  const compute = async (ts: number, te: number) => {
    computed.push(ts);
    const out = tiler.empty(1, te - ts);
    for (const { name, resolution, channels } of arch.trunkOutputs) {
      const d = out[name]!.data as Float32Array;
      for (let p = 0; p < (te - ts) / resolution; p++) for (let c = 0; c < channels; c++) d[p * channels + c] = value(ts + p * resolution, c);
    }
    return out;
  };
  for (const reverse of [false, true]) {
    for (const startAt of [0, 2]) {
      computed.length = 0;
      const stretch = new StretchTrunk(tiler, size, tiler.coreLength(L), compute);
      const order = Array.from({ length: n }, (_, k) => k).slice(startAt);
      const at = (k: number) => (reverse ? n - 1 - k : k) * stride;
      for (const k of order) {
        const outputs = tiler.empty(2, L);
        const piece = (j: number): [number, number] => [at(j) + margin, at(j) + L - margin];
        await stretch.fill(...piece(k), { outputs, length: L, item: 1, at: margin }, k + 1 < n ? piece(k + 1) : undefined);
        assert.ok(stretch.tilesHeld <= 1, `window ${k}: ${stretch.tilesHeld} tiles held`);
        for (const { name, resolution, channels } of arch.trunkOutputs) {
          const d = outputs[name]!.data as Float32Array;
          const per = L / resolution;
          for (let p = 0; p < per; p++) {
            const bp = p * resolution;
            for (let c = 0; c < channels; c++) {
              const want = bp >= margin && bp < L - margin ? value(at(k) + bp, c) : 0;
              assert.equal(d[((per + p) * channels) + c], want, `${reverse ? 'reverse' : 'forward'} window ${k} ${name}[${p}, ${c}]`);
              assert.equal(d[p * channels + c], 0, 'batch item 0 untouched');
            }
          }
        }
      }
      assert.equal(new Set(computed).size, computed.length, 'no tile computed twice');
    }
  }
});
