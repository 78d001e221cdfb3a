/**
 * The full-size architectures expect exactly the reference ports' state dicts: every tensor name and
 * shape of ../shared/fixtures/*-manifest.json (listed from the PyTorch modules), aliases and
 * num_batches_tracked counters aside.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { architectureFromConfig } from '../models/load.js';
import { fixture, skipUnless } from './fixtures.js';

interface Manifest {
  config: Record<string, unknown>;
  state_dict: { name: string; shape: number[]; dtype: string }[];
}

for (const [name, modelType] of [['enformer', 'enformer'], ['borzoi', 'borzoi']] as const) {
  const file = `${name}-manifest.json`;
  test(`${name}: expected full-size weight names and shapes equal the reference state dict (${file})`, { skip: skipUnless(file) }, () => {
    const manifest = JSON.parse(readFileSync(fixture(file)!, 'utf8')) as Manifest;
    const arch = architectureFromConfig({ model_type: modelType, ...manifest.config }, file);
    const canonical = (n: string) => arch.canonicalName(n);
    // Enformer lists each trunk tensor twice (`_trunk.N.*` aliases share storage); the counters are not weights.
    const want = new Map<string, string>();
    for (const t of manifest.state_dict) {
      if (t.name.endsWith('num_batches_tracked')) continue;
      const c = canonical(t.name);
      if (c === null) continue;
      want.set(c, JSON.stringify(t.shape));
    }
    const got = new Map(arch.expectedWeights().map((t) => [t.name, JSON.stringify(t.shape)]));
    const missing = [...want.keys()].filter((k) => !got.has(k));
    const extra = [...got.keys()].filter((k) => !want.has(k));
    const shapes = [...got.keys()].filter((k) => want.has(k) && want.get(k) !== got.get(k)).map((k) => `${k}: ${got.get(k)} vs ${want.get(k)}`);
    assert.deepEqual({ missing, extra, shapes }, { missing: [], extra: [], shapes: [] });
    assert.ok(got.size > 200, `${got.size} tensors compared`);
  });
}
