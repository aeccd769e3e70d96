// The ETA a long task shows beside its progress bar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etaText } from '../../../src/core/progress.js';

test('etaText: the remaining time at the rate so far, in s, min or h; nothing before the start or at the end', () => {
  assert.equal(etaText(10_000, 1, 2), 'ETA 10 s', 'half done in 10 s: 10 s left');
  assert.equal(etaText(30_000, 25, 100), 'ETA 1 min 30 s');
  assert.equal(etaText(60_000, 1, 100), 'ETA 1 h 39 min');
  assert.equal(etaText(5_000, 0, 100), undefined, 'no rate yet');
  assert.equal(etaText(5_000, 100, 100), undefined, 'done');
  assert.equal(etaText(5_000, 120, 100), undefined, 'past the end (a total that was an estimate)');
});
