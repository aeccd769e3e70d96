import { QxError } from '../../core/errors.js';
import { pairStrategies, type PairRules, type PairStrategy } from '../../core/curation/types.js';
import { numOpt, opt, parseArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { WORKSPACE_HELP, listOpt, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx pairs [--min-margin 0.05] [--strategy ${pairStrategies.join('|')}] [--max-per-query 5]
                [--sigma-k 2] [--max-margin 1] [--max-length-ratio R] [--length-match]
                [--task TEMPLATE] [--include-retrieval-conditioned]
                [--tie-policy skip|prefer-shorter|prefer-cheaper] [--pools teacher,student] [--allow-below-original]
                [--chosen-from teacher] [--rejected-from round:1]

Rebuilds the chosen/rejected pairs from the current scores. Pairs need an nDCG@10 difference of
at least --min-margin; by default the chosen expansion must also beat the original query
(--allow-below-original lifts that). Pairs a human accepted, rejected, edited or annotated are
kept as they are. The same scores and rules always give the same pairs.
--tie-policy prefer-cheaper: among candidates tied on nDCG@10, the one whose BM25 retrieval
touches fewer postings (then fewer analyzed terms) is chosen.
The student task (--task, default the dataset language's zero-shot query2doc) is the prompt the
student will see: only expansions of its output kind are candidates (query2doc, MuGI, HyDE →
passage; Q2E, GenQR → keywords; QA-Expand → answer-list; see qx import --kind), and expansions
written with retrieved passages in their prompt (LameR, CSQE) only with
--include-retrieval-conditioned. What was left out, and why, is printed.
Strategies: best-worst (one pair per query); all (every pair above the margin, at most
--max-per-query); best-sigma (best vs the candidate nearest mean - k*sigma of the query's
nDCG@10, k = --sigma-k: "Finding the Sweet Spot", arXiv 2502.16825); margin-band (every pair with
a margin in [--min-margin, --max-margin]: arXiv 2502.14560, 2508.04149).
Length bias: --max-length-ratio R keeps only pairs whose longer text is at most R times the
shorter (characters); --length-match takes the rejected side nearest the chosen one's length.
--pools takes roles or methods (teacher, student, imported, query2doc-fs, teacher:query2doc-zs);
by default every teacher, student and imported expansion is a candidate, and the model-free
baselines (qx expand --role baseline --method rm3) are not: they are not text a student can learn
to write. Name "baseline" to pair them anyway; exports leave such pairs out.
--chosen-from / --rejected-from say where each side may come from (the same syntax, plus round:N
for student round N and round for any round; see qx round sample): e.g. --chosen-from teacher
--rejected-from round:1 pairs the teacher's best against round 1's worst on-policy sample.

${WORKSPACE_HELP}`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, {
    valued: [...workspaceValued, 'min-margin', 'strategy', 'max-per-query', 'tie-policy', 'pools', 'sigma-k', 'max-margin', 'max-length-ratio', 'task', 'chosen-from', 'rejected-from'],
    flags: [...workspaceFlags, 'allow-below-original', 'length-match', 'include-retrieval-conditioned'],
  });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const rules: Partial<PairRules> = {};
  if (args.options.has('min-margin')) {
    const m = numOpt(args, 'min-margin', 0.05);
    if (m < 0 || m > 1) throw new QxError('usage', `--min-margin must be in [0, 1], got ${m}`);
    rules.minMargin = m;
  }
  if (args.options.has('max-margin')) {
    const m = numOpt(args, 'max-margin', 1);
    if (m < 0 || m > 1) throw new QxError('usage', `--max-margin must be in [0, 1], got ${m}`);
    rules.maxMargin = m;
  }
  const strategy = opt(args, 'strategy');
  if (strategy !== undefined) {
    if (!(pairStrategies as readonly string[]).includes(strategy)) throw new QxError('usage', `--strategy must be one of ${pairStrategies.join(', ')}, got "${strategy}"`);
    rules.strategy = strategy as PairStrategy;
  }
  if (args.options.has('max-per-query')) {
    const n = numOpt(args, 'max-per-query', 5);
    if (!Number.isInteger(n) || n < 1) throw new QxError('usage', `--max-per-query must be an integer >= 1, got ${n}`);
    rules.maxPairsPerQuery = n;
  }
  if (args.options.has('sigma-k')) {
    const k = numOpt(args, 'sigma-k', 2);
    if (!(k >= 0)) throw new QxError('usage', `--sigma-k must be >= 0, got ${k}`);
    rules.sigmaK = k;
  }
  if (args.options.has('max-length-ratio')) {
    const r = numOpt(args, 'max-length-ratio', 0);
    if (!(r === 0 || r >= 1)) throw new QxError('usage', `--max-length-ratio must be 0 (no cap) or at least 1, got ${r}`);
    rules.maxLengthRatio = r;
  }
  if (args.flags.has('length-match')) rules.lengthMatch = true;
  const task = opt(args, 'task');
  if (task !== undefined) rules.task = task;
  if (args.flags.has('include-retrieval-conditioned')) rules.includeRetrievalConditioned = true;
  const tie = opt(args, 'tie-policy');
  if (tie !== undefined) {
    if (tie !== 'skip' && tie !== 'prefer-shorter' && tie !== 'prefer-cheaper') throw new QxError('usage', `--tie-policy must be skip, prefer-shorter or prefer-cheaper, got "${tie}"`);
    rules.tiePolicy = tie;
  }
  const pools = listOpt(args, 'pools');
  if (pools !== undefined) rules.pools = pools;
  const chosenFrom = listOpt(args, 'chosen-from');
  if (chosenFrom !== undefined) rules.chosenFrom = chosenFrom;
  const rejectedFrom = listOpt(args, 'rejected-from');
  if (rejectedFrom !== undefined) rules.rejectedFrom = rejectedFrom;
  if (args.flags.has('allow-below-original')) rules.requireChosenBeatsOriginal = false;
  const r = await withWorkspace(args, io, async (ws) => {
    const out = await ws.buildPairs(rules, { signal });
    const byState = { auto: 0, accepted: 0, rejected: 0, edited: 0 };
    for (const q of ws.listQueries()) for (const k of Object.keys(byState) as (keyof typeof byState)[]) byState[k] += q.pairs[k];
    return { ...out, byState };
  });
  if (args.flags.has('json')) printJson(io, r);
  else {
    const rr = r.rules;
    const rep = r.report;
    const lines = [
      `${r.pairs} pairs (${r.created} new, ${r.updated} updated, ${r.deleted} removed); by state: ${Object.entries(r.byState).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      `rules: task ${rr.task}${rr.includeRetrievalConditioned ? ' (retrieval-conditioned included)' : ''}, strategy ${rr.strategy}${rr.strategy === 'best-sigma' ? ` (k ${rr.sigmaK})` : ''}, min margin ${rr.minMargin}` +
        `${rr.strategy === 'margin-band' ? `, max margin ${rr.maxMargin}` : ''}, ties ${rr.tiePolicy}, chosen must beat original: ${rr.requireChosenBeatsOriginal}` +
        `, length cap ${rr.maxLengthRatio > 0 ? rr.maxLengthRatio : 'none'}${rr.lengthMatch ? ', length-matched' : ''}, pools: ${rr.pools.length === 0 ? 'all model-written' : rr.pools.join(', ')}`,
      ...rep.leftOut.map((l) => `left out ${l.expansions} ${l.role} ${l.method} expansions: ${l.reason}`),
      `queries: ${rep.queries} scored, ${rep.fewCandidates} with fewer than 2 candidates, ${rep.noPair} with no pair meeting the rules` +
        (rr.maxLengthRatio > 0 ? `, ${rep.lengthCapped} whose pairs the length cap changed or removed` : ''),
    ];
    io.stdout(lines.join('\n') + '\n');
  }
  return 0;
}
