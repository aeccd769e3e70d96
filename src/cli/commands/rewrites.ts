import { QxError } from '../../core/errors.js';
import { importDatasetRewrites, rewriteReport } from '../../core/workspace/conversational.js';
import { parseArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { WORKSPACE_HELP, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx rewrites import
       qx rewrites report

Conversational query rewriting (TREC CAsT, QReCC, TopiOCQA topics).
  import   stores the dataset's rewrites as candidates: manual rewrites (written by people) as
           the human teacher (method manual-rewrite, role teacher: paired and SFT targets),
           automatic rewrites as a baseline (method automatic-rewrite, never paired by default).
           A rerun adds nothing.
  report   per method: turns, nDCG@10, its delta against the raw utterance and against the
           manual rewrite (turns with a positive judgment, scores under the current settings).
Generate rewrites with qx expand --template cqr-llm4cs|cqr-condense (the prompt holds the history).

${WORKSPACE_HELP}`;

export async function run(argv: string[], io: CliIo, _signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: workspaceValued, flags: workspaceFlags });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const sub = args.positionals[0];
  if ((sub !== 'import' && sub !== 'report') || args.positionals.length > 1) throw new QxError('usage', 'qx rewrites needs one of: import, report', { hint: 'See qx rewrites --help.' });
  if (sub === 'import') {
    const r = await withWorkspace(args, io, async (ws) => importDatasetRewrites(ws));
    if (args.flags.has('json')) printJson(io, r);
    else io.stdout(`imported ${r.added} dataset rewrites (${r.manual} manual as teacher, ${r.automatic} automatic as baseline; ${r.present} already present)\n`);
    return 0;
  }
  const rows = await withWorkspace(args, io, async (ws) => rewriteReport(ws));
  if (args.flags.has('json')) {
    printJson(io, rows);
    return 0;
  }
  const f = (x: number | null): string => (x === null ? '-' : (x >= 0 ? '+' : '') + x.toFixed(4));
  const table = [['role', 'method', 'model', 'turns', 'nDCG@10', 'vs raw', 'vs manual'], ...rows.map((r) => [r.role, r.method, r.model, String(r.turns), r.ndcg10.toFixed(4), f(r.deltaRaw), f(r.deltaManual)])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) io.stdout(row.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n');
  return 0;
}
