/** The ORT profile summary (bench profile-summary): every node of a profiled Enformer gets a known op class, and the counted FLOPs are the model's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../models/model.js';
import { Enformer } from '../models/enformer.js';
import { classify, readProfile, summarise } from '../bench/profile-summary.js';
import { spinningOptions } from '../bench/session-options.js';
import { machineInfo } from '../bench/machine.js';
import { fixture, skipUnless, withTempDir } from './fixtures.js';
import { profiledModel } from './profiled-model.js';

test('profile summary: classes and FLOPs of a profiled Enformer (sessions without intra-op spinning)', { skip: skipUnless('enformer-small') }, () =>
  withTempDir('seq2track-profile-summary-', async (dir) => {
    const length = 8192;
    const { model, engine } = await profiledModel(fixture('enformer-small')!, { threads: 1, sessionOptions: spinningOptions(false) }, join(dir, 'p'));
    await model.predict(Model.encode(['ACGT'.repeat(length / 4)]));
    const arch = model.arch as Enformer;
    await model.close();
    await engine.close();
    const file = (part: string) => join(dir, readdirSync(dir).find((f) => f.startsWith(`p_${part}`) && f.endsWith('.json'))!);
    const trunk = readProfile(file('trunk'));
    const head = readProfile(file('head'));
    assert.equal(trunk.runs, 1);
    for (const n of [...trunk.nodes, ...head.nodes]) assert.ok(!classify(n).startsWith('other'), `${n.op} ${JSON.stringify(n.inputs)} has a class`);
    const classes = new Set([...summarise(trunk.nodes, 1), ...summarise(head.nodes, 1)].map((r) => r.cls));
    for (const c of ['stem conv (4 input channels)', 'k=5 convs', '1×1 convs with bias (Enformer: residual blocks; Borzoi: U-Net)', '1×1 convs: attention-pool logits', 'linear layers (Gemm/MatMul)', 'relative-position part', 'attention q·kᵀ, attention·v']) {
      assert.ok(classes.has(c), `class '${c}' found (have: ${[...classes].join('; ')})`);
    }
    // The trunk's products as run: the config's count, less half of the pooling logits (computed
    // at half the positions, layers.ts attentionPool). ORT's NCHWc layout runs convolutions on
    // blocks of channels (MLAS: 16 floats with AVX-512, 8 with AVX2) and its profile gives the
    // channel counts rounded up to the block (the fixture's 56 and 72 become 64 and 80 with AVX-512):
    // so the count is the model's with its channels so rounded.
    const block = machineInfo().vectorWidth === 'AVX-512' ? 16 : 8;
    const channels = arch.channels.map((c) => Math.ceil(c / block) * block);
    const onBlocks = Object.assign(Object.create(arch) as Enformer, { channels });
    const f = onBlocks.flops(length).stages;
    let poolLogits = 2 * length * channels[0]! ** 2;
    for (let i = 0; i + 1 < channels.length; i++) poolLogits += 2 * (length / 2 ** (i + 1)) * channels[i + 1]! ** 2;
    const counted = summarise(trunk.nodes, 1).reduce((a, r) => a + r.flops, 0);
    assert.equal(counted, f.stem! + f.conv_tower! - poolLogits / 2);
  }));
