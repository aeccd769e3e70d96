import type { Bm25Index } from '../bm25/bm25Index.js';
import { rm3Query } from '../bm25/rm3.js';
import { QxError } from '../errors.js';
import { expansionId } from './records.js';
import type { ExpansionRecord, WeightedQuery } from './types.js';

/** Model-free expansion methods a workspace can add as baselines. */
export type BaselineMethod = 'rm3';

export const baselineMethods: readonly BaselineMethod[] = ['rm3'];

/** The model label of RM3 baseline records with Anserini's defaults (the report's model column). */
export const RM3_MODEL = 'BM25+RM3';

/**
 * The model label of an RM3 baseline: "BM25+RM3" with the defaults, else with its settings, e.g.
 * "BM25+RM3 (fb_docs 20, fb_terms 10, weight 0.3)", so the report keeps each setting on its own row.
 */
export function rm3Model(parameters: WeightedQuery['parameters']): string {
  const { fbDocs, fbTerms, originalQueryWeight } = parameters;
  return fbDocs === 10 && fbTerms === 10 && originalQueryWeight === 0.5 ? RM3_MODEL : `${RM3_MODEL} (fb_docs ${fbDocs}, fb_terms ${fbTerms}, weight ${originalQueryWeight})`;
}

/** RM3 settings of a baseline; defaults are Anserini's (fb_docs 10, fb_terms 10, original_query_weight 0.5). */
export interface Rm3BaselineOptions {
  fbDocs?: number;
  fbTerms?: number;
  originalQueryWeight?: number;
}

/** The RM3 settings with their defaults filled in; throws QxError('usage') for settings RM3 cannot use. */
export function checkRm3Options(options: Rm3BaselineOptions = {}): Required<Rm3BaselineOptions> {
  const fbDocs = options.fbDocs ?? 10;
  const fbTerms = options.fbTerms ?? 10;
  const originalQueryWeight = options.originalQueryWeight ?? 0.5;
  if (!Number.isInteger(fbDocs) || fbDocs < 1) throw new QxError('usage', `RM3 fb_docs must be an integer >= 1, got ${fbDocs}`);
  if (!Number.isInteger(fbTerms) || fbTerms < 1) throw new QxError('usage', `RM3 fb_terms must be an integer >= 1, got ${fbTerms}`);
  if (!(originalQueryWeight >= 0 && originalQueryWeight <= 1)) throw new QxError('usage', `RM3 original query weight must be between 0 and 1, got ${originalQueryWeight}`);
  return { fbDocs, fbTerms, originalQueryWeight };
}

/**
 * The parameters recorded on an RM3 baseline record: the RM3 settings (with the feedback-term
 * filters rm3Query applies) and the first pass's analyzer and BM25 settings, which the weights
 * depend on. Throws QxError('usage') for settings RM3 cannot use (see {@link checkRm3Options}).
 */
export function rm3Parameters(index: Bm25Index, options: Rm3BaselineOptions = {}): WeightedQuery['parameters'] {
  const info = index.info();
  return {
    ...checkRm3Options(options),
    filterTerms: true,
    maxDfRatio: 0.1,
    analyzer: String(info.analyzer.name),
    k1: Number(info.params.k1),
    b: Number(info.params.b),
    lengths: String(info.params.lengths),
  };
}

/** True when two baselines were made with the same parameters (key order does not matter). */
export function sameParameters(a: WeightedQuery['parameters'], b: WeightedQuery['parameters']): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** A weighted query as people read it: `term^0.1234` in search order, weights to 4 decimals. */
export function renderWeightedQuery(terms: readonly (readonly [string, number])[]): string {
  return terms.map(([t, w]) => `${t}^${w.toFixed(4)}`).join(' ');
}

/**
 * The RM3 baseline expansion of one query (see `rm3Query`): role "baseline", method "rm3", model
 * "BM25+RM3" (see {@link rm3Model}), provider "rm3". `weightedQuery` holds the exact terms and weights BM25 searches and
 * the `parameters` (see {@link rm3Parameters}); `final` is their rendering; `generated` lists the
 * terms feedback added that the query does not have. The id covers the exact weights and
 * parameters, so the same index and settings always give the same record.
 */
export function rm3Expansion(index: Bm25Index, qid: string, query: string, parameters: WeightedQuery['parameters'], createdAt: string): ExpansionRecord {
  const weights = rm3Query(index, query, {
    fbDocs: Number(parameters.fbDocs),
    fbTerms: Number(parameters.fbTerms),
    originalQueryWeight: Number(parameters.originalQueryWeight),
  });
  const terms = [...weights];
  const own = index.queryTerms(query);
  const weightedQuery: WeightedQuery = { terms, parameters };
  const base = { qid, method: 'rm3', model: rm3Model(parameters), sampleIndex: 0 };
  return {
    id: expansionId({ ...base, final: JSON.stringify(weightedQuery) }),
    ...base,
    query,
    role: 'baseline',
    provider: 'rm3',
    generated: terms.filter(([t]) => !own.has(t)).map(([t]) => t).join(' '),
    formulation: 'rm3',
    final: renderWeightedQuery(terms),
    weightedQuery,
    createdAt,
  };
}
