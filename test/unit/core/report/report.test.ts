import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, type ReportInput } from '../../../../src/core/report/report.js';
import { renderReportMarkdown } from '../../../../src/core/report/markdown.js';
import { escapeHtml, renderReportHtml } from '../../../../src/core/report/html.js';
import { pairedTTest } from '../../../../src/core/report/stats.js';
import type { ExpansionScore } from '../../../../src/core/curation/types.js';
import type { ExpansionRecord } from '../../../../src/core/expansion/types.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

// Five judged queries; q6 has no positive judgment, q7 was never scored.
const original: Record<string, number> = { q1: 0.4, q2: 0.5, q3: 0.2, q4: 0.6, q5: 0.3, q6: 0.0 };
const teacher: Record<string, number> = { q1: 0.8, q2: 0.7, q3: 0.5, q4: 0.6, q5: 0.4, q6: 0.9 };
// Two student samples per query: the per-query score is their mean.
const student: Record<string, [number, number]> = { q1: [0.6, 0.8], q2: [0.5, 0.5], q3: [0.2, 0.4], q4: [0.4, 0.6], q5: [0.4, 0.4], q6: [1, 1] };

function input(): ReportInput {
  const expansions: ExpansionRecord[] = [];
  const scores = new Map<string, ExpansionScore>();
  const originals = new Map<string, ExpansionScore>();
  for (const [qid, o] of Object.entries(original)) {
    originals.set(qid, makeScore({ id: `original:${qid}`, qid }, o, o, 0.5));
    const t = makeExpansion(qid, `t-${qid}`, { role: 'teacher', method: 'query2doc-fs', model: 'Qwen2.5-72B <big>' });
    expansions.push(t);
    scores.set(t.id, makeScore(t, teacher[qid] as number, o, 0.7));
    (student[qid] as number[]).forEach((v, i) => {
      const s = makeExpansion(qid, `s-${qid}-${i}`, { role: 'student', method: 'query2doc-zs', model: 'Qwen2.5-0.5B', sampleIndex: i });
      expansions.push(s);
      scores.set(s.id, makeScore(s, v, o, 0.6));
    });
  }
  const queries = ['q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7'].map((qid) => ({ qid, text: qid === 'q6' ? 'what is <script>alert(1)</script> & "x"' : `query ${qid}`, relevant: qid === 'q6' ? 0 : 3 }));
  return { datasetName: 'toy <dl19>', queries, expansions, scores, originals, now: () => new Date('2026-03-03T00:00:00Z') };
}

test('means, win/tie/loss and exclusions follow the stated rules', () => {
  const r = buildReport(input());
  assert.equal(r.queries.total, 7);
  assert.equal(r.queries.included, 5);
  assert.deepEqual(
    r.queries.excluded.map((q) => [q.qid, q.reason]),
    [['q6', 'no positive judgment'], ['q7', 'original query not scored']],
  );
  assert.ok(Math.abs(r.original.meanNdcg10 - 0.4) < 1e-12);
  const t = r.methods.find((m) => m.role === 'teacher');
  const s = r.methods.find((m) => m.role === 'student');
  assert.ok(t && s);
  assert.equal(r.methods[0]?.role, 'teacher', 'teachers are listed first');
  assert.ok(Math.abs(t.meanNdcg10 - 0.6) < 1e-12);
  assert.ok(Math.abs(t.meanDelta - 0.2) < 1e-12);
  assert.deepEqual([t.wins, t.ties, t.losses], [4, 1, 0]);
  // Student per-query means: 0.7 0.5 0.3 0.5 0.4 → mean 0.48; deltas +0.3 0 +0.1 −0.1 +0.1
  assert.ok(Math.abs(s.meanNdcg10 - 0.48) < 1e-12);
  assert.equal(s.samplesPerQuery, 2);
  assert.deepEqual([s.wins, s.ties, s.losses], [3, 1, 1]);
  assert.ok(Math.abs(s.meanRecall - 0.6) < 1e-12 && Math.abs(s.meanOriginalRecall - 0.5) < 1e-12);
  const expected = pairedTTest([0.4, 0.5, 0.2, 0.6, 0.3], [0.8, 0.7, 0.5, 0.6, 0.4]);
  assert.ok(expected !== null && t.tTest !== null);
  assert.ok(Math.abs(t.tTest.p - expected.p) < 1e-12);
  assert.ok(t.tTest.p < 0.05, 'teacher gains on 4 of 5 queries: significant');
  assert.equal(t.permutation?.exact, true);
  assert.equal(t.permutation?.p, 4 / 32, 'only all-positive or all-negative signs reach the observed sum (q4, a zero difference, flips freely)');
});

test("the student's nDCG@10 as a percentage of the teacher's (the headline)", () => {
  const r = buildReport(input());
  assert.ok(r.headline !== null);
  assert.ok(Math.abs((r.headline.percent as number) - 80) < 1e-9, '0.48 / 0.6 = 80%');
  assert.ok(Math.abs((r.headline.gainRecoveredPercent as number) - 40) < 1e-9, '(0.48 − 0.4) / (0.6 − 0.4) = 40%');
  assert.equal(r.studentVsTeacher.length, 1);
  const md = renderReportMarkdown(r);
  assert.match(md, /reaches \*\*80\.0%\*\*/);
  assert.match(md, /\| teacher \| query2doc-fs \| Qwen2\.5-72B &lt;big&gt; \| 5 \| 0\.4000 \| 0\.6000 \| \+0\.2000 \|/);
  assert.match(md, /q6: what is &lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; "x" — no positive judgment/);
});

test('the HTML page is self-contained and escapes every data-derived text', () => {
  const html = renderReportHtml(buildReport(input()));
  assert.ok(!/<script/i.test(html), 'no script element, not even an injected one');
  assert.ok(!/(src|href)\s*=\s*["']?(https?:)?\/\//i.test(html), 'no external resource');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;'));
  assert.ok(html.includes('toy &lt;dl19&gt;'));
  assert.ok(!html.includes('<big>'));
  assert.equal((html.match(/<svg /g) ?? []).length, 1 + 2 + 1, 'bars, one histogram per method, scatter');
  assert.equal((html.match(/<circle /g) ?? []).length, 5, 'one scatter point per included query');
  assert.match(html, /80\.0%/);
  assert.equal(escapeHtml(`<a href="x">'&`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
});
