import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMethodTable } from '../../../../src/cli/commands/report.js';
import type { ExpansionScore, PairRecord } from '../../../../src/core/curation/types.js';
import type { ExpansionRecord } from '../../../../src/core/expansion/types.js';
import { renderReportHtml } from '../../../../src/core/report/html.js';
import { buildJudgeFilledSection, type JudgeFilledSection } from '../../../../src/core/report/judgeFilled.js';
import { renderReportMarkdown } from '../../../../src/core/report/markdown.js';
import { buildReport } from '../../../../src/core/report/report.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

// One query. The qrels judge d1 relevant (1) and d2 not (0); d3 and d4 are holes the judge scores
// 0.9 and 0.1, so with threshold 0.5 the judge fills d3 as relevant (grade 1) and d4 as not.
// Discount of rank 2: 1/log2(3) = 0.63093.
//   original  [d2, d1]  judged-only 0.63093/1 = 0.63093   filled 0.63093/1.63093 = 0.38685
//   teacher A [d3, d1]  judged-only 0.63093              filled (1 + 0.63093)/1.63093 = 1
//   teacher A2[d4, d2]  judged-only 0                    filled 0
//   student B [d1, d4]  judged-only 1                    filled 1/1.63093 = 0.61315
// Pair B > A: judged margin +0.369, filled −0.387: flipped. Pair B > A2: +1 then +0.613: kept.
// Pair A > B, rejected by the user: left out.
const d = 1 / Math.log2(3);
const qrels = new Map([['q1', new Map([['d1', 1], ['d2', 0]])]]);
const judge = new Map([['d3', 0.9], ['d4', 0.1]]);

function data(): { expansions: ExpansionRecord[]; scores: Map<string, ExpansionScore>; originals: Map<string, ExpansionScore>; pairs: PairRecord[] } {
  const top = (e: { id: string; qid: string }, ndcg: number, top10: string[]): ExpansionScore => ({ ...makeScore(e, ndcg, d), top10 });
  const a = makeExpansion('q1', 'A', { role: 'teacher', method: 'q2d', model: 'big' });
  const a2 = makeExpansion('q1', 'A2', { role: 'teacher', method: 'q2d', model: 'big', sampleIndex: 1 });
  const b = makeExpansion('q1', 'B', { role: 'student', method: 'q2d', model: 'small' });
  const scores = new Map([
    ['A', top(a, d, ['d3', 'd1'])],
    ['A2', top(a2, 0, ['d4', 'd2'])],
    ['B', top(b, 1, ['d1', 'd4'])],
  ]);
  const originals = new Map([['q1', top({ id: 'original:q1', qid: 'q1' }, d, ['d2', 'd1'])]]);
  const pair = (id: string, chosenId: string, rejectedId: string, state: PairRecord['state']): PairRecord => ({ id, qid: 'q1', chosenId, rejectedId, margin: 0, state, origin: 'auto', createdAt: '', updatedAt: '' });
  return { expansions: [a, a2, b], scores, originals, pairs: [pair('p1', 'B', 'A', 'auto'), pair('p2', 'B', 'A2', 'accepted'), pair('p3', 'A', 'B', 'rejected')] };
}

function section(): JudgeFilledSection {
  const x = data();
  return buildJudgeFilledSection({
    includedQids: ['q1'],
    ...x,
    qrels,
    judgeScores: (qid) => (qid === 'q1' ? judge : new Map()),
    judge: { model: 'judge-7b', endpoint: 'http://127.0.0.1:9/v1', template: { id: 'judge-binary', version: 1, hash: '0123456789abcdef' }, mode: 'binary', threshold: 0.5, thresholdSource: 'calibrated', relevantGrade: 1, file: '.qx/judgments/judge-7b.judge-binary-01234567.jsonl', judgments: 2 },
  });
}

const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

