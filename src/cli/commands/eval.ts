import { resolve } from 'node:path';
import { QxError, throwIfAborted } from '../../core/errors.js';
import { QRELS_FORMATS, readQrels, type QrelsFormat } from '../../core/dataset/qrels.js';
import { readRun } from '../../core/dataset/runs.js';
import { SUPPORTED_MEASURES, evaluate } from '../../core/eval/evaluate.js';
import { formatTrecEval } from '../../core/eval/trecEvalFormat.js';
import { opt, parseArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { stderrLogger } from '../io.js';
import type { CommandRun } from '../main.js';

const HELP = `usage: qx eval QRELS RUN [-m MEASURE]... [-q] [-c] [-l N] [--qrels-format F] [--json]

Evaluates a TREC run against qrels and prints trec_eval's output format
(measure, qid or "all", value), with the same numbers as trec_eval.

  -m MEASURE   trec_eval measure, repeatable: ndcg_cut.10  recall.1000  map
               recip_rank  P.10  ndcg  map_cut.k  success.k  Rprec  num_ret
               num_rel  num_rel_ret  num_q  unj.k, nicknames official, all_trec;
               plus judged.k (fraction of the top k judged) and
               recip_rank_cut.k (MRR@k). Default: official.
  -q           also print every query's values
  -c           evaluate every qrels query: one missing from the run counts 0
               (its rows are printed with -q, it is in num_q and num_rel);
               queries absent from the qrels are ignored, with or without -c
  -l N         minimum grade counted relevant (default 1; TREC DL uses 2)
  --qrels-format F   ${QRELS_FORMATS.join(' | ')} (default: detected)
  --json       print the result as JSON instead

Supported measures: ${SUPPORTED_MEASURES.join(', ')}.
`;

/** `qx eval QRELS RUN [-m ...] [-q] [-c] [-l N]`: trec_eval-compatible evaluation. */
export const run: CommandRun = async (argv: string[], io: CliIo, signal: AbortSignal): Promise<number> => {
  const args = parseArgs(argv, { valued: ['m', 'l', 'qrels-format'], flags: ['q', 'c', 'h', 'help', 'json'] });
  if (args.flags.has('h') || args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  if (args.positionals.length !== 2) {
    throw new QxError('usage', `expected QRELS and RUN, got ${args.positionals.length} file argument(s).`, { hint: 'Run "qx eval --help".' });
  }
  const [qrelsPath, runPath] = args.positionals.map((p) => resolve(io.cwd, p)) as [string, string];
  const levelText = opt(args, 'l');
  let relevanceLevel = 1;
  if (levelText !== undefined) {
    relevanceLevel = Number(levelText);
    if (!Number.isInteger(relevanceLevel) || relevanceLevel < 0) {
      throw new QxError('usage', `-l needs a non-negative integer, got "${levelText}".`, { hint: 'e.g. -l 2 for TREC DL recall.' });
    }
  }
  const qrelsFormat = opt(args, 'qrels-format');
  if (qrelsFormat !== undefined && !QRELS_FORMATS.includes(qrelsFormat as QrelsFormat)) {
    throw new QxError('usage', `unknown qrels format "${qrelsFormat}".`, { hint: `Use one of: ${QRELS_FORMATS.join(', ')}.` });
  }
  const log = stderrLogger(io);
  const [qrels, runData] = await Promise.all([readQrels(qrelsPath, qrelsFormat as QrelsFormat | undefined), readRun(runPath)]);
  throwIfAborted(signal);
  const result = evaluate(qrels, runData, args.options.get('m') ?? [], { complete: args.flags.has('c'), relevanceLevel });
  if (result.notInQrels.length > 0) log.debug(`${result.notInQrels.length} run queries have no qrels and were ignored`);
  if (result.missingFromRun.length > 0 && !args.flags.has('c')) {
    log.debug(`${result.missingFromRun.length} qrels queries are not in the run (use -c to count them as 0)`);
  } else if (result.missingFromRun.length > 0) {
    log.debug(`${result.missingFromRun.length} qrels queries are not in the run and count 0 (-c)`);
  }
  if (args.flags.has('json')) {
    io.stdout(JSON.stringify({ qrels: qrelsPath, run: runPath, complete: args.flags.has('c'), relevanceLevel, ...result }, null, 2) + '\n');
  } else {
    io.stdout(formatTrecEval(result, { perQuery: args.flags.has('q') }));
  }
  return 0;
};

