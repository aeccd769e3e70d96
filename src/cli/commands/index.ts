import { QxError } from '../../core/errors.js';
import { Bm25Index, type LengthMode } from '../../core/bm25/bm25Index.js';
import { CORPUS_FORMATS, type CorpusFormat, readCorpus, readCorpusPool } from '../../core/dataset/corpus.js';
import { numOpt, opt, parseArgs } from '../args.js';
import { type CliIo, progressBar, stderrLogger } from '../io.js';
import path from 'node:path';

const HELP = `usage: qx index --corpus FILE [--corpus FILE ...] [--format F] --out DIR
                [--analyzer english|cjk|whitespace] [--k1 0.9] [--b 0.4] [--lengths lucene|exact]
                [--threads N]

Builds an on-disk BM25 index (postings, Lucene length norms, document store) from a corpus.
Several --corpus files are indexed as one pool (first occurrence of a docid wins).
Formats: ${CORPUS_FORMATS.join(', ')} (default: from the file extension).
Rebuilding into an existing index directory is atomic: the old index stays usable until the
new one is complete. One build per directory at a time: a second one is refused (exit 3).
Documents are analyzed by --threads worker threads (default: the CPUs, at most 4; 0 = none) in
segments written to disk and merged at the end, so memory stays bounded at any corpus size.
`;

export async function run(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv, { valued: ['corpus', 'format', 'out', 'analyzer', 'k1', 'b', 'lengths', 'threads'], flags: ['help'] });
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
  const threads = args.options.has('threads') ? numOpt(args, 'threads', 0) : undefined;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0)) throw new QxError('usage', `--threads must be an integer >= 0, got ${threads}`);
  const out = path.resolve(io.cwd, outOpt);
  const bar = progressBar(io, 'indexing');
  const docs = corpora.length === 1 ? readCorpus(corpora[0]!, format, { signal }) : readCorpusPool(corpora, format, { signal });
  const { index, report } = await Bm25Index.build(docs, {
    dir: out,
    signal,
    onProgress: bar.update,
    logger: stderrLogger(io),
    analyzer: opt(args, 'analyzer', 'english')!,
    k1: numOpt(args, 'k1', 0.9),
    b: numOpt(args, 'b', 0.4),
    lengths,
    ...(threads === undefined ? {} : { threads }),
    source: corpora.join(', '),
  });
  bar.done();
  await index.close();
  io.stdout(
    `indexed ${report.numDocs} documents into ${out} in ${report.seconds.toFixed(1)} s` +
      ` (${report.duplicates} duplicate ids skipped, first kept; ${report.emptyDocs} with no indexable text)\n`,
  );
  return 0;
}
