import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bm25Index } from '../../../../src/core/bm25/bm25Index.js';
import type { ExpansionScore } from '../../../../src/core/curation/types.js';
import type { ExpansionRecord } from '../../../../src/core/expansion/types.js';
import { expansionCost, methodQueryCosts, queryCost } from '../../../../src/core/feedback/queryCost.js';

// Analyzed (English: lowercase, stop words out, Porter): d1 cat chase dog; d2 dog bark; d3 bird sing; d4 cat sleep.
// Hand count: df(cat) = 2, df(dog) = 2, df(bird) = 1, df(fish) = 0.
const docs = [
  { id: 'd1', text: 'Cats chase dogs' },
  { id: 'd2', text: 'Dogs bark' },
  { id: 'd3', text: 'A bird sings' },
  { id: 'd4', text: 'Cats sleep' },
];

test('query cost on a hand-counted index: analyzed terms with repeats, distinct, matched, postings walked', async () => {
  const { index } = await Bm25Index.build(docs);
  assert.deepEqual(queryCost(index, 'cats and dogs, cats!'), { terms: 3, uniqueTerms: 2, matchedTerms: 2, postings: 4 });
  assert.deepEqual(queryCost(index, 'fish and cats'), { terms: 2, uniqueTerms: 2, matchedTerms: 1, postings: 2 });
  assert.deepEqual(queryCost(index, 'the and of'), { terms: 0, uniqueTerms: 0, matchedTerms: 0, postings: 0 }, 'stop words cost nothing');
  // A query2doc string repeats the query 5 times: 5× the terms, the same postings per distinct term.
  assert.deepEqual(queryCost(index, Array(5).fill('cats').join(' ') + ' birds sing'), { terms: 7, uniqueTerms: 3, matchedTerms: 3, postings: 2 + 1 + 1 });
  // The postings of a one-term query are the documents BM25 can score for it.
  assert.equal(index.searchSync('cats', 1000).length, queryCost(index, 'cats').postings);
  // A weighted (RM3) query is costed as searched: terms with a positive weight.
  const weighted = { final: 'cat^0.5 bird^0.2', weightedQuery: { terms: [['cat', 0.5], ['bird', 0.2], ['zebra', 0.1], ['dog', 0]] as [string, number][], parameters: {} } };
  assert.deepEqual(expansionCost(index, weighted), { terms: 3, uniqueTerms: 3, matchedTerms: 2, postings: 3 });
});

test('methodQueryCosts: per method the mean Δ beside mean terms, postings and generation tokens, cheapest first', async () => {
  const { index } = await Bm25Index.build(docs);
  const rec = (id: string, qid: string, method: string, final: string, usage?: { promptTokens: number; completionTokens: number }): ExpansionRecord => ({
    id, qid, query: 'cats', method, role: 'teacher', model: 'm', provider: 'test', sampleIndex: 0, generated: final, formulation: 'concat', final, createdAt: '', ...(usage === undefined ? {} : { usage }),
  });
  const score = (id: string, qid: string, delta: number): ExpansionScore => ({ expansionId: id, qid, ndcg10: 0.5 + delta, delta, recall: 0, recallK: 1000, judged10: 1, entered: [], left: [], unjudgedFlag: false, top10: [] });
  const expansions = [
    rec('a', 'q1', 'long', 'cats dogs bird sings', { promptTokens: 10, completionTokens: 30 }),
    rec('b', 'q2', 'long', 'dogs bird', { promptTokens: 12, completionTokens: 10 }),
    rec('c', 'q1', 'short', 'cats'),
    rec('d', 'q3', 'short', 'dogs'),
  ];
  const scores = new Map<string, ExpansionScore>([
    ['a', score('a', 'q1', 0.2)], ['b', score('b', 'q2', 0.1)], ['c', score('c', 'q1', 0)], ['d', score('d', 'q3', 0.3)],
    ['original:q1', score('original:q1', 'q1', 0)], ['original:q2', score('original:q2', 'q2', 0)],
  ]);
  const section = methodQueryCosts(index, [{ qid: 'q1', text: 'cats' }, { qid: 'q2', text: 'dogs' }, { qid: 'q3', text: 'bird' }], expansions, scores, new Set(['q1', 'q2']));
  assert.deepEqual(section.original, { queries: 2, meanTerms: 1, meanPostings: 2 });
  assert.deepEqual(section.methods.map((m) => [m.method, m.expansions, m.meanTerms, m.meanPostings, m.meanCompletionTokens]), [
    ['short', 1, 1, 2, null],
    ['long', 2, 3, 4.5, 20], // (cat 2 + dog 2 + bird 1 + sing 1) and (dog 2 + bird 1): 6 and 3 postings
  ]);
  const long = section.methods[1]!;
  assert.ok(Math.abs(long.meanDelta - 0.15) < 1e-12);
  assert.ok(Math.abs(long.deltaPerKPostings! - 60) < 1e-9, '0.15 gain for 2.5 extra postings = 60 per 1,000');
  assert.equal(section.methods[0]!.deltaPerKPostings, null, 'no extra postings, no ratio');
});
