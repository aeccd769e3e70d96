import { QxError } from '../../core/errors.js';
import { Bm25Index, type LengthMode } from '../../core/bm25/bm25Index.js';
import { corpusForIndex } from '../../core/bm25/docStore.js';
import { CORPUS_FORMATS, type CorpusFormat, readCorpus, readCorpusPool } from '../../core/dataset/corpus.js';
import { numOpt, opt, parseArgs } from '../args.js';
import { type CliIo, progressBar, stderrLogger } from '../io.js';
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { OpenSearchRetriever } from '../../core/retrieval/openSearchRetriever.js';
import { retrieverAuth } from '../../core/retrieval/manifestRetriever.js';

const HELP = `usage: qx index --corpus FILE [--corpus FILE ...] [--format F] --out DIR
                [--analyzer english|cjk|whitespace] [--k1 0.9] [--b 0.4] [--lengths lucene|exact]
                [--copy-docs] [--threads N] [--rebuild] [--segment-postings N]

Builds an on-disk BM25 index (postings, Lucene length norms, document store) from a corpus.
Several --corpus files are indexed as one pool (first occurrence of a docid wins).
Formats: ${CORPUS_FORMATS.join(', ')} (default: from the file extension).
Gzipped corpora (collection.tsv.gz, corpus.jsonl.gz) and tar archives (MS MARCO
collection.tar.gz: its first file) are read as they are, never extracted to disk.
Document texts: for one uncompressed jsonl/tsv/csv corpus the index stores only where each
document sits in that file (12 bytes a document) and a fingerprint of it; moving or editing
the file then makes document texts unavailable until you index again. --copy-docs copies the
texts into the index instead (always done for .gz/.tar.gz input and several corpus files).
Rebuilding into an existing index directory is atomic: the old index stays usable until the
new one is complete. One build per directory at a time: a second one is refused (exit 3).
Documents are analyzed by --threads worker threads (default: the CPUs, at most 4; 0 = none) in
segments written to disk and merged at the end, so memory stays bounded at any corpus size.
A build that is killed or cancelled (Ctrl-C) keeps its finished segments: run the same command
again and it resumes, re-reading (not re-analyzing) the documents they hold; the index is the
same as an uninterrupted build's. A changed corpus, analyzer or damaged segment file starts the
build over and says why; --rebuild always starts over. --segment-postings N: postings per
segment (default 16,000,000; smaller segments lose less work to a kill, merge slower).

       qx index --opensearch URL --index NAME --corpus FILE [--corpus FILE ...] [--format F]
                [--analyzer english|cjk] [--k1 0.9] [--b 0.4] [--batch-size 1000]
                [--concurrency 2] [--shards 1] [--auth-env QX_OPENSEARCH_AUTH] [--rebuild]

Bulk-loads the corpus into an OpenSearch/Elasticsearch index with the embedded engine's settings
(one shard, BM25 k1/b, Anserini's English chain or the built-in cjk analyzer, refresh off while
loading), --concurrency bulk requests of --batch-size documents in flight, retried with backoff
on 429/5xx/connection errors. The load records its progress in the index (mapping _meta): rerun
the same command after a failure or Ctrl-C and it resumes; once complete it does nothing. An
index that exists but was not loaded by qx from this corpus is refused; --rebuild deletes and
reloads it. --shards N splits a new index over N primary shards (searches then ask for
dfs_query_then_fetch, so BM25 uses whole-index statistics as one Lucene index would).
Basic auth: the environment variable --auth-env names holds user:password.
Then name the index in the workspace manifest: "retriever": {"engine": "opensearch", "url": URL,
"index": NAME} and qx score searches it.
`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: ['corpus', 'format', 'out', 'analyzer', 'k1', 'b', 'lengths', 'opensearch', 'index', 'batch-size', 'concurrency', 'auth-env', 'shards', 'threads', 'segment-postings'], flags: ['help', 'rebuild', 'copy-docs'] });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const corpora = (args.options.get('corpus') ?? []).map((c) => path.resolve(io.cwd, c));
  if (opt(args, 'opensearch') !== undefined) return loadOpenSearch(args, corpora, io, signal);
  const outOpt = opt(args, 'out');
  if (corpora.length === 0 || outOpt === undefined) throw new QxError('usage', 'qx index needs --corpus FILE and --out DIR', { hint: 'See qx index --help.' });
  const format = opt(args, 'format') as CorpusFormat | undefined;
  if (format !== undefined && !CORPUS_FORMATS.includes(format)) {
    throw new QxError('usage', `--format must be one of ${CORPUS_FORMATS.join(', ')}, got "${format}"`);
  }
  const lengths = opt(args, 'lengths', 'lucene') as LengthMode;
  const threads = args.options.has('threads') ? numOpt(args, 'threads', 0) : undefined;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0)) throw new QxError('usage', `--threads must be an integer >= 0, got ${threads}`);
  const segmentPostings = args.options.has('segment-postings') ? numOpt(args, 'segment-postings', 0) : undefined;
  if (segmentPostings !== undefined && !(Number.isInteger(segmentPostings) && segmentPostings >= 1)) throw new QxError('usage', `--segment-postings must be an integer >= 1, got ${segmentPostings}`);
  const out = path.resolve(io.cwd, outOpt);
  const bar = progressBar(io, 'indexing');
  const { docs, plan, onProgress, resumeInput } = await corpusForIndex(corpora, format, { signal, copyDocs: args.flags.has('copy-docs'), onProgress: bar.update });
  const { index, report } = await Bm25Index.build(docs, {
    dir: out,
    signal,
    store: plan,
    ...(onProgress === undefined ? {} : { onProgress }),
    logger: stderrLogger(io),
    analyzer: opt(args, 'analyzer', 'english')!,
    k1: numOpt(args, 'k1', 0.9),
    b: numOpt(args, 'b', 0.4),
    lengths,
    ...(threads === undefined ? {} : { threads }),
    ...(segmentPostings === undefined ? {} : { segmentPostings }),
    resumeInput,
    restart: args.flags.has('rebuild'),
    source: corpora.join(', '),
  });
  bar.done();
  await index.close();
  io.stdout(
    `indexed ${report.numDocs} documents into ${out} in ${report.seconds.toFixed(1)} s` +
      ` (${report.duplicates} duplicate ids skipped, first kept; ${report.emptyDocs} with no indexable text)\n` +
      (report.reusedDocs ? `resumed an interrupted build: ${report.reusedDocs} documents reused, ${report.numDocs - report.reusedDocs} analyzed\n` : '') +
      (plan.mode === 'pointer' ? `document texts are read from ${plan.corpus} (keep it in place and unchanged, or index with --copy-docs)\n` : `document texts copied into the index (${plan.reason})\n`),
  );
  return 0;
}

