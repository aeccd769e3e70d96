import { resolve } from 'node:path';
import { QxError } from '../../core/errors.js';
import { DISTILL_FORMATS, type DistillFormat } from '../../core/export/distill.js';
import { NEGATIVE_STRATEGIES, type NegativeStrategy } from '../../core/sampling/negatives.js';
import { exportWorkspaceDistillation } from '../../core/workspace/distillExport.js';
import { numOpt, opt, parseArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { WORKSPACE_HELP, printJson, withWorkspace, workspaceFlags, workspaceValued } from '../workspaceArgs.js';

const HELP = `usage: qx export-kd --format ${DISTILL_FORMATS.join('|')} --out FILE
                    [--strategy ${NEGATIVE_STRATEGIES.join('|')}] [--negatives 8] [--positives 1]
                    [--seed 13] [--sample-top-k 100] [--bands 4] [--depth 100]
                    [--teacher-method METHOD] [--allow-eval-queries]

Distillation data for a retriever/reranker student. Per query (a conversational turn: with its
history), the teacher ranks the corpus: BM25 top --depth under the query's best-scoring teacher
expansion or rewrite (--teacher-method manual-rewrite: the dataset's human rewrite).
  kd-listwise          {qid, query, history, docs: [{docid, text, teacher_score, label}]}: the
                       positives in the teacher ranking plus the sampled negatives; softmax of
                       teacher_score is the KL target
  contrastive-triples  {qid, query, history, positive, negative}: one line per positive × negative
Negatives never include a judged-relevant document:
  top-k-hard     the best-ranked non-relevant documents
  random-top-k   random among the top --sample-top-k
  score-bands    spread over --bands equal-width score bands of the top --sample-top-k
  random         random over the whole corpus (easy, in-batch-style)
Each query draws with a seed derived from --seed and its qid, so a rerun writes the same file.
Writes FILE, FILE.manifest.json (strategy, counts, seed, teacher per query) and FILE.card.md.

${WORKSPACE_HELP}`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, {
    valued: [...workspaceValued, 'format', 'out', 'strategy', 'negatives', 'positives', 'seed', 'sample-top-k', 'bands', 'depth', 'teacher-method'],
    flags: [...workspaceFlags, 'allow-eval-queries'],
  });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const format = opt(args, 'format') as DistillFormat | undefined;
  const out = opt(args, 'out');
  if (format === undefined || out === undefined) throw new QxError('usage', 'qx export-kd needs --format and --out', { hint: 'See qx export-kd --help.' });
  if (!DISTILL_FORMATS.includes(format)) throw new QxError('usage', `--format must be one of ${DISTILL_FORMATS.join(', ')}, got "${format}"`);
  const strategy = opt(args, 'strategy', 'top-k-hard') as NegativeStrategy;
  if (!NEGATIVE_STRATEGIES.includes(strategy)) throw new QxError('usage', `--strategy must be one of ${NEGATIVE_STRATEGIES.join(', ')}, got "${strategy}"`);
  const int = (name: string, dflt: number, min: number): number => {
    const v = numOpt(args, name, dflt);
    if (!Number.isInteger(v) || v < min) throw new QxError('usage', `--${name} must be an integer >= ${min}, got ${v}`);
    return v;
  };
  const teacherMethod = opt(args, 'teacher-method');
  const r = await withWorkspace(args, io, async (ws) =>
    exportWorkspaceDistillation(
      ws,
      {
        format,
        out: resolve(io.cwd, out),
        strategy,
        negatives: int('negatives', 8, 1),
        positives: int('positives', 1, 1),
        seed: int('seed', 13, 0),
        sampleTopK: int('sample-top-k', 100, 1),
        bands: int('bands', 4, 1),
        depth: int('depth', 100, 1),
        ...(teacherMethod === undefined ? {} : { teacherMethod }),
        ...(args.flags.has('allow-eval-queries') ? { allowEvalQueries: true } : {}),
      },
      { signal },
    ),
  );
  if (args.flags.has('json')) printJson(io, r);
  else io.stdout(`wrote ${r.records} ${format} records over ${r.queries} queries to ${r.out}\nmanifest: ${r.manifest}\n`);
  return 0;
}
