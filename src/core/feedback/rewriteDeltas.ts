import type { ExpansionScore } from '../curation/types.js';
import { originalScoreId } from '../curation/store.js';
import type { ExpansionRecord } from '../expansion/types.js';
import { DATASET_REWRITE_SOURCES } from '../expansion/datasetRewrites.js';

/** One method's rewrites compared with the raw utterance and with the manual (human) rewrite. */
export interface RewriteMethodSummary {
  role: string;
  method: string;
  model: string;
  /** Turns with a scored candidate of this method (several samples of one turn: their mean). */
  turns: number;
  /** Mean nDCG@10 over those turns. */
  ndcg10: number;
  /** Mean nDCG@10 minus the raw utterance's, over those turns. */
  deltaRaw: number;
  /** Turns that also have a scored manual rewrite. */
  turnsWithManual: number;
  /** Mean nDCG@10 minus the manual rewrite's, over `turnsWithManual` turns (null when there are none). */
  deltaManual: number | null;
}

/**
 * Retrieval feedback of rewrites against both references of conversational search: the raw
 * utterance (the `delta` every score carries) and the dataset's manual rewrite (what a person
 * wrote; 0 for the manual rewrite itself). Only the given `qids` count (queries with a positive
 * judgment: the others are left out of every mean). Methods are sorted by role then method.
 */
export function rewriteDeltas(expansions: readonly ExpansionRecord[], scores: ReadonlyMap<string, ExpansionScore>, qids: ReadonlySet<string>): RewriteMethodSummary[] {
  const manual = new Map<string, number>();
  const groups = new Map<string, { role: string; method: string; model: string; perTurn: Map<string, number[]> }>();
  for (const e of expansions) {
    if (!qids.has(e.qid)) continue;
    const s = scores.get(e.id);
    if (s === undefined) continue;
    if (e.provider === 'dataset' && e.method === DATASET_REWRITE_SOURCES.manual.method) manual.set(e.qid, s.ndcg10);
    const key = `${e.role}\u0000${e.method}\u0000${e.model}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { role: e.role, method: e.method, model: e.model, perTurn: new Map() }));
    const list = g.perTurn.get(e.qid) ?? [];
    list.push(s.ndcg10);
    g.perTurn.set(e.qid, list);
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const out: RewriteMethodSummary[] = [];
  for (const g of groups.values()) {
    const ndcg: number[] = [];
    const dRaw: number[] = [];
    const dManual: number[] = [];
    for (const [qid, values] of g.perTurn) {
      const v = mean(values);
      ndcg.push(v);
      dRaw.push(v - (scores.get(originalScoreId(qid))?.ndcg10 ?? 0));
      const m = manual.get(qid);
      if (m !== undefined) dManual.push(v - m);
    }
    out.push({ role: g.role, method: g.method, model: g.model, turns: ndcg.length, ndcg10: mean(ndcg), deltaRaw: mean(dRaw), turnsWithManual: dManual.length, deltaManual: dManual.length === 0 ? null : mean(dManual) });
  }
  return out.sort((a, b) => (a.role === b.role ? (a.method === b.method ? (a.model < b.model ? -1 : 1) : a.method < b.method ? -1 : 1) : a.role < b.role ? -1 : 1));
}
