import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { readQrels } from '../../../../src/core/dataset/qrels.js';
import { readRun } from '../../../../src/core/dataset/runs.js';
import { evaluate } from '../../../../src/core/eval/evaluate.js';
import { idealDcgAt, judgeRanking, judgedAt, ndcgAt, ndcgCutOf, recallAt, reciprocalRankAt, topKLikeTrecEval } from '../../../../src/core/eval/measures.js';
import { sortLikeTrecEval } from '../../../../src/core/eval/trecOrder.js';
import type { RunHit } from '../../../../src/core/dataset/types.js';

import { DATA as data } from '../../../fixtures/dataPaths.js';

/** A query: judgments over docids d0..d29 and a ranking over some of them, scores from a small set so ties are common. */
const queryArb = fc.record({
  grades: fc.array(fc.integer({ min: -1, max: 4 }), { minLength: 30, maxLength: 30 }),
  judgedMask: fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
  scores: fc.array(fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }), { minLength: 30, maxLength: 30 }),
  k: fc.integer({ min: 1, max: 40 }),
});

function build(q: { grades: number[]; judgedMask: boolean[]; scores: Array<number | undefined> }): { hits: RunHit[]; judgments: Map<string, number> } {
  const judgments = new Map<string, number>();
  const hits: RunHit[] = [];
  q.grades.forEach((g, i) => {
    if (q.judgedMask[i]) judgments.set(`d${i}`, g);
    const s = q.scores[i];
    if (s !== undefined) hits.push({ docid: `d${i}`, score: s / 2 });
  });
  return { hits, judgments };
}

test('property: nDCG@k is always in [0, 1]', () => {
  fc.assert(fc.property(queryArb, (q) => {
    const { hits, judgments } = build(q);
    const v = ndcgAt(hits, judgments, q.k);
    return v >= 0 && v <= 1 + 1e-12;
  }), { numRuns: 500 });
});

test('property: ranking the judged documents by grade scores nDCG@k = 1 (when any grade is positive)', () => {
  fc.assert(fc.property(queryArb, (q) => {
    const { judgments } = build(q);
    const positive = [...judgments].filter(([, g]) => g > 0);
    fc.pre(positive.length > 0);
    const ideal: RunHit[] = [...judgments].sort((a, b) => b[1] - a[1]).map(([docid], i) => ({ docid, score: 1000 - i }));
    return Math.abs(ndcgAt(ideal, judgments, q.k) - 1) < 1e-12;
  }), { numRuns: 500 });
});

test('property: any permutation of the hits (ties included) gives the same value, as trec_eval re-sorts', () => {
  fc.assert(fc.property(queryArb, fc.integer(), (q, seed) => {
    const { hits, judgments } = build(q);
    const shuffled = [...hits];
    let s = seed;
    for (let i = shuffled.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      const j = s % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    return ndcgAt(hits, judgments, q.k) === ndcgAt(shuffled, judgments, q.k)
      && recallAt(hits, judgments, q.k, 2) === recallAt(shuffled, judgments, q.k, 2)
      && judgedAt(hits, judgments, q.k) === judgedAt(shuffled, judgments, q.k)
      && reciprocalRankAt(hits, judgments, q.k) === reciprocalRankAt(shuffled, judgments, q.k);
  }), { numRuns: 500 });
});

test('property: the fast ndcgAt (top-k selection) equals the full-sort path, and topK equals sort+slice', () => {
  fc.assert(fc.property(queryArb, (q) => {
    const { hits, judgments } = build(q);
    const full = ndcgCutOf(judgeRanking(hits, judgments), q.k);
    const top = topKLikeTrecEval(hits, q.k).map((h) => h.docid);
    const ref = sortLikeTrecEval(hits).slice(0, q.k).map((h) => h.docid);
    return Math.abs(ndcgAt(hits, judgments, q.k) - full) < 1e-12 && JSON.stringify(top) === JSON.stringify(ref);
  }), { numRuns: 500 });
});

test('ties are broken by docid descending: the tied doc with the larger docid ranks first', () => {
  const judgments = new Map([['d1', 3]]);
  // d1 < d2 by strcmp, so on a tie d2 comes first and d1 sits at rank 2
  const v = ndcgAt([{ docid: 'd1', score: 1 }, { docid: 'd2', score: 1 }], judgments, 10);
  assert.ok(Math.abs(v - 1 / Math.log2(3)) < 1e-15);
  const w = ndcgAt([{ docid: 'd1', score: 1 }, { docid: 'd0', score: 1 }], judgments, 10);
  assert.equal(w, 1);
});

test('ndcgAt / recallAt agree with evaluate() on every DL19 BM25 query', async () => {
  const qrels = await readQrels(join(data, 'trec-dl-topics-qrels/qrels.dl19-passage.txt'));
  const run = await readRun(join(data, 'msmarco-dl-bm25-top100-rankllm/trec_results_dl19.txt'));
  const res = evaluate(qrels, run, ['ndcg_cut.10', 'recall.100'], { relevanceLevel: 2 });
  for (const q of res.perQuery) {
    assert.equal(ndcgAt(run.get(q.qid)!, qrels.get(q.qid), 10), q.values.ndcg_cut_10);
    assert.equal(recallAt(run.get(q.qid)!, qrels.get(q.qid), 100, 2), q.values.recall_100);
  }
  // R@100 with -l 2, Anserini's published DL19 BM25 figure
  assert.equal(res.mean.recall_100!.toFixed(4), '0.4910');
});

test('idealDcgAt: positive grades sorted descending, discounted 1/log2(rank+1)', () => {
  assert.equal(idealDcgAt(new Map([['a', 1], ['b', 3], ['c', 0], ['d', 2]]), 2), 3 + 2 / Math.log2(3));
  assert.equal(idealDcgAt(undefined, 10), 0);
  assert.equal(ndcgAt([{ docid: 'a', score: 1 }], undefined, 10), 0);
});
