import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildReport, type ReportInput } from '../../../../src/core/report/report.js';
import { formatP, recallNoteText, renderReportMarkdown } from '../../../../src/core/report/markdown.js';
import { formatMethodTable } from '../../../../src/cli/commands/report.js';
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

test('the headline compares student with teacher per query: bootstrap interval, W/T/L, paired tests', () => {
  const r = buildReport(input());
  const h = r.headline;
  assert.ok(h !== null && h.percentCI !== null);
  // Per query student − teacher: −0.1 −0.2 −0.2 −0.1 0 → the student loses 4, ties 1.
  assert.deepEqual([h.wins, h.ties, h.losses], [0, 1, 4]);
  assert.ok(h.percentCI.low < 80 && 80 < h.percentCI.high, `80% in [${h.percentCI.low}, ${h.percentCI.high}]`);
  assert.ok(h.percentCI.low >= 60 - 1e-9 && h.percentCI.high <= 100 + 1e-9, 'every query ratio is in [60%, 100%], so is every resample');
  assert.deepEqual([h.percentCI.resamples, h.percentCI.seed], [10_000, 42]);
  // Only the 4 sign patterns with all four non-zero differences of one sign reach |sum| 0.6 (the zero flips freely).
  assert.equal(h.permutation?.p, 4 / 32);
  const t = pairedTTest([0.8, 0.7, 0.5, 0.6, 0.4], [0.7, 0.5, 0.3, 0.5, 0.4]);
  assert.ok(t !== null && h.tTest !== null && Math.abs(h.tTest.p - t.p) < 1e-12);
  assert.deepEqual(buildReport(input()).headline?.percentCI, h.percentCI, 'the same data give the same interval');
  assert.notDeepEqual(buildReport({ ...input(), seed: 1 }).headline?.percentCI, h.percentCI, 'the seed is the one used');

  const ci = `${h.percentCI.low.toFixed(1)}–${h.percentCI.high.toFixed(1)}%`;
  const md = renderReportMarkdown(r);
  assert.ok(md.includes(`95% CI ${ci} (paired bootstrap over 5 queries, 10,000 resamples, seed 42); student vs teacher per query W/T/L 0/1/4; p 0.1250 (paired randomization), ${formatP(t.p)} (paired t)`), md);
  assert.ok(md.includes(`| 80.0% | ${ci} | 0/1/4 | 0.1250 | ${formatP(t.p)} | 40.0% |`), 'the student/teacher table row');
  assert.ok(renderReportHtml(r).includes(`<td>80.0%</td><td>${ci}</td><td>0/1/4</td><td>0.1250</td>`));
  const table = formatMethodTable(r);
  assert.match(table, new RegExp(`^headline: student/query2doc-zs/Qwen2\\.5-0\\.5B reaches 80\\.0% of .*\\n {10}95% CI ${ci.replace('.', '\\.')} .*W/T/L 0/1/4; p 0\\.1250 \\(paired randomization\\)`, 'm'));
});

function withUnjudged(): ReportInput {
  const inp = input();
  const scores = new Map(inp.scores);
  // Two of the student's ten included samples, one of the teacher's five, and one on an excluded query.
  for (const id of ['s-q1-0', 's-q3-1', 't-q2', 't-q6']) scores.set(id, { ...(scores.get(id) as ExpansionScore), unjudgedFlag: true });
  return { ...inp, scores };
}

