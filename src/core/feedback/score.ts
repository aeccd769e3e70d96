import { startWorker, workerEntry } from '../workerThreads.js';
import type { DocMove, ExpansionScore } from '../curation/types.js';
import { originalScoreId } from '../curation/store.js';
import type { RunHit } from '../dataset/types.js';
import { judgeRanking, judgedOf, ndcgCutOf, recallOf, type QueryJudgments } from '../eval/measures.js';
import { isTrecEvalSorted, sortLikeTrecEval } from '../eval/trecOrder.js';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Bm25Params } from '../bm25/bm25Index.js';
import { CancellationError, QxError, type QxErrorCode, throwIfAborted } from '../errors.js';
import type { ExpansionRecord } from '../expansion/types.js';
import type { TaskOptions } from '../progress.js';

/** nDCG, Judged and the entered/left lists are all taken at this cut-off. */
export const FEEDBACK_CUTOFF = 10;

/**
 * A synchronous ranker: query string → hits sorted in trec_eval order (score desc, docid desc).
 * The embedded BM25 engine's `searchSync` is one.
 */
export type SyncSearch = (query: string, k: number) => RunHit[];

/**
 * A synchronous ranker over a weighted query: analyzed term → boost, hits in trec_eval order.
 * The embedded BM25 engine's `searchWeighted` is one.
 */
export type SyncWeightedSearch = (weights: ReadonlyMap<string, number>, k: number) => RunHit[];

/** What a score depends on besides the query string. */
export interface FeedbackSettings {
  /** Documents retrieved per query, and the k of Recall@k. Integer >= 10; default 1000 (TREC DL). */
  topK: number;
  /** Minimum grade counted relevant for Recall@k (trec_eval `-l`); default 2 (TREC DL). */
  relevanceLevel: number;
}

/** The original (unexpanded) query's ranking, against which expansions are compared. */
export interface Baseline {
  ndcg10: number;
  /** Top 10 docids in rank order. */
  top10: string[];
}

/**
 * Retrieval feedback of one ranking (hits in any order; they are re-sorted like trec_eval).
 *
 * - `ndcg10`: trec_eval `ndcg_cut.10` (linear gains, all positive grades), in [0, 1];
 * - `delta`: ndcg10 minus `baseline.ndcg10` (0 for the original itself, where baseline is null);
 * - `recall`: Recall@`topK` counting grades >= `relevanceLevel` (trec_eval `-l`), in [0, 1];
 * - `judged10`: fraction of the top 10 with a qrels entry (grade >= 0), in [0, 1];
 * - `entered`/`left`: documents in the expanded top 10 but not the original's, and the reverse,
 *   with their grade (null = unjudged) and their rank in the ranking that holds them;
 * - `unjudgedFlag`: some document that entered the top 10 is unjudged, so the delta may be an
 *   artefact of incomplete judgments rather than a real gain or loss.
 *
 * A query with no positive judgment scores 0 everywhere; callers report it and leave it out of
 * means, saying whether it has no judgment at all or none above 0 (see {@link judgmentStatus}).
 */
export function scoreRanking(
  expansionId: string,
  qid: string,
  hits: readonly RunHit[],
  judgments: QueryJudgments,
  settings: FeedbackSettings,
  baseline: Baseline | null,
): ExpansionScore {
  const judged = judgeRanking(hits, judgments, settings.relevanceLevel);
  const ndcg10 = ndcgCutOf(judged, FEEDBACK_CUTOFF);
  const sorted = isTrecEvalSorted(hits) ? hits : sortLikeTrecEval(hits);
  const top10 = sorted.slice(0, FEEDBACK_CUTOFF).map((h) => h.docid);
  const grade = (docid: string): number | null => {
    const g = judgments?.get(docid);
    return g === undefined ? null : g;
  };
  const entered: DocMove[] = [];
  const left: DocMove[] = [];
  if (baseline !== null) {
    const before = new Set(baseline.top10);
    const after = new Set(top10);
    top10.forEach((d, i) => {
      if (!before.has(d)) entered.push({ docid: d, grade: grade(d), rank: i + 1 });
    });
    baseline.top10.forEach((d, i) => {
      if (!after.has(d)) left.push({ docid: d, grade: grade(d), rank: i + 1 });
    });
  }
  return {
    expansionId,
    qid,
    ndcg10,
    delta: baseline === null ? 0 : ndcg10 - baseline.ndcg10,
    recall: recallOf(judged, settings.topK),
    recallK: settings.topK,
    judged10: judgedOf(judged, FEEDBACK_CUTOFF),
    entered,
    left,
    unjudgedFlag: entered.some((m) => m.grade === null),
    top10,
  };
}

