import { describeLengthStats } from '../curation/lengths.js';
import { COST_RULES, costPercentText, formatDuration, priceSourceText, tokenCells, usdCell } from './cost.js';
import { judgeFilledCells, judgeFilledRuleText } from './judgeFilled.js';
import { queryCostMarkdown } from './queryCostSection.js';
import type { MethodResult, QxReport, StudentTeacherComparison } from './report.js';

const f3 = (x: number): string => x.toFixed(4);
const signed = (x: number): string => (x >= 0 ? '+' : '') + x.toFixed(4);

/** p-value for a table: 4 significant digits, "<0.0001" below that. */
export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined) return 'n/a';
  if (p < 1e-4) return '<0.0001';
  return p.toFixed(4);
}

/** "95% CI 84.0–99.1%" for a comparison's bootstrap interval of the student/teacher percentage. */
export function ciText(c: StudentTeacherComparison): string {
  const ci = c.percentCI;
  if (ci === null) return `${Math.round(100 * 0.95)}% CI n/a`;
  return `${Math.round(100 * ci.level)}% CI ${ci.low.toFixed(1)}–${ci.high.toFixed(1)}%`;
}

/** The statistics under a headline: bootstrap interval, W/T/L of student vs teacher, both paired p-values. */
export function headlineStatsText(h: StudentTeacherComparison): string {
  const ci = h.percentCI;
  const how = ci === null ? '' : ` (paired bootstrap over ${h.queries} queries, ${ci.resamples.toLocaleString('en-US')} resamples, seed ${ci.seed})`;
  return `${ciText(h)}${how}; student vs teacher per query W/T/L ${h.wins}/${h.ties}/${h.losses}; p ${formatP(h.permutation?.p)} (paired randomization), ${formatP(h.tTest?.p)} (paired t)`;
}

/** "31 (24.0%)": expansions whose delta rests on unjudged documents, and their share of the method's scored expansions. */
export function unjudgedText(m: MethodResult): string {
  return `${m.unjudgedExpansions} (${m.expansions === 0 ? 'n/a' : `${((100 * m.unjudgedExpansions) / m.expansions).toFixed(1)}%`})`;
}

/** Header of the Recall@k column: "R@1000", with "*" when the column cannot tell runs apart. */
export function recallHeader(r: QxReport): string {
  return `R@${r.recallK}${r.recall.cannotMove ? '*' : ''}`;
}

/** A method's Recall@k cell: "*" marks a method at the ceiling on every query (when the column as a whole is not flagged). */
export function recallCell(r: QxReport, m: MethodResult, digits: number): string {
  return m.meanRecall.toFixed(digits) + (!r.recall.cannotMove && m.recallAtCeiling === true ? '*' : '');
}

/** The footnote that goes with the "*" of the Recall@k column or cells; null when nothing is marked. */
export function recallNoteText(r: QxReport): string | null {
  const n = r.recall;
  const k = `R@${n.k}`;
  const corpus = n.corpusSize === null ? 'the corpus' : `the ${n.corpusSize.toLocaleString('en-US')}-document corpus`;
  if (n.corpusWithinK) {
    return `* ${k} cannot tell runs apart: ${corpus} has no more than ${n.k} documents, so every run's top ${n.k} holds every document it matches at all; ${k} then measures term overlap, not ranking.`;
  }
  const ceiling = n.meanCeiling === null ? '' : `; the ceiling is ${n.meanCeiling.toFixed(4)} on average, below 1 when judged relevant documents are missing from the corpus`;
  if (n.cannotMove) {
    return `* ${k} cannot tell runs apart: the original and every method retrieve, within ${n.k}, every judged relevant document in ${corpus}, so every run is at the ceiling${ceiling}.`;
  }
  if (!r.methods.some((m) => m.recallAtCeiling === true)) return null;
  return `* at the ${k} ceiling on every query: the method retrieves, within ${n.k}, every judged relevant document in ${corpus}, so its ${k} cannot rise${ceiling}.`;
}