test('the share of expansions whose delta rests on unjudged documents, per method', () => {
  const r = buildReport(withUnjudged());
  const t = r.methods.find((m) => m.role === 'teacher');
  const s = r.methods.find((m) => m.role === 'student');
  assert.deepEqual([t?.expansions, t?.unjudgedExpansions, s?.expansions, s?.unjudgedExpansions], [5, 1, 10, 2], 'q6 is excluded, so is its flagged teacher');
  assert.match(renderReportMarkdown(r), /^\| student \| query2doc-zs \|.*\| 2 \(20\.0%\) \|$/m, 'the student row ends with the unjudged count and share');
  assert.match(renderReportMarkdown(r), /^\| teacher \| query2doc-fs \|.*\| 1 \(20\.0%\) \|$/m);
  assert.ok(renderReportHtml(r).includes('<td>1 (20.0%)</td></tr>'));
  assert.match(formatMethodTable(r), /^query2doc-zs\s+student\s+Qwen2\.5-0\.5B\s.*\s2 \(20\.0%\)\s+80\.0% \(query2doc-fs\)$/m);
  assert.ok(renderReportMarkdown(buildReport(input())).includes('| 0 (0.0%) |'), 'none flagged: 0');
});

test('Recall@k is flagged when the corpus is no larger than k, and methods at the ceiling are marked', () => {
  const plain = buildReport(input());
  assert.equal(plain.recall.cannotMove, false);
  assert.equal(recallNoteText(plain), null, 'nothing known, nothing marked');
  assert.ok(!renderReportMarkdown(plain).includes('R@1000\\*'));

  // A 3-document corpus and k = 1000: every run's top 1000 is the whole corpus.
  const tiny = buildReport({ ...input(), corpusSize: 3 });
  assert.deepEqual([tiny.recall.corpusWithinK, tiny.recall.cannotMove, tiny.recall.corpusSize], [true, true, 3]);
  const md = renderReportMarkdown(tiny);
  assert.ok(md.includes('| R@1000\\* orig | R@1000\\* |'));
  assert.ok(md.includes('\\* R@1000 cannot tell runs apart: the 3-document corpus has no more than 1000 documents'), md);
  assert.ok(renderReportHtml(tiny).includes('<th>R@1000*</th>') && renderReportHtml(tiny).includes('cannot tell runs apart'));
  assert.match(formatMethodTable(tiny), /^method\s.*\sR@1000\*\s/m);
  assert.match(formatMethodTable(tiny), /^\* R@1000 cannot tell runs apart/m);

  // Ceilings: the teacher (recall 0.7) reaches them on every query, the student (0.6) and the original (0.5) do not.
  const ceilings = new Map(['q1', 'q2', 'q3', 'q4', 'q5', 'q6'].map((q) => [q, 0.7]));
  const some = buildReport({ ...input(), corpusSize: 5000, recallCeilings: ceilings });
  assert.deepEqual(
    some.methods.map((m) => [m.role, m.recallAtCeiling]),
    [['teacher', true], ['student', false]],
  );
  assert.deepEqual([some.recall.cannotMove, some.recall.originalAtCeiling], [false, false]);
  assert.ok(Math.abs((some.recall.meanCeiling as number) - 0.7) < 1e-12);
  const smd = renderReportMarkdown(some);
  assert.ok(smd.includes('| 0.5000 | 0.7000\\* | 4/1/0 |') && smd.includes('| 0.5000 | 0.6000 | 3/1/1 |'), smd);
  assert.ok(smd.includes('\\* at the R@1000 ceiling on every query: the method retrieves, within 1000, every judged relevant document in the 5,000-document corpus'));
  assert.match(formatMethodTable(some), /^query2doc-fs\s+teacher\s.*\s0\.7000\*\s/m);

  // Every run at its ceiling: the column as a whole is flagged.
  const flat = input();
  const flatScores = new Map([...flat.scores].map(([id, s]) => [id, { ...s, recall: 0.5 }]));
  const all = buildReport({ ...flat, scores: flatScores, recallCeilings: new Map([...ceilings].map(([q]) => [q, 0.5])) });
  assert.deepEqual([all.recall.cannotMove, all.recall.corpusWithinK, all.recall.originalAtCeiling], [true, false, true]);
  assert.ok(renderReportMarkdown(all).includes('\\* R@1000 cannot tell runs apart: the original and every method retrieve, within 1000, every judged relevant document in the corpus'));
  assert.ok(!renderReportMarkdown(all).includes('0.5000\\*'), 'the header carries the mark, not each value');
});