/** True when the query has at least one judgment with grade > 0 (else nDCG is 0 whatever is retrieved). */
export function hasPositiveJudgment(judgments: QueryJudgments): boolean {
  if (judgments === undefined) return false;
  for (const g of judgments.values()) if (g > 0) return true;
  return false;
}

/**
 * How a topic stands in the qrels. Both kinds without a positive judgment score 0 whatever is
 * retrieved and are left out of every mean here, but trec_eval treats them differently:
 * - `unjudged`: no qrels line at all. trec_eval ignores the query, with or without `-c`
 *   ("Queries for which there is no relevance information are ignored", trec_eval.c's help).
 * - `noPositive`: judged, but no grade > 0. trec_eval evaluates it (with `-c` even when the run
 *   lacks it) and averages its 0 into every mean.
 * - `positive`: at least one grade > 0.
 */
export type JudgmentStatus = 'unjudged' | 'noPositive' | 'positive';

/** The {@link JudgmentStatus} of one topic's judgments (undefined or empty: `unjudged`). */
export function judgmentStatus(judgments: QueryJudgments): JudgmentStatus {
  if (judgments === undefined || judgments.size === 0) return 'unjudged';
  return hasPositiveJudgment(judgments) ? 'positive' : 'noPositive';
}

/** Topic ids of each {@link JudgmentStatus} but `positive`, in topic order. */
export interface JudgmentCoverage {
  /** Topics. */
  total: number;
  /** Topics with a grade > 0. */
  positive: number;
  /** Topics absent from the qrels. */
  unjudged: string[];
  /** Topics in the qrels with no grade > 0. */
  noPositive: string[];
}

/** How many of `topics` the qrels judge (see {@link JudgmentStatus}). */
export function judgmentCoverage(topics: readonly { qid: string }[], qrels: ReadonlyMap<string, QueryJudgments>): JudgmentCoverage {
  const out: JudgmentCoverage = { total: topics.length, positive: 0, unjudged: [], noPositive: [] };
  for (const t of topics) {
    const s = judgmentStatus(qrels.get(t.qid));
    if (s === 'positive') out.positive++;
    else if (s === 'unjudged') out.unjudged.push(t.qid);
    else out.noPositive.push(t.qid);
  }
  return out;
}

/** Scores the original query of `qid` (its delta is 0 and it has no entered/left documents). */
export function scoreOriginal(search: SyncSearch, qid: string, query: string, judgments: QueryJudgments, settings: FeedbackSettings): ExpansionScore {
  return scoreRanking(originalScoreId(qid), qid, search(query, settings.topK), judgments, settings, null);
}

/** Scores one final retrieval string of `qid` against the original's score. */
export function scoreFinal(
  search: SyncSearch,
  expansionId: string,
  qid: string,
  final: string,
  judgments: QueryJudgments,
  settings: FeedbackSettings,
  original: ExpansionScore,
): ExpansionScore {
  return scoreRanking(expansionId, qid, search(final, settings.topK), judgments, settings, { ndcg10: original.ndcg10, top10: original.top10 });
}

/**
 * Scores one expansion against the original's score: BM25 searches its `final` string, or, for a
 * model-free baseline with a weighted query (RM3), the stored terms with their weights, in their
 * stored order (so the ranking is the one `rm3Search` gives on the same index).
 */
