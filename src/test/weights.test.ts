import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeightsMismatchError } from '../weights/weight-set.js';
import { loadModel } from '../models/load.js';
import { brokenModelDir, skipUnless, withTempDir } from './fixtures.js';

test('weights: every missing, unexpected and mis-shaped tensor is named, and the model refuses to load', { skip: skipUnless('enformer-small') }, () =>
  withTempDir(async (dir) => {
    await brokenModelDir(dir);
    await assert.rejects(loadModel(dir), (e: Error) => {
      assert.ok(e instanceof WeightsMismatchError, String(e));
      assert.equal(e.problems.length, 3, e.message);
      assert.match(e.message, /\(3 problems\)/);
      assert.match(e.message, /missing stem\.0\.bias \[48\]/);
      assert.match(e.message, /unexpected transformer\.9\.extra\.weight \[2\]/);
      assert.match(e.message, /mis-shaped _heads\.mouse\.0\.bias: \[7\] in the file, the config needs \[5\]/);
      return true;
    });
  }));