async function loadOpenSearch(args: ReturnType<typeof parseArgs>, corpora: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const node = opt(args, 'opensearch')!.replace(/\/+$/, '');
  const index = opt(args, 'index');
  if (corpora.length === 0 || index === undefined) throw new QxError('usage', 'qx index --opensearch URL needs --index NAME and --corpus FILE', { hint: 'See qx index --help.' });
  if (opt(args, 'out') !== undefined) throw new QxError('usage', '--out is for a local index; --opensearch loads a cluster', { hint: 'Drop one of them.' });
  const format = opt(args, 'format') as CorpusFormat | undefined;
  if (format !== undefined && !CORPUS_FORMATS.includes(format)) throw new QxError('usage', `--format must be one of ${CORPUS_FORMATS.join(', ')}, got "${format}"`);
  const analyzer = opt(args, 'analyzer', 'english')!;
  if (analyzer !== 'english' && analyzer !== 'cjk') throw new QxError('usage', `--analyzer for OpenSearch must be english or cjk, got "${analyzer}"`);
  const positive = (name: string, fallback: number): number => {
    const v = numOpt(args, name, fallback);
    if (!Number.isInteger(v) || v < 1) throw new QxError('usage', `--${name} must be an integer >= 1, got ${String(args.options.get(name))}`);
    return v;
  };
  const authEnv = opt(args, 'auth-env', 'QX_OPENSEARCH_AUTH')!;
  const auth = io.env[authEnv] ? retrieverAuth({ engine: 'opensearch', url: node, index, authEnv }, io.env) : undefined;
  // What the corpus is: a resumed load must read the same files.
  const source: Record<string, string | number> = {};
  for (const [i, c] of corpora.entries()) {
    const st = await stat(c).catch(() => undefined);
    if (st === undefined) throw new QxError('dataset', `corpus file not found: ${c}`, { hint: 'Check the --corpus path.' });
    source[`corpus${i}`] = `${path.basename(c)} ${st.size} bytes ${new Date(st.mtimeMs).toISOString()}`;
  }
  const retriever = new OpenSearchRetriever({ node, index, k1: numOpt(args, 'k1', 0.9), b: numOpt(args, 'b', 0.4), analyzer, ...(auth === undefined ? {} : { auth }), logger: stderrLogger(io) });
  const bar = progressBar(io, 'loading');
  const started = Date.now();
  try {
    const docs = corpora.length === 1 ? readCorpus(corpora[0]!, format, { signal }) : readCorpusPool(corpora, format, { signal });
    const r = await retriever.load(docs, { signal, onProgress: bar.update, batchSize: positive('batch-size', 1000), concurrency: positive('concurrency', 2), shards: positive('shards', 1), source, rebuild: args.flags.has('rebuild') });
    bar.done();
    if (r.alreadyComplete) io.stdout(`OpenSearch index ${index} at ${node} already holds the ${r.numDocs} documents of this corpus: nothing to do (--rebuild reloads it)\n`);
    else io.stdout(`loaded ${r.numDocs - r.resumedFrom} documents into OpenSearch index ${index} at ${node} in ${((Date.now() - started) / 1000).toFixed(1)} s${r.resumedFrom > 0 ? ` (resumed after ${r.resumedFrom})` : ''}; ${r.numDocs} in all\n`);
  } finally {
    await retriever.close();
  }
  return 0;
}
