import { describeLengthStats } from '../curation/lengths.js';
import { COST_RULES, costPercentText, formatDuration, priceSourceText, tokenCells, usdCell } from './cost.js';
import type { QxReport, StudentTeacherComparison } from './report.js';

const f3 = (x: number): string => x.toFixed(4);
const signed = (x: number): string => (x >= 0 ? '+' : '') + x.toFixed(4);

/** p-value for a table: 4 significant digits, "<0.0001" below that. */
export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined) return 'n/a';
  if (p < 1e-4) return '<0.0001';
  return p.toFixed(4);
}

/** Escapes text for a Markdown table cell (pipes, newlines, HTML-significant characters). */
function cell(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function headlineText(h: StudentTeacherComparison): string {
  const pct = h.percent === null ? 'n/a' : `${h.percent.toFixed(1)}%`;
  const gain = h.gainRecoveredPercent === null ? 'n/a' : `${h.gainRecoveredPercent.toFixed(1)}%`;
  return `\`${h.student}\` reaches **${pct}** of \`${h.teacher}\`'s nDCG@10 (${f3(h.studentNdcg10)} vs ${f3(h.teacherNdcg10)}, ${h.queries} queries; original ${f3(h.originalNdcg10)}; share of the teacher's gain recovered: ${gain}).`;
}

/** The report as Markdown: headline, method table, student/teacher table, exclusions, rules. */
export function renderReportMarkdown(r: QxReport): string {
  const lines: string[] = [];
  lines.push(`# QX Studio report — ${cell(r.dataset)}`, '');
  lines.push(`Created ${r.createdAt}. ${r.queries.included} of ${r.queries.total} queries included.`, '');
  if (r.headline !== null) lines.push(headlineText(r.headline), '');
  lines.push(`Original queries: nDCG@10 ${f3(r.original.meanNdcg10)}, Recall@${r.recallK} ${f3(r.original.meanRecall)}.`, '');
  if (r.pairLengths !== undefined && r.pairLengths.pairs > 0) lines.push(`Pair lengths: ${describeLengthStats(r.pairLengths)}.`, '');
  lines.push(
    `| Role | Method | Model | Queries | nDCG@10 orig | nDCG@10 | Δ | R@${r.recallK} orig | R@${r.recallK} | W/T/L | t | p (t-test) | p (perm.) |`,
    '|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|',
  );
  for (const m of r.methods) {
    lines.push(
      `| ${m.role} | ${cell(m.method)} | ${cell(m.model)} | ${m.queries} | ${f3(m.meanOriginalNdcg10)} | ${f3(m.meanNdcg10)} | ${signed(m.meanDelta)} | ${f3(m.meanOriginalRecall)} | ${f3(m.meanRecall)} | ${m.wins}/${m.ties}/${m.losses} | ${m.tTest === null ? 'n/a' : m.tTest.t.toFixed(3)} | ${formatP(m.tTest?.p)} | ${formatP(m.permutation?.p)} |`,
    );
  }
  lines.push('');
  const cost = r.cost;
  if (r.studentVsTeacher.length > 0) {
    lines.push(
      '## Student vs teacher',
      '',
      `| Student | Teacher | Queries | Student nDCG@10 | Teacher nDCG@10 | Student/Teacher | Gain recovered |${cost === null ? '' : ' Cost/expansion student/teacher |'}`,
      `|---|---|---:|---:|---:|---:|---:|${cost === null ? '' : '---:|'}`,
    );
    for (const c of r.studentVsTeacher) {
      const costCell = cost === null ? '' : ` ${costPercentText(cost.studentVsTeacher.find((x) => x.student === c.student && x.teacher === c.teacher))} |`;
      lines.push(
        `| ${cell(c.student)} | ${cell(c.teacher)} | ${c.queries} | ${f3(c.studentNdcg10)} | ${f3(c.teacherNdcg10)} | ${c.percent === null ? 'n/a' : c.percent.toFixed(1) + '%'} | ${c.gainRecoveredPercent === null ? 'n/a' : c.gainRecoveredPercent.toFixed(1) + '%'} |${costCell}`,
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
  if (r.queries.excluded.length > 0) {
    lines.push(`## Excluded queries (${r.queries.excluded.length})`, '');
    for (const q of r.queries.excluded) lines.push(`- ${cell(q.qid)}: ${cell(q.text)} — ${q.reason}`);
    lines.push('');
  }
  lines.push(
    '## How to read this',
    '',
    `- Queries with no positive judgment (no qrels grade > 0) are excluded from every mean; so are queries whose original was not scored.`,
    `- A method's score on a query is the mean over its samples; each method is compared with the original on the queries it covers.`,
    `- W/T/L counts queries where the method's nDCG@10 is above / within ${r.tieThreshold} of / below the original's.`,
    `- p (t-test): paired two-sided Student t-test on per-query nDCG@10; p (perm.): paired randomization (sign-flip) test, exact for ≤ 16 queries, else 10,000 seeded flips.`,
    ...(cost === null ? [] : COST_RULES.map((x) => `- ${x}`)),
    '',
  );
  return lines.join('\n');
}
