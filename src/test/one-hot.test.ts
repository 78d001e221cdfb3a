import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oneHot, SequenceError } from '../genome/one-hot.js';

test('oneHot: A, C, G, T order', () => {
  assert.deepEqual([...oneHot('ACGT')], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
});

test('oneHot: lower case equals upper case; N and n give all-zero rows', () => {
  assert.deepEqual(oneHot('acgtn'), oneHot('ACGTN'));
  assert.deepEqual([...oneHot('NnA')], [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
});

test('oneHot: a bad letter is an error naming the sequence and the 1-based position', () => {
  assert.throws(() => oneHot('ACGTX', 'chr1'), (e: Error) => e instanceof SequenceError && /chr1/.test(e.message) && /'X' at position 5/.test(e.message));
  assert.throws(() => oneHot('AC-T'), /'-' at position 3/);
  assert.throws(() => oneHot('ACGTµ'), /position 5/);
});
