import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareTrecEval, isTrecEvalSorted, sortLikeTrecEval, strcmp } from '../../../../src/core/eval/trecOrder.js';

test('strcmp orders by byte/code point like C, not by number', () => {
  assert.ok(strcmp('d10', 'd9') < 0);
  assert.ok(strcmp('abc', 'ab') > 0);
  assert.equal(strcmp('x', 'x'), 0);
  // U+FF5E (3 UTF-8 bytes) sorts before U+1F600 (4 bytes) although its UTF-16 unit is larger
  assert.ok(strcmp('\uff5e', '\u{1f600}') < 0);
  assert.ok('\uff5e' > '\u{1f600}', 'plain JS comparison gets this wrong');
});

test('sortLikeTrecEval: score descending, then docid descending; input untouched', () => {
  const hits = [{ docid: 'a', score: 1 }, { docid: 'c', score: 2 }, { docid: 'b', score: 2 }, { docid: 'd', score: -1 }];
  const sorted = sortLikeTrecEval(hits);
  assert.deepEqual(sorted.map((h) => h.docid), ['c', 'b', 'a', 'd']);
  assert.equal(hits[0]!.docid, 'a');
  assert.ok(isTrecEvalSorted(sorted));
  assert.ok(!isTrecEvalSorted(hits));
});

test('property: the sorted order does not depend on the input order', () => {
  const hitArb = fc.uniqueArray(fc.record({ docid: fc.string({ minLength: 1, maxLength: 4 }), score: fc.integer({ min: 0, max: 3 }) }), { selector: (h) => h.docid, maxLength: 40 });
  fc.assert(fc.property(hitArb, (hits) => {
    const a = sortLikeTrecEval(hits).map((h) => h.docid);
    const b = sortLikeTrecEval([...hits].reverse()).map((h) => h.docid);
    return JSON.stringify(a) === JSON.stringify(b) && isTrecEvalSorted(sortLikeTrecEval(hits));
  }), { numRuns: 300 });
  assert.ok(compareTrecEval({ docid: 'a', score: 2 }, { docid: 'z', score: 1 }) < 0);
});
