import { originalScoreId } from '../curation/store.js';
import type { ExpansionScore } from '../curation/types.js';
import type { RunHit } from '../dataset/types.js';
import type { QueryJudgments } from '../eval/measures.js';
import { runBatch } from '../expansion/retry.js';
import { type FeedbackSettings, type QueryToScore, ScoreBatches, type ScoreQueriesOptions, scoreRanking } from './score.js';

/**
 * An asynchronous ranker over several queries at once (one `_msearch` of an external engine):
 * per query its top `k` hits in trec_eval order (score desc, docid desc).
 */
export type BatchSearch = (queries: readonly string[], k: number, signal: AbortSignal) => Promise<RunHit[][]>;

/** Options of {@link scoreQueriesRemote}: those of `scoreQueries` (no threads, no weighted queries) plus the request concurrency. */
export interface ScoreRemoteOptions extends Pick<ScoreQueriesOptions, 'signal' | 'onProgress' | 'onScores' | 'batchSize' | 'batchMs'> {
  /** Queries searched at once (each one request: its original and its expansions), >= 1. */
  concurrency: number;
}

/**
 * The scores of one query from one batch search: its original (searched when `q.original` is
 * missing), then its expansions' final strings, in the order `scoreOneQuery` stores them.
 */
export async function scoreOneQueryRemote(search: BatchSearch, q: QueryToScore, judgments: QueryJudgments, settings: FeedbackSettings, signal: AbortSignal): Promise<ExpansionScore[]> {
  const strings = [...(q.original === undefined ? [q.text] : []), ...q.expansions.map((e) => e.final)];
  const lists = await search(strings, settings.topK, signal);
  const scores: ExpansionScore[] = [];
  let original = q.original;
  let at = 0;
  if (original === undefined) {
    original = scoreRanking(originalScoreId(q.qid), q.qid, lists[at++] ?? [], judgments, settings, null);
    scores.push(original);
  }
  const baseline = { ndcg10: original.ndcg10, top10: original.top10 };
  for (const e of q.expansions) scores.push(scoreRanking(e.id, q.qid, lists[at++] ?? [], judgments, settings, baseline));
  return scores;
}

/**
 * `scoreQueries` over an external engine: each query's original (when missing) and expansions go
 * in one batch search, at most `concurrency` queries in flight. Scores are handed to `onScores`
 * in batches (every `batchSize` queries, default 25, or `batchMs`, default 250 ms) and progress
 * counts only queries whose scores were handed over, so a cancelled or failed run keeps every
 * finished query and a rerun does the rest. Weighted queries (RM3) are the caller's to leave out.
 */
export async function scoreQueriesRemote(search: BatchSearch, qrels: ReadonlyMap<string, QueryJudgments>, queries: readonly QueryToScore[], settings: FeedbackSettings, options: ScoreRemoteOptions): Promise<{ scored: number; originals: number }> {
  const batches = new ScoreBatches(options, queries.length);
  let scored = 0;
  let originals = 0;
  try {
    await runBatch<QueryToScore, { q: QueryToScore; scores: ExpansionScore[] }>(
      queries,
      {
        concurrency: Math.max(1, options.concurrency),
        signal: options.signal,
        onResult: async ({ q, scores }) => {
          batches.add(scores);
          scored += q.expansions.length;
          if (q.original === undefined) originals++;
          if (batches.due) await batches.flush();
        },
      },
      async (q) => ({ q, scores: await scoreOneQueryRemote(search, q, qrels.get(q.qid), settings, options.signal) }),
    );
  } finally {
    if (batches.waiting) await batches.flush();
  }
  return { scored, originals };
}
