import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { isCancellationError, QxError, throwIfAborted } from '../errors.js';
import { nullLogger } from '../logger.js';
import type { ProgressCallback } from '../progress.js';
import type { Logger } from '../logger.js';
import type { CorpusDoc, RunHit } from '../dataset/types.js';
import type { Retriever, RetrieverInfo, SearchOptions } from '../retrieval/retriever.js';
import { createAnalyzer, type Analyzer } from './analyzer.js';
import { createDocStoreWriter, type DocStore, type DocStorePlan, type DocStoreWriter, MemoryDocStore } from './docStore.js';
import { LENGTH_TABLE, intToByte4 } from './smallFloat.js';
import { type IndexTables, type IndexParts, INDEX_FORMAT_VERSION, newGeneration, openIndexFiles, commitGeneration, writeIndex } from './indexFiles.js';
import { checkJournal, JOURNAL_FILE, JournalWriter, type ResumeState, resumeKey } from './buildJournal.js';
import { DocIdTable, MemoryBytes, NumberList, PostingsWriter, TermTable, type WrittenPostings, POSTINGS_BLOCK, decodeBlock, decodePostings, sortedDocNos, UniqueStrings } from './postings.js';
import { SegmentBuilder, mergeSegments } from './segments.js';
import { SegmentFeeder } from './segmentFeeder.js';
import { SearchHelper } from './searchThreads.js';

/**
 * How document length enters BM25:
 * - `lucene` (default): the 1-byte SmallFloat norm Lucene 8 stores (lengths ≥ 24 rounded down to
 *   4 significant bits) and Lucene's float32 arithmetic, so scores and tie order match
 *   Lucene/Anserini/Pyserini runs (DL19 pool nDCG@10 to 4 decimals).
 * - `exact`: the true token count and double arithmetic. Rankings differ slightly from Lucene.
 */
export type LengthMode = 'lucene' | 'exact';

/** BM25 parameters. Defaults are Anserini's/Pyserini's: k1 = 0.9, b = 0.4, lengths 'lucene'. */
export interface Bm25Params {
  /** Term-frequency saturation, ≥ 0. Default 0.9. */
  k1: number;
  /** Length normalisation, 0 (none) – 1 (full). Default 0.4. */
  b: number;
  /** Default 'lucene'. */
  lengths: LengthMode;
}

/** Anserini's/Pyserini's defaults: k1 = 0.9, b = 0.4, Lucene's lossy length norms. */
export const DEFAULT_BM25_PARAMS: Readonly<Bm25Params> = { k1: 0.9, b: 0.4, lengths: 'lucene' };

/** Default number of hits per query. */
export const DEFAULT_K = 1000;

export interface BuildOptions {
  signal?: AbortSignal;
  /** Called every 1,000 documents; `total` is unknown while streaming. */
  onProgress?: ProgressCallback;
  logger?: Logger;
  /** Analyzer name (see createAnalyzer). Default 'english'. */
  analyzer?: string;
  k1?: number;
  b?: number;
  lengths?: LengthMode;
  /**
   * Write the index here (created if missing). The new index becomes visible atomically at the
   * end; if the build fails or the process dies, a previous index in `dir` stays usable.
   * Without `dir` the index lives in memory only. One build per directory at a time: a new build
   * removes the temporary folders that earlier, crashed builds left behind.
   */
  dir?: string;
  /** In-memory builds only: keep document texts (needed by `doc()` and RM3). Default true. */
  keepDocs?: boolean;
  /** Where the documents come from (file names), named in errors about the corpus as a whole. */
  source?: string;
  /**
   * On-disk builds: worker threads that analyze and invert documents (0 = in the calling thread).
   * Default: the number of CPUs, at most 4.
   */
  threads?: number;
  /**
   * On-disk builds: once a worker holds this many postings, every worker writes its segment to
   * disk (bounds build memory: ~16 bytes per posting per worker; each such checkpoint is what a
   * resumed build can reuse, see `resumeInput`). Default 16,000,000.
   */
  segmentPostings?: number;
  /**
   * `dir` builds: how the document texts are kept (see `planDocStore`). Default: copied into the
   * index. A `pointer` plan needs the documents read with `readCorpus(…, { spans: true })`.
   */
  store?: DocStorePlan;
  /**
   * `dir` builds: what the documents are, JSON-serializable (corpus paths, format and
   * fingerprints: `corpusForIndex` gives it). When set, every finished segment is journaled; a
   * build that is killed, cancelled or fails keeps its segments, and the next build into the same
   * `dir` with an equal `resumeInput` and analyzer reuses them: it re-reads the documents they
   * hold without analyzing them and analyzes only the rest. The index is the same as an
   * uninterrupted build's. Unset: no journal, an interrupted build is discarded.
   */
  resumeInput?: unknown;
  /** With `resumeInput`: discard an interrupted build's segments and start over. Default false. */
  restart?: boolean;
}

/** What a build met in the corpus. Policy: for duplicate ids the first document is kept. */
export interface BuildReport {
  /** Documents indexed (after dropping duplicates). */
  numDocs: number;
  /** Documents dropped because their id was seen before. */
  duplicates: number;
  /** Up to 10 of the duplicate ids. */
  duplicateIds: string[];
  /** Documents indexed with no terms (empty text, or only stop words/punctuation). */
  emptyDocs: number;
  /** Up to 10 of their ids. */
  emptyIds: string[];
  /** Build time in seconds. */
  seconds: number;
  /**
   * Documents whose segments were reused from an interrupted build (re-read, not analyzed);
   * absent or 0 for a build from scratch.
   */
  reusedDocs?: number;
}

/** Postings and statistics of an index; shared by the in-memory and on-disk forms. */
export interface IndexData extends IndexTables {
  analyzer: string;
  params: Bm25Params;
  /** Documents with at least one term (Lucene's docCount). */
  docCount: number;
  /** Total number of terms (Lucene's sumTotalTermFreq). */
  sumTotalTermFreq: number;
}

/** Postings per segment of an on-disk build (see BuildOptions.segmentPostings). */
const SEGMENT_POSTINGS = 16_000_000;

/** Documents per second (counted from `from`: after the reused documents of a resumed build) and the time since the start. */
class RateMeter {
  private from = { ms: 0, done: 0 };
  constructor(private readonly started: number) {
    this.from.ms = started;
  }
  /** Counts the rate from now, with `done` documents done. */
  restart(done: number): void {
    this.from = { ms: Date.now(), done };
  }
  message(done: number): string {
    const now = Date.now();
    const rate = (done - this.from.done) / Math.max((now - this.from.ms) / 1000, 1e-3);
    return `${Math.round(rate).toLocaleString('en-US')} documents/s, ${((now - this.started) / 1000).toFixed(0)} s`;
  }
}

const f = Math.fround;
const TABLE_TF_BITS = 4;
const TABLE_TF = 1 << TABLE_TF_BITS;
// Tabulating costs 256·16 score computations: only worth it for long posting lists.
const TABLE_MIN_DF = 16_384;

