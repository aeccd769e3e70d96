import { QxError } from '../errors.js';
import type { Qrels, Run } from '../dataset/types.js';
import {
  averagePrecisionOf,
  judgeRanking,
  judgedOf,
  ndcgCutOf,
  ndcgOf,
  precisionOf,
  rPrecisionOf,
  recallOf,
  reciprocalRankOf,
  successOf,
  unjudgedOf,
  type JudgedRanking,
} from './measures.js';
import { strcmp } from './trecOrder.js';

type Kind = 'plain' | 'cut' | 'gains';

interface MeasureDef {
  kind: Kind;
  /** Printed as an integer (`%ld`) and summed, not averaged, over queries. */
  integer?: boolean;
  /** Only an `all` value (num_q). */
  summaryOnly?: boolean;
  defaultCutoffs?: number[];
  /** Not a trec_eval measure: our own addition. */
  extension?: boolean;
  value: (r: JudgedRanking, k: number, gains?: ReadonlyMap<number, number>) => number;
}

const STD_CUTS = [5, 10, 15, 20, 30, 100, 200, 500, 1000];

/** Supported measures in trec_eval's table order (measures.c), then our additions. */
const MEASURES: ReadonlyMap<string, MeasureDef> = new Map<string, MeasureDef>([
  ['num_q', { kind: 'plain', integer: true, summaryOnly: true, value: () => 1 }],
  ['num_ret', { kind: 'plain', integer: true, value: (r) => r.numRet }],
  ['num_rel', { kind: 'plain', integer: true, value: (r) => r.numRel }],
  ['num_rel_ret', { kind: 'plain', integer: true, value: (r) => r.numRelRet }],
  ['map', { kind: 'plain', value: (r) => averagePrecisionOf(r) }],
  ['Rprec', { kind: 'plain', value: (r) => rPrecisionOf(r) }],
  ['recip_rank', { kind: 'plain', value: (r) => reciprocalRankOf(r) }],
  ['P', { kind: 'cut', defaultCutoffs: STD_CUTS, value: (r, k) => precisionOf(r, k) }],
  ['recall', { kind: 'cut', defaultCutoffs: STD_CUTS, value: (r, k) => recallOf(r, k) }],
  ['ndcg', { kind: 'gains', value: (r, _k, gains) => ndcgOf(r, gains) }],
  ['ndcg_cut', { kind: 'cut', defaultCutoffs: STD_CUTS, value: (r, k) => ndcgCutOf(r, k) }],
  ['map_cut', { kind: 'cut', defaultCutoffs: STD_CUTS, value: (r, k) => averagePrecisionOf(r, k) }],
  ['success', { kind: 'cut', defaultCutoffs: [1, 5, 10], value: (r, k) => successOf(r, k) }],
  ['unj', { kind: 'cut', defaultCutoffs: [5, 10, 20], value: (r, k) => unjudgedOf(r, k) }],
  ['judged', { kind: 'cut', defaultCutoffs: [10], extension: true, value: (r, k) => judgedOf(r, k) }],
  ['recip_rank_cut', { kind: 'cut', defaultCutoffs: [10], extension: true, value: (r, k) => reciprocalRankOf(r, k) }],
]);

const ORDER = [...MEASURES.keys()];

/** trec_eval measure nicknames, limited to the measures supported here. */
const NICKNAMES: Record<string, string[]> = {
  official: ['num_q', 'num_ret', 'num_rel', 'num_rel_ret', 'map', 'Rprec', 'recip_rank', 'P'],
  all_trec: ['num_q', 'num_ret', 'num_rel', 'num_rel_ret', 'map', 'Rprec', 'recip_rank', 'P', 'recall', 'ndcg', 'ndcg_cut', 'map_cut', 'success'],
};

/** Names of the supported measures (trec_eval names plus `judged` and `recip_rank_cut`). */
export const SUPPORTED_MEASURES: readonly string[] = ORDER;

/** One requested measure after parsing, e.g. `ndcg_cut.10,20` → {base: 'ndcg_cut', cutoffs: [10, 20]}. */
export interface MeasureSpec {
  base: string;
  /** Sorted ascending, unique; for cutoff measures. */
  cutoffs?: number[];
  /** Gain per grade for `ndcg.1=3,2=9`, with the text as printed in the measure name. */
  gains?: { byGrade: Map<number, number>; text: string };
}

/**
 * Parses trec_eval `-m` arguments: `ndcg_cut.10,20`, `recall.20,2000`, `P.5,7,3`, `map`,
 * `ndcg.1=3,2=9,4=4.5`, nicknames `official` and `all_trec` (restricted to supported measures).
 * Cutoffs are truncated to integers as trec_eval does (`23.4` → 23) and must be >= 1. Unlike
 * trec_eval, the same measure given twice merges its cutoffs instead of keeping the first list.
 * Returns the specs in trec_eval's print order. Unknown names are a `usage` QxError.
 */
