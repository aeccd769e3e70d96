import { costPercentText, formatDuration, priceSourceText, tokenCells, usdCell } from '../../core/report/cost.js';
import { formatP, headlineStatsText, recallCell, recallHeader, recallNoteText, unjudgedText } from '../../core/report/markdown.js';
import { judgeFilledCells, judgeFilledRuleText } from '../../core/report/judgeFilled.js';
import { formatQueryCostTable } from '../../core/report/queryCostSection.js';
import type { QxReport } from '../../core/report/report.js';
import { parseArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { WORKSPACE_HELP, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx report [--workspace DIR] [--json]

Compares every method (role/method/model) with the original queries over the current scores and
prints the table: mean nDCG@10, Recall@k (R@k* when it cannot tell runs apart: a corpus of at most
k documents, or every run at the ceiling; a value* for a method at the ceiling), wins/ties/losses
against the original, paired t-test p-value, the expansions whose delta rests on unjudged
documents (count and share), and each student's nDCG@10 as a percentage of the teacher's (same
method where there is one). With LLM judgments in the workspace (qx judge), two more columns: the
judge-filled nDCG@10 beside nDCG@10 (the qrels' holes filled by the newest judge's grades: binary
score >= the calibrated threshold, else 0.5, counts as the relevance level; graded: the rounded
expected grade), and the pairs not rejected that have an expansion of the method on either side,
with how many flip order between judged-only and judge-filled; a note names the judge, its
template and threshold. The headline (best student vs best teacher) adds a paired bootstrap
95% interval of that percentage over queries (10,000 resamples, seed 42), W/T/L of student vs
teacher per query and paired randomization and t-test p-values. Then the inference cost per method: expansions, requests, tokens in/out (~ estimated with
the local Qwen3 tokenizer where the server reported none or the file had no usage; the input of
expansions imported without usage is unknown, so their price is a lower bound, ≥), wall time and
the estimated price in USD from .qx/prices.json ({"asOf": "YYYY-MM-DD", "models": {"<model>":
{"inputPerMTok": 2, "outputPerMTok": 8}}}, USD per million tokens), else from a shipped EXAMPLE
table, and each student's cost per expansion as a percentage of the teacher's.
Then the query cost per method (with a BM25 index): mean nDCG@10 gain beside the analyzed terms
and the postings BM25 walks per query (a FLOPS proxy) and the generation tokens, cheapest first.
Writes .qx/reports/report.md and report.html (with a gain-against-postings plot). --json prints the whole report (cost included).

${WORKSPACE_HELP}`;

const f4 = (x: number): string => x.toFixed(4);

/** The per-method table as aligned plain text (one header line, one line per row). */
export function formatMethodTable(r: QxReport): string {
  const jf = r.judgeFilled ?? null;
  // With judgments: judge-filled nDCG@10 beside nDCG@10, and the flipped pairs last.
  const withJudge = (row: string[], cells: { filled: string; flipped: string }): string[] => (jf === null ? row : [...row.slice(0, 5), cells.filled, ...row.slice(5), cells.flipped]);
  const rows: string[][] = [withJudge(['method', 'role', 'model', 'queries', 'nDCG@10', 'delta', recallHeader(r), 'W/T/L', 'p (t)', 'unjudged', '% of teacher'], { filled: 'judge-filled', flipped: 'flipped pairs' })];
  rows.push(withJudge(['original BM25', '-', '-', String(r.queries.included), f4(r.original.meanNdcg10), '', f4(r.original.meanRecall), '', '', '', ''], judgeFilledCells(jf, null, 4)));
  for (const m of r.methods) {
    let pct = '';
    if (m.role === 'student') {
      const same = r.studentVsTeacher.find((c) => c.student === m.key && c.teacher.split('/')[1] === m.method);
      const c = same ?? r.studentVsTeacher.find((x) => x.student === m.key && x.teacher === r.headline?.teacher);
      if (c !== undefined && c.percent !== null) pct = `${c.percent.toFixed(1)}% (${c.teacher.split('/')[1]})`;
    }
    rows.push(withJudge([m.method, m.role, m.model, String(m.queries), f4(m.meanNdcg10), (m.meanDelta >= 0 ? '+' : '') + f4(m.meanDelta), recallCell(r, m, 4), `${m.wins}/${m.ties}/${m.losses}`, formatP(m.tTest?.p), unjudgedText(m), pct], judgeFilledCells(jf, m.key, 4)));
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => (i <= 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const out = [lines.join('\n')];
  const recallNote = recallNoteText(r);
  if (recallNote !== null) out.push(recallNote);
  if (r.methods.length > 0) out.push('unjudged: expansions whose delta rests on unjudged documents (one entered the top 10), and their share of the method\'s scored expansions');
  if (jf !== null) out.push(judgeFilledRuleText(jf));
  if (r.headline !== null && r.headline.percent !== null) {
    out.push(
      `headline: ${r.headline.student} reaches ${r.headline.percent.toFixed(1)}% of ${r.headline.teacher}'s nDCG@10 (${f4(r.headline.studentNdcg10)} vs ${f4(r.headline.teacherNdcg10)}; original ${f4(r.headline.originalNdcg10)})`,
      `          ${headlineStatsText(r.headline)}`,
    );
  }
  if (r.queries.excluded.length > 0) {
    out.push(`excluded from means: ${r.queries.excluded.length} queries (${r.queries.excluded.slice(0, 5).map((q) => `${q.qid}: ${q.reason}`).join('; ')}${r.queries.excluded.length > 5 ? '; …' : ''})`);
  }
  return out.join('\n') + '\n';
}

