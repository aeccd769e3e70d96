import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ExpansionScore } from '../../../../src/core/curation/types.js';
import type { Qrels } from '../../../../src/core/dataset/types.js';
import { ReviewJudgments, type ReviewJudgeInfo, newestJudgmentsFile, queryJudgeView } from '../../../../src/core/judge/reviewJudge.js';
import { JudgmentStore, judgmentsFile } from '../../../../src/core/judge/store.js';
import type { JudgmentRecord } from '../../../../src/core/judge/types.js';
import type { QueryReview } from '../../../../src/core/workspace/api.js';

const tmp = mkdtempSync(join(tmpdir(), 'qx-review-judge-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-9, msg ?? `${a} != ${b}`);
const l3 = 1 / Math.log2(3);

function score(id: string, top10: string[]): ExpansionScore {
  return { expansionId: id, qid: 'q', ndcg10: 0, delta: 0, recall: 0, recallK: 1000, judged10: 0, entered: [], left: [], unjudgedFlag: false, top10 };
}

/** A review of query q: original ["n", "r"], expansions A ["r", "n"], B ["h", "r"], C ["x", "n"], unscored U; pairs A>B and A>C. */
function review(): QueryReview {
  const exp = (id: string) => ({ id, qid: 'q', query: 'q', method: 'm', role: 'teacher' as const, model: 'M', provider: 'import', sampleIndex: 0, generated: id, formulation: 'query2doc', final: id, createdAt: 't' });
  const pair = (id: string, chosenId: string, rejectedId: string) => ({ id, qid: 'q', chosenId, rejectedId, margin: 0, state: 'auto' as const, origin: 'auto' as const, createdAt: 't', updatedAt: 't' });
  return {
    qid: 'q',
    text: 'q',
    qrels: { judged: 2, byGrade: { '1': 1, '0': 1 } },
    original: { ndcg10: 0, recall: 0, judged10: 1, top10: ['n', 'r'] },
    expansions: [
      { expansion: exp('A'), score: score('A', ['r', 'n']) },
      { expansion: exp('B'), score: score('B', ['h', 'r']) },
      { expansion: exp('C'), score: score('C', ['x', 'n']) },
      { expansion: exp('U'), score: null },
    ],
    pairs: [pair('A>B', 'A', 'B'), pair('A>C', 'A', 'C')],
  };
}

const binary: ReviewJudgeInfo = { model: 'M', endpoint: 'http://x', template: { id: 'judge-binary', version: 1, hash: 'h' }, mode: 'binary', threshold: 0.5, thresholdSource: 'default', relevantGrade: 1, file: '.qx/judgments/x.jsonl', judgments: 3 };

describe('the judge view of one query (Review panel)', () => {
  const judged = new Map([['r', 1], ['n', 0]]);

  it('hand-checked: judged-only beside judge-filled nDCG@10 per ranking, holes, scores, and the pair that flips', () => {
    // The judge: h (a hole) relevant at 0.9, l (a hole) not at 0.2, n (judged 0) at 0.8, which must not override the qrel.
    const v = queryJudgeView(review(), judged, new Map([['h', 0.9], ['l', 0.2], ['n', 0.8]]), binary);
    // Judged-only ideal: [r] = 1. Filled ideal: [r, h] = 1 + 1/log2(3).
    const idealFilled = 1 + l3;
    assert.ok(v.original !== null);
    close(v.original.judgedOnly, l3);
    close(v.original.filled, l3 / idealFilled);
    close(v.expansions.A!.judgedOnly, 1);
    close(v.expansions.A!.filled, 1 / idealFilled);
    close(v.expansions.B!.judgedOnly, l3);
    close(v.expansions.B!.filled, 1);
    assert.deepEqual([v.expansions.B!.unjudged10, v.expansions.B!.judgeFilled10], [1, 1]);
    close(v.expansions.C!.judgedOnly, 0);
    close(v.expansions.C!.filled, 0);
    assert.deepEqual([v.expansions.C!.unjudged10, v.expansions.C!.judgeFilled10], [1, 0], 'x is a hole the judge did not score');
    assert.equal(v.expansions.U, undefined, 'an unscored expansion has no ranking');
    // A beats B judged-only (1 vs 0.631); filled, B wins (1 vs 0.613): the order flips. A > C holds.
    assert.equal(v.pairs['A>B']!.flipped, true);
    close(v.pairs['A>B']!.judgedMargin, 1 - l3);
    close(v.pairs['A>B']!.filledMargin, 1 / idealFilled - 1);
    assert.deepEqual([v.pairs['A>C']!.flipped, v.pairs['A>C']!.agree], [false, true]);
    assert.equal(v.flipped, 1);
    assert.deepEqual(v.docs, {
      h: { score: 0.9, grade: null, filledGrade: 1 },
      l: { score: 0.2, grade: null, filledGrade: 0 },
      n: { score: 0.8, grade: 0, filledGrade: 0 },
    });
    assert.deepEqual(JSON.parse(JSON.stringify(v)), v, 'plain JSON: it crosses to the webview as is');
  });

  it('a judge that calls every hole irrelevant leaves every nDCG@10 as it was; a graded judge fills with the rounded expected grade', () => {
    const v = queryJudgeView(review(), judged, new Map([['h', 0.1], ['x', 0.4]]), binary);
    for (const f of [v.original!, ...Object.values(v.expansions)]) close(f.filled, f.judgedOnly);
    assert.equal(v.flipped, 0);
    const g = queryJudgeView(review(), judged, new Map([['h', 1.6]]), { ...binary, mode: 'graded', threshold: null, thresholdSource: null });
    assert.equal(g.docs.h!.filledGrade, 2);
    // B = [h(2), r(1)] is now the ideal order of {h: 2, r: 1}.
    close(g.expansions.B!.filled, 1);
  });

  it('a binary judge fills with the relevance level, above the threshold only', () => {
    const v = queryJudgeView(review(), judged, new Map([['h', 0.6]]), { ...binary, threshold: 0.7, relevantGrade: 2 });
    assert.equal(v.docs.h!.filledGrade, 0);
    const w = queryJudgeView(review(), judged, new Map([['h', 0.6]]), { ...binary, threshold: 0.55, relevantGrade: 2 });
    assert.equal(w.docs.h!.filledGrade, 2);
  });
});

function rec(qid: string, docid: string, s: number, model = 'judge-7b', mode: 'binary' | 'graded' = 'binary'): JudgmentRecord {
  return { qid, docid, score: s, probs: {}, mass: 1, token: 'Yes', mode, method: 'judge:t', provider: 'openai-compatible', endpoint: 'http://127.0.0.1:9/v1', model, template: { id: mode === 'binary' ? 'judge-binary' : 'judge-graded', version: 2, hash: '0123456789abcdef' }, createdAt: 't' };
}

describe('the judgments a workspace shows', () => {
  it('none without .qx/judgments or with an empty file; else the newest file, its judge, threshold and scores, reloaded when it changes', () => {
    const root = join(tmp, 'ws');
    const qrels: Qrels = new Map([['q', new Map([['r', 1], ['n', 0]])]]);
    const source = new ReviewJudgments(root, qrels, 1);
    assert.equal(source.forQuery(review()), null);
    assert.equal(newestJudgmentsFile(root), null);
    mkdirSync(join(root, '.qx', 'judgments'), { recursive: true });
    writeFileSync(join(root, '.qx', 'judgments', 'empty.jsonl'), '');
    assert.equal(source.forQuery(review()), null);
    const ref = { id: 'judge-binary', version: 2, hash: '0123456789abcdef' };
    const store = JudgmentStore.open(judgmentsFile(root, 'judge-7b', ref));
    store.add([rec('q', 'h', 0.9)]);
    const v = source.forQuery(review());
    assert.ok(v !== null);
    assert.equal(v.judge.model, 'judge-7b');
    assert.deepEqual(v.judge.template, ref);
    assert.equal(v.judge.file, '.qx/judgments/judge-7b.judge-binary-01234567.jsonl');
    // Only a hole is judged: nothing to calibrate on, so the default threshold.
    assert.deepEqual([v.judge.threshold, v.judge.thresholdSource, v.judge.judgments], [0.5, 'default', 1]);
    assert.equal(v.docs.h?.score, 0.9);
    assert.deepEqual(source.forQuery({ ...review(), qid: 'other', pairs: [] })?.docs, {}, 'a query the judge has not seen: no scores');
    // A rerun adds judgments: the panel sees them without reopening.
    store.add([rec('q', 'x', 0.7)]);
    assert.equal(source.forQuery(review())?.docs.x?.score, 0.7);
    // Another judge written later is the one shown.
    const graded = JudgmentStore.open(judgmentsFile(root, 'big-70b', { ...ref, id: 'judge-graded' }));
    graded.add([rec('q', 'h', 2.4, 'big-70b', 'graded')]);
    const later = new Date(Date.now() + 60_000);
    utimesSync(graded.file, later, later);
    const g = source.forQuery(review());
    assert.deepEqual([g?.judge.model, g?.judge.mode, g?.judge.threshold, g?.judge.thresholdSource], ['big-70b', 'graded', null, null]);
    assert.equal(g?.docs.h?.filledGrade, 2);
  });

  it('a binary threshold calibrated on the judged documents (as qx judge --fill uses)', () => {
    const root = join(tmp, 'ws-cal');
    // 8 queries, each with a relevant (score 0.8) and a non-relevant (score 0.3) judged document.
    const qrels: Qrels = new Map(Array.from({ length: 8 }, (_, i) => [`q${i}`, new Map([['rel', 1], ['non', 0]])]));
    const records = [...qrels.keys()].flatMap((qid) => [rec(qid, 'rel', 0.8), rec(qid, 'non', 0.3)]);
    JudgmentStore.open(judgmentsFile(root, 'judge-7b', records[0]!.template)).add([...records, rec('q0', 'hole', 0.5)]);
    const info = new ReviewJudgments(root, qrels, 1).current();
    assert.equal(info?.thresholdSource, 'calibrated');
    assert.ok(info!.threshold! > 0.3 && info!.threshold! <= 0.8, `the threshold ${info?.threshold} separates 0.3 from 0.8`);
    const v = new ReviewJudgments(root, qrels, 1).forQuery({ ...review(), qid: 'q0', original: null, expansions: [], pairs: [] });
    assert.equal(v?.docs.hole?.filledGrade, info!.threshold! <= 0.5 ? 1 : 0);
  });
});
