import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Bm25Index, newSearchStats, type LengthMode } from '../../../../src/core/bm25/bm25Index.js';
import { rm3Query } from '../../../../src/core/bm25/rm3.js';
import { expansions, meanNdcg10, poolStream, qrels, topics } from './dl19Data.js';

// Pruned top-k must be the exhaustive engine's top-k: same docids, same order, bit-identical
// scores. Small windows (2^2..2^5 doc numbers) and no minimum size make the random corpora
// exercise window skipping, non-essential terms and the MaxScore candidate checks.
const SEED = 20261204;
const RUNS = 300;

// Few distinct words and few distinct lengths make many exact score ties.
const word = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l');
const doc = fc.array(word, { minLength: 0, maxLength: 12 }).map((ws) => ws.join(' '));
const corpus = fc.array(doc, { minLength: 1, maxLength: 120 });
const weight = fc.oneof(fc.constant(1), fc.constant(2), fc.constant(1e-45), fc.integer({ min: -1, max: 5 }), fc.double({ min: 0.001, max: 50, noNaN: true }));
const weighted = fc.array(fc.tuple(fc.oneof(word, fc.constant('zzz')), weight), { minLength: 1, maxLength: 14 });

function sameHits(index: Bm25Index, weights: Map<string, number>, k: number, windowBits: number): void {
  const stats = newSearchStats();
  const pruned = index.searchWeighted(weights, k, { windowBits, minPostings: 0, maxTerms: Infinity, stats });
  const exhaustive = index.searchWeighted(weights, k, { exhaustive: true });
  assert.equal(pruned.length, exhaustive.length);
  for (let i = 0; i < pruned.length; i++) {
    const a = pruned[i]!;
    const b = exhaustive[i]!;
    assert.ok(a.docid === b.docid && Object.is(a.score, b.score) && a.rank === b.rank, `hit ${i}: pruned ${JSON.stringify(a)} vs exhaustive ${JSON.stringify(b)} (k ${k})`);
  }
}

test(`pruned top k equals exhaustive search: ${RUNS} random corpora x weighted queries (fast-check seed ${SEED})`, async () => {
  let ids = 0;
  await fc.assert(
    fc.asyncProperty(corpus, fc.array(weighted, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 150 }), fc.integer({ min: 2, max: 5 }), fc.constantFrom<LengthMode>('lucene', 'exact'), fc.boolean(), async (texts, queries, k, bits, lengths, shuffleIds) => {
      // Doc ids in and out of doc-number order, so docid ties are broken against index order too.
      const docs = texts.map((text, i) => ({ id: shuffleIds ? `d${(i * 7919) % 1009}-${i}` : `d${String(i).padStart(4, '0')}`, text }));
      ids++;
      const { index } = await Bm25Index.build(docs, { analyzer: 'whitespace', lengths, keepDocs: false });
      for (const q of queries) {
        // A repeated term in the list keeps its last weight, as a Map does; the query string form
        // (repeated words = a higher count) is tested as well.
        sameHits(index, new Map(q), k, bits);
        const text = q.map(([w, n]) => Array.from({ length: Math.max(1, Math.min(3, Math.round(Math.abs(n)))) }, () => w).join(' ')).join(' ');
        const a = index.searchSync(text, k, { windowBits: bits, minPostings: 0, maxTerms: Infinity });
        const b = index.searchSync(text, k, { exhaustive: true });
        assert.deepEqual(a, b, `query "${text}" k ${k}`);
      }
    }),
    { seed: SEED, numRuns: RUNS },
  );
  assert.equal(ids, RUNS);
});

test('k larger than the matches returns every match; a one-term or empty query is the exhaustive one', async () => {
  const docs = Array.from({ length: 300 }, (_, i) => ({ id: `d${i}`, text: i % 3 === 0 ? 'x y' : i % 3 === 1 ? 'y' : 'z' }));
  const { index } = await Bm25Index.build(docs, { analyzer: 'whitespace' });
  const all = index.searchWeighted(new Map([['x', 1], ['y', 0.5]]), 10_000, { windowBits: 3, minPostings: 0, maxTerms: Infinity });
  assert.equal(all.length, 200);
  assert.deepEqual(all, index.searchWeighted(new Map([['x', 1], ['y', 0.5]]), 10_000, { exhaustive: true }));
  assert.deepEqual(index.searchWeighted(new Map(), 10), []);
  assert.deepEqual(index.searchWeighted(new Map([['nope', 1]]), 10, { minPostings: 0 }), []);
});

