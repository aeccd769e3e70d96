import type { Conditioning, ExpansionRecord, OutputKind } from '../expansion/types.js';

/** Every output kind, in the order shown to users. */
export const outputKinds: readonly OutputKind[] = ['passage', 'keywords', 'answer-list', 'rewrite', 'extract', 'terms', 'other'];

/** True when `s` is an output kind. */
export function isOutputKind(s: string): s is OutputKind {
  return (outputKinds as readonly string[]).includes(s);
}

/**
 * Known method and template names (lower-cased, `_`/space read as `-`) → what their text is and
 * what their prompt held. The names are QX Studio's templates and QueryGym's method ids
 * (ls3-lab/QueryGym: query2doc, query2e, mugi, lamer, csqe, genqr, genqr_ensemble, qa_expand).
 */
const known: [RegExp, OutputKind, Conditioning][] = [
  [/^lamer\b/, 'passage', 'retrieval'],
  [/^csqe\b/, 'extract', 'retrieval'],
  [/^(query2doc|q2d|hyde|mugi)\b/, 'passage', 'query'],
  [/^(query2e|q2e|genqr)\b/, 'keywords', 'query'],
  [/^qa-expand\b/, 'answer-list', 'query'],
  [/^rm3\b/, 'terms', 'query'],
];

function lookup(name: string | undefined): [OutputKind, Conditioning] | undefined {
  if (name === undefined) return undefined;
  const n = name.trim().toLowerCase().replace(/[_\s]+/g, '-');
  const hit = known.find(([re]) => re.test(n));
  return hit === undefined ? undefined : [hit[1], hit[2]];
}

/**
 * The output kind of a template or method name ("query2doc-zs" → passage, "q2e-zs" → keywords,
 * "qa_expand" → answer-list), or undefined for a name QX Studio does not know.
 */
export function outputKindOfName(name: string): OutputKind | undefined {
  return lookup(name)?.[0];
}

/**
 * What an expansion's text is: its stored `outputKind` (set at import, `qx import --kind`); else
 * the kind of its template id, else of its method name; else from how its retrieval string was
 * formed (`keywords` formulation → keywords, `csqe` → extract, a model-free baseline → terms,
 * any other → passage).
 */
export function outputKindOf(e: Pick<ExpansionRecord, 'outputKind' | 'template' | 'method' | 'formulation' | 'role' | 'weightedQuery'>): OutputKind {
  if (e.outputKind !== undefined) return e.outputKind;
  const k = lookup(e.template?.id) ?? lookup(e.method);
  if (k !== undefined) return k[0];
  if (e.role === 'baseline' || e.weightedQuery !== undefined) return 'terms';
  if (e.formulation === 'keywords') return 'keywords';
  if (e.formulation === 'csqe') return 'extract';
  return 'passage';
}

/**
 * What an expansion's prompt held besides the query: its stored `conditioning`; else that of its
 * template id or method name (LameR and CSQE read retrieved passages); else "query".
 */
export function conditioningOf(e: Pick<ExpansionRecord, 'conditioning' | 'template' | 'method'>): Conditioning {
  if (e.conditioning !== undefined) return e.conditioning;
  return (lookup(e.template?.id) ?? lookup(e.method))?.[1] ?? 'query';
}

/** The student task: what the student is prompted with at inference and must learn to write. */
export interface StudentTask {
  /** Template id of the student's prompt, e.g. "query2doc-zs" (zero-shot: no exemplars, no passages). */
  template: string;
  /** The output kind the task asks for; only expansions of this kind are candidates. */
  kind: OutputKind;
  /** Whether retrieval-conditioned expansions (LameR, CSQE) may be candidates; default false. */
  includeRetrievalConditioned: boolean;
}

/** Why an expansion is not a candidate for a task, or null when it is one. */
export function taskMismatch(e: ExpansionRecord, task: StudentTask): string | null {
  const kind = outputKindOf(e);
  const reasons: string[] = [];
  if (kind !== task.kind) reasons.push(`its text is ${kind}, the task (${task.template}) asks for ${task.kind}`);
  if (!task.includeRetrievalConditioned && conditioningOf(e) === 'retrieval') reasons.push('written with retrieved passages in its prompt, which the student never sees');
  return reasons.length === 0 ? null : reasons.join('; ');
}
