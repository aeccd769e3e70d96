import { QxError } from '../../core/errors.js';
import type { PairRules } from '../../core/curation/types.js';
import { numOpt, opt, parseArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { WORKSPACE_HELP, listOpt, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx pairs [--min-margin 0.05] [--strategy best-worst|all] [--max-per-query 5]
                [--tie-policy skip|prefer-shorter|prefer-cheaper] [--pools teacher,student] [--allow-below-original]
                [--chosen-from teacher] [--rejected-from round:1]

Rebuilds the chosen/rejected pairs from the current scores. Pairs need an nDCG@10 difference of
at least --min-margin; by default the chosen expansion must also beat the original query
(--allow-below-original lifts that). Pairs a human accepted, rejected, edited or annotated are
kept as they are. The same scores and rules always give the same pairs.
--tie-policy prefer-cheaper: among candidates tied on nDCG@10, the one whose BM25 retrieval
touches fewer postings (then fewer analyzed terms) is chosen.
--pools takes roles or methods (teacher, student, imported, query2doc-fs, teacher:query2doc-zs);
by default every teacher, student and imported expansion is a candidate, and the model-free
baselines (qx expand --role baseline --method rm3) are not: they are not text a student can learn
to write. Name "baseline" to pair them anyway; exports leave such pairs out.
--chosen-from / --rejected-from say where each side may come from (the same syntax, plus round:N
for student round N and round for any round; see qx round sample): e.g. --chosen-from teacher
--rejected-from round:1 pairs the teacher's best against round 1's worst on-policy sample.

${WORKSPACE_HELP}`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: [...workspaceValued, 'min-margin', 'strategy', 'max-per-query', 'tie-policy', 'pools', 'chosen-from', 'rejected-from'], flags: [...workspaceFlags, 'allow-below-original'] });
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
  const strategy = opt(args, 'strategy');
  if (strategy !== undefined) {
    if (strategy !== 'best-worst' && strategy !== 'all') throw new QxError('usage', `--strategy must be best-worst or all, got "${strategy}"`);
    rules.strategy = strategy;
  }
  if (args.options.has('max-per-query')) {
    const n = numOpt(args, 'max-per-query', 5);
    if (!Number.isInteger(n) || n < 1) throw new QxError('usage', `--max-per-query must be an integer >= 1, got ${n}`);
    rules.maxPairsPerQuery = n;
  }
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
    io.stdout(
      `${r.pairs} pairs (${r.created} new, ${r.updated} updated, ${r.deleted} removed); by state: ${Object.entries(r.byState).map(([k, v]) => `${k} ${v}`).join(', ')}\n` +
        `rules: min margin ${r.rules.minMargin}, strategy ${r.rules.strategy}, ties ${r.rules.tiePolicy}, chosen must beat original: ${r.rules.requireChosenBeatsOriginal}, pools: ${r.rules.pools.length === 0 ? 'all model-written' : r.rules.pools.join(', ')}\n`,
    );
  }
  return 0;
}