export function parseMeasures(names: readonly string[]): MeasureSpec[] {
  const byBase = new Map<string, MeasureSpec>();
  const add = (base: string, params: string | undefined, original: string) => {
    const def = MEASURES.get(base);
    if (!def) {
      throw new QxError('usage', `unknown or unsupported measure "${original}".`, { hint: `Supported: ${ORDER.join(', ')} (nicknames: ${Object.keys(NICKNAMES).join(', ')}).` });
    }
    const spec = byBase.get(base) ?? { base };
    byBase.set(base, spec);
    if (def.kind === 'cut') {
      const cuts = params === undefined ? def.defaultCutoffs! : parseCutoffs(params, original);
      spec.cutoffs = [...new Set([...(spec.cutoffs ?? []), ...cuts])].sort((a, b) => a - b);
    } else if (def.kind === 'gains' && params !== undefined) {
      spec.gains = parseGains(params, original);
    } else if (params !== undefined) {
      throw new QxError('usage', `measure "${base}" takes no parameters (got "${original}").`, { hint: `Write -m ${base}.` });
    }
  };
  for (const raw of names) {
    const name = raw.trim();
    const dot = name.indexOf('.');
    const base = dot < 0 ? name : name.slice(0, dot);
    const params = dot < 0 ? undefined : name.slice(dot + 1);
    const nick = NICKNAMES[base];
    if (nick && params === undefined) nick.forEach((b) => add(b, undefined, b));
    else add(base, params, name);
  }
  return [...byBase.values()].sort((a, b) => ORDER.indexOf(a.base) - ORDER.indexOf(b.base));
}

function parseCutoffs(params: string, original: string): number[] {
  return params.split(',').map((p) => {
    const m = /^\s*\+?(\d+)/.exec(p);
    const k = m ? Number(m[1]) : NaN;
    if (!Number.isSafeInteger(k) || k < 1) {
      throw new QxError('usage', `bad cutoff "${p}" in measure "${original}".`, { hint: 'Cutoffs are positive integers, e.g. -m ndcg_cut.10,20.' });
    }
    return k;
  });
}

function parseGains(params: string, original: string): { byGrade: Map<number, number>; text: string } {
  const byGrade = new Map<number, number>();
  for (const pair of params.split(',')) {
    const m = /^\s*([+-]?\d+)\s*=\s*([^=]+)$/.exec(pair);
    const gain = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(gain)) {
      throw new QxError('usage', `bad gain "${pair}" in measure "${original}".`, { hint: 'Write gains as grade=gain pairs, e.g. -m ndcg.1=3,2=9.' });
    }
    byGrade.set(Number(m[1]), gain);
  }
  return { byGrade, text: params };
}

/** Output names of a spec as trec_eval prints them: `ndcg_cut_10`, `P_5`, `ndcg_1=3,2=9`, `map`. */
export function measureNames(spec: MeasureSpec): string[] {
  if (spec.cutoffs) return spec.cutoffs.map((k) => `${spec.base}_${k}`);
  if (spec.gains) return [`${spec.base}_${spec.gains.text}`];
  return [spec.base];
}

export interface EvalOptions {
  /**
   * trec_eval `-c`: every query in the qrels is evaluated, those missing from the run with an empty
   * ranking (0 everywhere except `num_rel`), so they are in `perQuery`, in every mean and in
   * `num_q`. Default false: only queries in both run and qrels. Run queries absent from the qrels
   * are ignored either way.
   */
  complete?: boolean;
  /** trec_eval `-l`: minimum grade counted relevant by the binary measures (P, recall, map, recip_rank, ...). Integer >= 0, default 1. nDCG ignores it. */
  relevanceLevel?: number;
}

/** One query's values, keyed by output name (`ndcg_cut_10`). */
export interface QueryEval {
  qid: string;
  values: Record<string, number>;
  /** True for a qrels query missing from the run, evaluated (with `complete`) as retrieving nothing. */
  missing?: boolean;
}

export interface EvalResult {
  /** Output names in trec_eval's print order. */
  measures: string[];
  /** Output names printed as integers and summed rather than averaged (num_q, num_ret, ...). */
  integerMeasures: string[];
  /** Output names with only an `all` value (num_q). */
  summaryOnly: string[];
  /**
   * Queries evaluated, sorted by qid as trec_eval prints them (strcmp): those in both run and
   * qrels, and with `complete` also every qrels query missing from the run (`missing: true`).
   */
  perQuery: QueryEval[];
  /** The `all` values: means over `averagedOver` queries (sums for integer measures; `num_q` is `averagedOver`). */
  mean: Record<string, number>;
  /** Denominator of the means and `num_q`: evaluated queries, i.e. every qrels query with `complete`. */
  averagedOver: number;
  /** Qrels queries absent from the run (they count 0 only with `complete`). */
  missingFromRun: string[];
  /** Run queries without any qrels entry (always ignored, as trec_eval does). */
  notInQrels: string[];
}

