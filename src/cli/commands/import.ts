import { QxError } from '../../core/errors.js';
import { isOutputKind, outputKinds } from '../../core/curation/kinds.js';
import type { ExpansionRole } from '../../core/expansion/types.js';
import type { ImportRequest } from '../../core/workspace/api.js';
import { opt, parseArgs } from '../args.js';
import { type CliIo, progressBar } from '../io.js';
import { WORKSPACE_HELP, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx import FILE --model M --method METHOD --role teacher|student|imported
                 [--format querygym-tsv|jsonl|openai-batch-output] [--formulation query2doc|mugi|csqe|qa-expand|lamer|concat|keywords|rewrite]
                 [--kind ${outputKinds.join('|')}] [--conditioning query|retrieval]

Imports expansions made elsewhere into the workspace: a QueryGym *.queries.tsv (qid<TAB>final
string, RFC-4180 quoting), JSONL rows {qid, text|generated}, or an OpenAI Batch API / vllm
run-batch output file of an input written by \`qx expand --batch-input\` (its custom ids give
query, template and sample; its usage feeds the cost section of \`qx report\`).
The format comes from the extension when not given; --formulation (default query2doc) says how
the final strings were built, so the generated text can be separated. QueryGym's methods:
query2doc, query2e, genqr_ensemble: query2doc; qa_expand: qa-expand; csqe: csqe; mugi: mugi;
lamer: lamer; genqr: concat. A file whose strings do not look like the formulation named is
imported as asked, with a warning naming the formulation they look like. Importing the same file
again imports nothing new. Rows for query ids not in the dataset are skipped and listed.
--kind says what the text is (default from the method: query2doc*, hyde, mugi, lamer → passage;
query2e, q2e, genqr → keywords; qa_expand → answer-list; csqe → extract; else from the
formulation); --conditioning says whether its prompt held retrieved passages (default: retrieval
for lamer and csqe, else query). Pairs and exports keep only the student task's kind. A QueryGym
run's sampling (llm_config of the .json beside the .queries.tsv) is recorded with the records.

${WORKSPACE_HELP}`;

const ROLES: readonly ExpansionRole[] = ['teacher', 'student', 'imported', 'baseline'];
const FORMATS = ['querygym-tsv', 'jsonl', 'openai-batch-output'] as const;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: [...workspaceValued, 'model', 'method', 'role', 'format', 'formulation', 'kind', 'conditioning'], flags: workspaceFlags });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const file = args.positionals[0];
  const model = opt(args, 'model');
  const method = opt(args, 'method');
  const role = opt(args, 'role', 'imported') as ExpansionRole;
  if (file === undefined || args.positionals.length > 1 || model === undefined || method === undefined) {
    throw new QxError('usage', 'qx import needs one FILE, --model and --method', { hint: 'See qx import --help.' });
  }
  if (!ROLES.includes(role)) throw new QxError('usage', `--role must be one of ${ROLES.join(', ')}, got "${role}"`);
  const format = opt(args, 'format') as ImportRequest['format'];
  if (format !== undefined && !FORMATS.includes(format)) throw new QxError('usage', `--format must be one of ${FORMATS.join(', ')}, got "${format}"`);
  const formulation = opt(args, 'formulation');
  const kind = opt(args, 'kind');
  if (kind !== undefined && !isOutputKind(kind)) throw new QxError('usage', `--kind must be one of ${outputKinds.join(', ')}, got "${kind}"`);
  const conditioning = opt(args, 'conditioning');
  if (conditioning !== undefined && conditioning !== 'query' && conditioning !== 'retrieval') throw new QxError('usage', `--conditioning must be query or retrieval, got "${conditioning}"`);
  const path = (await import('node:path')).resolve(io.cwd, file);
  const r = await withWorkspace(args, io, async (ws) => {
    const bar = progressBar(io, 'importing');
    const out = await ws.importExpansions(
      {
        file: path,
        model,
        method,
        role,
        ...(format === undefined ? {} : { format }),
        ...(formulation === undefined ? {} : { formulation }),
        ...(kind === undefined ? {} : { kind }),
        ...(conditioning === undefined ? {} : { conditioning }),
      },
      { signal, onProgress: bar.update },
    );
    bar.done();
    return out;
  });
  if (args.flags.has('json')) {
    printJson(io, r);
  } else {
    io.stdout(`imported ${r.imported} new expansions (${r.duplicates} already in the workspace, ${r.skipped - r.duplicates} rows skipped)\n`);
    if (r.unknownQids.length > 0) io.stdout(`skipped rows of ${r.unknownQids.length} query ids not in the dataset: ${r.unknownQids.slice(0, 5).join(', ')}${r.unknownQids.length > 5 ? ', …' : ''}\n`);
    for (const p of r.problems) io.stdout(`skipped: ${p}\n`);
    for (const w of r.warnings) io.stdout(`warning: ${w}\n`);
  }
  return 0;
}