test('pruning scores far fewer postings than exhaustive search at top 10 on a skewed corpus', async () => {
  // 40,000 docs: a rare term in a few docs, a common term in most; top 10 needs the rare ones only.
  const docs = Array.from({ length: 40_000 }, (_, i) => ({ id: `d${i}`, text: `${i % 2000 === 7 ? 'rare ' : ''}common ${i % 5 === 0 ? 'common' : 'other'} w${i % 97}` }));
  const { index } = await Bm25Index.build(docs, { analyzer: 'whitespace' });
  const q = new Map([['rare', 1], ['common', 1], ['w3', 1]]);
  const pruned = newSearchStats();
  const full = newSearchStats();
  const a = index.searchWeighted(q, 10, { stats: pruned });
  const b = index.searchWeighted(q, 10, { exhaustive: true, stats: full });
  assert.deepEqual(a, b);
  assert.equal(pruned.exhaustive, false);
  assert.ok(pruned.postingsScored * 5 < full.postingsScored, `pruned scored ${pruned.postingsScored} postings, exhaustive ${full.postingsScored}`);
});

test('DL19 pool with pruning on: Lucene nDCG@10 (0.4644 / 0.6421) and exactly the exhaustive top 10 and top 1000, original, query2doc and RM3 queries', async () => {
  const { index } = await Bm25Index.build(poolStream());
  const q = await qrels();
  const orig = await topics();
  const exp = await expansions();
  let same = 0;
  const stats = newSearchStats();
  for (const k of [10, 1000]) {
    for (const [, text] of [...orig, ...exp]) {
      // Small windows so the 5,492-passage pool spans many of them.
      assert.deepEqual(index.searchSync(text, k, { windowBits: 8, maxTerms: Infinity, stats }), index.searchSync(text, k, { exhaustive: true }));
      same++;
    }
    for (const [, text] of orig) {
      const rm3 = rm3Query(index, text);
      assert.deepEqual(index.searchWeighted(rm3, k, { windowBits: 8, minPostings: 0, maxTerms: Infinity }), index.searchWeighted(rm3, k, { exhaustive: true }));
      same++;
    }
  }
  assert.equal(same, 2 * 3 * 43);
  assert.equal(stats.exhaustive, false);
  const runOf = (qs: [string, string][]) => new Map(qs.map(([qid, text]) => [qid, index.searchSync(text, 10)]));
  assert.equal(meanNdcg10(q, runOf(orig)).toFixed(4), '0.4644');
  assert.equal(meanNdcg10(q, runOf(exp)).toFixed(4), '0.6421');
});

test('a long run of distinct queries keeps the pruning bounds within their memory budget, with the same hits', async () => {
  // 20,000 docs over 400 words: every word spans many windows of 2^6 doc numbers.
  const docs = Array.from({ length: 20_000 }, (_, i) => ({ id: `d${i}`, text: `w${i % 400} w${(i * 7) % 400} w${(i * 13) % 397} w${(i * 31) % 389}` }));
  const { index } = await Bm25Index.build(docs, { analyzer: 'whitespace' });
  const queries = Array.from({ length: 150 }, (_, i) => new Map([[`w${i}`, 1], [`w${(i * 3 + 1) % 400}`, 0.7], [`w${(i * 11 + 5) % 400}`, 1.3]]));
  const opts = { windowBits: 6, minPostings: 0 };
  const unbounded: number[] = [];
  for (const q of queries) {
    index.searchWeighted(q, 10, opts);
    unbounded.push(index.termBlocksBytes());
  }
  const budget = 40_000;
  assert.ok(unbounded.at(-1)! > 4 * budget, `without a budget the bounds grow to ${unbounded.at(-1)} bytes`);
  const { index: bounded } = await Bm25Index.build(docs, { analyzer: 'whitespace' });
  bounded.termBlocksBudget = budget;
  let most = 0;
  for (const q of [...queries, ...queries]) {
    assert.deepEqual(bounded.searchWeighted(q, 10, opts), index.searchWeighted(q, 10, { exhaustive: true }));
    most = Math.max(most, bounded.termBlocksBytes());
  }
  assert.ok(most > 0 && most <= budget, `bounds kept: at most ${most} bytes, budget ${budget}`);
});
