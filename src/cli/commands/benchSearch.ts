import path from 'node:path';
import { QxError, throwIfAborted } from '../../core/errors.js';
import { Bm25Index, type LengthMode } from '../../core/bm25/bm25Index.js';
import { readCorpus } from '../../core/dataset/corpus.js';
import { readExpansionFile } from '../../core/dataset/expansionFile.js';
import { formatRun, writeFileAtomic } from '../../core/dataset/runs.js';
import type { Run } from '../../core/dataset/types.js';
import { positiveIntOpt, opt, parseArgs } from '../args.js';
import type { CliIo } from '../io.js';

const HELP = `usage: qx bench-search --corpus FILE.jsonl --queries FILE.tsv --out RUN.txt [--k 1000]
                       [--analyzer english] [--lengths lucene|exact]

Builds an in-memory index, searches every query single-threaded, writes the run, and prints one
JSON line: {build_s, index_mb, query_p50_ms, query_p95_ms, peak_rss_mb}. index_mb is the size of
the index arrays and term/docid tables (the on-disk index without its document store).
Queries: qid<TAB>text, RFC-4180 quoting allowed (QueryGym files), or JSONL {qid, text}.
`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: ['corpus', 'queries', 'out', 'k', 'analyzer', 'lengths'], flags: ['help'] });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const corpus = opt(args, 'corpus');
  const queries = opt(args, 'queries');
  const out = opt(args, 'out');
  if (corpus === undefined || queries === undefined || out === undefined) {
    throw new QxError('usage', 'qx bench-search needs --corpus, --queries and --out', { hint: 'See qx bench-search --help.' });
  }
  const k = positiveIntOpt(args, 'k', 1000);
  const rows = await readExpansionFile(path.resolve(io.cwd, queries));
  const t0 = performance.now();
  const { index } = await Bm25Index.build(readCorpus(path.resolve(io.cwd, corpus), undefined, { signal }), {
    signal,
    keepDocs: false,
    source: path.resolve(io.cwd, corpus),
    analyzer: opt(args, 'analyzer', 'english')!,
    lengths: opt(args, 'lengths', 'lucene') as LengthMode,
  });
  const buildS = (performance.now() - t0) / 1000;
  const times: number[] = [];
  const result: Run = new Map();
  for (const r of rows) {
    throwIfAborted(signal);
    const s = performance.now();
    const hits = index.searchSync(r.text, k);
    times.push(performance.now() - s);
    if (!result.has(r.qid)) result.set(r.qid, hits);
  }
  await writeFileAtomic(path.resolve(io.cwd, out), formatRun(result, 'qx-bm25'));
  times.sort((a, b) => a - b);
  const line = {
    build_s: Number(buildS.toFixed(3)),
    index_mb: Number((index.data.bytes / 2 ** 20).toFixed(1)),
    query_p50_ms: Number(percentile(times, 50).toFixed(3)),
    query_p95_ms: Number(percentile(times, 95).toFixed(3)),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    queries: times.length,
    docs: index.numDocs,
  };
  io.stdout(JSON.stringify(line) + '\n');
  return 0;
}
