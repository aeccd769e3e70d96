import type { ExpansionScore } from '../curation/types.js';
import { originalScoreId } from '../curation/store.js';
import type { ExpansionRecord, ExpansionRole } from '../expansion/types.js';

/**
 * What a query costs the BM25 engine, a FLOPS proxy in the spirit of SPLADE's FLOPS regulariser
 * (Formal et al. 2021: the expected number of posting-list entries a query touches):
 * - `terms`: analyzed tokens of the retrieval string, repeats counted (a query2doc string with the
 *   query 5 times counts it 5 times); for a weighted query (RM3), its terms with a positive weight;
 * - `uniqueTerms`: distinct analyzed terms;
 * - `matchedTerms`: distinct terms the index has;
 * - `postings`: posting entries BM25 walks = the sum of the document frequencies of the distinct
 *   matched terms (each posting list is read once, however often its term repeats).
 */
export interface QueryCost {
  terms: number;
  uniqueTerms: number;
  matchedTerms: number;
  postings: number;
}

/** The part of a BM25 index the cost needs (the embedded `Bm25Index` is one). */
export interface CostIndex {
  /** Analyzed term → count in the text. */
  queryTerms(text: string): Map<string, number>;
  /** Document frequency of an analyzed term, 0 when the index lacks it. */
  docFreq(term: string): number;
}

/** The cost of a retrieval string, or of a weighted query (terms → weights) searched as it is. */
export function queryCost(index: CostIndex, query: string | ReadonlyMap<string, number>): QueryCost {
  let terms = 0;
  let uniqueTerms = 0;
  let matchedTerms = 0;
  let postings = 0;
  const counts = typeof query === 'string' ? index.queryTerms(query) : query;
  for (const [term, c] of counts) {
    if (!(c > 0)) continue;
    terms += typeof query === 'string' ? c : 1;
    uniqueTerms++;
    const df = index.docFreq(term);
    if (df > 0) {
      matchedTerms++;
      postings += df;
    }
  }
  return { terms, uniqueTerms, matchedTerms, postings };
}

/** The cost of an expansion's retrieval: its weighted query when it has one, else its final string. */
export function expansionCost(index: CostIndex, e: Pick<ExpansionRecord, 'final' | 'weightedQuery'>): QueryCost {
  return e.weightedQuery === undefined ? queryCost(index, e.final) : queryCost(index, new Map(e.weightedQuery.terms));
}

/** One method's effectiveness beside its cost (means over its scored expansions of included queries). */
export interface MethodQueryCost {
  /** "role/method/model", as in the report. */
  key: string;
  role: ExpansionRole;
  method: string;
  model: string;
  /** Scored expansions counted. */
  expansions: number;
  meanDelta: number;
  meanTerms: number;
  meanPostings: number;
  /** Generation tokens (completion) per expansion; null when no expansion of the method reports usage (imports, baselines). */
  meanCompletionTokens: number | null;
  /** Prompt tokens per expansion, null likewise. */
  meanPromptTokens: number | null;
  /** nDCG@10 gain per 1,000 postings touched beyond the original query's (null when it touches no more). */
  deltaPerKPostings: number | null;
}

export interface QueryCostSection {
  /** The original queries' cost, over the same included queries. */
  original: { queries: number; meanTerms: number; meanPostings: number };
  /** Cheapest first (mean postings, then key). */
  methods: MethodQueryCost[];
}

/**
 * Cost beside effectiveness per method: every scored expansion of an `included` query is costed
 * on `index`; the means are over expansions (samples count separately). Deterministic.
 */
export function methodQueryCosts(
  index: CostIndex,
  topics: ReadonlyArray<{ qid: string; text: string }>,
  expansions: readonly ExpansionRecord[],
  scores: ReadonlyMap<string, ExpansionScore>,
  included: ReadonlySet<string>,
): QueryCostSection {
  const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const orig = topics.filter((t) => included.has(t.qid) && scores.has(originalScoreId(t.qid))).map((t) => queryCost(index, t.text));
  const original = { queries: orig.length, meanTerms: mean(orig.map((c) => c.terms)), meanPostings: mean(orig.map((c) => c.postings)) };
  const groups = new Map<string, { role: ExpansionRole; method: string; model: string; delta: number[]; terms: number[]; postings: number[]; out: number[]; inp: number[] }>();
  for (const e of expansions) {
    if (!included.has(e.qid)) continue;
    const s = scores.get(e.id);
    if (s === undefined) continue;
    const key = `${e.role}/${e.method}/${e.model}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { role: e.role, method: e.method, model: e.model, delta: [], terms: [], postings: [], out: [], inp: [] }));
    const c = expansionCost(index, e);
    g.delta.push(s.delta);
    g.terms.push(c.terms);
    g.postings.push(c.postings);
    if (e.usage !== undefined) {
      g.out.push(e.usage.completionTokens);
      g.inp.push(e.usage.promptTokens);
    }
  }
  const methods: MethodQueryCost[] = [...groups].map(([key, g]) => {
    const meanPostings = mean(g.postings);
    const extra = meanPostings - original.meanPostings;
    const meanDelta = mean(g.delta);
    return {
      key,
      role: g.role,
      method: g.method,
      model: g.model,
      expansions: g.delta.length,
      meanDelta,
      meanTerms: mean(g.terms),
      meanPostings,
      meanCompletionTokens: g.out.length === 0 ? null : mean(g.out),
      meanPromptTokens: g.inp.length === 0 ? null : mean(g.inp),
      deltaPerKPostings: extra > 0 ? (meanDelta * 1000) / extra : null,
    };
  });
  methods.sort((a, b) => a.meanPostings - b.meanPostings || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { original, methods };
}
