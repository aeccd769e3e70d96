import { datasetRewriteRecords } from '../expansion/datasetRewrites.js';
import { QxError } from '../errors.js';
import { hasPositiveJudgment } from '../feedback/score.js';
import { type RewriteMethodSummary, rewriteDeltas } from '../feedback/rewriteDeltas.js';
import type { Workspace } from './workspace.js';

/** What {@link importDatasetRewrites} did. */
export interface DatasetRewriteImport {
  /** New candidate records stored. */
  added: number;
  /** Rewrites already in the workspace (a rerun adds nothing). */
  present: number;
  /** Rewrites found per kind. */
  manual: number;
  automatic: number;
}

/**
 * Stores the dataset's rewrites of every topic as candidates (see `datasetRewriteRecords`: manual
 * = human teacher, automatic = baseline). Throws QxError('dataset') when the dataset has none.
 */
export function importDatasetRewrites(ws: Workspace): DatasetRewriteImport {
  const records = datasetRewriteRecords(ws.topics, new Date().toISOString());
  if (records.length === 0) {
    throw new QxError('dataset', `dataset ${ws.name} ships no rewrites`, { hint: 'CAsT 2020 and QReCC topics carry them; for CAsT 2019 add "rewrites": [{"path": "…resolved.tsv", "kind": "manual"}] to the manifest.' });
  }
  const added = ws.addExpansionRecords(records);
  const manual = records.filter((r) => r.provider === 'dataset' && r.role === 'teacher').length;
  return { added, present: records.length - added, manual, automatic: records.length - manual };
}

/**
 * Every method's rewrites (and expansions) against the raw utterance and the manual rewrite,
 * over the turns with a positive judgment, under the current retrieval settings.
 */
export function rewriteReport(ws: Workspace): RewriteMethodSummary[] {
  const qids = new Set(ws.topics.filter((t) => hasPositiveJudgment(ws.qrels.get(t.qid))).map((t) => t.qid));
  return rewriteDeltas(ws.expansionRecords(), ws.currentScores(), qids);
}
