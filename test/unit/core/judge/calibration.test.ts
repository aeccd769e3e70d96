import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calibrate, cohenKappa, defaultTuneQids, kendallTauB, rocAuc } from '../../../../src/core/judge/calibration.js';

const close = (a: number | null | undefined, b: number, what: string): void => {
  assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-9, `${what}: ${String(a)} != ${b}`);
};

describe('judge calibration against the qrels (hand-checked case)', () => {
  // q1: d1 g3 .9, d2 g2 .6, d3 g0 .7, d4 g1 .2 · q2: d5 g2 .8, d6 g0 .8 · q3: d7 g0 .1 · u1 unjudged.
  const qrels = new Map([
    ['q1', new Map([['d1', 3], ['d2', 2], ['d3', 0], ['d4', 1]])],
    ['q2', new Map([['d5', 2], ['d6', 0]])],
    ['q3', new Map([['d7', 0]])],
  ]);
  const judged = [
    { qid: 'q1', docid: 'd1', score: 0.9 },
    { qid: 'q1', docid: 'd2', score: 0.6 },
    { qid: 'q1', docid: 'd3', score: 0.7 },
    { qid: 'q1', docid: 'd4', score: 0.2 },
    { qid: 'q2', docid: 'd5', score: 0.8 },
    { qid: 'q2', docid: 'd6', score: 0.8 },
    { qid: 'q3', docid: 'd7', score: 0.1 },
    { qid: 'q1', docid: 'u1', score: 0.99 },
  ];
  const r = calibrate(judged, qrels, { relevanceLevel: 2, tuneQids: new Set(['q1']) });

  it('AUC per query, mean and pooled', () => {
    // q1: (d1>d3) (d1>d4) (d2<d3) (d2>d4) = 3/4; q2: a tie = 1/2; q3 has no relevant document.
    close(r.auc.perQuery.q1, 0.75, 'q1');
    close(r.auc.perQuery.q2, 0.5, 'q2');
    assert.equal(r.auc.perQuery.q3, null);
    close(r.auc.meanPerQuery, 0.625, 'mean');
    // pooled: relevant {.9,.6,.8} vs not {.7,.2,.8,.1}: 4 + 2 + 3.5 of 12.
    close(r.auc.pooled, 9.5 / 12, 'pooled');
    assert.equal(r.documents, 7);
    assert.equal(r.unjudged, 1);
  });

  it('mean score per grade', () => {
    close(r.meanScoreByGrade['0']!.mean, (0.7 + 0.8 + 0.1) / 3, 'grade 0');
    assert.equal(r.meanScoreByGrade['0']!.n, 3);
    close(r.meanScoreByGrade['1']!.mean, 0.2, 'grade 1');
    close(r.meanScoreByGrade['2']!.mean, 0.7, 'grade 2');
    close(r.meanScoreByGrade['3']!.mean, 0.9, 'grade 3');
  });

  it('threshold chosen on the tune split, κ and τ-b on the held-out one', () => {
    // On q1, t = .6 and t = .9 both give κ = .5; the lowest wins.
    close(r.threshold, 0.6, 'threshold');
    close(r.tuneKappa, 0.5, 'tune κ');
    assert.deepEqual(r.split, { tune: ['q1'], test: ['q2', 'q3'] });
    // Test: d5 P/P, d6 P/N, d7 N/N → po 2/3, pe 4/9, κ = 0.4.
    close(r.test.kappa, 0.4, 'κ');
    close(r.test.accuracy, 2 / 3, 'accuracy');
    // (d5,d6) tie in score, (d5,d7) concordant, (d6,d7) tie in grade: 1 / sqrt(2 × 2).
    close(r.test.kendallTauB, 0.5, 'τ-b');
  });

  it('the primitives on their edge cases', () => {
    assert.equal(rocAuc([], [1]), null);
    close(rocAuc([1, 2], [0]), 1, 'perfect');
    assert.equal(cohenKappa([true, true], [true, true]), null);
    close(cohenKappa([true, false], [true, false]), 1, 'κ perfect');
    assert.equal(kendallTauB([1, 1], [1, 2]), null);
    close(kendallTauB([1, 2, 3], [3, 2, 1]), -1, 'τ reversed');
    const split = defaultTuneQids(['a', 'b', 'c']);
    assert.equal(split.size, 2);
    assert.deepEqual(defaultTuneQids(['c', 'b', 'a']), split);
  });
});
