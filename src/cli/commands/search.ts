import { availableParallelism } from 'node:os';
import path from 'node:path';
import { QxError, throwIfAborted } from '../../core/errors.js';
import { Bm25Index, type Bm25Params, type LengthMode } from '../../core/bm25/bm25Index.js';
import { rm3Search } from '../../core/bm25/rm3.js';
import { TOPICS_FORMATS, type TopicsFormat, readTopics } from '../../core/dataset/topics.js';
import { formatRun, writeFileAtomic } from '../../core/dataset/runs.js';
import { readExpansionFile } from '../../core/dataset/expansionFile.js';
import type { Run } from '../../core/dataset/types.js';
import { numOpt, positiveIntOpt, opt, parseArgs } from '../args.js';
import { type CliIo, progressBar } from '../io.js';

const HELP = `usage: qx search --index DIR (--topics FILE [--topics-format F] | --queries FILE) [--k 1000] [--out RUN]
                 [--rm3 [--fb-docs 10] [--fb-terms 10] [--orig-weight 0.5]]
                 [--k1 K1] [--b B] [--lengths lucene|exact] [--tag TAG] [--threads N]

--queries reads expanded queries (QueryGym TSV with RFC-4180 quoting, or JSONL {qid, text});
the first row of each qid is searched.
Searches every topic and writes a TREC run (stdout without --out). --threads: threads per
search (default: the cores, at most 4); a long query (an expansion with 1M+ postings) is
scanned by all of them at once, each over its own range of documents, with the same hits
(each thread costs about 280 MB of memory on an 8.8M-passage index). With --out, the engine,
analyzer and BM25 parameters are written beside the run as RUN.meta.json.
`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, {
    valued: ['index', 'topics', 'queries', 'topics-format', 'k', 'out', 'fb-docs', 'fb-terms', 'orig-weight', 'k1', 'b', 'lengths', 'tag', 'threads'],
    flags: ['rm3', 'help'],
  });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const dir = opt(args, 'index');
  const queriesFile = opt(args, 'queries');
  const topicsFile = opt(args, 'topics') ?? queriesFile;
  if (dir === undefined || topicsFile === undefined) throw new QxError('usage', 'qx search needs --index DIR and --topics FILE (or --queries FILE)', { hint: 'See qx search --help.' });
  const topicsFormat = opt(args, 'topics-format') as TopicsFormat | undefined;
  if (topicsFormat !== undefined && !TOPICS_FORMATS.includes(topicsFormat)) {
    throw new QxError('usage', `--topics-format must be one of ${TOPICS_FORMATS.join(', ')}`);
  }
  const k = positiveIntOpt(args, 'k', 1000);
  const params: Partial<Bm25Params> = {};
  if (opt(args, 'k1') !== undefined) params.k1 = numOpt(args, 'k1', 0.9);
  if (opt(args, 'b') !== undefined) params.b = numOpt(args, 'b', 0.4);
  if (opt(args, 'lengths') !== undefined) params.lengths = opt(args, 'lengths') as LengthMode;
  const threads = positiveIntOpt(args, 'threads', Math.min(4, availableParallelism()));
  const index = await Bm25Index.open(path.resolve(io.cwd, dir), params);
  const started = await index.startSearchThreads(threads);
  const startFailure = index.searchThreadFailure;
  if (index.searchThreadFailure !== undefined) io.stderr(`qx search: ${started} of ${threads} search threads (${index.searchThreadFailure})\n`);
  const topics =
    queriesFile !== undefined
      ? [...new Map((await readExpansionFile(path.resolve(io.cwd, queriesFile))).reverse().map((r) => [r.qid, { qid: r.qid, text: r.text }])).values()].reverse()
      : await readTopics(path.resolve(io.cwd, topicsFile), topicsFormat);
  const rm3 = args.flags.has('rm3');
  const rm3Options = { fbDocs: numOpt(args, 'fb-docs', 10), fbTerms: numOpt(args, 'fb-terms', 10), originalQueryWeight: numOpt(args, 'orig-weight', 0.5), k };
  const bar = progressBar(io, rm3 ? 'searching (BM25+RM3)' : 'searching');
  const result: Run = new Map();
  let done = 0;
  for (const t of topics) {
    throwIfAborted(signal);
    result.set(t.qid, rm3 ? rm3Search(index, t.text, rm3Options) : index.searchSync(t.text, k));
    bar.update({ done: ++done, total: topics.length, unit: 'queries' });
  }
  bar.done();
  if (index.searchThreadFailure !== startFailure) io.stderr(`qx search: a search thread stopped (${index.searchThreadFailure}); its ranges were searched on the main thread\n`);
  const info = { ...index.info(), ...(rm3 ? { rm3: rm3Options } : {}) };
  await index.close();
  const tag = opt(args, 'tag', rm3 ? 'qx-bm25-rm3' : 'qx-bm25')!;
  const text = formatRun(result, tag);
  const out = opt(args, 'out');
  if (out === undefined) {
    io.stdout(text);
  } else {
    const runPath = path.resolve(io.cwd, out);
    await writeFileAtomic(runPath, text);
    await writeFileAtomic(`${runPath}.meta.json`, JSON.stringify({ retriever: info, topics: topicsFile, k }, null, 2) + '\n');
    io.stderr(`wrote ${topics.length} queries to ${runPath} (${JSON.stringify(info.analyzer)} ${JSON.stringify(info.params)})\n`);
  }
  return 0;
}
