import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QxError } from '../../../../src/core/errors.js';
import { NEGATIVE_STRATEGIES, type RankedCandidate, deriveSeed, sampleNegatives } from '../../../../src/core/sampling/negatives.js';

/** 200 candidates d000..d199 with strictly falling scores; every 7th is relevant. */
const candidates: RankedCandidate[] = Array.from({ length: 200 }, (_, i) => ({ docid: `d${String(i).padStart(3, '0')}`, score: 30 - i * 0.125 }));
const positives = new Set(candidates.filter((_, i) => i % 7 === 0).map((c) => c.docid));
const pool = [...candidates.map((c) => c.docid), ...Array.from({ length: 300 }, (_, i) => `x${i}`)];

test('every strategy returns the number asked for, distinct, never a positive, the same for the same seed', () => {
  for (const strategy of NEGATIVE_STRATEGIES) {
    for (const count of [1, 3, 8, 25]) {
      const req = { candidates, positives, strategy, count, seed: 42, topK: 60, bands: 4, ...(strategy === 'random' ? { pool } : {}) };
      const a = sampleNegatives(req);
      assert.equal(a.length, count, `${strategy} × ${count}`);
      assert.equal(new Set(a.map((n) => n.docid)).size, count, `${strategy}: distinct`);
      assert.ok(a.every((n) => !positives.has(n.docid)), `${strategy}: no positive`);
      assert.deepEqual(sampleNegatives(req), a, `${strategy}: deterministic`);
    }
  }
});

test('property: for any ranking, positives, count and seed, no positive, no duplicate, min(count, eligible) negatives', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 80 }), { minLength: 0, maxLength: 60 }),
      fc.array(fc.boolean(), { minLength: 81, maxLength: 81 }),
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom(...NEGATIVE_STRATEGIES),
      (ids, rel, count, seed, strategy) => {
        const cands = ids.map((id, i) => ({ docid: `d${id}`, score: 100 - i }));
        const pos = new Set(ids.filter((id) => rel[id]).map((id) => `d${id}`));
        const topK = 20;
        const out = sampleNegatives({ candidates: cands, positives: pos, strategy, count, seed, topK, bands: 3 });
        const eligible = cands.filter((c, i) => !pos.has(c.docid) && (strategy === 'top-k-hard' || strategy === 'random' || i < topK)).length;
        assert.equal(out.length, Math.min(count, eligible));
        assert.equal(new Set(out.map((o) => o.docid)).size, out.length);
        assert.ok(out.every((o) => !pos.has(o.docid)));
      },
    ),
    { numRuns: 300 },
  );
});

test('top-k-hard takes the best-ranked non-positives in rank order; the ranks and scores come along', () => {
  const got = sampleNegatives({ candidates, positives, strategy: 'top-k-hard', count: 4, seed: 1 });
  assert.deepEqual(got, [
    { docid: 'd001', score: 29.875, rank: 2 },
    { docid: 'd002', score: 29.75, rank: 3 },
    { docid: 'd003', score: 29.625, rank: 4 },
    { docid: 'd004', score: 29.5, rank: 5 },
  ]);
});

test('random-top-k stays inside the top k; other seeds give other draws', () => {
  const draws = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    const got = sampleNegatives({ candidates, positives, strategy: 'random-top-k', count: 5, seed, topK: 30 });
    assert.ok(got.every((n) => n.rank! <= 30));
    assert.deepEqual(got.map((n) => n.rank), [...got.map((n) => n.rank!)].sort((a, b) => a - b), 'in rank order');
    draws.add(got.map((n) => n.docid).join(','));
  }
  assert.ok(draws.size >= 15, `20 seeds gave ${draws.size} different draws`);
});

test('score-bands spreads the negatives over equal-width score bands, and passes a short band\'s share on', () => {
  // The non-positive top 100 scores run 29.875 (d000 is a positive) .. 17.625: 4 bands of width 3.0625.
  const got = sampleNegatives({ candidates, positives, strategy: 'score-bands', count: 8, seed: 7, topK: 100, bands: 4 });
  const band = (s: number) => Math.min(3, Math.floor((29.875 - s) / 3.0625));
  assert.deepEqual([0, 1, 2, 3].map((b) => got.filter((n) => band(n.score!) === b).length), [2, 2, 2, 2]);
  // One candidate far above the rest: band 0 holds it alone, so its second share moves down.
  const skew: RankedCandidate[] = [{ docid: 'top', score: 100 }, ...Array.from({ length: 40 }, (_, i) => ({ docid: `s${i}`, score: 10 - i * 0.1 }))];
  const g2 = sampleNegatives({ candidates: skew, positives: new Set(), strategy: 'score-bands', count: 8, seed: 3, topK: 100, bands: 4 });
  assert.equal(g2.length, 8);
  assert.equal(g2.filter((n) => n.docid === 'top').length, 1);
});

test('random draws from the pool (corpus) when given, with ranks only for documents of the ranking', () => {
  const got = sampleNegatives({ candidates, positives, strategy: 'random', count: 40, seed: 9, pool });
  assert.ok(got.some((n) => n.docid.startsWith('x') && n.rank === undefined && n.score === undefined));
  assert.ok(got.filter((n) => n.docid.startsWith('d')).every((n) => n.rank !== undefined));
});

test('deriveSeed gives a stable 32-bit seed per key; bad requests are usage errors', () => {
  assert.equal(deriveSeed(13, '31_2'), deriveSeed(13, '31_2'));
  assert.notEqual(deriveSeed(13, '31_2'), deriveSeed(13, '31_3'));
  assert.notEqual(deriveSeed(13, '31_2'), deriveSeed(14, '31_2'));
  assert.ok(Number.isInteger(deriveSeed(0, 'x')) && deriveSeed(0, 'x') >= 0 && deriveSeed(0, 'x') < 2 ** 32);
  assert.throws(() => sampleNegatives({ candidates, positives, strategy: 'top-k-hard', count: 0, seed: 1 }), (e: unknown) => QxError.is(e, 'usage'));
  assert.throws(() => sampleNegatives({ candidates, positives, strategy: 'nope' as never, count: 1, seed: 1 }), (e: unknown) => QxError.is(e, 'usage') && /top-k-hard, random-top-k, score-bands, random/.test(e.message));
});
