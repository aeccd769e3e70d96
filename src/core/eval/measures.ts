import type { RunHit } from '../dataset/types.js';
import { compareTrecEval, isTrecEvalSorted, sortLikeTrecEval } from './trecOrder.js';

/** Relevance value of a retrieved document that has no qrels entry (trec_eval RELVALUE_NONPOOL). */
export const REL_NOT_JUDGED = -1;
/** Relevance value of a retrieved document whose qrels grade is negative (trec_eval RELVALUE_UNJUDGED). */
export const REL_UNJUDGED_IN_POOL = -2;

/** One query's judgments: docid → grade. `undefined` stands for a query without any. */
export type QueryJudgments = ReadonlyMap<string, number> | undefined;

/**
 * A ranking matched against its judgments, trec_eval's `RES_RELS`: the base of every measure.
 * Built by {@link judgeRanking}; reuse it to compute several measures of one query.
 */
export interface JudgedRanking {
  /** Relevance value per rank (index 0 = rank 1): the grade (>= 0), or REL_NOT_JUDGED / REL_UNJUDGED_IN_POOL. */
  rels: number[];
  /** Number of retrieved documents. */
  numRet: number;
  /** Judged documents with grade >= relevanceLevel (the recall/AP denominator). */
  numRel: number;
  /** Retrieved documents with grade >= relevanceLevel. */
  numRelRet: number;
  /** How many judgments the query has at each grade >= 0. */
  gradeCounts: Map<number, number>;
  /** The grade threshold used for numRel, numRelRet and the binary measures. */
  relevanceLevel: number;
}

/**
 * Sorts `hits` like trec_eval (score desc, docid desc) and looks up each document's grade.
 * @param relevanceLevel grade from which a document counts as relevant for the binary measures
 *   (trec_eval `-l`); default 1
 */
export function judgeRanking(hits: readonly RunHit[], judgments: QueryJudgments, relevanceLevel = 1): JudgedRanking {
  const sorted = isTrecEvalSorted(hits) ? hits : sortLikeTrecEval(hits);
  const rels = new Array<number>(sorted.length);
  let numRelRet = 0;
  for (let i = 0; i < sorted.length; i++) {
    const g = judgments?.get(sorted[i]!.docid);
    const rel = g === undefined ? REL_NOT_JUDGED : g < 0 ? REL_UNJUDGED_IN_POOL : g;
    rels[i] = rel;
    if (rel >= 0 && rel >= relevanceLevel) numRelRet++;
  }
  const gradeCounts = new Map<number, number>();
  let numRel = 0;
  if (judgments) {
    for (const g of judgments.values()) {
      if (g < 0) continue;
      gradeCounts.set(g, (gradeCounts.get(g) ?? 0) + 1);
      if (g >= relevanceLevel) numRel++;
    }
  }
  return { rels, numRet: sorted.length, numRel, numRelRet, gradeCounts, relevanceLevel };
}

function isRel(r: JudgedRanking, rel: number): boolean {
  return rel >= 0 && rel >= r.relevanceLevel;
}

/** trec_eval `ndcg_cut.k`: DCG of the top k (gain = grade, only grades > 0, discount 1/log2(rank+1)) over the ideal DCG of the top k judged grades; 0 when no grade is positive. */
export function ndcgCutOf(r: JudgedRanking, k: number): number {
  let dcg = 0;
  const n = Math.min(k, r.numRet);
  for (let i = 0; i < n; i++) {
    const g = r.rels[i]!;
    if (g > 0) dcg += g / Math.log2(i + 2);
  }
  if (dcg === 0) return 0;
  const ideal = idealDcgFromCounts(r.gradeCounts, k);
  return ideal > 0 ? dcg / ideal : 0;
}