/**
 * The embedded BM25 engine: ranks exactly like Lucene 8's BM25Similarity over Anserini's
 * analyzer (see `LengthMode`). Scores: Σ over query terms of
 * boost · idf · tf / (tf + k1·(1 − b + b·dl/avgdl)), idf = ln(1 + (N − df + 0.5)/(df + 0.5)),
 * where N and avgdl count only documents with at least one term, and a query term repeated n
 * times has boost n (Anserini's bag-of-words query). Lucene 8 dropped BM25's (k1 + 1) factor;
 * so do we, so printed scores are comparable with Pyserini's.
 */
export class Bm25Index implements Retriever {
  readonly analyzer: Analyzer;
  readonly params: Bm25Params;
  private readonly normInv: Float32Array;
  private readonly normCache = new Float32Array(256);
  private readonly avgdl: number;

  private constructor(
    readonly data: IndexData,
    private readonly store: DocStore | undefined,
    params?: Partial<Bm25Params>,
  ) {
    this.analyzer = createAnalyzer(data.analyzer);
    this.params = { ...data.params, ...definedOnly(params ?? {}) };
    validateParams(this.params);
    const n = data.docIds.length;
    this.normInv = new Float32Array(n);
    const { k1, b } = this.params;
    if (this.params.lengths === 'lucene') {
      this.avgdl = f(data.sumTotalTermFreq / Math.max(1, data.docCount));
      const k1f = f(k1);
      const bf = f(b);
      const cache = this.normCache;
      for (let i = 0; i < 256; i++) cache[i] = f(1 / f(k1f * f(f(1 - bf) + f(f(bf * LENGTH_TABLE[i]!) / this.avgdl))));
      for (let d = 0; d < n; d++) this.normInv[d] = cache[data.norms[d]!]!;
    } else {
      this.avgdl = data.sumTotalTermFreq / Math.max(1, data.docCount);
      const lengths = data.lengths();
      for (let d = 0; d < n; d++) this.normInv[d] = 1 / (k1 * (1 - b + (b * lengths[d]!) / this.avgdl));
    }
  }

  /**
   * Indexes a corpus streamed from any async iterable (see the dataset readers). Checks the
   * signal and reports progress every 1,000 documents. Throws a `dataset` error for an empty
   * corpus. Duplicate ids: the first document is kept, later ones are counted in the report.
   */
  static async build(docs: AsyncIterable<CorpusDoc> | Iterable<CorpusDoc>, options: BuildOptions = {}): Promise<{ index: Bm25Index; report: BuildReport }> {
    const started = Date.now();
    const logger = options.logger ?? nullLogger;
    const analyzer = createAnalyzer(options.analyzer ?? 'english');
    const params: Bm25Params = {
      k1: options.k1 ?? DEFAULT_BM25_PARAMS.k1,
      b: options.b ?? DEFAULT_BM25_PARAMS.b,
      lengths: options.lengths ?? DEFAULT_BM25_PARAMS.lengths,
    };
    validateParams(params);
    const key = options.dir === undefined || options.resumeInput === undefined ? undefined : resumeKey(options.resumeInput, analyzer.name, INDEX_FORMAT_VERSION);
    let resume: ResumeState | undefined;
    const gen =
      options.dir === undefined
        ? undefined
        : await newGeneration(
            options.dir,
            logger,
            key === undefined
              ? undefined
              : async (stale) => {
                  const interrupted = stale.find((d) => existsSync(join(d, JOURNAL_FILE)));
                  if (interrupted === undefined) return undefined;
                  if (options.restart === true) {
                    logger.info(`starting over as asked: the interrupted build in ${interrupted} is discarded`);
                    return undefined;
                  }
                  const check = await checkJournal(interrupted, key);
                  if ('reason' in check) {
                    logger.info(`starting over: the interrupted build in ${interrupted} cannot be resumed, ${check.reason}`);
                    return undefined;
                  }
                  resume = check.state;
                  return interrupted;
                },
          );
    const journal = gen === undefined || key === undefined ? undefined : new JournalWriter(gen.dir, key, resume);
    const resumed = resume?.docs ?? 0;
    const resumeLine =
      resume === undefined ? undefined : `resuming: ${resume.segments.length} of ${resume.journaled} segments (${resumed.toLocaleString('en-US')} documents) reused from an interrupted build`;
    if (resumeLine !== undefined) logger.info(resumeLine);
    let storeWriter: DocStoreWriter | undefined;
    const memStore = gen === undefined && options.keepDocs !== false ? new MemoryDocStore() : undefined;
    // On disk: analysis and inversion in worker threads, a segment file at a time. In memory: here.
    const feeder =
      gen === undefined
        ? undefined
        : new SegmentFeeder(gen.dir, analyzer.name, options.threads ?? Math.min(4, availableParallelism()), options.segmentPostings ?? SEGMENT_POSTINGS, journal, resume);
    const builder = gen === undefined ? new SegmentBuilder(analyzer.name) : undefined;
    const memLengths: number[] = [];
    try {
      if (gen !== undefined) storeWriter = await createDocStoreWriter(gen.dir, options.store);
      // Ids in doc-number order with a hash index for duplicates (no Set of millions of strings).
      const ids = new UniqueStrings(1 << 16);
      const report: BuildReport = { numDocs: 0, duplicates: 0, duplicateIds: [], emptyDocs: 0, emptyIds: [], seconds: 0, ...(resumed > 0 ? { reusedDocs: resumed } : {}) };
      let read = 0;
      let unique = 0;
      const rate = new RateMeter(started);
      const reused = resumed > 0 ? { reused: resumed } : {};
      for await (const doc of docs) {
        read++;
        if (read % 1000 === 0) {
          throwIfAborted(options.signal);
          options.onProgress?.({ done: read, unit: 'documents', message: unique < resumed ? resumeLine : rate.message(read), ...reused });
        }
        if (!ids.add(doc.id)) {
          report.duplicates++;
          if (report.duplicateIds.length < 10) report.duplicateIds.push(doc.id);
          continue;
        }
        // The documents of reused segments are only re-read: their ids and texts go to the tables and the store.
        if (++unique === resumed) rate.restart(read);
        const text = doc.title ? `${doc.title} ${doc.text ?? ''}` : (doc.text ?? '');
        if (unique <= resumed) {
          // analyzed by the interrupted build
        } else if (feeder !== undefined) {
          const wait = feeder.add(text);
          if (wait !== undefined) await wait;
        } else {
          memLengths.push(builder!.add(memLengths.length, text));
        }
        memStore?.add(doc);
        const storing = storeWriter?.add(doc);
        if (storing !== undefined) await storing;
      }
      throwIfAborted(options.signal);
      if (unique < resumed) {
        throw new QxError('dataset', `the corpus holds ${unique} documents, the interrupted build had indexed ${resumed}`, {
          ...(options.source === undefined ? {} : { file: options.source }),
          hint: 'Start the build over (qx index --rebuild).',
        });
      }
      const n = feeder !== undefined ? feeder.docs : memLengths.length;
      if (n === 0) {
        throw new QxError('dataset', 'the corpus has no documents', {
          ...(options.source === undefined ? {} : { file: options.source }),
          hint: 'Check the corpus path and --format; the file is empty or holds no records.',
        });
      }
      const segments = feeder === undefined ? undefined : await feeder.finish();
      throwIfAborted(options.signal);
      options.onProgress?.({ done: read, total: read, unit: 'documents', message: rate.message(read), ...reused });
      const lengths = segments !== undefined ? segments.lengths : Uint32Array.from(memLengths);
      const norms = new Uint8Array(n);
      let sum = 0;
      let docCount = 0;
      const emptyDocNos: number[] = [];
      for (let d = 0; d < n; d++) {
        const len = lengths[d]!;
        norms[d] = intToByte4(len);
        sum += len;
        if (len > 0) docCount++;
        else emptyDocNos.push(d);
      }
      const packed = ids.finish();
      const idOf = (d: number): string => packed.text.toString('utf8', packed.off[d]!, packed.off[d + 1]!);
      report.numDocs = n;
      report.emptyDocs = emptyDocNos.length;
      report.emptyIds = emptyDocNos.slice(0, 10).map(idOf);
      if (report.duplicates > 0) {
        logger.warn(`${report.duplicates} documents with an already seen id were skipped (first kept), e.g. ${report.duplicateIds.slice(0, 3).join(', ')}`);
      }
      if (report.emptyDocs > 0) {
        logger.warn(`${report.emptyDocs} documents have no indexable text and can never match, e.g. ${report.emptyIds.slice(0, 3).join(', ')}`);
      }
      const stats = { analyzer: analyzer.name, params, numDocs: n, docCount, sumTotalTermFreq: sum };
      if (gen !== undefined && segments !== undefined && storeWriter !== undefined) {
        const store = await storeWriter.finish();
        storeWriter = undefined;
        throwIfAborted(options.signal);
        options.onProgress?.({ done: read, total: read, unit: 'documents', message: `merging ${segments.files.length} segments` });
        const fd = openSync(gen.postingsFile, 'w');
        let postings: WrittenPostings;
        try {
          const writer = new PostingsWriter((bytes, at) => writeFully(fd, bytes, at));
          try {
            mergeSegments(segments.files, writer, () => throwIfAborted(options.signal));
          } catch (e) {
            // A segment that passed its checksum but does not decode (a disk fault, a bug): say where, and how to start over.
            if (e instanceof QxError || isCancellationError(e)) throw e;
            throw new QxError('index', `merging the index segments in ${gen.dir} failed: ${e instanceof Error ? e.message : String(e)}`, {
              file: gen.dir,
              cause: e,
              hint: 'Start the build over (qx index --rebuild, or Rebuild Index in VS Code).',
            });
          }
          postings = writer.finish();
        } finally {
          closeSync(fd);
        }
        const parts: IndexParts = { postings, docIds: { text: packed.text, off: packed.off, sorted: sortedDocNos(packed.hashes) }, norms, lengths, store };
        report.seconds = (Date.now() - started) / 1000;
        await writeIndex(gen, stats, parts, analyzer.info, report);
        // Kept until the index is written: a build killed while merging resumes with the merge.
        await journal?.remove();
        for (const file of segments.files) rmSync(file, { force: true });
        await commitGeneration(gen);
        const opened = await Bm25Index.open(gen.root);
        report.seconds = (Date.now() - started) / 1000;
        return { index: opened, report };
      }
      const seg = builder!.invert();
      const writer = new PostingsWriter();
      for (let t = 0; t < seg.terms.length; t++) writer.add(seg.terms[t]!, seg.postDocs, seg.postTfs, seg.offsets[t]!, seg.offsets[t + 1]!);
      const postings = writer.finish();
      const data: IndexData = {
        ...stats,
        terms: new TermTable(postings.termText, postings.termOff, postings.dfs, postings.postOff, new MemoryBytes(postings.bytes!)),
        docIds: new DocIdTable(n, () => packed, () => sortedDocNos(packed.hashes)),
        norms,
        lengths: () => lengths,
        skipTable: () => ({ termSkip: postings.termSkip, skips: postings.skips }),
        numPostings: postings.numPostings,
        bytes: postings.postOff[postings.dfs.length]! + postings.termText.byteLength + norms.byteLength + lengths.byteLength,
      };
      report.seconds = (Date.now() - started) / 1000;
      return { index: new Bm25Index(data, memStore), report };
    } catch (e) {
      await feeder?.close();
      await storeWriter?.abort();
      const kept = journal === undefined ? 0 : await journal.flushed().then(
        () => journal.count,
        () => journal.count,
      );
      if (gen !== undefined && kept > 0) {
        gen.release();
        const how = `${kept} finished segments are kept in ${gen.dir}: run the same build again to resume it (qx index: the same command; --rebuild starts over)`;
        if (isCancellationError(e)) logger.info(`cancelled; ${how}`);
        else logger.warn(`the build failed; ${how}`);
      } else if (gen !== undefined) await gen.abandon();
      throw e;
    }
  }

