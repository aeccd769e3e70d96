import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CancellationError } from '../../../../src/core/errors.js';
import type { ExpansionScore } from '../../../../src/core/curation/types.js';
import type { RunHit } from '../../../../src/core/dataset/types.js';
import type { ExpansionRecord } from '../../../../src/core/expansion/types.js';
import { hasPositiveJudgment, judgmentCoverage, judgmentStatus, scoreQueries, scoreRanking, type QueryToScore, type SyncSearch } from '../../../../src/core/feedback/score.js';
import { readQrels } from '../../../../src/core/dataset/qrels.js';
import { readTopics } from '../../../../src/core/dataset/topics.js';
import { evaluate } from '../../../../src/core/eval/evaluate.js';
import type { Qrels, Run } from '../../../../src/core/dataset/types.js';
import { join } from 'node:path';
import { DATA } from '../../../fixtures/dataPaths.js';

const settings = { topK: 1000, relevanceLevel: 2 };
const hits = (...ids: string[]): RunHit[] => ids.map((docid, i) => ({ docid, score: 100 - i }));
const judgments = new Map([
  ['a', 3],
  ['b', 2],
  ['c', 1],
  ['d', 0],
]);

test('original query: nDCG@10 as trec_eval, delta 0, no moves', () => {
  const s = scoreRanking('original:q1', 'q1', hits('a', 'x', 'b'), judgments, settings, null);
  const dcg = 3 / Math.log2(2) + 2 / Math.log2(4);
  const ideal = 3 / Math.log2(2) + 2 / Math.log2(3) + 1 / Math.log2(4);
  assert.ok(Math.abs(s.ndcg10 - dcg / ideal) < 1e-12);
  assert.equal(s.delta, 0);
  assert.deepEqual(s.entered, []);
  assert.equal(s.unjudgedFlag, false);
  // Recall at level 2 counts a (3) and b (2), not c (1): both retrieved.
  assert.equal(s.recall, 1);
  assert.equal(s.recallK, 1000);
  assert.equal(s.judged10, 0.2);
  assert.deepEqual(s.top10, ['a', 'x', 'b']);
});

test('expansion: delta against the original, entered/left with grades, unjudged flag', () => {
  const original = scoreRanking('original:q1', 'q1', hits('d', 'x', 'b'), judgments, settings, null);
  const e = scoreRanking('e1', 'q1', hits('a', 'b', 'y'), judgments, settings, { ndcg10: original.ndcg10, top10: original.top10 });
  assert.ok(e.delta > 0);
  assert.ok(Math.abs(e.delta - (e.ndcg10 - original.ndcg10)) < 1e-15);
  assert.deepEqual(e.entered, [
    { docid: 'a', grade: 3, rank: 1 },
    { docid: 'y', grade: null, rank: 3 },
  ]);
  assert.deepEqual(e.left, [
    { docid: 'd', grade: 0, rank: 1 },
    { docid: 'x', grade: null, rank: 2 },
  ]);
  assert.equal(e.unjudgedFlag, true, 'an unjudged document entered the top 10');
  const judgedOnly = scoreRanking('e2', 'q1', hits('a', 'b', 'x'), judgments, settings, { ndcg10: original.ndcg10, top10: original.top10 });
  assert.equal(judgedOnly.unjudgedFlag, false, 'x was already in the original top 10');
});

test('hits out of order are ranked like trec_eval (score desc, docid desc)', () => {
  const s = scoreRanking('e', 'q1', [
    { docid: 'b', score: 1 },
    { docid: 'a', score: 5 },
    { docid: 'c', score: 1 },
  ], judgments, settings, null);
  assert.deepEqual(s.top10, ['a', 'c', 'b']);
});

test('a query without a positive judgment scores 0 and is recognised', () => {
  const zero = new Map([['a', 0]]);
  assert.equal(hasPositiveJudgment(zero), false);
  assert.equal(hasPositiveJudgment(undefined), false);
  assert.equal(hasPositiveJudgment(judgments), true);
  const s = scoreRanking('e', 'q', hits('a'), zero, settings, { ndcg10: 0, top10: [] });
  assert.equal(s.ndcg10, 0);
  assert.equal(s.recall, 0);
});

