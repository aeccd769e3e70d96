import type { Qrels } from '../dataset/types.js';
import { ndcgAt } from '../eval/measures.js';
import { originalScoreId } from '../curation/store.js';

/** How judge scores become grades for the documents the qrels leave unjudged. */
export interface FillOptions {
  mode: 'binary' | 'graded';
  /** Binary judges: a score >= this is relevant. Default 0.5 (use the calibrated threshold). */
  threshold?: number;
  /** Binary judges: the grade a relevant document gets, default 1 (use the dataset's relevance level to count as relevant there). */
  relevantGrade?: number;
}

/** The grade a judge score stands for: graded judges round the expected grade; binary ones threshold. */
export function judgeGrade(score: number, options: FillOptions): number {
  if (options.mode === 'graded') return Math.max(0, Math.round(score));
  return score >= (options.threshold ?? 0.5) ? (options.relevantGrade ?? 1) : 0;
}

/**
 * The qrels of one query with the judge filling its holes: every qrels judgment as it is, plus a
 * grade for each judge-scored document the qrels lack. The qrels are never changed.
 */
export function filledJudgments(judged: ReadonlyMap<string, number> | undefined, judgeScores: ReadonlyMap<string, number>, options: FillOptions): Map<string, number> {
  const out = new Map(judged ?? []);
  for (const [docid, score] of judgeScores) if (!out.has(docid)) out.set(docid, judgeGrade(score, options));
  return out;
}

/** nDCG@10 of a ranking given as docids in rank order (trec_eval gain = grade, log2 discount). */
export function ndcg10Of(top10: readonly string[], judgments: ReadonlyMap<string, number> | undefined): number {
  return ndcgAt(top10.slice(0, 10).map((docid, i) => ({ docid, score: 10 - i })), judgments, 10);
}

/** One expansion's (or the original's) nDCG@10 judged-only and judge-filled. */
export interface FilledScore {
  id: string;
  qid: string;
  /** The ranking's top 10 docids, rank order. */
  top10: string[];
  judgedOnly: number;
  filled: number;
  /** Documents of its top 10 unjudged by the qrels, and how many of those the judge scored. */
  unjudged10: number;
  judgeFilled10: number;
}

/** A pair of expansions with its margin judged-only and judge-filled. */
export interface PairFlip {
  pairId: string;
  qid: string;
  /** The pair's curation state ("auto", "accepted", …), when known. */
  state?: string;
  judgedMargin: number;
  filledMargin: number;
  /** The judge-filled margin has the opposite sign of the judged-only one. */
  flipped: boolean;
  /** Judged-only and judge-filled nDCG agree on which side is better (same sign, both non-zero). */
  agree: boolean;
}

/** Judged-only and judge-filled nDCG@10 of every ranking of one query. */
export function fillQuery(qid: string, rankings: readonly { id: string; top10: readonly string[] }[], qrels: Qrels, judgeScores: ReadonlyMap<string, number>, options: FillOptions): FilledScore[] {
  const judged = qrels.get(qid);
  const filled = filledJudgments(judged, judgeScores, options);
  return rankings.map((r) => {
    const top = r.top10.slice(0, 10);
    const holes = top.filter((d) => judged?.has(d) !== true);
    return { id: r.id, qid, top10: [...top], judgedOnly: ndcg10Of(top, judged), filled: ndcg10Of(top, filled), unjudged10: holes.length, judgeFilled10: holes.filter((d) => judgeScores.has(d)).length };
  });
}


/** One query's rankings to fill: the original's top 10 and each scored expansion's, with the method key it is grouped under. */
export interface RankingsToFill {
  qid: string;
  /** The original query's top 10; undefined before scoring. */
  original: readonly string[] | undefined;
  /** The scored expansions, in order: id, method key (the caller's, e.g. "role/method/model"), top 10. */
  expansions: readonly { id: string; key: string; top10: readonly string[] }[];
}

/** Judged-only and judge-filled nDCG@10 of every ranking of several queries, indexed three ways. */
export interface FilledRankings {
  /** Every ranking's scores, query by query in input order, the original's (id "original:<qid>") first. */
  scores: FilledScore[];
  /** Ranking id → its scores. */
  byId: Map<string, FilledScore>;
  /** The originals' scores, one per query that has an original, in input order. */
  originals: FilledScore[];
  /** Method key (first seen first) → qid (input order) → that method's expansions on the query, in order. */
  byMethod: Map<string, Map<string, FilledScore[]>>;
}

/**
 * Fills the rankings of several queries (`fillQuery` on each: the original's, then each
 * expansion's), and groups the scores by id, original and method key. Linear in the rankings.
 * `judgeScores(qid)` is docid → judge score of one query.
 */
export function fillRankings(queries: Iterable<RankingsToFill>, qrels: Qrels, judgeScores: (qid: string) => ReadonlyMap<string, number>, options: FillOptions): FilledRankings {
  const out: FilledRankings = { scores: [], byId: new Map(), originals: [], byMethod: new Map() };
  for (const q of queries) {
    const rankings: { id: string; top10: readonly string[] }[] = [];
    if (q.original !== undefined) rankings.push({ id: originalScoreId(q.qid), top10: q.original });
    for (const e of q.expansions) rankings.push(e);
    const first = q.original === undefined ? 0 : 1;
    fillQuery(q.qid, rankings, qrels, judgeScores(q.qid), options).forEach((s, i) => {
      out.scores.push(s);
      out.byId.set(s.id, s);
      if (i < first) {
        out.originals.push(s);
        return;
      }
      const key = q.expansions[i - first]!.key;
      let perQid = out.byMethod.get(key);
      if (perQid === undefined) out.byMethod.set(key, (perQid = new Map()));
      let list = perQid.get(q.qid);
      if (list === undefined) perQid.set(q.qid, (list = []));
      list.push(s);
    });
  }
  return out;
}

/** Compares each pair's margin judged-only and judge-filled (chosen minus rejected). */
export function pairFlips(pairs: readonly { id: string; qid: string; chosenId: string; rejectedId: string; state?: string }[], scores: ReadonlyMap<string, FilledScore>): PairFlip[] {
  const out: PairFlip[] = [];
  for (const p of pairs) {
    const c = scores.get(p.chosenId);
    const r = scores.get(p.rejectedId);
    if (c === undefined || r === undefined) continue;
    const judgedMargin = c.judgedOnly - r.judgedOnly;
    const filledMargin = c.filled - r.filled;
    const eps = 1e-12;
    const sj = Math.abs(judgedMargin) < eps ? 0 : Math.sign(judgedMargin);
    const sf = Math.abs(filledMargin) < eps ? 0 : Math.sign(filledMargin);
    out.push({ pairId: p.id, qid: p.qid, ...(p.state === undefined ? {} : { state: p.state }), judgedMargin, filledMargin, flipped: sj !== 0 && sf === -sj, agree: sj !== 0 && sj === sf });
  }
  return out;
}
