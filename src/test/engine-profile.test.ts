/** `--profile` (EngineOptions.profilePrefix): closing the model ends profiling, so ONNX Runtime writes its JSON profile. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../models/load.js';
import { Model } from '../models/model.js';
import { fixture, skipUnless, tempDir } from './fixtures.js';

test('engine: a profiled model writes one ONNX Runtime profile per session when closed', { skip: skipUnless('enformer-small') }, async () => {
  const tmp = tempDir('seq2track-profile-');
  try {
    const model = await loadModel(fixture('enformer-small')!, { threads: 1, profilePrefix: join(tmp.dir, 'prof') });
    await model.predict(Model.encode(['ACGT'.repeat(2048)]));
    // ONNX Runtime opens the profile at session creation and completes the JSON only when profiling ends.
    const complete = (f: string) => {
      try {
        return Array.isArray(JSON.parse(readFileSync(join(tmp.dir, f), 'utf8')));
      } catch {
        return false;
      }
    };
    assert.ok(!readdirSync(tmp.dir).some(complete), 'no complete profile before the model is closed');
    await model.close();
    const files = readdirSync(tmp.dir).filter((f) => f.startsWith('prof_') && f.endsWith('.json'));
    assert.ok(files.length >= 1, `profile files written (found ${readdirSync(tmp.dir).join(', ') || 'none'})`);
    for (const f of files) {
      const events = JSON.parse(readFileSync(join(tmp.dir, f), 'utf8')) as { name: string }[];
      assert.ok(Array.isArray(events) && events.length > 0, `${f}: a JSON array of events`);
    }
  } finally {
    tmp.cleanup();
  }
});
