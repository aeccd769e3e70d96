import type { Qrels, Run, Topic } from '../dataset/types.js';
import { topKLikeTrecEval } from '../eval/measures.js';

/** The rankings of one query a judging pool is drawn from: the original's and every scored expansion's top 10. */
export interface QueryRankings {
  qid: string;
  /** Top 10 docids of the original query, rank order; undefined before scoring. */
  original?: readonly string[] | undefined;
  /** Top 10 docids of each scored expansion, rank order. */
  expansions: readonly (readonly string[])[];
}

/** One document of a judging pool. */
export interface PoolEntry {
  qid: string;
  docid: string;
  /** Its qrels grade, or null when unjudged. */
  grade: number | null;
}

export interface PoolOptions {
  /** Also take the judged documents of the pool (to calibrate the judge against the qrels). Default false. */
  includeJudged?: boolean;
  /** Only these queries. */
  qids?: readonly string[];
}

/**
 * The judging pool of the expansions (the default of `qx judge`): per query, the union of the top
 * 10 of the original query and of every scored expansion, unjudged documents only unless
 * `includeJudged`. Stable order: topics order, then first appearance (original first, then
 * expansions in the order given).
 */
export function expansionPool(topics: readonly Topic[], qrels: Qrels, rankings: readonly QueryRankings[], options: PoolOptions = {}): PoolEntry[] {
  const byQid = new Map(rankings.map((r) => [r.qid, r]));
  const only = options.qids === undefined ? undefined : new Set(options.qids);
  const out: PoolEntry[] = [];
  for (const t of topics) {
    if (only !== undefined && !only.has(t.qid)) continue;
    const r = byQid.get(t.qid);
    if (r === undefined) continue;
    const seen = new Set<string>();
    for (const list of [r.original ?? [], ...r.expansions]) {
      for (const docid of list.slice(0, 10)) {
        if (seen.has(docid)) continue;
        seen.add(docid);
        const grade = qrels.get(t.qid)?.get(docid) ?? null;
        if (grade === null || options.includeJudged === true) out.push({ qid: t.qid, docid, grade });
      }
    }
  }
  return out;
}

/**
 * The judging pool of a TREC run: the top `depth` documents of each query as trec_eval orders them
 * (score descending, docid descending on ties), unjudged only unless `includeJudged`.
 */
export function runPool(topics: readonly Topic[], qrels: Qrels, run: Run, depth: number, options: PoolOptions = {}): PoolEntry[] {
  const only = options.qids === undefined ? undefined : new Set(options.qids);
  const out: PoolEntry[] = [];
  for (const t of topics) {
    if (only !== undefined && !only.has(t.qid)) continue;
    for (const h of topKLikeTrecEval(run.get(t.qid) ?? [], depth)) {
      const grade = qrels.get(t.qid)?.get(h.docid) ?? null;
      if (grade === null || options.includeJudged === true) out.push({ qid: t.qid, docid: h.docid, grade });
    }
  }
  return out;
}
