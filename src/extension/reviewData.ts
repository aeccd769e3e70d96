import { formulate, isFormulationName } from '../core/expansion/formulation.js';
import type { ExpansionRecord } from '../core/expansion/types.js';
import type { WorkspaceApi } from '../core/workspace/api.js';
import type { PlotData } from '../protocol/messages.js';

/**
 * The retrieval string of a hand edit, built by the core's formulation so the live preview scores
 * exactly the string "Save edit" will store. An unknown formulation (a record from a newer tool)
 * falls back to replacing the generated part inside the original final string.
 */
export function finalWithGenerated(e: ExpansionRecord, generated: string): string {
  if (isFormulationName(e.formulation)) return formulate(e.formulation, e.query, generated);
  const at = e.generated.length > 0 ? e.final.lastIndexOf(e.generated) : -1;
  if (at < 0) return `${e.query} ${generated}`;
  return e.final.slice(0, at) + generated + e.final.slice(at + e.generated.length);
}

/** Deltas per method, best teacher vs best student nDCG@10 per query, and gain beside query cost, over the whole workspace. */
export function computePlotData(ws: Pick<WorkspaceApi, 'listQueries' | 'getQueryReview' | 'queryCosts'>): PlotData {
  const deltasByMethod: Record<string, number[]> = {};
  const teacherVsStudent: PlotData['teacherVsStudent'] = [];
  for (const q of ws.listQueries()) {
    if (q.expansions === 0 || q.bestDelta === null) continue;
    const review = ws.getQueryReview(q.qid);
    let teacher = -1;
    let student = -1;
    for (const { expansion, score } of review.expansions) {
      if (score === null) continue;
      (deltasByMethod[`${expansion.role} · ${expansion.method}`] ??= []).push(score.delta);
      if (expansion.role === 'teacher') teacher = Math.max(teacher, score.ndcg10);
      if (expansion.role === 'student') student = Math.max(student, score.ndcg10);
    }
    if (teacher >= 0 && student >= 0) teacherVsStudent.push({ qid: q.qid, teacher, student });
  }
  const queryCost = ws.queryCosts?.() ?? null;
  return { deltasByMethod, teacherVsStudent, ...(queryCost === null || queryCost.methods.length === 0 ? {} : { queryCost }) };
}
