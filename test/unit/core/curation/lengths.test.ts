import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeLengthStats, lengthRatio, pairLengthStats, textLength } from '../../../../src/core/curation/lengths.js';

const texts = new Map(
  Object.entries({ a: 'x'.repeat(300), b: 'x'.repeat(100), c: 'x'.repeat(200), d: 'x'.repeat(50), e: '检索增强' }).map(([id, generated]) => [id, { generated }]),
);

test('pairLengthStats: median and geometric mean of chosen/rejected length, chosen-longer count', () => {
  const s = pairLengthStats(
    [
      { chosenId: 'a', rejectedId: 'b' }, // 3
      { chosenId: 'c', rejectedId: 'd' }, // 4
      { chosenId: 'b', rejectedId: 'c' }, // 0.5
    ],
    texts,
  );
  assert.equal(s.pairs, 3);
  assert.equal(s.chosenLonger, 2);
  assert.equal(s.medianRatio, 3);
  assert.ok(Math.abs((s.geoMeanRatio ?? 0) - Math.cbrt(3 * 4 * 0.5)) < 1e-12);
  assert.equal(s.medianChosenChars, 200);
  assert.equal(s.medianRejectedChars, 100);
  assert.match(describeLengthStats(s), /chosen longer in 2\/3 pairs, median chosen\/rejected length 3\.00×/);
});

test('pairLengthStats: even count takes the middle two; a missing side is not counted; no pairs gives nulls', () => {
  const s = pairLengthStats([{ chosenId: 'a', rejectedId: 'b' }, { chosenId: 'b', rejectedId: 'a' }, { chosenId: 'a', rejectedId: 'gone' }], texts);
  assert.equal(s.pairs, 2);
  assert.ok(Math.abs((s.medianRatio ?? 0) - (3 + 1 / 3) / 2) < 1e-12);
  const none = pairLengthStats([], texts);
  assert.equal(none.medianRatio, null);
  assert.equal(describeLengthStats(none), 'no pairs');
});

test('lengths are in characters (code points), ratios longer / shorter', () => {
  assert.equal(textLength('检索增强'), 4);
  assert.equal(textLength('a😀b'), 3);
  assert.equal(lengthRatio('x'.repeat(50), 'x'.repeat(100)), 2);
  assert.equal(lengthRatio('', 'xx'), 2, 'an empty side counts as 1');
});