function expansion(qid: string, i: number): ExpansionRecord {
  return { id: `${qid}-${i}`, qid, query: 'q', method: 'm', role: 'teacher', model: 'x', provider: 'import', sampleIndex: i, generated: 'g', formulation: 'concat', final: `q ${i}`, createdAt: '' };
}

test('scoreQueries: originals once, every expansion, progress only after a batch is stored', async () => {
  const search: SyncSearch = (q) => (q.endsWith('1') ? hits('a', 'b') : hits('d'));
  const queries: QueryToScore[] = ['q1', 'q2', 'q3'].map((qid) => ({ qid, text: 'q', expansions: [expansion(qid, 1), expansion(qid, 2)] }));
  const stored: ExpansionScore[] = [];
  const progress: number[] = [];
  const r = await scoreQueries(search, new Map([['q1', judgments], ['q2', judgments], ['q3', judgments]]), queries, settings, {
    signal: new AbortController().signal,
    batchSize: 2,
    onScores: (s) => {
      stored.push(...s);
    },
    onProgress: (p) => {
      progress.push(p.done);
      assert.ok(stored.length >= p.done * 3, 'a query is reported done only once its scores are stored');
    },
  });
  assert.deepEqual(r, { scored: 6, originals: 3 });
  assert.equal(stored.length, 9);
  assert.equal(progress[progress.length - 1], 3);
  const e1 = stored.find((s) => s.expansionId === 'q1-1')!;
  assert.ok(e1.delta > 0, 'q1-1 retrieves a and b where the original retrieves only d');
});

test('scoreQueries: cancellation stores the finished batch, then throws', async () => {
  const controller = new AbortController();
  const queries: QueryToScore[] = Array.from({ length: 10 }, (_, i) => ({ qid: `q${i}`, text: 'q', expansions: [expansion(`q${i}`, 0)] }));
  const stored: ExpansionScore[] = [];
  let searches = 0;
  const search: SyncSearch = () => {
    if (++searches === 8) controller.abort();
    return hits('a');
  };
  await assert.rejects(
    scoreQueries(search, new Map(), queries, settings, { signal: controller.signal, batchSize: 100, onScores: (s) => void stored.push(...s) }),
    (e: unknown) => e instanceof CancellationError,
  );
  assert.equal(stored.length, 8, 'the 4 finished queries (original + expansion each) were handed over');
});

test('no judgments at all vs judged with no grade > 0: the labels say what trec_eval does with each', () => {
  const qrels: Qrels = new Map([
    ['pos', new Map([['a', 2], ['b', 0]])],
    ['zero', new Map([['a', 0], ['c', 0]])],
  ]);
  assert.equal(judgmentStatus(qrels.get('pos')), 'positive');
  assert.equal(judgmentStatus(qrels.get('zero')), 'noPositive');
  assert.equal(judgmentStatus(qrels.get('absent')), 'unjudged');
  assert.equal(judgmentStatus(new Map()), 'unjudged');
  assert.deepEqual(judgmentCoverage([{ qid: 'pos' }, { qid: 'zero' }, { qid: 'absent' }], qrels), { total: 3, positive: 1, unjudged: ['absent'], noPositive: ['zero'] });
  // trec_eval -c (our evaluate is checked against it): the judged topic without a positive grade
  // is averaged in as 0, the topic absent from the qrels is ignored even when the run has it.
  const run: Run = new Map(['pos', 'zero', 'absent'].map((q) => [q, [{ docid: 'a', score: 1 }]]));
  const r = evaluate(qrels, run, ['num_q', 'ndcg_cut.10'], { complete: true });
  assert.equal(r.mean.num_q, 2);
  assert.deepEqual(r.notInQrels, ['absent']);
  assert.equal(r.mean.ndcg_cut_10, 0.5);
});

test('TREC CAsT 2019: 306 of the 479 evaluation turns have no judgments at all, none is judged without a positive grade', async () => {
  const cast = join(DATA, 'trec-cast/2019/data');
  const topics = await readTopics(join(cast, 'evaluation/evaluation_topics_annotated_resolved_v1.0.tsv'));
  const qrels = await readQrels(join(cast, '2019qrels.txt'));
  const c = judgmentCoverage(topics, qrels);
  assert.deepEqual([c.total, c.positive, c.unjudged.length, c.noPositive.length], [479, 173, 306, 0]);
});
