import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bm25Index } from '../../../../src/core/bm25/bm25Index.js';
import { buildPairs, type ScoredCandidate } from '../../../../src/core/curation/pairs.js';
import { defaultPairRules } from '../../../../src/core/curation/types.js';
import { expansionCost } from '../../../../src/core/feedback/queryCost.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

test('tie policy "prefer-cheaper": at equal nDCG@10 the candidate touching fewer postings is chosen, even when its text is longer', async () => {
  // df: cat 3, dog 1, fish 1. "cat cat cat" walks 3 postings; "dog fish and a bird of prey" walks 2 (+ bird/prey unknown).
  const { index } = await Bm25Index.build([
    { id: 'd1', text: 'cat dog' },
    { id: 'd2', text: 'cat fish' },
    { id: 'd3', text: 'cat' },
  ]);
  const mk = (id: string, ndcg: number, final: string): ScoredCandidate => {
    const expansion = { ...makeExpansion('q', id, { generated: final }), final };
    return { expansion, score: makeScore(expansion, ndcg, 0.4), cost: expansionCost(index, expansion) };
  };
  // Ids so that the id tie-break alone would pick the dear one.
  const cheap = mk('b-cheap', 0.7, 'dog fish and a bird of prey');
  const dear = mk('a-dear', 0.7, 'cat cat cat');
  assert.equal(cheap.cost!.postings, 2);
  assert.equal(dear.cost!.postings, 3);
  const rules = { ...defaultPairRules, minMargin: 0 };
  assert.equal(buildPairs([[cheap, dear]], { ...rules, tiePolicy: 'prefer-shorter' })[0]?.chosenId, 'a-dear', 'prefer-shorter picks the shorter text');
  const p = buildPairs([[cheap, dear]], { ...rules, tiePolicy: 'prefer-cheaper' });
  assert.equal(p[0]?.chosenId, 'b-cheap');
  assert.equal(p[0]?.margin, 0);
  // With a clear worst, the cheaper of the tied best is the chosen side.
  const bad = mk('bad', 0.1, 'fish');
  assert.equal(buildPairs([[dear, cheap, bad]], { ...defaultPairRules, tiePolicy: 'prefer-cheaper' })[0]?.chosenId, 'b-cheap');
  assert.equal(buildPairs([[dear, cheap, bad]], { ...defaultPairRules, tiePolicy: 'skip' })[0]?.chosenId, 'a-dear', 'without it the id decides');
});