  /**
   * Opens an index written by `build({dir})` without re-indexing. Throws an `index` error with a
   * rebuild hint when the directory holds no index, an index of another format version, or a
   * damaged one. `params` overrides k1/b/lengths for searching (norms are stored, not scores).
   */
  static async open(dir: string, params?: Partial<Bm25Params>): Promise<Bm25Index> {
    const { meta, tables, store, generation } = await openIndexFiles(dir);
    const data: IndexData = { ...tables, analyzer: meta.analyzer, params: meta.params, docCount: meta.docCount, sumTotalTermFreq: meta.sumTotalTermFreq };
    const index = new Bm25Index(data, store, params);
    index.dir = dir;
    index.generation = generation;
    return index;
  }

  /** Number of indexed documents. */
  get numDocs(): number {
    return this.data.docIds.length;
  }

  info(): RetrieverInfo {
    return {
      engine: 'qx-bm25',
      analyzer: { ...this.analyzer.info },
      params: { k1: this.params.k1, b: this.params.b, lengths: this.params.lengths },
      numDocs: this.numDocs,
    };
  }

  /** Query text → term → count (a term repeated n times gets weight n). */
  queryTerms(query: string): Map<string, number> {
    const m = new Map<string, number>();
    for (const t of this.analyzer.analyze(query)) m.set(t, (m.get(t) ?? 0) + 1);
    return m;
  }

  /** Document frequency of an analyzed term (0 when unknown). */
  docFreq(term: string): number {
    const id = this.data.terms.id(term);
    return id < 0 ? 0 : this.data.terms.dfs[id]!;
  }

  async search(query: string, options: SearchOptions = {}): Promise<RunHit[]> {
    throwIfAborted(options.signal);
    return this.searchSync(query, options.k ?? DEFAULT_K);
  }

  /** Synchronous search for hot paths (re-scoring an edited expansion). k default 1000. */
  searchSync(query: string, k: number = DEFAULT_K, options?: PruningOptions): RunHit[] {
    return this.searchWeighted(this.queryTerms(query), k, options);
  }

