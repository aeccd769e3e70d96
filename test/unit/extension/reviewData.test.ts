import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExpansionRecord } from '../../../src/core/expansion/types.js';
import { finalWithGenerated } from '../../../src/extension/reviewData.js';

function exp(formulation: string, generated: string, final: string): ExpansionRecord {
  return { id: 'e', qid: '1', query: 'mars day', method: 'query2doc-zs', role: 'teacher', model: 'm', provider: 'import', sampleIndex: 0, generated, formulation, final, createdAt: 't' };
}

test('a query2doc edit is scored as the query five times, then the edited text', () => {
  const e = exp('query2doc', 'A sol lasts 24h 39m.', 'mars day mars day mars day mars day mars day A sol lasts 24h 39m.');
  assert.equal(finalWithGenerated(e, 'A Martian day is 24.6 hours.'), 'mars day mars day mars day mars day mars day A Martian day is 24.6 hours.');
});

test('a concat edit keeps the single query in front', () => {
  assert.equal(finalWithGenerated(exp('concat', 'old', 'mars day old'), 'new text'), 'mars day new text');
});

test('an unknown formulation replaces the generated part in place, or prepends the query', () => {
  assert.equal(finalWithGenerated(exp('future-format', 'old part', '[mars day] old part [end]'), 'new'), '[mars day] new [end]');
  assert.equal(finalWithGenerated(exp('future-format', 'absent', 'mars day rewritten'), 'new'), 'mars day new');
});
