import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exponentialLinspaceInt, roundHalfEven } from '../models/schedule.js';

test('roundHalfEven follows Python round()', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
});

test('channel schedule: full Enformer conv tower (768 -> 1536, 6 blocks, divisible by 128)', () => {
  assert.deepEqual(exponentialLinspaceInt(768, 1536, 6, 128), [768, 896, 1024, 1152, 1280, 1536]);
});

test('channel schedule: Borzoi conv tower (608 -> 1536, 6 blocks, divisible by 32)', () => {
  assert.deepEqual(exponentialLinspaceInt(608, 1536, 6, 32), [608, 736, 896, 1056, 1280, 1536]);
});

test('channel schedule: enformer-small fixture (48 -> 96, divisible by 8)', () => {
  assert.deepEqual(exponentialLinspaceInt(48, 96, 6, 8), [48, 56, 64, 72, 80, 96]);
});
