import { resolve } from 'node:path';
import type { ExpansionScore } from '../curation/types.js';
import type { Topic } from '../dataset/types.js';
import { QxError } from '../errors.js';
import type { ExpansionRecord } from '../expansion/types.js';
import { type DistillRequest, type DistillResult, exportDistillation } from '../export/distill.js';
import type { TaskOptions } from '../progress.js';
import type { Workspace } from './workspace.js';

/** A workspace distillation export: the export request plus which teacher ranks the candidates. */
export interface WorkspaceDistillRequest extends DistillRequest {
  /**
   * Teacher expansions of this method only (e.g. "manual-rewrite", "cqr-llm4cs"); default: every
   * teacher expansion. Of a query's candidates the best-scoring one (nDCG@10, then the shorter
   * retrieval string, then id) ranks the documents, as SFT picks its target.
   */
  teacherMethod?: string;
  /** Documents of the teacher ranking (BM25 top-k of the teacher's retrieval string), default 100. */
  depth?: number;
}

/** The teacher expansion of each query: the best-scoring teacher-role record (of `method`). */
export function teacherExpansions(expansions: readonly ExpansionRecord[], scores: ReadonlyMap<string, ExpansionScore>, method?: string): Map<string, ExpansionRecord> {
  const best = new Map<string, { e: ExpansionRecord; s: number }>();
  for (const e of expansions) {
    if (e.role !== 'teacher' || (method !== undefined && e.method !== method) || e.final.trim() === '') continue;
    const s = scores.get(e.id)?.ndcg10;
    if (s === undefined) continue;
    const cur = best.get(e.qid);
    if (cur === undefined || s > cur.s + 1e-12 || (Math.abs(s - cur.s) <= 1e-12 && (e.final.length < cur.e.final.length || (e.final.length === cur.e.final.length && e.id < cur.e.id)))) best.set(e.qid, { e, s });
  }
  return new Map([...best].map(([q, v]) => [q, v.e]));
}

/**
 * Writes a KD-listwise or contrastive-triples export of the workspace (see `exportDistillation`):
 * the teacher scores are BM25 scores of the current index under each query's teacher expansion
 * (for a conversational dataset: the teacher's rewrite, or the manual rewrite with
 * `teacherMethod: "manual-rewrite"`). Needs scored teacher expansions; builds the index if needed.
 * `out` is resolved against the workspace root.
 */
export async function exportWorkspaceDistillation(ws: Workspace, request: WorkspaceDistillRequest, options: TaskOptions): Promise<DistillResult> {
  const depth = request.depth ?? 100;
  if (!Number.isInteger(depth) || depth < 1) throw new QxError('usage', `the teacher ranking depth must be an integer >= 1, got ${depth}`);
  const index = await ws.bm25Index(options);
  const teachers = teacherExpansions(ws.expansionRecords(), ws.currentScores(), request.teacherMethod);
  if (teachers.size === 0) {
    throw new QxError('export', `nothing to export: no scored teacher expansion${request.teacherMethod === undefined ? '' : ` of method ${request.teacherMethod}`}; no file was written`, {
      hint: 'Run qx expand --role teacher (or qx rewrites import) and qx score first.',
    });
  }
  const split = ws.manifest.split;
  const settings = ws.retrievalSettings;
  return exportDistillation(
    {
      datasetName: ws.name,
      topics: ws.topics,
      qrels: ws.qrels,
      teacherRanking: (t: Topic) => {
        const e = teachers.get(t.qid);
        if (e === undefined) return undefined;
        return {
          candidates: index.searchSync(e.final, depth).map((h) => ({ docid: h.docid, score: h.score })),
          provenance: { kind: 'bm25-teacher-expansion', expansionId: e.id, method: e.method, model: e.model, final: e.final },
        };
      },
      docText: (d) => {
        const doc = index.docSync(d);
        return doc === undefined ? undefined : doc.title === undefined || doc.title === '' ? doc.text : `${doc.title} ${doc.text}`;
      },
      docIds: () => index.data.docIds.toArray(),
      teacherDescription: `BM25 (k1 ${String(settings.k1)}, b ${String(settings.b)}, ${String(settings.analyzer)} analyzer) scores of the top ${depth} under each query's ${request.teacherMethod === undefined ? 'best-scoring teacher expansion' : `${request.teacherMethod} teacher expansion`}`,
      evalQids: split === 'train' || split === 'dev' ? [] : ws.topics.map((t) => t.qid),
      evalSplitName: split ?? 'unspecified (not marked train)',
      retrieval: { ...settings, teacherDepth: depth },
      toolVersion: ws.toolVersion,
    },
    { ...request, out: resolve(ws.root, request.out) },
    options.signal,
  );
}