test('judge-filled nDCG@10 per method on a hand-checked query: samples averaged, holes filled, flipped pairs counted', () => {
  const s = section();
  assert.ok(close(s.original.judgedOnly, d) && close(s.original.filled, d / (1 + d)), JSON.stringify(s.original));
  const teacher = s.methods.find((m) => m.key === 'teacher/q2d/big');
  const student = s.methods.find((m) => m.key === 'student/q2d/small');
  assert.ok(teacher && student);
  // Teacher: mean of its two samples on q1.
  assert.ok(close(teacher.judgedOnly, d / 2) && close(teacher.filled, 0.5), JSON.stringify(teacher));
  assert.ok(close(student.judgedOnly, 1) && close(student.filled, 1 / (1 + d)), JSON.stringify(student));
  assert.equal(s.pairs, 2, 'the rejected pair is left out');
  assert.equal(s.flipped, 1);
  assert.deepEqual([teacher.pairs, teacher.flippedPairs, student.pairs, student.flippedPairs], [2, 1, 2, 1]);
});

test('a judge that fills no hole as relevant leaves every nDCG@10 as it is and flips nothing', () => {
  const x = data();
  const s = buildJudgeFilledSection({
    includedQids: ['q1'],
    ...x,
    qrels,
    judgeScores: () => new Map([['d3', 0.2], ['d4', 0.1]]),
    judge: { ...section().judge, thresholdSource: 'default' },
  });
  for (const m of s.methods) assert.ok(close(m.judgedOnly, m.filled), m.key);
  assert.ok(close(s.original.filled, s.original.judgedOnly));
  assert.equal(s.flipped, 0);
});

test('the report shows the column, the flipped pairs and the judge in the CLI table, Markdown and HTML; without judgments it is unchanged', () => {
  const x = data();
  const base = buildReport({ datasetName: 'toy', queries: [{ qid: 'q1', text: 'query q1', relevant: 1 }], expansions: x.expansions, scores: x.scores, originals: x.originals, now: () => new Date('2026-01-01T00:00:00Z') });
  const without = { ...base, judgeFilled: null };
  for (const text of [formatMethodTable(without), renderReportMarkdown(without), renderReportHtml(without)]) assert.doesNotMatch(text, /judge-filled|Flipped pairs|flipped pairs/i);
  assert.equal(renderReportMarkdown(without), renderReportMarkdown(base));

  const r = { ...base, judgeFilled: section() };
  // The judged-only figure is the report's own nDCG@10 column.
  for (const m of r.methods) assert.ok(close(m.meanNdcg10, r.judgeFilled.methods.find((j) => j.key === m.key)!.judgedOnly), m.key);
  const table = formatMethodTable(r);
  const header = table.split('\n')[0]!.split(/\s{2,}/);
  assert.deepEqual(header.slice(4, 7), ['nDCG@10', 'judge-filled', 'delta']);
  assert.equal(header.at(-1), 'flipped pairs');
  const studentRow = table.split('\n').find((l) => l.startsWith('q2d') && l.includes('student'))!;
  assert.match(studentRow, /1\.0000\s+0\.6131\s+\+/);
  assert.match(studentRow, /1 of 2$/);
  assert.match(table, /original BM25 .* 0\.6309\s+0\.3869/);
  assert.match(table, /filled by judge-7b \(judge-binary 01234567\) at http:\/\/127\.0\.0\.1:9\/v1.*score >= 0\.500 \(threshold calibrated.*counts as grade 1.*: 1 of 2\./);

  const md = renderReportMarkdown(r);
  assert.match(md, /\| nDCG@10 \| nDCG@10 judge-filled \| Δ \|.*\| Flipped pairs \|/);
  assert.match(md, /\| student \| q2d \| small \| 1 \| 0\.6309 \| 1\.0000 \| 0\.6131 \| \+0\.3691 \|.*\| 1 of 2 \|/);
  assert.match(md, /nDCG@10 0\.6309 \(judge-filled 0\.3869\)/);
  const html = renderReportHtml(r);
  assert.match(html, /<th>nDCG@10<\/th><th>nDCG@10 judge-filled<\/th><th>Δ<\/th>/);
  assert.match(html, /<td>1\.000<\/td><td>0\.613<\/td>.*<td>1 of 2<\/td><\/tr>/);
  assert.match(html, /filled by judge-7b/);
});
