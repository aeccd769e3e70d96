import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPairs, pairBuildReport, pairId, rulesHash, type ScoredCandidate } from '../../../../src/core/curation/pairs.js';
import { CurationStore } from '../../../../src/core/curation/store.js';
import { defaultPairRules, type PairRules } from '../../../../src/core/curation/types.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

function cand(qid: string, id: string, ndcg: number, original = 0.4, opts: Parameters<typeof makeExpansion>[2] = {}): ScoredCandidate {
  const expansion = makeExpansion(qid, id, opts);
  return { expansion, score: makeScore(expansion, ndcg, original) };
}

const rules = (r: Partial<PairRules> = {}): PairRules => ({ ...defaultPairRules, ...r });

test('best-worst: one pair per query, best chosen, worst rejected, margin kept, deterministic id', () => {
  const q1 = [cand('q1', 'a', 0.5), cand('q1', 'b', 0.9), cand('q1', 'c', 0.2)];
  const q2 = [cand('q2', 'd', 0.6), cand('q2', 'e', 0.58)];
  const out = buildPairs([q1, q2], rules(), [], { now: 'T' });
  assert.equal(out.length, 1, 'q2 has a margin of 0.02 < 0.05: no pair');
  const p = out[0]!;
  assert.equal(p.chosenId, 'b');
  assert.equal(p.rejectedId, 'c');
  assert.ok(Math.abs(p.margin - 0.7) < 1e-12);
  assert.equal(p.id, pairId('q1', 'b', 'c'));
  assert.equal(p.rulesHash, rulesHash(rules()));
  assert.deepEqual(buildPairs([[...q1].reverse(), q2], rules(), [], { now: 'T' }), out, 'input order does not matter');
});

test('minimum margin is inclusive despite floating-point noise', () => {
  const q = [cand('q', 'a', 0.6), cand('q', 'b', 0.55)];
  assert.equal(buildPairs([q], rules({ minMargin: 0.05 })).length, 1);
  assert.equal(buildPairs([q], rules({ minMargin: 0.06 })).length, 0);
});

test('"all": every pair above the margin, highest margins first, capped per query', () => {
  const q = [cand('q', 'a', 0.9), cand('q', 'b', 0.7), cand('q', 'c', 0.5), cand('q', 'd', 0.45)];
  const all = buildPairs([q], rules({ strategy: 'all', maxPairsPerQuery: 10, minMargin: 0.1 }));
  // chosen delta > 0 needed (original 0.4): all candidates beat it. Pairs with margin >= 0.1: ab ac ad bc bd
  assert.equal(all.length, 5);
  const capped = buildPairs([q], rules({ strategy: 'all', maxPairsPerQuery: 2, minMargin: 0.1 }));
  assert.deepEqual(
    capped.map((p) => [p.chosenId, p.rejectedId]).sort(),
    [['a', 'c'], ['a', 'd']],
    'the cap keeps the two largest margins (0.45, 0.4)',
  );
});

test('guard: the chosen expansion must beat the original query', () => {
  const q = [cand('q', 'a', 0.4, 0.5), cand('q', 'b', 0.1, 0.5)];
  assert.equal(buildPairs([q], rules()).length, 0, 'chosen delta is -0.1');
  assert.equal(buildPairs([q], rules({ requireChosenBeatsOriginal: false })).length, 1);
});

test('ties: "skip" never pairs tied candidates, "prefer-shorter" chooses the shorter text', () => {
  const q = [cand('q', 'long', 0.7, 0.4, { generated: 'a much longer expansion text' }), cand('q', 'short', 0.7, 0.4, { generated: 'short text' })];
  assert.equal(buildPairs([q], rules({ minMargin: 0 })).length, 0);
  const p = buildPairs([q], rules({ minMargin: 0, tiePolicy: 'prefer-shorter' }));
  assert.equal(p.length, 1);
  assert.equal(p[0]?.chosenId, 'short');
  assert.equal(p[0]?.margin, 0);
  // Tied best candidates with a clear worst: prefer-shorter picks the short one as chosen.
  const q3 = [...q, cand('q', 'bad', 0.1)];
  assert.equal(buildPairs([q3], rules({ tiePolicy: 'prefer-shorter' }))[0]?.chosenId, 'short');
});

