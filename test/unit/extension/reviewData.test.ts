import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExpansionRecord } from '../../../src/core/expansion/types.js';
import { finalWithGenerated } from '../../../src/extension/reviewData.js';

function exp(generated: string, final: string): ExpansionRecord {
  return { id: 'e', qid: '1', query: 'mars day', method: 'query2doc-zs', role: 'teacher', model: 'm', provider: 'import', sampleIndex: 0, generated, formulation: 'query2doc', final, createdAt: 't' };
}

test('a hand edit keeps the formulation around the generated text', () => {
  const e = exp('A sol lasts 24h 39m.', 'mars day mars day mars day mars day mars day A sol lasts 24h 39m.');
  assert.equal(finalWithGenerated(e, 'A Martian day is 24.6 hours.'), 'mars day mars day mars day mars day mars day A Martian day is 24.6 hours.');
});

test('the last occurrence is replaced when the generated text repeats the query', () => {
  const e = exp('mars day', 'mars day mars day');
  assert.equal(finalWithGenerated(e, 'sol length'), 'mars day sol length');
});

test('when the final string does not contain the generated text, the query is prepended', () => {
  const e = exp('something else', 'mars day rewritten');
  assert.equal(finalWithGenerated(e, 'new text'), 'mars day new text');
});