function idealDcgFromCounts(counts: ReadonlyMap<number, number>, k: number): number {
  const grades = [...counts.keys()].filter((g) => g > 0).sort((a, b) => b - a);
  let ideal = 0;
  let pos = 0;
  for (const g of grades) {
    const c = counts.get(g)!;
    for (let j = 0; j < c && pos < k; j++, pos++) ideal += g / Math.log2(pos + 2);
    if (pos >= k) break;
  }
  return ideal;
}

/**
 * trec_eval `ndcg` (no cutoff) with optional gains per grade (`ndcg.1=3,2=9`): every retrieved
 * document counts; grades without a given gain keep gain = grade.
 */
export function ndcgOf(r: JudgedRanking, gains?: ReadonlyMap<number, number>): number {
  const gainOf = (rel: number): number => {
    const g = gains?.get(rel);
    if (g !== undefined) return g;
    return rel > 0 ? rel : 0;
  };
  let dcg = 0;
  for (let i = 0; i < r.numRet; i++) {
    const g = gainOf(r.rels[i]!);
    if (g !== 0) dcg += g / Math.log2(i + 2);
  }
  const levels = [...r.gradeCounts.entries()].map(([grade, count]) => ({ gain: gainOf(grade), count })).sort((a, b) => b.gain - a.gain);
  let ideal = 0;
  let pos = 0;
  for (const { gain, count } of levels) {
    if (gain <= 0) break;
    for (let j = 0; j < count; j++, pos++) ideal += gain / Math.log2(pos + 2);
  }
  return ideal > 0 ? dcg / ideal : 0;
}

/** trec_eval `P.k`: relevant documents in the top k divided by k (missing ranks count as non-relevant). */
export function precisionOf(r: JudgedRanking, k: number): number {
  let rel = 0;
  const n = Math.min(k, r.numRet);
  for (let i = 0; i < n; i++) if (isRel(r, r.rels[i]!)) rel++;
  return rel / k;
}

/** trec_eval `recall.k`: relevant documents in the top k over all relevant judged ones; 0 when none is relevant. */
export function recallOf(r: JudgedRanking, k: number): number {
  if (r.numRel === 0) return 0;
  let rel = 0;
  const n = Math.min(k, r.numRet);
  for (let i = 0; i < n; i++) if (isRel(r, r.rels[i]!)) rel++;
  return rel / r.numRel;
}

/** trec_eval `map` (k = Infinity) and `map_cut.k`: sum of precision at each relevant rank within k, over numRel. */
export function averagePrecisionOf(r: JudgedRanking, k = Infinity): number {
  if (r.numRel === 0) return 0;
  let rel = 0;
  let sum = 0;
  const n = Math.min(k, r.numRet);
  for (let i = 0; i < n; i++) {
    if (isRel(r, r.rels[i]!)) {
      rel++;
      sum += rel / (i + 1);
    }
  }
  return sum / r.numRel;
}

/** trec_eval `Rprec`: precision at rank numRel; 0 when nothing is relevant. */
export function rPrecisionOf(r: JudgedRanking): number {
  if (r.numRel === 0) return 0;
  let rel = 0;
  const n = Math.min(r.numRel, r.numRet);
  for (let i = 0; i < n; i++) if (isRel(r, r.rels[i]!)) rel++;
  return rel / r.numRel;
}

/** Reciprocal rank of the first relevant document within the top k (trec_eval `recip_rank` for k = Infinity; MRR@10 for k = 10). */
export function reciprocalRankOf(r: JudgedRanking, k = Infinity): number {
  const n = Math.min(k, r.numRet);
  for (let i = 0; i < n; i++) if (isRel(r, r.rels[i]!)) return 1 / (i + 1);
  return 0;
}

/** trec_eval `success.k`: 1 when a relevant document is in the top k, else 0. */
export function successOf(r: JudgedRanking, k: number): number {
  return reciprocalRankOf(r, k) > 0 ? 1 : 0;
}

