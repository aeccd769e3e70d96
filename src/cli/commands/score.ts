import { QxError } from '../../core/errors.js';
import { numOpt, parseArgs } from '../args.js';
import { type CliIo, progressBar } from '../io.js';
import { WORKSPACE_HELP, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx score [--workspace DIR] [--k1 .. --b .. --top-k ..] [--threads N] [--concurrency N]

Scores every expansion not yet scored with the current retrieval settings (BM25 retrieval
feedback): retrieves the top k with the expansion's final string and records nDCG@10, its delta
against the original query, Recall@k (relevance level from the manifest, default 2), Judged@10
and the documents that entered/left the top 10. Builds the index first if there is none.
Ctrl-C stops after the current query; everything scored so far is kept and a rerun does the rest.
Queries with no positive judgment are scored, reported, and left out of every mean; the report
says which have no judgments at all (trec_eval ignores those too) and which are judged with no
grade > 0 (trec_eval averages those in as 0).
--top-k 10 retrieves only the top 10 (all the feedback needs; Recall@10): the fastest scoring.
--threads N: worker threads scoring over the on-disk index (default: the available cores, at
most 8; 1 = no workers); the scores are the same whatever N.
With a manifest "retriever" (an OpenSearch index), scoring searches that index instead: its BM25
k1/b and analyzer must be the workspace's (checked first; a mismatch is refused, naming both),
--concurrency N queries at once (one _msearch each; default the manifest's retriever.concurrency,
else 4), retried with backoff on 429/5xx/connection errors; scores are kept apart from local ones.

${WORKSPACE_HELP}`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: [...workspaceValued, 'threads', 'concurrency'], flags: workspaceFlags });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const threads = args.options.has('threads') ? numOpt(args, 'threads', 1) : undefined;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new QxError('usage', `--threads must be an integer >= 1, got ${String(args.options.get('threads'))}`, { hint: 'e.g. --threads 2; the default is the number of cores (at most 8).' });
  const concurrency = args.options.has('concurrency') ? numOpt(args, 'concurrency', 1) : undefined;
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)) throw new QxError('usage', `--concurrency must be an integer from 1 to 64, got ${String(args.options.get('concurrency'))}`, { hint: 'e.g. --concurrency 8: queries searched at once on the OpenSearch index.' });
  const r = await withWorkspace(args, io, async (ws) => {
    const bar = progressBar(io, 'scoring');
    const out = await ws.score({ signal, onProgress: bar.update, ...(threads === undefined ? {} : { threads }), ...(concurrency === undefined ? {} : { concurrency }) });
    bar.done();
    return { ...out, settingsKey: ws.settingsKey, retrieval: ws.retrievalSettings };
  });
  if (args.flags.has('json')) {
    printJson(io, r);
  } else {
    io.stdout(`scored ${r.scored} new expansions (${r.originals} original queries) with ${JSON.stringify(r.retrieval)}\n`);
    const list = (ids: string[]): string => `${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`;
    const unjudged = new Set(r.unjudged);
    const judged = r.noRelevant.filter((q) => !unjudged.has(q));
    if (judged.length > 0) {
      io.stdout(`${judged.length} queries have no positive judgment and are left out of every mean: ${list(judged)} (judged, no grade > 0: trec_eval averages them in as 0)\n`);
    }
    if (r.unjudged.length > 0) {
      io.stdout(`${r.unjudged.length} queries have no judgments at all and are left out of every mean: ${list(r.unjudged)} (not in the qrels: trec_eval ignores them too, even with -c)\n`);
    }
  }
  return 0;
}
