import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { QxError } from '../errors.js';
import type { ChatMessage } from '../expansion/expander.js';
import { parseTemplateHeader } from '../expansion/templates.js';
import type { TemplateRef } from '../expansion/types.js';

/**
 * A relevance-judge prompt (`<id>.tmpl`): the document comes first, then the query, then the
 * question; the model answers with one label token, and the score is read from the
 * log-probabilities of the label tokens at the first answer position (never from the text).
 *
 * ```
 * ---
 * id: judge-binary
 * version: 1
 * description: one line
 * mode: binary              # binary (grades 0/1) or graded (e.g. 0-3)
 * labels: 0=No, 1=Yes       # the answer token of each grade
 * ---
 * [user]
 * Document: {{document}}
 * Query: {{query}}
 * Is the document relevant to the query? Answer Yes or No.
 * ```
 *
 * `{{document}}` must come before `{{query}}`. Label tokens are compared with the server's tokens
 * after trimming white space, case-insensitively ("Yes", " yes" and "YES" are one label).
 */
export interface JudgeTemplate {
  id: string;
  version: number;
  description: string;
  mode: 'binary' | 'graded';
  /** Grade → answer token, grades ascending; binary templates have exactly grades 0 and 1. */
  labels: { grade: number; token: string }[];
  messages: ChatMessage[];
  /** sha256 of the file text, hex (64 chars): part of every judgment's cache key. */
  sha256: string;
  file: string;
}

/** The default binary judge, document before query (see README "Relevance judge"). */
export const DEFAULT_BINARY_TEMPLATE = `---
id: judge-binary
version: 1
description: binary relevance, document first; score = P(Yes) / (P(Yes) + P(No))
mode: binary
labels: 0=No, 1=Yes
---
[system]
You are a search quality rater. You judge whether a passage answers a web search query.
[user]
Document: {{document}}
Query: {{query}}
Does the document answer the query? Answer with one word, Yes or No.
`;

/** The default graded judge over the TREC Deep Learning 0-3 scale, document before query. */
export const DEFAULT_GRADED_TEMPLATE = `---
id: judge-graded
version: 1
description: graded relevance 0-3 (TREC DL scale), document first; score = expected grade
mode: graded
labels: 0=0, 1=1, 2=2, 3=3
---
[system]
You are a search quality rater. You grade how well a passage answers a web search query:
3 = perfectly relevant (dedicated to the query, contains the exact answer),
2 = highly relevant (has some answer, maybe unclear or hidden among other text),
1 = related (on topic, but does not answer the query),
0 = irrelevant.
[user]
Document: {{document}}
Query: {{query}}
Grade the document for the query. Answer with one digit, 0, 1, 2 or 3.
`;

/** The short reference stored with every judgment. */
export function judgeTemplateRef(t: JudgeTemplate): TemplateRef {
  return { id: t.id, version: t.version, hash: t.sha256.slice(0, 16) };
}

/** Parses a judge template's text; errors name the file, the line, the problem and the fix. */
export function parseJudgeTemplate(text: string, file: string): JudgeTemplate {
  const { lines, end, meta, field, err, id, version } = parseTemplateHeader(text, file, 'judge template', '"---", the id/version/mode/labels fields');
  const mf = field('mode');
  if (mf.value !== 'binary' && mf.value !== 'graded') throw err(mf.line, `Unknown mode "${mf.value}".`, 'Use "binary" or "graded".');
  const mode = mf.value;
  const lf = field('labels');
  const labels: { grade: number; token: string }[] = [];
  for (const part of lf.value.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^(\d+)\s*=\s*(\S.*)$/.exec(part);
    if (m === null) throw err(lf.line, `Cannot read label "${part}".`, 'Write labels as "grade=token", e.g. "0=No, 1=Yes".');
    const grade = Number(m[1]);
    const token = (m[2] as string).trim();
    if (labels.some((l) => l.grade === grade)) throw err(lf.line, `Grade ${grade} has two labels.`, 'Give each grade one answer token.');
    if (labels.some((l) => norm(l.token) === norm(token))) throw err(lf.line, `The token "${token}" labels two grades.`, 'Give each grade its own answer token.');
    labels.push({ grade, token });
  }
  labels.sort((a, b) => a.grade - b.grade);
  if (mode === 'binary' && (labels.length !== 2 || labels[0]?.grade !== 0 || labels[1]?.grade !== 1)) {
    throw err(lf.line, 'A binary judge needs exactly the grades 0 and 1.', 'Write "labels: 0=No, 1=Yes" (or your tokens).');
  }
  if (mode === 'graded' && labels.length < 2) throw err(lf.line, 'A graded judge needs at least two grades.', 'Write e.g. "labels: 0=0, 1=1, 2=2, 3=3".');

  const messages: ChatMessage[] = [];
  let current: { role: ChatMessage['role']; lines: string[] } | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    const content = current.lines.join('\n').replace(/^\s*\n/, '').trimEnd();
    // An empty trailing [assistant] section only marks where the answer goes: it is not sent.
    if (!(current.role === 'assistant' && content === '')) messages.push({ role: current.role, content });
  };
  const first = new Map<string, { line: number; order: number }>();
  let order = 0;
  for (let i = end + 1; i < lines.length; i++) {
    const l = lines[i] ?? '';
    const section = /^\[(system|user|assistant)\]\s*$/.exec(l);
    if (section !== null) {
      flush();
      current = { role: section[1] as ChatMessage['role'], lines: [] };
      continue;
    }
    for (const m of l.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
      const name = m[1] as string;
      if (name !== 'document' && name !== 'query') throw err(i + 1, `Unknown placeholder {{${name}}}.`, 'A judge template knows {{document}} and {{query}}.');
      if (!first.has(name)) first.set(name, { line: i + 1, order: order++ });
    }
    if (current === undefined) {
      if (l.trim() === '') continue;
      throw err(i + 1, 'Text before the first section.', 'Start the prompt with a line "[system]" or "[user]".');
    }
    current.lines.push(l);
  }
  flush();
  if (!messages.some((m) => m.role === 'user')) throw err(end + 2, 'The template has no [user] section.', 'Add a "[user]" line followed by the prompt.');
  const d = first.get('document');
  const q = first.get('query');
  if (d === undefined) throw err(end + 2, 'The template never uses {{document}}.', 'Put {{document}} where the passage goes, before {{query}}.');
  if (q === undefined) throw err(end + 2, 'The template never uses {{query}}.', 'Put {{query}} after {{document}}.');
  if (q.order < d.order) throw err(q.line, '{{query}} comes before {{document}}.', 'The judge reads the document first: move {{document}} above {{query}}.');
  return { id, version, description: meta.get('description')?.value ?? '', mode, labels, messages, sha256: createHash('sha256').update(text).digest('hex'), file };
}

