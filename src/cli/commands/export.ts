import { resolve } from 'node:path';
import { QxError } from '../../core/errors.js';
import type { PairState } from '../../core/curation/types.js';
import type { ExportFormat } from '../../core/workspace/api.js';
import { opt, parseArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { WORKSPACE_HELP, listOpt, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['trl-standard', 'trl-conversational', 'openai-preference', 'llama-factory', 'sft-messages'];
const STATES: readonly PairState[] = ['auto', 'accepted', 'rejected', 'edited'];

const HELP = `usage: qx export --format ${EXPORT_FORMATS.join('|')} --out FILE
                 [--states auto,accepted,edited] [--allow-eval-queries]

Writes curated training data as JSONL plus FILE.manifest.json (provenance, rules, counts):
DPO pairs (TRL standard/conversational, OpenAI preference fine-tuning, LLaMA-Factory), or SFT
messages from the best teacher expansion per query. Evaluation queries (manifest split test/eval,
or no split) are refused unless --allow-eval-queries, which the manifest then records. Nothing is
written when there would be zero records.

${WORKSPACE_HELP}`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: [...workspaceValued, 'format', 'out', 'states'], flags: [...workspaceFlags, 'allow-eval-queries'] });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const format = opt(args, 'format') as ExportFormat | undefined;
  const out = opt(args, 'out');
  if (format === undefined || out === undefined) throw new QxError('usage', 'qx export needs --format and --out', { hint: 'See qx export --help.' });
  if (!EXPORT_FORMATS.includes(format)) throw new QxError('usage', `--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${format}"`);
  const states = listOpt(args, 'states') as PairState[] | undefined;
  if (states !== undefined && states.some((s) => !STATES.includes(s))) throw new QxError('usage', `--states takes ${STATES.join(', ')}`);
  const allowEvalQueries = args.flags.has('allow-eval-queries');
  const r = await withWorkspace(args, io, (ws) =>
    ws.exportData({ format, out: resolve(io.cwd, out), ...(states === undefined ? {} : { states }), ...(allowEvalQueries ? { allowEvalQueries } : {}) }, { signal }),
  );
  if (args.flags.has('json')) printJson(io, r);
  else io.stdout(`wrote ${r.records} ${format} records to ${r.out}\nmanifest: ${r.manifest}\n`);
  return 0;
}