export function scoreExpansion(
  search: SyncSearch,
  searchWeighted: SyncWeightedSearch | undefined,
  e: ExpansionRecord,
  judgments: QueryJudgments,
  settings: FeedbackSettings,
  original: ExpansionScore,
): ExpansionScore {
  if (e.weightedQuery === undefined) return scoreFinal(search, e.id, e.qid, e.final, judgments, settings, original);
  if (searchWeighted === undefined) throw new QxError('internal', `expansion ${e.id} is a weighted query, and this ranker cannot search one`);
  const hits = searchWeighted(new Map(e.weightedQuery.terms), settings.topK);
  return scoreRanking(e.id, e.qid, hits, judgments, settings, { ndcg10: original.ndcg10, top10: original.top10 });
}

/** One query's work for {@link scoreQueries}. */
export interface QueryToScore {
  qid: string;
  text: string;
  /** The stored score of the original query, or undefined to compute it. */
  original?: ExpansionScore;
  /** Expansions of this query that have no score yet. */
  expansions: readonly ExpansionRecord[];
}

export interface ScoreQueriesOptions extends TaskOptions {
  /**
   * Receives the new scores (originals included) in batches; awaited before they count, so a
   * cancelled run keeps everything it reported. Progress is reported only after a batch is
   * handed over: a query counted as done is a query whose scores are stored.
   */
  onScores: (scores: ExpansionScore[]) => void | Promise<void>;
  /** Flush at least every this many queries, default 25. */
  batchSize?: number;
  /** ...and at least every this many milliseconds, default 250. */
  batchMs?: number;
  /** Searches the weighted queries of model-free baselines (RM3); needed when there are any. */
  searchWeighted?: SyncWeightedSearch;
  /** Score in worker threads over the on-disk index (see {@link ScoreThreads}). */
  threads?: ScoreThreads;
}

/** Where the workers of {@link scoreQueries} open the index, and how many there are. */
export interface ScoreThreads {
  /** Worker threads; 1 (or too little work to share) scores in the calling thread. */
  threads: number;
  /** The on-disk index (`Bm25Index.build({ dir })`) every worker opens read-only. */
  indexDir: string;
  /** BM25 parameters to search it with (as `Bm25Index.open`), i.e. those of `search`. */
  params: Partial<Bm25Params>;
  /** Documents in the index: with the number of searches, whether workers pay for their start. */
  numDocs: number;
  /** @internal least searches x documents for workers, default {@link MIN_PARALLEL_WORK}. */
  minWork?: number;
}

/**
 * Least searches (originals + expansions) x indexed documents worth starting workers for: on the
 * 5,492-passage DL19 pool, 2 workers lost at 559 searches (0.8x) and won at 3,483 (1.44x).
 */
export const MIN_PARALLEL_WORK = 10_000_000;

/** Default worker count: the available cores, at most 8. */
export function defaultScoreThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/** The scores of one query in the order they are stored: its original (when missing), then its expansions. */
export function scoreOneQuery(search: SyncSearch, searchWeighted: SyncWeightedSearch | undefined, q: QueryToScore, judgments: QueryJudgments, settings: FeedbackSettings): { scores: ExpansionScore[]; original: boolean } {
  const scores: ExpansionScore[] = [];
  let original = q.original;
  if (original === undefined) {
    original = scoreOriginal(search, q.qid, q.text, judgments, settings);
    scores.push(original);
  }
  for (const e of q.expansions) scores.push(scoreExpansion(search, searchWeighted, e, judgments, settings, original));
  return { scores, original: q.original === undefined };
}

/**
 * Retrieves with every expansion's final string (a baseline's weighted query, see
 * {@link scoreExpansion}) and scores it against the original query (see {@link scoreRanking}). Checks the signal between queries; on cancellation the pending
 * batch is handed to `onScores` before the CancellationError is thrown. Progress is in queries.
 * Returns how many expansion scores (not counting originals) were computed.
 *
 * With `options.threads` (2 or more, and enough work: {@link MIN_PARALLEL_WORK}), queries
 * are scored by worker threads over the on-disk index; the scores, their order in `onScores` and
 * the progress rules are those of one thread.
 */
