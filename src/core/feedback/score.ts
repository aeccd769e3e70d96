import type { DocMove, ExpansionScore } from '../curation/types.js';
import { originalScoreId } from '../curation/store.js';
import type { RunHit } from '../dataset/types.js';
import { judgeRanking, judgedOf, ndcgCutOf, recallOf, type QueryJudgments } from '../eval/measures.js';
import { isTrecEvalSorted, sortLikeTrecEval } from '../eval/trecOrder.js';
import { QxError, throwIfAborted } from '../errors.js';
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
}

/**
 * Retrieves with every expansion's final string (a baseline's weighted query, see
 * {@link scoreExpansion}) and scores it against the original query (see {@link scoreRanking}). Checks the signal between queries; on cancellation the pending
 * batch is handed to `onScores` before the CancellationError is thrown. Progress is in queries.
 * Returns how many expansion scores (not counting originals) were computed.
 */
export async function scoreQueries(search: SyncSearch, qrels: ReadonlyMap<string, QueryJudgments>, queries: readonly QueryToScore[], settings: FeedbackSettings, options: ScoreQueriesOptions): Promise<{ scored: number; originals: number }> {
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
      const judgments = qrels.get(q.qid);
      let original = q.original;
      if (original === undefined) {
        original = scoreOriginal(search, q.qid, q.text, judgments, settings);
        pending.push(original);
        originals++;
      }
      for (const e of q.expansions) {
        pending.push(scoreExpansion(search, options.searchWeighted, e, judgments, settings, original));
        scored++;
      }
      inBatch++;
      if (inBatch >= batchSize || Date.now() - lastFlush >= batchMs) await flush();
    }
  } finally {
    if (inBatch > 0 || pending.length > 0) await flush();
  }
  return { scored, originals };
}