/** How the student/teacher ratio, its interval and its tests are computed (for the notes under a report). */
export function studentTeacherRule(r: QxReport): string {
  const ci = r.studentVsTeacher.find((c) => c.percentCI !== null)?.percentCI ?? null;
  const how = ci === null ? '' : `, ${ci.resamples.toLocaleString('en-US')} resamples, seed ${ci.seed}, the 2.5th and 97.5th percentiles`;
  return `Student vs teacher: Student/Teacher is mean student nDCG@10 / mean teacher nDCG@10 over the queries both cover; 95% CI: paired percentile bootstrap of that ratio (query indices resampled with replacement${how}); W/T/L and p compare student with teacher per query (tie: within ${r.tieThreshold}); p (perm.) is the paired randomization test, p (t-test) the paired t-test.`;
}

/** Escapes the asterisks of the Recall@k marks, so Markdown shows them rather than a list or emphasis. */
const star = (s: string): string => s.replace(/\*/g, '\\*');

/** Escapes text for a Markdown table cell (pipes, newlines, HTML-significant characters). */
function cell(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function headlineText(h: StudentTeacherComparison): string {
  const pct = h.percent === null ? 'n/a' : `${h.percent.toFixed(1)}%`;
  const gain = h.gainRecoveredPercent === null ? 'n/a' : `${h.gainRecoveredPercent.toFixed(1)}%`;
  return `\`${h.student}\` reaches **${pct}** of \`${h.teacher}\`'s nDCG@10 (${f3(h.studentNdcg10)} vs ${f3(h.teacherNdcg10)}, ${h.queries} queries; original ${f3(h.originalNdcg10)}; share of the teacher's gain recovered: ${gain}). ${headlineStatsText(h)}.`;
}

/** The report as Markdown: headline, method table, student/teacher table, exclusions, rules. */
export function renderReportMarkdown(r: QxReport): string {
  const lines: string[] = [];
  lines.push(`# QX Studio report — ${cell(r.dataset)}`, '');
  lines.push(`Created ${r.createdAt}. ${r.queries.included} of ${r.queries.total} queries included.`, '');
  if (r.headline !== null) lines.push(headlineText(r.headline), '');
  const jf = r.judgeFilled ?? null;
  lines.push(`Original queries: nDCG@10 ${f3(r.original.meanNdcg10)}${jf === null ? '' : ` (judge-filled ${f3(jf.original.filled)})`}, Recall@${r.recallK} ${f3(r.original.meanRecall)}.`, '');
  if (r.pairLengths !== undefined && r.pairLengths.pairs > 0) lines.push(`Pair lengths: ${describeLengthStats(r.pairLengths)}.`, '');
  lines.push(
    `| Role | Method | Model | Queries | nDCG@10 orig | nDCG@10 |${jf === null ? '' : ' nDCG@10 judge-filled |'} Δ | ${star(recallHeader(r))} orig | ${star(recallHeader(r))} | W/T/L | t | p (t-test) | p (perm.) | Δ on unjudged |${jf === null ? '' : ' Flipped pairs |'}`,
    `|---|---|---|---:|---:|---:|${jf === null ? '' : '---:|'}---:|---:|---:|---|---:|---:|---:|---:|${jf === null ? '' : '---:|'}`,
  );
  for (const m of r.methods) {
    lines.push(
      `| ${m.role} | ${cell(m.method)} | ${cell(m.model)} | ${m.queries} | ${f3(m.meanOriginalNdcg10)} | ${f3(m.meanNdcg10)} |${jf === null ? '' : ` ${judgeFilledCells(jf, m.key, 4).filled} |`} ${signed(m.meanDelta)} | ${f3(m.meanOriginalRecall)} | ${star(recallCell(r, m, 4))} | ${m.wins}/${m.ties}/${m.losses} | ${m.tTest === null ? 'n/a' : m.tTest.t.toFixed(3)} | ${formatP(m.tTest?.p)} | ${formatP(m.permutation?.p)} | ${unjudgedText(m)} |${jf === null ? '' : ` ${judgeFilledCells(jf, m.key, 4).flipped} |`}`,
    );
  }
  lines.push('');
  if (jf !== null) lines.push(cell(judgeFilledRuleText(jf)), '');
  const recallNote = recallNoteText(r);
  if (recallNote !== null) lines.push(star(cell(recallNote)), '');
  const cost = r.cost;
  if (r.studentVsTeacher.length > 0) {
    lines.push(
      '## Student vs teacher',
      '',
      `| Student | Teacher | Queries | Student nDCG@10 | Teacher nDCG@10 | Student/Teacher | 95% CI | W/T/L | p (perm.) | p (t-test) | Gain recovered |${cost === null ? '' : ' Cost/expansion student/teacher |'}`,
      `|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|${cost === null ? '' : '---:|'}`,
    );
    for (const c of r.studentVsTeacher) {
      const costCell = cost === null ? '' : ` ${costPercentText(cost.studentVsTeacher.find((x) => x.student === c.student && x.teacher === c.teacher))} |`;
      lines.push(
        `| ${cell(c.student)} | ${cell(c.teacher)} | ${c.queries} | ${f3(c.studentNdcg10)} | ${f3(c.teacherNdcg10)} | ${c.percent === null ? 'n/a' : c.percent.toFixed(1) + '%'} | ${c.percentCI === null ? 'n/a' : `${c.percentCI.low.toFixed(1)}–${c.percentCI.high.toFixed(1)}%`} | ${c.wins}/${c.ties}/${c.losses} | ${formatP(c.permutation?.p)} | ${formatP(c.tTest?.p)} | ${c.gainRecoveredPercent === null ? 'n/a' : c.gainRecoveredPercent.toFixed(1) + '%'} |${costCell}`,
      );
    }
    lines.push('');
  }
  if (cost !== null) {
    lines.push('## Inference cost', '', cell(priceSourceText(cost.prices)), '');
    if (cost.methods.length === 0) lines.push('No generated expansions.', '');
    else {
      lines.push(
        '| Role | Method | Model | Provider | Expansions | Requests | Tokens in | Tokens out | Wall time | Per expansion | Rates in/out per 1M | Price (USD) |',
        '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      );
      for (const m of cost.methods) {
        const t = tokenCells(m);
        lines.push(
          `| ${m.role} | ${cell(m.method)} | ${cell(m.model)} | ${cell(m.providers.join(', '))} | ${m.expansions} | ${m.requests ?? 'n/a'} | ${t.input} | ${t.output} | ${m.wallMs === null ? 'n/a' : formatDuration(m.wallMs)} | ${m.meanLatencyMs === null ? 'n/a' : formatDuration(m.meanLatencyMs)} | ${m.price === null ? 'n/a' : `${m.price.inputPerMTok} / ${m.price.outputPerMTok}`} | ${usdCell(m)} |`,
        );
      }
      lines.push('');
    }
  }
  if (r.queryCost !== undefined && r.queryCost !== null) lines.push(...queryCostMarkdown(r.queryCost));
  if (r.queries.excluded.length > 0) {
    lines.push(`## Excluded queries (${r.queries.excluded.length})`, '');
    for (const q of r.queries.excluded) lines.push(`- ${cell(q.qid)}: ${cell(q.text)} — ${q.reason}`);
    lines.push('');
  }
  lines.push(
    '## How to read this',
    '',
    `- Queries with no positive judgment (no qrels grade > 0) are excluded from every mean; so are queries whose original was not scored. trec_eval ignores the queries with no judgments at all too, but averages in as 0 those judged with no grade > 0.`,
    `- A method's score on a query is the mean over its samples; each method is compared with the original on the queries it covers.`,
    `- W/T/L counts queries where the method's nDCG@10 is above / within ${r.tieThreshold} of / below the original's.`,
    `- p (t-test): paired two-sided Student t-test on per-query nDCG@10; p (perm.): paired randomization (sign-flip) test, exact for ≤ 16 queries, else 10,000 seeded flips.`,
    `- Δ on unjudged: the method's scored expansions where an unjudged document entered the top 10 (a delta that may come from missing judgments), and their share.`,
    ...(r.studentVsTeacher.length === 0 ? [] : [`- ${studentTeacherRule(r)}`]),
    ...(cost === null ? [] : COST_RULES.map((x) => `- ${x}`)),
    '',
  );
  return lines.join('\n');
}
