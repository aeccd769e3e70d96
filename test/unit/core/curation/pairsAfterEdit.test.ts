import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPairs, pairId, type ScoredCandidate } from '../../../../src/core/curation/pairs.js';
import { defaultPairRules, type PairRecord, type PairRules } from '../../../../src/core/curation/types.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

function cand(id: string, ndcg: number): ScoredCandidate {
  const expansion = makeExpansion('q', id);
  return { expansion, score: makeScore(expansion, ndcg, 0.4) };
}

// The review panel's "edit expansion" stores an edited copy and re-points the pair to it, keeping
// the pair's id (the hash of its original sides) and marking it "edited". The edit scores below
// the original, so the rules still pick a > c as the best-worst pair.
for (const strategy of ['best-worst', 'all'] as const) {
  test(`a rebuild (${strategy}) keeps a pair re-pointed to an edited expansion, though the rules still pair its original sides`, () => {
    const rules: PairRules = { ...defaultPairRules, strategy, maxPairsPerQuery: 10 };
    const q = [cand('a', 0.9), cand('b', 0.6), cand('c', 0.2)];
    const [auto] = buildPairs([q], rules, [], { now: 'T1' }).filter((p) => p.chosenId === 'a' && p.rejectedId === 'c');
    assert.ok(auto);
    const edited: PairRecord = { ...auto, chosenId: 'a-edited', state: 'edited', updatedAt: 'T2' };
    const rebuilt = buildPairs([[...q, cand('a-edited', 0.5)]], rules, [edited], { now: 'T3' });
    const kept = rebuilt.filter((p) => p.id === pairId('q', 'a', 'c'));
    assert.equal(kept.length, 1);
    assert.equal(kept[0]!.chosenId, 'a-edited', 'the hand edit is kept, not replaced by the rules\' a > c');
    assert.equal(kept[0]!.state, 'edited');
    assert.ok(Math.abs(kept[0]!.margin - 0.3) < 1e-12, 'its margin is refreshed from the edited side');
  });
}