  /**
   * Scores a weighted query: analyzed term → boost (> 0; non-positive boosts are ignored), as a
   * Lucene BooleanQuery of boosted TermQuery SHOULD clauses. Returns up to k hits sorted by score
   * descending, ties by docid descending (trec_eval's order). Empty query → empty list.
   */
  searchWeighted(weights: ReadonlyMap<string, number>, k: number = DEFAULT_K, options?: PruningOptions): RunHit[] {
    const n = this.numDocs;
    if (k <= 0 || weights.size === 0) return [];
    if (options?.exhaustive !== true) {
      const pruned = this.searchPruned(weights, k, options ?? {});
      if (pruned !== undefined) return pruned;
    }
    return this.searchExhaustive(weights, k, options);
  }

  private helpers: SearchHelper[] = [];
  private splitMinPostings = SPLIT_MIN_POSTINGS;
  /** The index folder, for search threads (undefined: an in-memory index). */
  private dir: string | undefined;
  /** @internal The generation folder opened (search threads must open the same one). */
  generation: string | undefined;
  /** Why fewer search threads run than were asked for, when that is so. */
  searchThreadFailure: string | undefined;

  /**
   * Starts search threads so that a long exhaustive search (query2doc expansions: millions of
   * postings) is scanned by `threads` threads at once, each over its own range of doc numbers;
   * hits and scores are the same as on one thread. Each thread opens the index itself (its norms,
   * length table, term tables and V8 heap; not the docids unless more than k + 1,024 documents
   * tie with a range's k-th score: about 160 MB more RSS at 8.8M documents). Searches stay synchronous. On-disk indexes only, holding at least 1M postings
   * (smaller ones never split); resolves to the number of threads searches use (1 when none
   * started).
   * `minPostings` (@internal, tests): the fewest postings a search splits, default 1,000,000.
   */
  async startSearchThreads(threads: number, options: { minPostings?: number } = {}): Promise<number> {
    if (options.minPostings !== undefined) this.splitMinPostings = options.minPostings;
    // An index whose whole postings are below the split size never splits: no threads for it.
    if (this.dir !== undefined && this.generation !== undefined && this.data.numPostings >= this.splitMinPostings) {
      const data = { dir: this.dir, generation: this.generation, params: this.params };
      const want = threads - 1 - this.helpers.filter((h) => h.usable).length;
      const started = await Promise.allSettled(Array.from({ length: Math.max(0, want) }, () => SearchHelper.start(data)));
      for (const r of started) {
        if (r.status === 'fulfilled') this.helpers.push(r.value);
        else this.searchThreadFailure = r.reason instanceof Error ? r.reason.message : String(r.reason);
      }
    }
    return this.helpers.filter((h) => h.usable).length + 1;
  }

  private exAcc: Float64Array | undefined;
  private exTouched: Int32Array | undefined;
  private exMark: Uint8Array | undefined;
  private tables: Float32Array[] = [];

  /**
   * Scores every posting of every query term. Doc numbers are taken in windows of 2^16 whose
   * accumulators stay in the CPU cache; within a window, terms are scored in query order, so each
   * document's sum adds its terms in query order (the same sums as term-at-a-time over the whole
   * collection). The postings are decoded a block at a time as they are scored. With search
   * threads started (`startSearchThreads`) and a query long enough to pay, the doc numbers are cut
   * into one range per thread: this thread scans the first while the search threads scan the
   * others; each range keeps its k best and the threads' are offered to this thread's heap, so
   * the hits and scores are the same.
   */
  private searchExhaustive(weights: ReadonlyMap<string, number>, k: number, options?: PruningOptions): RunHit[] {
    const n = this.numDocs;
    const plan = this.exhaustivePlan(weights);
    if (options?.stats !== undefined) {
      options.stats.postingsScored += plan.postings;
      options.stats.exhaustive = true;
    }
    if (plan.terms.length === 0) return [];
    const heap = new TopHeap(k, this.data.docIds);
    const helpers = plan.postings >= this.splitMinPostings ? this.helpers.filter((h) => h.usable) : [];
    // One range of doc numbers per thread (each document's sum is the same whatever the range).
    const parts = Math.min(helpers.length + 1, Math.floor(n / MIN_PART_DOCS));
    if (parts < 2) {
      this.scanRange(plan, heap, 0, n);
      return heap.hits();
    }
    const cut = (i: number): number => Math.round((i * n) / parts);
    const list = [...weights];
    const jobs = helpers.slice(0, parts - 1).map((h, i) => {
      const [lo, hi] = [cut(i + 1), cut(i + 2)];
      return { h, lo, hi, shared: h.begin(list, k, lo, hi) };
    });
    const t0 = performance.now();
    this.scanRange(plan, heap, 0, cut(1));
    // The ranges are of equal size: a thread that takes 20 times as long (at least 2 s) has died
    // or hangs (its exit event cannot arrive while this thread waits).
    const waitMs = Math.max(2000, 20 * (performance.now() - t0));
    for (const { h, lo, hi, shared } of jobs) {
      const part = h.finish(shared, k, waitMs);
      if (part === undefined) {
        // A thread that failed or hangs: scan its range here (it gets no more jobs).
        this.searchThreadFailure = h.failure;
        this.scanRange(plan, heap, lo, hi);
      } else for (let i = 0; i < part.count; i++) heap.offer(part.scores[i]!, part.docs[i]!);
    }
    return heap.hits();
  }

  /**
   * The part of `searchWeighted`'s exhaustive scan a search thread does: the k best of doc numbers
   * [lo, hi) by score and every document tied with the k-th score, as scores and doc numbers,
   * for the caller to rank with docids (a thread that never breaks ties by docid never loads
   * them: 104 MB at 8.8M documents). `scores` and `docs` hold k hits and the room left for ties
   * (`partCapacity(k)` = k best + k + 1,024 ties); when the ties do not fit, the range is scanned
   * again and ranked with docids here (loading them): the k best only. Returns the number of hits
   * written.
   */
  scanPart(weights: ReadonlyMap<string, number>, k: number, lo: number, hi: number, scores: Float64Array, docs: Int32Array): number {
    const plan = this.exhaustivePlan(weights);
    if (plan.terms.length === 0) return 0;
    const ties = new TieHeap(k, scores.length - k);
    this.scanRange(plan, ties, lo, hi);
    const n = ties.copyTo(scores, docs);
    if (n >= 0) return n;
    const heap = new TopHeap(k, this.data.docIds);
    this.scanRange(plan, heap, lo, hi);
    return heap.copyTo(scores, docs);
  }

  /** Per query term with postings: its postings, weight and (long lists) score table. */
  private exhaustivePlan(weights: ReadonlyMap<string, number>): ExhaustivePlan {
    const { terms } = this.data;
    const N = this.data.docCount;
    const lucene = this.params.lengths === 'lucene';
    const plan: ExhaustivePlan = { terms: [], postings: 0 };
    let tables = 0;
    for (const [term, boost] of weights) {
      if (!(boost > 0)) continue;
      const id = terms.id(term);
      if (id < 0) continue;
      const df = terms.dfs[id]!;
      const idf = Math.log(1 + (N - df + 0.5) / (df + 0.5));
      const w = lucene ? f(f(boost) * f(idf)) : boost * idf;
      // Lucene's per-posting float formula depends only on (norm byte, tf): tabulate small tfs.
      const table = lucene && df > TABLE_MIN_DF ? this.scoreTable(w, tables++) : undefined;
      plan.terms.push({ id, bytes: terms.postings(id), w, table });
      plan.postings += df;
    }
    return plan;
  }

