import { QxError } from '../../core/errors.js';
import { Bm25Index, type LengthMode } from '../../core/bm25/bm25Index.js';
import { corpusForIndex } from '../../core/bm25/docStore.js';
import { CORPUS_FORMATS, type CorpusFormat } from '../../core/dataset/corpus.js';
import { numOpt, opt, parseArgs } from '../args.js';
import { type CliIo, progressBar, stderrLogger } from '../io.js';
import path from 'node:path';

const HELP = `usage: qx index --corpus FILE [--corpus FILE ...] [--format F] --out DIR
                [--analyzer english|cjk|whitespace] [--k1 0.9] [--b 0.4] [--lengths lucene|exact]
                [--copy-docs]

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
`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: ['corpus', 'format', 'out', 'analyzer', 'k1', 'b', 'lengths'], flags: ['help', 'copy-docs'] });
  if (args.flags.has('help')) {
    io.stdout(HELP);
    return 0;
  }
  const corpora = (args.options.get('corpus') ?? []).map((c) => path.resolve(io.cwd, c));
  const outOpt = opt(args, 'out');
  if (corpora.length === 0 || outOpt === undefined) throw new QxError('usage', 'qx index needs --corpus FILE and --out DIR', { hint: 'See qx index --help.' });
  const format = opt(args, 'format') as CorpusFormat | undefined;
  if (format !== undefined && !CORPUS_FORMATS.includes(format)) {
    throw new QxError('usage', `--format must be one of ${CORPUS_FORMATS.join(', ')}, got "${format}"`);
  }
  const lengths = opt(args, 'lengths', 'lucene') as LengthMode;
  const out = path.resolve(io.cwd, outOpt);
  const bar = progressBar(io, 'indexing');
  const { docs, plan, onProgress } = await corpusForIndex(corpora, format, { signal, copyDocs: args.flags.has('copy-docs'), onProgress: bar.update });
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
    source: corpora.join(', '),
  });
  bar.done();
  await index.close();
  io.stdout(
    `indexed ${report.numDocs} documents into ${out} in ${report.seconds.toFixed(1)} s` +
      ` (${report.duplicates} duplicate ids skipped, first kept; ${report.emptyDocs} with no indexable text)\n` +
      (plan.mode === 'pointer' ? `document texts are read from ${plan.corpus} (keep it in place and unchanged, or index with --copy-docs)\n` : `document texts copied into the index (${plan.reason})\n`),
  );
  return 0;
}
