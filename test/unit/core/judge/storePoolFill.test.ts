import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { filledJudgments, fillQuery, judgeGrade, pairFlips } from '../../../../src/core/judge/fill.js';
import { expansionPool, runPool } from '../../../../src/core/judge/pool.js';
import { JudgmentStore, judgmentsFile } from '../../../../src/core/judge/store.js';
import type { JudgmentRecord } from '../../../../src/core/judge/types.js';

const tmp = mkdtempSync(join(tmpdir(), 'qx-judge-store-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function rec(qid: string, docid: string, score: number): JudgmentRecord {
  return { qid, docid, score, probs: { '0': 1 - score, '1': score }, mass: 1, token: 'Yes', mode: 'binary', method: 'judge:judge-binary', provider: 'openai-compatible', endpoint: 'http://x', model: 'm', template: { id: 'judge-binary', version: 1, hash: 'abcdef0123456789' }, createdAt: '2026-01-01T00:00:00Z' };
}

describe('judgments store', () => {
  it('keeps one judgment per (qid, docid), survives a torn last line with a warning naming file and line', () => {
    const file = judgmentsFile(tmp, 'org/Model 7B', { id: 'judge-binary', version: 1, hash: 'abcdef0123456789' });
    assert.match(file, /org_Model_7B\.judge-binary-abcdef01\.jsonl$/);
    const s = JudgmentStore.open(file);
    s.add([rec('q2', 'b', 0.2), rec('q1', 'a', 0.9)]);
    s.add([rec('q1', 'a', 0.7)]);
    appendFileSync(file, '{"qid": "q3", "doc');
    const warnings: string[] = [];
    const again = JudgmentStore.open(file, { warn: (m: string) => warnings.push(m), info: () => undefined, debug: () => undefined, trace: () => undefined, error: () => undefined });
    assert.equal(again.size, 2);
    assert.equal(again.get('q1', 'a')?.score, 0.7);
    assert.deepEqual(again.all().map((r) => r.qid), ['q1', 'q2']);
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.includes(`${file}:3:`), warnings[0]);
  });
  it("gives one query's scores as read from the file and as judgments are added or replaced", () => {
    const file = join(tmp, 'scores-for.jsonl');
    const s = JudgmentStore.open(file);
    s.add([rec('q1', 'a', 0.9), rec('q2', 'a', 0.1), rec('q1', 'b', 0.4)]);
    assert.deepEqual([...s.scoresFor('q1')], [['a', 0.9], ['b', 0.4]]);
    s.add([rec('q1', 'a', 0.3), rec('q1', 'c', 0.8)]);
    assert.deepEqual([...s.scoresFor('q1')], [['a', 0.3], ['b', 0.4], ['c', 0.8]]);
    assert.deepEqual([...s.scoresFor('q2')], [['a', 0.1]]);
    assert.equal(s.scoresFor('q9').size, 0);
    s.scoresFor('q2').set('z', 1);
    assert.equal(s.scoresFor('q2').size, 1, 'a caller changing the returned map does not change the store');
    assert.deepEqual([...JudgmentStore.open(file).scoresFor('q1')].sort(), [['a', 0.3], ['b', 0.4], ['c', 0.8]]);
  });
});

describe('judging pools', () => {
  const topics = [{ qid: 'q1', text: 'one' }, { qid: 'q2', text: 'two' }];
  const qrels = new Map([['q1', new Map([['a', 2], ['b', 0]])]]);
  it('takes the unjudged documents of the original and every expansion top 10, once each', () => {
    const pool = expansionPool(topics, qrels, [{ qid: 'q1', original: ['a', 'x', 'b'], expansions: [['y', 'x', 'a'], ['z']] }, { qid: 'q2', original: ['a'], expansions: [] }]);
    assert.deepEqual(pool.map((p) => `${p.qid}/${p.docid}`), ['q1/x', 'q1/y', 'q1/z', 'q2/a']);
    const all = expansionPool(topics, qrels, [{ qid: 'q1', original: ['a', 'x', 'b'], expansions: [] }], { includeJudged: true });
    assert.deepEqual(all.map((p) => [p.docid, p.grade]), [['a', 2], ['x', null], ['b', 0]]);
  });
  it('takes a run to a depth in trec_eval order', () => {
    const run = new Map([['q1', [{ docid: 'x', score: 1 }, { docid: 'y', score: 3 }, { docid: 'z', score: 3 }, { docid: 'a', score: 5 }]]]);
    // a (5), then the tie z/y by docid descending; depth 3 stops before x.
    assert.deepEqual(runPool(topics, qrels, run, 3, { includeJudged: true }).map((p) => p.docid), ['a', 'z', 'y']);
    assert.deepEqual(runPool(topics, qrels, run, 3).map((p) => p.docid), ['z', 'y']);
  });
});

describe('judge-filled nDCG@10', () => {
  it('fills only the holes, never overriding a qrel', () => {
    const m = filledJudgments(new Map([['a', 0]]), new Map([['a', 0.99], ['x', 0.8], ['y', 0.2]]), { mode: 'binary', threshold: 0.5, relevantGrade: 2 });
    assert.deepEqual([...m], [['a', 0], ['x', 2], ['y', 0]]);
    assert.equal(judgeGrade(2.6, { mode: 'graded' }), 3);
  });
  it('a relevant hole raises the ranking that holds it; pair margins and flips follow', () => {
    const qrels = new Map([['q', new Map([['r', 1]])]]);
    const scores = fillQuery('q', [{ id: 'A', top10: ['r', 'n1'] }, { id: 'B', top10: ['h', 'r'] }], qrels, new Map([['h', 0.9]]), { mode: 'binary' });
    const [a, b] = scores;
    // Judged-only: A = 1, B = (1/log2 3) / 1. Filled (h relevant): ideal = 1 + 1/log2 3.
    assert.ok(Math.abs(a!.judgedOnly - 1) < 1e-12);
    assert.ok(Math.abs(b!.judgedOnly - 1 / Math.log2(3)) < 1e-12);
    const ideal = 1 + 1 / Math.log2(3);
    assert.ok(Math.abs(a!.filled - 1 / ideal) < 1e-12);
    assert.ok(Math.abs(b!.filled - 1) < 1e-12);
    assert.equal(b!.unjudged10, 1);
    assert.equal(b!.judgeFilled10, 1);
    const flips = pairFlips([{ id: 'p', qid: 'q', chosenId: 'A', rejectedId: 'B', state: 'auto' }], new Map(scores.map((s) => [s.id, s])));
    assert.equal(flips[0]!.flipped, true);
    assert.equal(flips[0]!.agree, false);
    assert.equal(flips[0]!.state, 'auto');
  });
});