  /**
   * Where term `id`'s scan of doc numbers from `lo` starts: the byte offset of the first block
   * that may hold a doc number ≥ lo and the doc number before that block (−1 at the list's
   * start), found in the skip table.
   */
  private blockFrom(id: number, lo: number): [number, number] {
    if (lo === 0) return [0, -1];
    const { termSkip, skips } = this.data.skipTable();
    let a = termSkip[id]!;
    let b = termSkip[id + 1]!;
    const first = a;
    // The first block whose last doc number is ≥ lo.
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (skips[2 * mid]! < lo) a = mid + 1;
      else b = mid;
    }
    if (a === first) return [0, -1];
    return [skips[2 * (a - 1) + 1]!, skips[2 * (a - 1)]!];
  }

  /** The exhaustive scan of doc numbers [lo, hi) into `heap`. */
  private scanRange(plan: ExhaustivePlan, heap: HitSink, lo: number, hi: number): void {
    const n = this.numDocs;
    const norms = this.data.norms;
    const normInv = this.normInv;
    const lucene = this.params.lengths === 'lucene';
    const m = plan.terms.length;
    const W = 1 << EXHAUSTIVE_WINDOW_BITS;
    const acc = (this.exAcc ??= new Float64Array(W));
    const touched = (this.exTouched ??= new Int32Array(W));
    const mark = (this.exMark ??= new Uint8Array(W));
    // Long queries touch most documents: then skip per-posting bookkeeping and scan the window.
    const dense = plan.postings > n >> 3;
    // Per term, its current block decoded into a 128-slot stretch of `bd`/`bt`: the byte offset
    // of the next block, the next posting in the block, the block's posting count.
    const B = POSTINGS_BLOCK;
    if (this.blkDocs.length < m * B) {
      this.blkDocs = new Int32Array(m * B);
      this.blkTfs = new Uint32Array(m * B);
    }
    const bd = this.blkDocs;
    const bt = this.blkTfs;
    const pos = new Float64Array(m);
    const at = new Int32Array(m);
    const count = new Int32Array(m);
    if (lo > 0) {
      // Start each list at the block holding doc number lo, past the postings below it.
      for (let t = 0; t < m; t++) {
        const { id, bytes } = plan.terms[t]!;
        const [p, prev] = this.blockFrom(id, lo);
        if (p >= bytes.length) {
          pos[t] = p;
          continue;
        }
        const nb = bytes[p]! + 1;
        pos[t] = decodeBlock(bytes, p, bd, bt, t * B, prev);
        let i = 0;
        while (i < nb && bd[t * B + i]! < lo) i++;
        at[t] = i;
        count[t] = nb;
      }
    }
    let theta = heap.threshold;
    for (let base = lo; base < hi; base += W) {
      const end = Math.min(hi, base + W);
      let nt = 0;
      for (let t = 0; t < m; t++) {
        const { bytes, w, table } = plan.terms[t]!;
        const off = t * B;
        let i = at[t]!;
        let nb = count[t]!;
        for (;;) {
          if (i === nb) {
            const p = pos[t]!;
            if (p >= bytes.length) break;
            const prev = nb === 0 ? -1 : bd[off + nb - 1]!;
            nb = bytes[p]! + 1;
            pos[t] = decodeBlock(bytes, p, bd, bt, off, prev);
            i = 0;
          }
          const stop = off + nb;
          let q = off + i;
          if (dense && table !== undefined) {
            // The hot case of long queries: every window dense, a tabulated term.
            for (; q < stop; q++) {
              const d = bd[q]!;
              if (d >= end) break;
              const tf = bt[q]!;
              acc[d - base]! += tf < TABLE_TF ? table[(norms[d]! << TABLE_TF_BITS) | tf]! : f(w - f(w / f(1 + f(tf * normInv[d]!))));
            }
          } else {
            for (; q < stop; q++) {
              const d = bd[q]!;
              if (d >= end) break;
              const tf = bt[q]!;
              const l = d - base;
              if (!dense && mark[l] === 0) {
                mark[l] = 1;
                touched[nt++] = l;
              }
              acc[l]! +=
                table !== undefined && tf < TABLE_TF
                  ? table[(norms[d]! << TABLE_TF_BITS) | tf]!
                  : lucene
                    ? f(w - f(w / f(1 + f(tf * normInv[d]!))))
                    : w - w / (1 + tf * normInv[d]!);
            }
          }
          i = q - off;
          if (i < nb) break;
        }
        at[t] = i;
        count[t] = nb;
      }
      if (dense) {
        for (let l = 0, size = end - base; l < size; l++) {
          const raw = acc[l]!;
          if (raw === 0) continue;
          acc[l] = 0;
          const sc = lucene ? f(raw) : raw;
          if (sc >= theta && heap.offer(sc, base + l)) theta = heap.threshold;
        }
      } else {
        for (let c = 0; c < nt; c++) {
          const l = touched[c]!;
          const raw = acc[l]!;
          acc[l] = 0;
          mark[l] = 0;
          if (raw === 0) continue;
          const sc = lucene ? f(raw) : raw;
          if (sc >= theta && heap.offer(sc, base + l)) theta = heap.threshold;
        }
      }
    }
  }

  /**
   * score(w, tf, norm) for every norm byte and tf < TABLE_TF, computed exactly as Lucene does,
   * into the `slot`-th reusable table.
   */
  private scoreTable(w: number, slot: number): Float32Array {
    const t = (this.tables[slot] ??= new Float32Array(256 << TABLE_TF_BITS));
    const cache = this.normCache;
    for (let b = 0; b < 256; b++) {
      const ni = cache[b]!;
      const row = b << TABLE_TF_BITS;
      t[row] = 0;
      for (let tf = 1; tf < TABLE_TF; tf++) t[row | tf] = f(w - f(w / f(1 + f(tf * ni))));
    }
    return t;
  }

  /** Terms' window bounds, least recently used first (a Map keeps insertion order). */
  private readonly blocksByTerm = new Map<number, TermBlocks>();
  private blocksBytes = 0;
  /** @internal Most bytes of window bounds kept between searches (tests set small ones). */
  termBlocksBudget = TERM_BLOCKS_BUDGET;

  /** @internal True once the docid tables were read (search threads avoid it). */
  docIdsLoaded(): boolean {
    return this.data.docIds.loaded;
  }

  /** @internal Bytes of window bounds kept now. */
  termBlocksBytes(): number {
    return this.blocksBytes;
  }

  /**
   * Per window of 2^bits doc numbers holding postings of term `id`: the first posting and
   * the largest tf · normInverse of the window (the score is monotone in it, so it bounds every
   * posting's score there for any boost). Computed on first use of the term and kept while the
   * terms used since fit in `termBlocksBudget` (least recently used ones are dropped first: a
   * long run of training queries would otherwise keep one table per term of the vocabulary).
   */
  private termBlocks(id: number, bits: number, postDocs: Int32Array, postTfs: Uint32Array, start: number, end: number): TermBlocks {
    const key = id * 32 + bits;
    let b = this.blocksByTerm.get(key);
    if (b !== undefined) {
      this.blocksByTerm.delete(key);
      this.blocksByTerm.set(key, b);
      return b;
    }
    const normInv = this.normInv;
    const lucene = this.params.lengths === 'lucene';
    const win: number[] = [];
    const first: number[] = [];
    const maxX: number[] = [];
    let cur = -1;
    let mx = 0;
    for (let p = start; p < end; p++) {
      const d = postDocs[p]!;
      const w = d >> bits;
      if (w !== cur) {
        if (cur >= 0) maxX.push(mx);
        cur = w;
        mx = 0;
        win.push(w);
        first.push(p - start);
      }
      const x = lucene ? f(postTfs[p]! * normInv[d]!) : postTfs[p]! * normInv[d]!;
      if (x > mx) mx = x;
    }
    if (cur >= 0) maxX.push(mx);
    first.push(end - start);
    b = { win: Int32Array.from(win), first: Uint32Array.from(first), maxX: Float64Array.from(maxX) };
    this.blocksByTerm.set(key, b);
    this.blocksBytes += blocksSize(b);
    // The query being searched holds its terms' tables itself: dropping them here is safe.
    for (const [oldKey, old] of this.blocksByTerm) {
      if (this.blocksBytes <= this.termBlocksBudget) break;
      this.blocksByTerm.delete(oldKey);
      this.blocksBytes -= blocksSize(old);
    }
    return b;
  }

  /**
   * Exact top k by MaxScore over doc-number windows (Turtle & Flood 1995, "Query evaluation:
   * strategies and optimizations"; per-window bounds as in Lucene 9's MaxScoreBulkScorer): in each
   * window, the terms whose bounds summed cannot lift a document past the current k-th score are
   * "non-essential": only documents holding an essential term are candidates, and a candidate is
   * scored only when its bound can still enter. A scored document's score is summed over the
   * query's terms in the same order and arithmetic as the exhaustive path, so scores are
   * bit-identical and the top k the same. Undefined when pruning cannot pay (k covers every
   * posting, or a single term).
   */
  private searchPruned(weights: ReadonlyMap<string, number>, k: number, options: PruningOptions): RunHit[] | undefined {
    const bits = options.windowBits ?? WINDOW_BITS;
    const stats = options.stats;
    const terms = this.data.terms;
    const N = this.data.docCount;
    const lucene = this.params.lengths === 'lucene';
    const ids: number[] = [];
    const ws: number[] = [];
    let postings = 0;
    for (const [term, boost] of weights) {
      if (!(boost > 0)) continue;
      const id = terms.id(term);
      if (id < 0) continue;
      const df = terms.dfs[id]!;
      const idf = Math.log(1 + (N - df + 0.5) / (df + 0.5));
      ids.push(id);
      ws.push(lucene ? f(f(boost) * f(idf)) : boost * idf);
      postings += df;
    }
    const m = ids.length;
    if (m === 0) return [];
    if (m === 1 || m > (options.maxTerms ?? MAX_PRUNED_TERMS) || k >= postings || postings < (options.minPostings ?? MIN_PRUNED_POSTINGS)) return undefined;
    const normInv = this.normInv;
    // Decode the query's posting lists into one scratch pair of arrays, term after term.
    if (this.scratchDocs.length < postings) {
      this.scratchDocs = new Int32Array(postings);
      this.scratchTfs = new Uint32Array(postings);
    }
    const postDocs = this.scratchDocs;
    const postTfs = this.scratchTfs;
    const starts = new Uint32Array(m);
    let filled = 0;
    for (let t = 0; t < m; t++) {
      starts[t] = filled;
      filled += decodePostings(terms.postings(ids[t]!), postDocs, postTfs, filled);
    }
    const blocks = ids.map((id, t) => this.termBlocks(id, bits, postDocs, postTfs, starts[t]!, starts[t]! + terms.dfs[id]!));
    const entry = new Int32Array(m);
    const ptr = new Uint32Array(m);
    const stop = new Uint32Array(m);
    const ub = new Float64Array(m);
    const active = new Int32Array(m);
    const byBound = new Int32Array(m);
    const W = 1 << bits;
    if (this.winAcc === undefined || this.winAcc.length < W) {
      this.winAcc = new Float64Array(W);
      this.winTouched = new Int32Array(W);
      this.winMark = new Uint8Array(W);
    }
    const mark = this.winMark!;
    const acc = this.winAcc;
    const touched = this.winTouched!;
    const heap = new TopHeap(Math.min(k, postings), this.data.docIds);
    let theta = -Infinity;
    let backoff = 0;
    let failures = 0;
    let scored = 0;
    let candidates = 0;
    const score = lucene
      ? (w: number, tf: number, d: number): number => f(w - f(w / f(1 + f(tf * normInv[d]!))))
      : (w: number, tf: number, d: number): number => w - w / (1 + tf * normInv[d]!);
    const bound = lucene ? (w: number, x: number): number => f(w - f(w / f(1 + x))) : (w: number, x: number): number => w - w / (1 + x);
    for (;;) {
      let win = 0x7fffffff;
      for (let t = 0; t < m; t++) {
        const b = blocks[t]!;
        if (entry[t]! < b.win.length && b.win[entry[t]!]! < win) win = b.win[entry[t]!]!;
      }
      if (win === 0x7fffffff) break;
      const base = win << bits;
      let na = 0;
      let total = 0;
      for (let t = 0; t < m; t++) {
        const b = blocks[t]!;
        const e = entry[t]!;
        if (e < b.win.length && b.win[e] === win) {
          active[na++] = t;
          ptr[t] = starts[t]! + b.first[e]!;
          stop[t] = starts[t]! + b.first[e + 1]!;
          ub[t] = bound(ws[t]!, b.maxX[e]!);
          total += ub[t]!;
          entry[t] = e + 1;
        }
      }
      if (total * SAFETY < theta) continue;
      // Non-essential terms: the longest prefix, by ascending bound, whose bounds sum below theta.
      for (let i = 0; i < na; i++) {
        const t = active[i]!;
        let j = i;
        while (j > 0 && ub[byBound[j - 1]!]! > ub[t]!) {
          byBound[j] = byBound[j - 1]!;
          j--;
        }
        byBound[j] = t;
      }
      let nonEss = 0;
      let ne = 0;
      while (ne < na && (nonEss + ub[byBound[ne]!]!) * SAFETY < theta) nonEss += ub[byBound[ne++]!]!;
      let nt = 0;
      if (ne === 0 || backoff > 0) {
        // Every term is essential, or pruning did not pay in the last windows: score the window
        // term at a time in query order (the exhaustive path's sums), then offer its documents.
        if (backoff > 0) backoff--;
        for (let i = 0; i < na; i++) {
          const t = active[i]!;
          const w = ws[t]!;
          for (let p = ptr[t]!, end = stop[t]!; p < end; p++) {
            const d = postDocs[p]!;
            const l = d - base;
            if (mark[l] === 0) {
              mark[l] = 1;
              touched[nt++] = l;
            }
            acc[l]! += lucene ? f(w - f(w / f(1 + f(postTfs[p]! * normInv[d]!)))) : w - w / (1 + postTfs[p]! * normInv[d]!);
          }
          scored += stop[t]! - ptr[t]!;
        }
        for (let c = 0; c < nt; c++) {
          const l = touched[c]!;
          const sum = acc[l]!;
          acc[l] = 0;
          mark[l] = 0;
          if (sum !== 0 && heap.offer(lucene ? f(sum) : sum, base + l)) theta = heap.threshold;
        }
        continue;
      }
      let work = 0;
      let windowPostings = 0;
      for (let i = 0; i < na; i++) windowPostings += stop[active[i]!]! - ptr[active[i]!]!;
      for (let i = ne; i < na; i++) {
        const t = byBound[i]!;
        const w = ws[t]!;
        for (let p = ptr[t]!, end = stop[t]!; p < end; p++) {
          const d = postDocs[p]!;
          const l = d - base;
          if (mark[l] === 0) {
            mark[l] = 1;
            touched[nt++] = l;
          }
          acc[l]! += lucene ? f(w - f(w / f(1 + f(postTfs[p]! * normInv[d]!)))) : w - w / (1 + postTfs[p]! * normInv[d]!);
        }
        work += stop[t]! - ptr[t]!;
      }
      scored += work;
      const cand = touched.subarray(0, nt);
      cand.sort();
      for (let c = 0; c < nt; c++) {
        const l = cand[c]!;
        const upper = acc[l]! + nonEss;
        acc[l] = 0;
        mark[l] = 0;
        if (upper * SAFETY < theta) continue;
        const d = base + l;
        // MaxScore: swap each non-essential bound for the actual contribution, best bound first.
        let est = upper;
        for (let i = ne - 1; i >= 0 && est * SAFETY >= theta; i--) {
          const t = byBound[i]!;
          est -= ub[t]!;
          const p = seek(postDocs, ptr[t]!, stop[t]!, d);
          ptr[t] = p;
          work += SEEK_COST;
          if (p < stop[t]! && postDocs[p] === d) {
            est += score(ws[t]!, postTfs[p]!, d);
            scored++;
          }
        }
        if (est * SAFETY < theta) continue;
        candidates++;
        work += SEEK_COST * na;
        // The exhaustive path's sum: every term in query order, in double.
        let sum = 0;
        for (let i = 0; i < na; i++) {
          const t = active[i]!;
          const p = seek(postDocs, ptr[t]!, stop[t]!, d);
          ptr[t] = p;
          if (p < stop[t]! && postDocs[p] === d) sum += score(ws[t]!, postTfs[p]!, d);
        }
        if (sum !== 0 && heap.offer(lucene ? f(sum) : sum, d)) theta = heap.threshold;
      }
      // Pruning cost more than scanning the window would have: scan the next windows, for longer
      // after each further failure (theta keeps rising, so it is tried again).
      if (work > windowPostings) {
        failures = Math.min(failures + 1, 6);
        backoff = 1 << failures;
      } else failures = 0;
    }
    if (stats !== undefined) {
      stats.postingsScored += scored;
      stats.candidates += candidates;
      stats.exhaustive = false;
    }
    return heap.hits();
  }

  private scratchDocs = new Int32Array(0);
  private scratchTfs = new Uint32Array(0);
  private blkDocs = new Int32Array(0);
  private blkTfs = new Uint32Array(0);
  private winAcc: Float64Array | undefined;
  private winTouched: Int32Array | undefined;
  private winMark: Uint8Array | undefined;

  /** Internal doc number of a docid, or undefined. */
  docNo(docid: string): number | undefined {
    return this.data.docIds.docNo(docid);
  }

  /**
   * A document's stored id/title/text, read lazily from the document store. Undefined for an
   * unknown docid; throws a `config` error when the index keeps no texts.
   */
  docSync(docid: string): CorpusDoc | undefined {
    if (this.store === undefined) {
      throw new QxError('config', 'this index keeps no document texts', { hint: 'Build it with a directory or keepDocs: true.' });
    }
    const no = this.docNo(docid);
    return no === undefined ? undefined : this.store.get(no);
  }

  async doc(docid: string): Promise<CorpusDoc | undefined> {
    return this.docSync(docid);
  }

  /** True when document texts are available (`doc()`, RM3). */
  get hasDocStore(): boolean {
    return this.store !== undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.helpers.map((h) => h.close()));
    this.helpers = [];
    this.store?.close();
    this.data.terms.close();
  }
}

