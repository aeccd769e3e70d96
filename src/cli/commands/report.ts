import { formatP } from '../../core/report/markdown.js';
import type { QxReport } from '../../core/report/report.js';
import { parseArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { WORKSPACE_HELP, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx report [--workspace DIR] [--json]

Compares every method (role/method/model) with the original queries over the current scores and
prints the table: mean nDCG@10, Recall@k, wins/ties/losses against the original, paired t-test
p-value, and each student's nDCG@10 as a percentage of the teacher's (same method where there is
one). Writes .qx/reports/report.md and report.html. --json prints the whole report.

${WORKSPACE_HELP}`;

const f4 = (x: number): string => x.toFixed(4);

/** The per-method table as aligned plain text (one header line, one line per row). */
export function formatMethodTable(r: QxReport): string {
  const rows: string[][] = [['method', 'role', 'model', 'queries', 'nDCG@10', 'delta', `R@${r.recallK}`, 'W/T/L', 'p (t)', '% of teacher']];
  rows.push(['original BM25', '-', '-', String(r.queries.included), f4(r.original.meanNdcg10), '', f4(r.original.meanRecall), '', '', '']);
  for (const m of r.methods) {
    let pct = '';
    if (m.role === 'student') {
      const same = r.studentVsTeacher.find((c) => c.student === m.key && c.teacher.split('/')[1] === m.method);
      const c = same ?? r.studentVsTeacher.find((x) => x.student === m.key && x.teacher === r.headline?.teacher);
      if (c !== undefined && c.percent !== null) pct = `${c.percent.toFixed(1)}% (${c.teacher.split('/')[1]})`;
    }
    rows.push([m.method, m.role, m.model, String(m.queries), f4(m.meanNdcg10), (m.meanDelta >= 0 ? '+' : '') + f4(m.meanDelta), f4(m.meanRecall), `${m.wins}/${m.ties}/${m.losses}`, formatP(m.tTest?.p), pct]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => (i <= 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const out = [lines.join('\n')];
  if (r.headline !== null && r.headline.percent !== null) {
    out.push(
      `headline: student ${r.headline.student} reaches ${r.headline.percent.toFixed(1)}% of teacher ${r.headline.teacher}'s nDCG@10 (${f4(r.headline.studentNdcg10)} vs ${f4(r.headline.teacherNdcg10)}; original ${f4(r.headline.originalNdcg10)})`,
    );
  }
  if (r.queries.excluded.length > 0) {
    out.push(`excluded from means: ${r.queries.excluded.length} queries (${r.queries.excluded.slice(0, 5).map((q) => `${q.qid}: ${q.reason}`).join('; ')}${r.queries.excluded.length > 5 ? '; …' : ''})`);
  }
  return out.join('\n') + '\n';
}

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: workspaceValued, flags: workspaceFlags });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const { report, paths } = await withWorkspace(args, io, async (ws) => ({ report: ws.report(), paths: await ws.writeReport({ signal }) }));
  if (args.flags.has('json')) printJson(io, { ...report, files: paths });
  else io.stdout(`${formatMethodTable(report)}report: ${paths.markdown}\n        ${paths.html}\n`);
  return 0;
}