export async function scoreQueries(search: SyncSearch, qrels: ReadonlyMap<string, QueryJudgments>, queries: readonly QueryToScore[], settings: FeedbackSettings, options: ScoreQueriesOptions): Promise<{ scored: number; originals: number }> {
  const searches = queries.reduce((n, q) => n + q.expansions.length + (q.original === undefined ? 1 : 0), 0);
  if (options.threads !== undefined && options.threads.threads > 1 && searches > 1 && searches * options.threads.numDocs >= (options.threads.minWork ?? MIN_PARALLEL_WORK)) {
    return scoreInWorkers(qrels, queries, settings, options, options.threads);
  }
  const batchSize = Math.max(1, options.batchSize ?? 25);
  const batchMs = options.batchMs ?? 250;
  let pending: ExpansionScore[] = [];
  let inBatch = 0;
  let done = 0;
  let lastFlush = Date.now();
  let scored = 0;
  let originals = 0;
  const flush = async (): Promise<void> => {
    if (pending.length > 0) {
      const out = pending;
      pending = [];
      await options.onScores(out);
    }
    done += inBatch;
    inBatch = 0;
    lastFlush = Date.now();
    options.onProgress?.({ done, total: queries.length, unit: 'queries' });
    // Scoring is synchronous: without a macrotask turn, a SIGINT or a cancel click is never seen.
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  try {
    for (let i = 0; i < queries.length; i++) {
      throwIfAborted(options.signal);
      const q = queries[i]!;
      const r = scoreOneQuery(search, options.searchWeighted, q, qrels.get(q.qid), settings);
      pending.push(...r.scores);
      if (r.original) originals++;
      scored += q.expansions.length;
      inBatch++;
      if (inBatch >= batchSize || Date.now() - lastFlush >= batchMs) await flush();
    }
  } finally {
    if (inBatch > 0 || pending.length > 0) await flush();
  }
  return { scored, originals };
}

/**
 * The new scores of a scoring run on their way to `onScores`: gathered per query, handed over
 * every `batchSize` queries (default 25) or `batchMs` (default 250 ms), with progress counting
 * only queries whose scores were handed over. Queries keep arriving while `onScores` runs, so a
 * flush counts only what it hands over.
 */
export class ScoreBatches {
  private pending: ExpansionScore[] = [];
  private inBatch = 0;
  private done = 0;
  private lastFlush = Date.now();
  private readonly batchSize: number;
  private readonly batchMs: number;

  constructor(
    private readonly options: Pick<ScoreQueriesOptions, 'onScores' | 'onProgress' | 'batchSize' | 'batchMs'>,
    private readonly total: number,
  ) {
    this.batchSize = Math.max(1, options.batchSize ?? 25);
    this.batchMs = options.batchMs ?? 250;
  }

  /** Adds the scores of one finished query. */
  add(scores: readonly ExpansionScore[]): void {
    this.pending.push(...scores);
    this.inBatch++;
  }

  /** True when a batch is full or the last flush is `batchMs` old. */
  get due(): boolean {
    return this.inBatch >= this.batchSize || Date.now() - this.lastFlush >= this.batchMs;
  }

  /** True when some query's scores wait to be handed over. */
  get waiting(): boolean {
    return this.inBatch > 0 || this.pending.length > 0;
  }

  /** Hands the waiting scores to `onScores`, then reports progress. */
  async flush(): Promise<void> {
    const out = this.pending;
    const count = this.inBatch;
    this.pending = [];
    this.inBatch = 0;
    this.lastFlush = Date.now();
    if (out.length > 0) await this.options.onScores(out);
    this.done += count;
    this.options.onProgress?.({ done: this.done, total: this.total, unit: 'queries' });
  }
}

/** One chunk of queries for a worker; `judgments` parallel to `queries`. */
export interface ScoreWorkerRequest {
  id: number;
  queries: QueryToScore[];
  judgments: QueryJudgments[];
}

/** A worker's answer: per query, its scores in stored order (see {@link scoreOneQuery}). */
export type ScoreWorkerReply = { id: number; scores: ExpansionScore[][] } | { id: number; error: { message: string; code?: string; stack?: string } };

/** What each worker is started with. */
export interface ScoreWorkerData {
  indexDir: string;
  params: Partial<Bm25Params>;
  settings: FeedbackSettings;
}


async function scoreInWorkers(qrels: ReadonlyMap<string, QueryJudgments>, queries: readonly QueryToScore[], settings: FeedbackSettings, options: ScoreQueriesOptions, threads: ScoreThreads): Promise<{ scored: number; originals: number }> {
  const n = Math.min(threads.threads, queries.length);
  // Small chunks keep the workers evenly loaded and the stored prefix close behind the work.
  const chunkSize = Math.max(1, Math.min(8, Math.ceil(queries.length / (n * 8))));
  const chunks: QueryToScore[][] = [];
  for (let i = 0; i < queries.length; i += chunkSize) chunks.push(queries.slice(i, i + chunkSize));
  const results: (ExpansionScore[][] | undefined)[] = new Array(chunks.length).fill(undefined);
  let nextChunk = 0;
  let nextStore = 0;
  let scored = 0;
  let originals = 0;
  const batches = new ScoreBatches(options, queries.length);
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => batches.flush();
  /** Moves the finished chunks that follow the stored prefix into the pending batch, in query order. */
  const take = (all: boolean): void => {
    for (; nextStore < chunks.length; nextStore++) {
      const r = results[nextStore];
      if (r === undefined) {
        if (all) continue;
        break;
      }
      results[nextStore] = undefined;
      const qs = chunks[nextStore]!;
      r.forEach((scores, i) => {
        batches.add(scores);
        if (qs[i]!.original === undefined) originals++;
        scored += qs[i]!.expansions.length;
      });
    }
  };
  const data: ScoreWorkerData = { indexDir: threads.indexDir, params: threads.params, settings };
  const workers: Worker[] = [];
  let onAbort = (): void => {};
  try {
    await new Promise<void>((resolve, reject) => {
      let running = 0;
      let settled = false;
      const finish = (e?: unknown): void => {
        if (settled) return;
        settled = true;
        if (e === undefined) resolve();
        else reject(e);
      };
      onAbort = (): void => finish(new CancellationError());
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const dispatch = (w: Worker): void => {
        if (settled || nextChunk >= chunks.length) return;
        const id = nextChunk++;
        const qs = chunks[id]!;
        const request: ScoreWorkerRequest = { id, queries: qs, judgments: qs.map((q) => qrels.get(q.qid)) };
        running++;
        w.postMessage(request);
      };
      for (let i = 0; i < n; i++) {
        const w = startWorker(workerEntry(__dirname, 'scoreWorker'), data);
        workers.push(w);
        w.on('message', (reply: ScoreWorkerReply) => {
          running--;
          if ('error' in reply) {
            return finish(new QxError((reply.error.code as QxErrorCode | undefined) ?? 'internal', reply.error.message));
          }
          results[reply.id] = reply.scores;
          dispatch(w);
          take(false);
          if (batches.due || nextStore === chunks.length) {
            flushing = flushing.then(flush).catch((e: unknown) => finish(e));
          }
          if (running === 0 && nextChunk >= chunks.length) void flushing.then(() => finish());
        });
        w.on('error', (e) => finish(e));
        w.on('exit', (code) => {
          if (code !== 0) finish(new QxError('internal', `a scoring worker stopped (exit code ${code})`));
        });
        dispatch(w);
      }
    });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await Promise.all(workers.map((w) => w.terminate()));
    // Whatever finished is kept: the stored prefix, then finished chunks past a gap (cancel, error).
    await flushing.catch(() => {});
    take(true);
    if (batches.waiting) await flush();
  }
  throwIfAborted(options.signal);
  return { scored, originals };
}
