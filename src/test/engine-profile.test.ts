/**
 * `npm run bench -- … --profile` (src/bench/profiling-engine.ts): ONNX Runtime writes a session's
 * JSON profile when the session is released, so closing the engine, which releases what is still
 * open, completes one profile per session; an engine without it writes none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../models/model.js';
import { fixture, skipUnless, withTempDir } from './fixtures.js';
import { profiledModel } from './profiled-model.js';

test('engine: a profiling engine writes one ONNX Runtime profile per session, complete once closed', { skip: skipUnless('enformer-small') }, () =>
  withTempDir('seq2track-profile-', async (dir) => {
    const { model, engine } = await profiledModel(fixture('enformer-small')!, { threads: 1 }, join(dir, 'prof'));
    await model.predict(Model.encode(['ACGT'.repeat(2048)]));
    // ONNX Runtime opens the profile at session creation and completes the JSON only when profiling ends.
    const complete = (f: string) => {
      try {
        return Array.isArray(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      } catch {
        return false;
      }
    };
    assert.ok(!readdirSync(dir).some(complete), 'no complete profile before the engine is closed');
    await model.close();
    await engine.close();
    const files = readdirSync(dir).filter((f) => f.startsWith('prof_') && f.endsWith('.json'));
    assert.deepEqual(files.map((f) => f.split('_')[1]).sort(), ['head', 'trunk'], `one profile per session (found ${readdirSync(dir).join(', ') || 'none'})`);
    for (const f of files) {
      const events = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { name: string }[];
      assert.ok(Array.isArray(events) && events.length > 0, `${f}: a JSON array of events`);
    }
  }));
