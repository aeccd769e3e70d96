import type { RewriteKind, Topic } from '../dataset/types.js';
import { expansionId } from './records.js';
import type { ExpansionRecord, ExpansionRole } from './types.js';

/**
 * How a dataset's rewrite becomes a candidate: a person's (`manual`) is the human teacher, so it
 * joins teacher pools, pairs and SFT targets; a model's (`automatic`, e.g. CAsT 2020's T5-style
 * rewriter) is a baseline, reported beside the others but never paired unless named in the pools.
 */
export const DATASET_REWRITE_SOURCES: Readonly<Record<RewriteKind, { method: string; role: ExpansionRole; model: string }>> = {
  manual: { method: 'manual-rewrite', role: 'teacher', model: 'human' },
  automatic: { method: 'automatic-rewrite', role: 'baseline', model: 'dataset-automatic' },
};

/**
 * One expansion record per dataset rewrite of `topics` (provider `dataset`, formulation
 * `rewrite`: the retrieval string is the rewrite itself), in topic order, manual before
 * automatic. Ids are stable, so importing twice adds nothing. `createdAt` is an ISO time.
 */
export function datasetRewriteRecords(topics: readonly Topic[], createdAt: string): ExpansionRecord[] {
  const out: ExpansionRecord[] = [];
  for (const t of topics) {
    for (const kind of ['manual', 'automatic'] as const) {
      const text = t.rewrites?.[kind];
      if (text === undefined) continue;
      const src = DATASET_REWRITE_SOURCES[kind];
      const base = { qid: t.qid, method: src.method, model: src.model, sampleIndex: 0, final: text };
      out.push({ id: expansionId(base), ...base, query: t.text, role: src.role, provider: 'dataset', generated: text, formulation: 'rewrite', source: `dataset ${kind} rewrite`, createdAt });
    }
  }
  return out;
}