/** trec_eval `unj.k`: documents in the top k without a usable judgment, divided by k. */
export function unjudgedOf(r: JudgedRanking, k: number): number {
  let u = 0;
  const n = Math.min(k, r.numRet);
  for (let i = 0; i < n; i++) if (r.rels[i]! < 0) u++;
  return u / k;
}

/** Judged@k: documents in the top k with a judgment (grade >= 0, relevant or not), divided by k. */
export function judgedOf(r: JudgedRanking, k: number): number {
  let j = 0;
  const n = Math.min(k, r.numRet);
  for (let i = 0; i < n; i++) if (r.rels[i]! >= 0) j++;
  return j / k;
}

/**
 * nDCG@k of one ranking exactly as `trec_eval -m ndcg_cut.k`: hits are re-sorted by score
 * descending, ties by docid descending (strcmp); gain = qrels grade (only > 0 counts); discount
 * 1/log2(rank+1); ideal DCG from all positive judgments of the query cut at k.
 * @param hits the ranking, any order
 * @param judgments docid → grade of this query (undefined: no judgments, result 0)
 * @param k cutoff, integer >= 1; default 10
 * @returns a value in [0, 1]
 */
export function ndcgAt(hits: readonly RunHit[], judgments: QueryJudgments, k = 10): number {
  if (!judgments) return 0;
  const top = topKLikeTrecEval(hits, k);
  let dcg = 0;
  for (let i = 0; i < top.length; i++) {
    const g = judgments.get(top[i]!.docid);
    if (g !== undefined && g > 0) dcg += g / Math.log2(i + 2);
  }
  if (dcg === 0) return 0;
  const ideal = idealDcgAt(judgments, k);
  return ideal > 0 ? dcg / ideal : 0;
}

/**
 * The first k hits in trec_eval's order without sorting the whole list: O(n) when the input is
 * already in that order (as Retriever results are), O(n log k)-ish otherwise.
 */
export function topKLikeTrecEval<T extends RunHit>(hits: readonly T[], k: number): T[] {
  if (k < 1) return [];
  if (isTrecEvalSorted(hits)) return hits.slice(0, k);
  const top: T[] = [];
  for (const h of hits) {
    if (top.length === k && compareTrecEval(h, top[k - 1]!) >= 0) continue;
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareTrecEval(top[mid]!, h) <= 0) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, h);
    if (top.length > k) top.pop();
  }
  return top;
}

/** Ideal DCG of a query at cutoff k (the nDCG denominator); 0 when no grade is positive. */
export function idealDcgAt(judgments: QueryJudgments, k = 10): number {
  if (!judgments) return 0;
  const counts = new Map<number, number>();
  for (const g of judgments.values()) if (g > 0) counts.set(g, (counts.get(g) ?? 0) + 1);
  return idealDcgFromCounts(counts, k);
}

/**
 * Recall@k as `trec_eval -l relevanceLevel -m recall.k`.
 * @param relevanceLevel minimum grade that counts as relevant; default 1 (TREC DL uses 2)
 * @returns a value in [0, 1]; 0 when the query has no relevant judgment
 */
export function recallAt(hits: readonly RunHit[], judgments: QueryJudgments, k: number, relevanceLevel = 1): number {
  return recallOf(judgeRanking(hits, judgments, relevanceLevel), k);
}

/**
 * Judged@k: the fraction of the top k (trec_eval order) that has a qrels entry with grade >= 0.
 * Divides by k even when fewer than k documents were retrieved. Value in [0, 1].
 */
export function judgedAt(hits: readonly RunHit[], judgments: QueryJudgments, k = 10): number {
  return judgedOf(judgeRanking(hits, judgments), k);
}

/** Reciprocal rank of the first document with grade >= relevanceLevel within the top k (MRR@10 with k = 10). */
export function reciprocalRankAt(hits: readonly RunHit[], judgments: QueryJudgments, k = 10, relevanceLevel = 1): number {
  return reciprocalRankOf(judgeRanking(hits, judgments, relevanceLevel), k);
}
