import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport } from '../../../../src/core/report/report.js';
import { buildRoundReport, parseRoundMethod, renderRoundsSvg, roundMethod } from '../../../../src/core/report/rounds.js';
import type { ExpansionScore } from '../../../../src/core/curation/types.js';
import type { ExpansionRecord } from '../../../../src/core/expansion/types.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

/** Four queries: original 0.2; teacher 0.6; round 0 0.3; round 1 0.45 on q1-q3 and 0.6 on q4; RM3 0.25. */
function report() {
  const qids = ['q1', 'q2', 'q3', 'q4'];
  const expansions: ExpansionRecord[] = [];
  const scores = new Map<string, ExpansionScore>();
  const originals = new Map<string, ExpansionScore>();
  const add = (qid: string, id: string, role: ExpansionRecord['role'], method: string, model: string, ndcg: number): void => {
    const e = makeExpansion(qid, id, { role, method, model });
    expansions.push(e);
    scores.set(id, makeScore(e, ndcg, 0.2));
  };
  for (const q of qids) {
    originals.set(q, makeScore({ id: `orig:${q}`, qid: q }, 0.2, 0.2));
    add(q, `t-${q}`, 'teacher', 'query2doc-zs', 'big', 0.6);
    add(q, `r0-${q}`, 'student', roundMethod('query2doc-zs', 0), 'base', 0.3);
    add(q, `r1-${q}`, 'student', roundMethod('query2doc-zs', 1), 'ckpt1', q === 'q4' ? 0.6 : 0.45);
    add(q, `rm3-${q}`, 'baseline', 'rm3', 'BM25+RM3', 0.25);
  }
  return buildReport({ datasetName: 'toy', queries: qids.map((qid) => ({ qid, text: qid, relevant: 1 })), expansions, scores, originals, permutations: 100 });
}

test('round method labels round-trip and other methods are not rounds', () => {
  assert.deepEqual(parseRoundMethod(roundMethod('query2doc-zs', 12)), { template: 'query2doc-zs', round: 12 });
  assert.equal(parseRoundMethod('query2doc-zs'), null);
  assert.equal(parseRoundMethod('q@rx'), null);
});

test('the rounds table: % of teacher, its bootstrap interval, W/T/L against the teacher and the previous round', () => {
  const r = buildRoundReport(report(), { resamples: 500 });
  assert.deepEqual(r.rows.map((x) => x.label), ['original BM25', 'teacher query2doc-zs', 'round 0 query2doc-zs', 'round 1 query2doc-zs', 'baseline rm3']);
  const [orig, teacher, r0, r1, rm3] = r.rows;
  assert.equal(orig?.meanNdcg10.toFixed(4), '0.2000');
  assert.equal(teacher?.meanNdcg10.toFixed(4), '0.6000');
  assert.equal(r0?.percentOfTeacher?.toFixed(2), '50.00');
  assert.deepEqual(r0?.interval?.map((x) => x.toFixed(2)), ['50.00', '50.00'], 'a constant ratio has a zero-width interval');
  // round 1: (3 × 0.45 + 0.6) / (4 × 0.6) = 81.25%; resampled means lie between 75% (all q1-q3) and 100% (all q4).
  assert.equal(r1?.percentOfTeacher?.toFixed(2), '81.25');
  const [lo, hi] = r1?.interval ?? [NaN, NaN];
  assert.ok(lo >= 75 - 1e-9 && lo < 81.25 && hi > 81.25 && hi <= 100 + 1e-9, `${lo} ${hi}`);
  assert.deepEqual(r1?.vsTeacher, { wins: 0, ties: 1, losses: 3, queries: 4 });
  assert.deepEqual(r1?.vsPrevious, { wins: 4, ties: 0, losses: 0, queries: 4 });
  assert.equal(r0?.vsPrevious, null);
  assert.equal(rm3?.percentOfTeacher?.toFixed(2), '41.67');
  assert.deepEqual(buildRoundReport(report(), { resamples: 500 }).rows[3]?.interval, r1?.interval, 'seeded: the same interval every run');
});

test('the plot has one point per round and a line per reference row', () => {
  const svg = renderRoundsSvg(buildRoundReport(report()));
  assert.equal((svg.match(/<circle class="round"/g) ?? []).length, 2);
  assert.equal((svg.match(/<line class="ref /g) ?? []).length, 3);
  assert.doesNotMatch(svg, /NaN|undefined/);
});