/**
 * Evaluates a run against qrels exactly like trec_eval 10 for the supported measures
 * ({@link SUPPORTED_MEASURES}; names and parameter syntax as `-m`, e.g. `ndcg_cut.10`,
 * `recall.1000`, `map`, `recip_rank`, `P.10`, plus `judged.10` and `recip_rank_cut.10`).
 *
 * Conventions (trec_eval's): every run query is re-sorted by score descending, ties by docid
 * descending; run queries without qrels are ignored; a qrels query with no relevant document is
 * still evaluated (its recall, AP, nDCG are 0); negative grades mean "in the pool, unjudged".
 * With `complete` (`-c`), trec_eval 10 evaluates each qrels query missing from the run on a
 * one-document placeholder ranking and then zeroes num_ret and unj (`trec_eval.c`,
 * `bogus_ranking`): it prints these queries' rows with `-q`, counts them in `num_q` and in every
 * mean, and its `num_rel` counts their relevant documents. An empty ranking gives the same values
 * for every supported measure.
 * A run query present with an empty hit list is evaluated (all 0). Non-integer grades are used as
 * they are (trec_eval would truncate them).
 *
 * Not implemented (a `usage` error names the supported ones): runid, gm_map, bpref,
 * iprec_at_recall, relstring, infAP, gm_bpref, Rprec_mult, utility, 11pt_avg, binG, G, ndcg_rel,
 * Rndcg, relative_P, set_*, num_nonrel_judged_ret, rbp and the prefs/jg families: query-expansion
 * scoring needs none of them, and each would need its own golden test.
 *
 * Throws a `dataset` QxError when no query is in both run and qrels (trec_eval refuses too).
 */
export function evaluate(qrels: Qrels, run: Run, measures: readonly string[], options: EvalOptions = {}): EvalResult {
  const level = options.relevanceLevel ?? 1;
  if (!Number.isInteger(level) || level < 0) {
    throw new QxError('usage', `relevance level must be an integer >= 0, got ${level}.`, { hint: 'TREC DL uses 2; binary qrels use 1.' });
  }
  const specs = parseMeasures(measures.length === 0 ? ['official'] : measures);
  const names: string[] = [];
  const integer: string[] = [];
  const summaryOnly: string[] = [];
  const plan: Array<{ name: string; def: MeasureDef; k: number; gains?: ReadonlyMap<number, number> }> = [];
  for (const spec of specs) {
    const def = MEASURES.get(spec.base)!;
    const outNames = measureNames(spec);
    outNames.forEach((name, i) => {
      names.push(name);
      if (def.integer) integer.push(name);
      if (def.summaryOnly) summaryOnly.push(name);
      const entry: (typeof plan)[number] = { name, def, k: spec.cutoffs?.[i] ?? Infinity };
      if (spec.gains) entry.gains = spec.gains.byGrade;
      plan.push(entry);
    });
  }

  const notInQrels = [...run.keys()].filter((q) => !qrels.has(q)).sort(strcmp);
  const missingFromRun = [...qrels.keys()].filter((q) => !run.has(q)).sort(strcmp);
  const inBoth = [...run.keys()].filter((q) => qrels.has(q));
  if (inBoth.length === 0) {
    throw new QxError('dataset', `no query is in both the run (${run.size} queries) and the qrels (${qrels.size} queries).`, {
      hint: 'Check that the run and the qrels belong to the same topics (e.g. Cranfield qrels number queries 1..225, not by their .I ids).',
    });
  }
  const qids = (options.complete ? [...inBoth, ...missingFromRun] : inBoth).sort(strcmp);
  const perQuery: QueryEval[] = [];
  const sums: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const qid of qids) {
    const hits = run.get(qid);
    const ranked = judgeRanking(hits ?? [], qrels.get(qid), level);
    const values: Record<string, number> = {};
    for (const p of plan) {
      const v = p.def.value(ranked, p.k, p.gains);
      sums[p.name]! += v;
      if (!p.def.summaryOnly) values[p.name] = v;
    }
    perQuery.push(hits === undefined ? { qid, values, missing: true } : { qid, values });
  }
  const averagedOver = perQuery.length;
  const mean: Record<string, number> = {};
  for (const p of plan) mean[p.name] = p.def.integer ? sums[p.name]! : sums[p.name]! / averagedOver;
  return { measures: names, integerMeasures: integer, summaryOnly, perQuery, mean, averagedOver, missingFromRun, notInQrels };
}