test('pools select candidates by role, method or role:method; baselines only when named', () => {
  const q = [
    cand('q', 't', 0.9, 0.4, { role: 'teacher', method: 'query2doc-fs' }),
    cand('q', 's', 0.6, 0.4, { role: 'student', method: 'query2doc-zs' }),
    cand('q', 'r', 0.0, 0.4, { role: 'baseline', method: 'rm3' }),
  ];
  assert.equal(buildPairs([q], rules())[0]?.rejectedId, 's');
  assert.equal(buildPairs([q], rules({ pools: ['teacher', 'rm3'] }))[0]?.rejectedId, 'r');
  assert.equal(buildPairs([q], rules({ pools: ['teacher:query2doc-fs'] })).length, 0);
});

test('rebuild keeps human decisions and removes auto pairs the rules no longer produce', () => {
  const root = mkdtempSync(join(tmpdir(), 'qx-pairs-'));
  try {
    const q1 = [cand('q1', 'a', 0.9), cand('q1', 'b', 0.5), cand('q1', 'c', 0.3)];
    const q2 = [cand('q2', 'd', 0.8), cand('q2', 'e', 0.2)];
    const q3 = [cand('q3', 'f', 0.8), cand('q3', 'g', 0.2)];
    const store = CurationStore.open(root);
    const r1 = rules({ strategy: 'all', maxPairsPerQuery: 5 });
    store.applyPairs(buildPairs([q1, q2, q3], r1, [], { now: 'T1' }));
    assert.equal(store.listPairs().length, 5);
    const ac = pairId('q1', 'a', 'c');
    const de = pairId('q2', 'd', 'e');
    const fg = pairId('q3', 'f', 'g');
    store.setPairState(ac, 'rejected');
    store.setPairNote(de, 'check this one');
    store.swapPair(fg);

    const strict = rules({ strategy: 'best-worst', minMargin: 0.7 });
    const next = buildPairs([q1, q2, q3], strict, store.listPairs(), { now: 'T2' });
    const changes = store.applyPairs(next);
    const after = new Map(store.listPairs().map((p) => [p.id, p]));
    assert.equal(after.get(ac)?.state, 'rejected', 'the rejected pair stays though the new rules drop it');
    assert.equal(after.get(de)?.note, 'check this one', 'the noted pair stays');
    assert.equal(after.get(fg)?.chosenId, 'g', 'the swapped pair stays swapped');
    assert.equal(after.size, 3, 'the other auto pairs (a>b, b>c) are gone');
    assert.equal(changes.deleted, 2);
    store.close();
    const reopened = CurationStore.open(root);
    assert.equal(reopened.listPairs().length, 3);
    reopened.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('only expansions of the task kind are candidates; retrieval-conditioned ones only when asked; the report says why', () => {
  const q = [
    cand('q', 'zs', 0.5, 0.4, { method: 'query2doc-zs' }),
    cand('q', 'kw', 0.95, 0.4, { method: 'query2e' }),
    cand('q', 'lamer', 0.9, 0.4, { method: 'lamer' }),
    cand('q', 'fs', 0.8, 0.4, { method: 'query2doc-fs' }),
  ];
  const out = buildPairs([q], rules());
  assert.deepEqual(out.map((p) => [p.chosenId, p.rejectedId]), [['fs', 'zs']], 'keywords and LameR are not candidates of the passage task');
  // Included on request, LameR is paired only with LameR (its prompt holds passages the others never had).
  const withLamer = buildPairs([[...q, cand('q', 'lamer2', 0.6, 0.4, { method: 'lamer', model: 'student-7b' })]], rules({ includeRetrievalConditioned: true }));
  assert.deepEqual(withLamer.map((p) => [p.chosenId, p.rejectedId]).sort(), [['fs', 'zs'], ['lamer', 'lamer2']]);
  const kwTask = buildPairs([[...q, cand('q', 'kw2', 0.5, 0.4, { method: 'q2e-zs' })]], rules({ task: 'q2e-zs' }));
  assert.deepEqual(kwTask.map((p) => [p.chosenId, p.rejectedId]), [['kw', 'kw2']], 'a keywords task pairs keyword lists only');
  const rep = pairBuildReport([q], rules());
  assert.deepEqual(
    rep.leftOut.map((l) => [l.method, l.expansions]).sort(),
    [['lamer', 1], ['query2e', 1]],
  );
  assert.match(rep.leftOut.find((l) => l.method === 'query2e')?.reason ?? '', /keywords/);
  assert.match(rep.leftOut.find((l) => l.method === 'lamer')?.reason ?? '', /retrieved passages/);
  assert.deepEqual([rep.queries, rep.fewCandidates, rep.noPair], [1, 0, 0]);
});

test('best-sigma: the rejected side is the candidate nearest mean - k*sigma, not the worst', () => {
  // nDCG 0.9, 0.6 x4, 0.5, 0.45, 0.1 (an outlier): mean 0.5438, sigma 0.2083; mean - 2 sigma = 0.127 → 0.1,
  // mean - 1 sigma = 0.335 → 0.45.
  const ndcgs = [0.9, 0.6, 0.6, 0.6, 0.6, 0.5, 0.45, 0.1];
  const q = ndcgs.map((n, i) => cand('q', `e${i}`, n, 0.3, { generated: `text ${i}` }));
  const two = buildPairs([q], rules({ strategy: 'best-sigma' }));
  assert.deepEqual(two.map((p) => [p.chosenId, p.rejectedId]), [['e0', 'e7']]);
  const one = buildPairs([q], rules({ strategy: 'best-sigma', sigmaK: 1 }));
  assert.deepEqual(one.map((p) => [p.chosenId, p.rejectedId]), [['e0', 'e6']]);
  const worst = buildPairs([q], rules({ strategy: 'best-worst' }));
  assert.deepEqual(worst.map((p) => [p.chosenId, p.rejectedId]), [['e0', 'e7']]);
  assert.notEqual(rulesHash(rules({ strategy: 'best-sigma', sigmaK: 1 })), rulesHash(rules({ strategy: 'best-sigma' })));
});

test('margin-band: only pairs with a margin inside [minMargin, maxMargin]', () => {
  const q = [cand('q', 'a', 0.9), cand('q', 'b', 0.7), cand('q', 'c', 0.5), cand('q', 'd', 0.45)];
  const band = buildPairs([q], rules({ strategy: 'margin-band', minMargin: 0.1, maxMargin: 0.25, maxPairsPerQuery: 10 }));
  // margins: ab .2, ac .4, ad .45, bc .2, bd .25, cd .05
  assert.deepEqual(band.map((p) => [p.chosenId, p.rejectedId]).sort(), [['a', 'b'], ['b', 'c'], ['b', 'd']]);
  assert.ok(band.every((p) => p.margin >= 0.1 - 1e-9 && p.margin <= 0.25 + 1e-9));
});

test('length cap: no pair beyond the ratio; best-worst takes the worst candidate within the cap; the report counts the queries it changed', () => {
  const q = [
    cand('q', 'long', 0.9, 0.4, { generated: 'x'.repeat(900) }),
    cand('q', 'mid', 0.6, 0.4, { generated: 'y'.repeat(700) }),
    cand('q', 'short', 0.2, 0.4, { generated: 'z'.repeat(200) }),
  ];
  assert.deepEqual(buildPairs([q], rules()).map((p) => p.rejectedId), ['short'], 'uncapped: the worst, 4.5x shorter');
  const capped = buildPairs([q], rules({ maxLengthRatio: 1.5 }));
  assert.deepEqual(capped.map((p) => [p.chosenId, p.rejectedId]), [['long', 'mid']]);
  assert.equal(pairBuildReport([q], rules({ maxLengthRatio: 1.5 })).lengthCapped, 1);
  assert.equal(buildPairs([q], rules({ maxLengthRatio: 1.2 })).length, 0, 'no candidate within 1.2x of the best');
  const all = buildPairs([q], rules({ strategy: 'all', maxLengthRatio: 2 }));
  assert.ok(all.every((p) => p.chosenId !== 'short' && p.rejectedId !== 'short'));
});

test('length-match: the rejected side nearest the chosen length among those meeting the margin', () => {
  const q = [
    cand('q', 'best', 0.9, 0.4, { generated: 'x'.repeat(500) }),
    cand('q', 'near', 0.7, 0.4, { generated: 'y'.repeat(480) }),
    cand('q', 'close-margin', 0.88, 0.4, { generated: 'w'.repeat(500) }),
    cand('q', 'worst', 0.1, 0.4, { generated: 'z'.repeat(100) }),
  ];
  assert.deepEqual(buildPairs([q], rules()).map((p) => p.rejectedId), ['worst']);
  assert.deepEqual(buildPairs([q], rules({ lengthMatch: true })).map((p) => p.rejectedId), ['near'], 'close-margin is as long but below the margin');
});