/** The shipped judge templates' names: "judge-binary" and "judge-graded" (or "binary", "graded"). */
const BUILT_IN_TEMPLATE = /^(?:judge-)?(binary|graded)$/;

/**
 * A judge template as a setting or `--template` gives it, made ready for `loadJudgeTemplate`: a
 * shipped template's name as it is, anything else a file path resolved against `baseDir`.
 */
export function resolveJudgeTemplateSpec(spec: string, baseDir: string): string {
  return BUILT_IN_TEMPLATE.test(spec) ? spec : resolve(baseDir, spec);
}

/** A judge template: the shipped binary (default) or graded one by id, or a template file. */
export async function loadJudgeTemplate(spec: string | undefined): Promise<JudgeTemplate> {
  const builtIn = spec === undefined ? 'binary' : BUILT_IN_TEMPLATE.exec(spec)?.[1];
  if (builtIn === 'binary' || spec === undefined) return parseJudgeTemplate(DEFAULT_BINARY_TEMPLATE, 'judge-binary.tmpl');
  if (builtIn === 'graded') return parseJudgeTemplate(DEFAULT_GRADED_TEMPLATE, 'judge-graded.tmpl');
  let text: string;
  try {
    text = await readFile(spec, 'utf8');
  } catch (e) {
    throw new QxError('config', `Cannot read the judge template ${spec} (${(e as Error).message}).`, { file: spec, hint: 'Give "judge-binary", "judge-graded" or the path of a .tmpl file.' });
  }
  return parseJudgeTemplate(text, spec);
}

/** The messages for one (document, query): placeholders filled, white space of the document collapsed. */
export function renderJudgePrompt(t: JudgeTemplate, input: { query: string; document: string }): ChatMessage[] {
  const values: Record<string, string> = { document: input.document.replace(/\s+/g, ' ').trim(), query: input.query.trim() };
  return t.messages.map((m) => ({ role: m.role, content: m.content.replace(/\{\{\s*(\w+)\s*\}\}/g, (_all, name: string) => values[name] ?? '') }));
}

/** How an answer token is compared with a label: white space trimmed, case ignored. */
export function norm(token: string): string {
  return token.trim().toLowerCase();
}

/** Probability per grade read from one answer position's top logprobs, and the score they give. */
export interface LabelScore {
  /** Σ grade × p(grade) / Σ p(grade): P(relevant) for a binary judge, the expected grade for a graded one. */
  score: number;
  /** p(grade) = Σ exp(logprob) of the top tokens equal to the grade's label; grade as a string key. */
  probs: Record<string, number>;
  /** Σ p(grade): how much of the model's probability fell on label tokens, 0..1. */
  mass: number;
}

/**
 * Scores one answer from its top logprobs (natural log, as chat completions return them). Returns
 * undefined when no label token is among them (the model answered something else).
 */
export function scoreLabels(t: JudgeTemplate, top: readonly { token: string; logprob: number }[]): LabelScore | undefined {
  const probs: Record<string, number> = {};
  let mass = 0;
  let weighted = 0;
  for (const l of t.labels) {
    const want = norm(l.token);
    let p = 0;
    for (const x of top) if (norm(x.token) === want && Number.isFinite(x.logprob)) p += Math.exp(x.logprob);
    probs[String(l.grade)] = p;
    mass += p;
    weighted += l.grade * p;
  }
  if (!(mass > 0)) return undefined;
  return { score: weighted / mass, probs, mass: Math.min(1, mass) };
}