/** 2^16 = 65,536 doc numbers per window of the exhaustive path (512 KB of accumulators). */
const EXHAUSTIVE_WINDOW_BITS = 16;
/**
 * Exhaustive searches with fewer postings in all stay on one thread: handing half to a search
 * thread costs about a tenth of a millisecond, what scanning some 20,000 postings takes.
 */
const SPLIT_MIN_POSTINGS = 1_000_000;
/** Fewest doc numbers a search thread's range holds. */
const MIN_PART_DOCS = 1024;
/** 2^12 = 4,096 doc numbers per pruning window. */
const WINDOW_BITS = 12;
/**
 * Queries with more distinct terms (query2doc expansions: ~50) go exhaustive: measured on the
 * synthetic 1M corpus, pruning scored 98% of their postings and took 1.4x the time (bench/RESULTS.md).
 */
const MAX_PRUNED_TERMS = 24;
/** Below this many postings in all, the exhaustive path is as fast: no pruning. */
const MIN_PRUNED_POSTINGS = 4096;
// A bound is used only when SAFETY · bound < the k-th score. Covers the double sum's rounding in
// another order than the exhaustive path's (< 1e-13 relative) and the final float32 rounding
// (2^-24 relative).
const SAFETY = 1 + 1e-6;
/** A posting lookup (gallop + bisect) costs about this many sequential postings. */
const SEEK_COST = 4;

