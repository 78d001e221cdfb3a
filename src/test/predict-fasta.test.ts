import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batches } from '../tasks/predict/fasta.js';

const rec = (len: number, i: number) => ({ name: `r${i}`, sequence: 'A'.repeat(len) });

test('batches: consecutive equal-length records, at most batch-size, order kept', () => {
  const records = [8, 8, 8, 16, 16, 8].map(rec);
  assert.deepEqual(batches(records, 1), [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6]]);
  assert.deepEqual(batches(records, 2), [[0, 2], [2, 3], [3, 5], [5, 6]]);
  assert.deepEqual(batches(records, 10), [[0, 3], [3, 5], [5, 6]]);
  assert.deepEqual(batches([], 4), []);
});