/** The cost table as aligned plain text: price source, one line per method, the student/teacher cost ratios. */
export function formatCostTable(r: QxReport): string {
  const cost = r.cost;
  if (cost === null) return '';
  const out = [`inference cost — ${priceSourceText(cost.prices)}`];
  if (cost.methods.length === 0) return `${out[0]}\nno generated expansions\n`;
  const rows: string[][] = [['role', 'method', 'model', 'provider', 'expansions', 'requests', 'tokens in', 'tokens out', 'wall time', 'per exp.', 'USD']];
  for (const m of cost.methods) {
    const t = tokenCells(m);
    rows.push([
      m.role,
      m.method,
      m.model,
      m.providers.join(','),
      String(m.expansions),
      m.requests === null ? 'n/a' : String(m.requests),
      t.input,
      t.output,
      m.wallMs === null ? 'n/a' : formatDuration(m.wallMs),
      m.meanLatencyMs === null ? 'n/a' : formatDuration(m.meanLatencyMs),
      usdCell(m),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => (i <= 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  out.push(...lines);
  for (const m of r.methods) {
    if (m.role !== 'student') continue;
    const same = cost.studentVsTeacher.find((c) => c.student === m.key && c.teacher.split('/')[1] === m.method);
    const c = same ?? cost.studentVsTeacher.find((x) => x.student === m.key && x.teacher === r.headline?.teacher);
    if (c === undefined) continue;
    out.push(`cost: ${c.student} costs ${costPercentText(c)} of ${c.teacher} per expansion for ${c.ndcgPercent === null ? 'n/a' : `${c.ndcgPercent.toFixed(1)}%`} of its nDCG@10`);
  }
  out.push('~ estimated with the local Qwen3 tokenizer; +? and ≥: input tokens unknown (imported without usage), so the price is a lower bound');
  return out.join('\n') + '\n';
}

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: workspaceValued, flags: workspaceFlags });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const { report, paths } = await withWorkspace(args, io, async (ws) => {
    const r = ws.report(await ws.costInput({ signal }));
    return { report: r, paths: await ws.writeReport({ signal }, r) };
  });
  if (args.flags.has('json')) printJson(io, { ...report, files: paths });
  else {
    const queryCost = report.queryCost === undefined || report.queryCost === null ? '' : `${formatQueryCostTable(report.queryCost)}\n`;
    io.stdout(`${formatMethodTable(report)}\n${formatCostTable(report)}\n${queryCost}report: ${paths.markdown}\n        ${paths.html}\n`);
  }
  return 0;
}