interface ExhaustivePlan {
  terms: { id: number; bytes: Uint8Array; w: number; table: Float32Array | undefined }[];
  /** Postings of all the terms. */
  postings: number;
}

/**
 * Window bounds kept between searches: 64 MB, some 4M windows (16 bytes each). At 8.8M documents
 * a term in every window costs 35 KB, and 3,000 random 4-word queries kept 187 MB before there
 * was a budget (bench/bm25/pruneMemory.ts, bench/RESULTS.md).
 */
const TERM_BLOCKS_BUDGET = 64 * 1024 * 1024;

/** A term's bounds' bytes, with what its three typed arrays, object and Map entry cost besides. */
function blocksSize(b: TermBlocks): number {
  return 256 + b.win.byteLength + b.first.byteLength + b.maxX.byteLength;
}

interface TermBlocks {
  /** Window numbers (doc number >> WINDOW_BITS) holding postings of the term, ascending. */
  win: Int32Array;
  /** First posting of each window; one more entry: the term's end. */
  first: Uint32Array;
  /** Largest tf · normInverse (float32 in lucene mode) in each window. */
  maxX: Float64Array;
}

/** How a search finds its top k. */
export interface PruningOptions {
  /**
   * Score every posting of every query term (term at a time) instead of pruning. Same hits and
   * bit-identical scores; for tests and benchmarks. Default false.
   */
  exhaustive?: boolean;
  /** Counters the search adds to (for benchmarks). */
  stats?: SearchStats;
  /** @internal log2 of the doc numbers per pruning window, default 12 (tests use small ones). */
  windowBits?: number;
  /** @internal most distinct terms for which pruning is tried, default 24. */
  maxTerms?: number;
  /** @internal fewest postings in all for which pruning is tried, default 4,096. */
  minPostings?: number;
}

/** Work counters of searches. */
export interface SearchStats {
  /** Postings whose BM25 contribution was computed. */
  postingsScored: number;
  /** Documents fully scored by the pruned path (their bound could still enter the top k). */
  candidates: number;
  /** True when the last search took the exhaustive path. */
  exhaustive: boolean;
}

/** A new set of zeroed counters. */
export function newSearchStats(): SearchStats {
  return { postingsScored: 0, candidates: 0, exhaustive: false };
}

/** Where a scan offers its hits. */
interface HitSink {
  /** The score a hit must reach to be kept; -Infinity while not full. */
  readonly threshold: number;
  /** Offers a hit; true when the sink is full afterwards (the threshold may have risen). */
  offer(s: number, d: number): boolean;
}

/**
 * Keeps the k best (score desc, then docid desc: trec_eval's order) of the hits offered. Without
 * `ids` (`TieHeap`) hits of equal score are not ordered among themselves.
 */
class TopHeap implements HitSink {
  protected readonly hs: Float64Array;
  protected readonly hd: Int32Array;
  protected size = 0;
  constructor(
    protected readonly cap: number,
    private readonly ids: DocIdTable | undefined,
  ) {
    this.hs = new Float64Array(cap);
    this.hd = new Int32Array(cap);
  }

  /** The score a hit must reach (ties: a larger docid) to enter; -Infinity while not full. */
  get threshold(): number {
    return this.size < this.cap ? -Infinity : this.hs[0]!;
  }

  private worse(sa: number, da: number, sb: number, db: number): boolean {
    return sa < sb || (sa === sb && this.ids !== undefined && this.ids.get(da) < this.ids.get(db));
  }

  /** Offers a hit; true when the heap is full afterwards (the threshold may have risen). */
  offer(s: number, d: number): boolean {
    const hs = this.hs;
    const hd = this.hd;
    if (this.size < this.cap) {
      let j = this.size++;
      while (j > 0) {
        const parent = (j - 1) >> 1;
        if (!this.worse(s, d, hs[parent]!, hd[parent]!)) break;
        hs[j] = hs[parent]!;
        hd[j] = hd[parent]!;
        j = parent;
      }
      hs[j] = s;
      hd[j] = d;
      return this.size === this.cap;
    }
    if (!this.worse(hs[0]!, hd[0]!, s, d)) return true;
    const size = this.size;
    let j = 0;
    for (;;) {
      const l = 2 * j + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && this.worse(hs[r]!, hd[r]!, hs[l]!, hd[l]!) ? r : l;
      if (!this.worse(hs[c]!, hd[c]!, s, d)) break;
      hs[j] = hs[c]!;
      hd[j] = hd[c]!;
      j = c;
    }
    hs[j] = s;
    hd[j] = d;
    return true;
  }

  /** Copies the kept hits (in heap order) into `scores`/`docs`; returns how many. */
  copyTo(scores: Float64Array, docs: Int32Array): number {
    scores.set(this.hs.subarray(0, this.size));
    docs.set(this.hd.subarray(0, this.size));
    return this.size;
  }

  /** The kept hits in trec_eval order, ranked from 1 (a heap with docids only). */
  hits(): RunHit[] {
    const ids = this.ids!;
    const hits: RunHit[] = new Array<RunHit>(this.size);
    for (let i = 0; i < this.size; i++) hits[i] = { docid: ids.get(this.hd[i]!), score: this.hs[i]! };
    hits.sort((a, b) => b.score - a.score || (a.docid < b.docid ? 1 : a.docid > b.docid ? -1 : 0));
    for (let i = 0; i < this.size; i++) hits[i]!.rank = i + 1;
    return hits;
  }
}

/**
 * The k best hits by score and every hit tied with the k-th score, without docids: a `TopHeap`
 * without docids and a list of the hits whose score equals its minimum. Whatever order docids
 * would give the ties, the k best by (score, docid) are among the hits kept.
 */
class TieHeap extends TopHeap {
  private readonly ties: Int32Array;
  private nTies = 0;
  private overflow = false;
  constructor(cap: number, tieCap: number) {
    super(cap, undefined);
    this.ties = new Int32Array(Math.max(0, tieCap));
  }

  override offer(s: number, d: number): boolean {
    if (this.size < this.cap) return super.offer(s, d);
    const min = this.hs[0]!;
    if (s < min) return true;
    if (s === min) {
      this.tie(d);
      return true;
    }
    const out = this.hd[0]!;
    super.offer(s, d);
    if (this.hs[0] === min) this.tie(out);
    else {
      // The minimum rose: the ties kept so far score below it.
      this.nTies = 0;
      this.overflow = false;
    }
    return true;
  }

  private tie(d: number): void {
    if (this.nTies < this.ties.length) this.ties[this.nTies++] = d;
    else this.overflow = true;
  }

  /** Copies the heap, then the ties, into `scores`/`docs`; returns how many, or −1 when ties were dropped for lack of room. */
  override copyTo(scores: Float64Array, docs: Int32Array): number {
    if (this.overflow) return -1;
    const n = super.copyTo(scores, docs);
    const min = this.hs[0]!;
    for (let i = 0; i < this.nTies; i++) {
      scores[n + i] = min;
      docs[n + i] = this.ties[i]!;
    }
    return n + this.nTies;
  }
}

/** The first posting in [p, end) with doc number >= d (postings ascend): gallop, then bisect. */
function seek(postDocs: Int32Array, p: number, end: number, d: number): number {
  if (p >= end || postDocs[p]! >= d) return p;
  let lo = p;
  let step = 1;
  let hi = p + 1;
  while (hi < end && postDocs[hi]! < d) {
    lo = hi;
    step <<= 1;
    hi = lo + step;
  }
  if (hi > end) hi = end;
  while (lo + 1 < hi) {
    const mid = (lo + hi) >>> 1;
    if (postDocs[mid]! < d) lo = mid;
    else hi = mid;
  }
  return hi;
}

function definedOnly(p: Partial<Bm25Params>): Partial<Bm25Params> {
  const out: Partial<Bm25Params> = {};
  if (p.k1 !== undefined) out.k1 = p.k1;
  if (p.b !== undefined) out.b = p.b;
  if (p.lengths !== undefined) out.lengths = p.lengths;
  return out;
}

function validateParams(p: Bm25Params): void {
  if (!(p.k1 >= 0) || !Number.isFinite(p.k1)) throw new QxError('config', `BM25 k1 must be a number ≥ 0, got ${p.k1}`);
  if (!(p.b >= 0 && p.b <= 1)) throw new QxError('config', `BM25 b must be between 0 and 1, got ${p.b}`);
  if (p.lengths !== 'lucene' && p.lengths !== 'exact') throw new QxError('config', `BM25 lengths must be "lucene" or "exact", got "${String(p.lengths)}"`);
}

/** Writes all of `bytes` at `position` of `fd`. */
export function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}
