import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { QxError } from '../errors.js';
import type { ChatMessage } from './expander.js';
import { type FormulationName, formulationNames, isFormulationName } from './formulation.js';
import type { HistoryTurn } from '../dataset/types.js';
import type { TemplateRef } from './types.js';

/**
 * A prompt template file (`<id>.tmpl`):
 *
 * ```
 * ---
 * id: query2doc-zs
 * version: 1
 * description: one line
 * language: en
 * formulation: query2doc
 * needs: []              # or [examples], [passages], [history]
 * examples: 4            # few-shot exemplars drawn per query (with needs: [examples]), default 4
 * passages: 10           # retrieved passages given as context (with needs: [passages]), default 10
 * ---
 * [system]
 * You are ...
 * [user]
 * Write a passage that answers the given query:
 * {{examples}}
 * Query: {{query}}
 * Passage:
 * ```
 *
 * Sections start with a line `[system]`, `[user]` or `[assistant]`; surrounding blank lines of a
 * section are dropped. Placeholders: `{{query}}`, `{{examples}}` (`Query: …` / `Passage: …` pairs
 * separated by blank lines), `{{passages}}` (one per line, white space collapsed, numbered `1. …`,
 * `2. …` as LameR and CSQE enumerate them), `{{history}}` (a conversational turn's earlier turns,
 * see {@link renderHistory}) and `{{turn}}` (its turn number). Lines starting with `#` in the front
 * matter are comments.
 */
export interface PromptTemplate {
  id: string;
  version: number;
  description: string;
  /** BCP-47-ish language code of the prompt, e.g. "en", "zh". */
  language: string;
  formulation: FormulationName;
  /** `history`: the prompt holds a conversation's earlier turns, so only conversational queries fit. */
  needs: { examples: boolean; passages: boolean; history: boolean };
  /** Few-shot exemplars per query, default 4. */
  numExamples: number;
  /** Retrieved passages per query, default 10. */
  numPassages: number;
  messages: ChatMessage[];
  /** sha256 of the file text, hex (64 chars). */
  sha256: string;
  /** Where it was read from. */
  file: string;
  /** "shipped" or "workspace". */
  origin: 'shipped' | 'workspace';
}

/** The placeholders a template may use. */
export const knownPlaceholders = ['query', 'examples', 'passages', 'history', 'turn'] as const;

/** The folder of the default templates: next to this module in the sources, `dist/templates` in bundles. */
export function shippedTemplateDir(): string {
  return join(__dirname, 'templates');
}

/** The short reference stored in every ExpansionRecord. */
export function templateRef(t: PromptTemplate): TemplateRef {
  return { id: t.id, version: t.version, hash: t.sha256.slice(0, 16) };
}

/** A template file's front matter: its lines, where the front matter ends, its fields, and its id and version. */
export interface TemplateHeader {
  lines: string[];
  /** Index of the closing "---" line; the sections start after it. */
  end: number;
  meta: Map<string, { value: string; line: number }>;
  /** A required field; throws when it is missing or empty. */
  field: (name: string) => { value: string; line: number };
  /** A QxError naming the file and the line. */
  err: (line: number, problem: string, hint: string) => QxError;
  id: string;
  version: number;
}

/**
 * Reads the front matter shared by expansion and judge templates ("---", `name: value` lines,
 * "---") and its `id` and `version`; errors name the file, the line, the problem and the fix.
 * `noun` and `fields` word the error when the front matter is missing.
 */
export function parseTemplateHeader(text: string, file: string, noun: string, fields: string): TemplateHeader {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const err = (line: number, problem: string, hint: string): QxError => new QxError('template', problem, { file, line, hint });
  if (lines[0]?.trim() !== '---') throw err(1, `The ${noun} does not start with front matter.`, `Begin the file with ${fields}, and another "---".`);
  const end = lines.indexOf('---', 1);
  if (end < 0) throw err(1, 'The front matter is not closed.', 'Add a line "---" after the fields.');
  const meta = new Map<string, { value: string; line: number }>();
  for (let i = 1; i < end; i++) {
    const l = lines[i] ?? '';
    if (l.trim() === '' || l.trim().startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s*:\s*(.*?)\s*$/.exec(l);
    if (m === null) throw err(i + 1, `Cannot read front-matter line "${l}".`, 'Write fields as "name: value".');
    meta.set(m[1] as string, { value: (m[2] as string).replace(/\s+#.*$/, ''), line: i + 1 });
  }
  const field = (name: string): { value: string; line: number } => {
    const f = meta.get(name);
    if (f === undefined || f.value === '') throw err(2, `The front matter has no "${name}".`, `Add "${name}: ..." between the "---" lines.`);
    return f;
  };
  const id = field('id').value;
  if (!/^[A-Za-z0-9][\w.-]*$/.test(id)) throw err(field('id').line, `Invalid template id "${id}".`, 'Use letters, digits, ".", "_" and "-".');
  const versionField = field('version');
  const version = Number(versionField.value);
  if (!Number.isInteger(version) || version < 1) throw err(versionField.line, `Invalid version "${versionField.value}".`, 'Use a positive integer and raise it whenever the prompt changes.');
  return { lines, end, meta, field, err, id, version };
}

/** Parses a template file's text; errors name the file, the line, the problem and the fix. */
export function parseTemplate(text: string, file: string, origin: PromptTemplate['origin'] = 'workspace'): PromptTemplate {
  const { lines, end, meta, field, err, id, version } = parseTemplateHeader(text, file, 'template', 'a line "---", the id/version/... fields');
  const formulationField = field('formulation');
  if (!isFormulationName(formulationField.value)) {
    throw err(formulationField.line, `Unknown formulation "${formulationField.value}".`, `Use one of: ${formulationNames.join(', ')}.`);
  }
  const needsField = meta.get('needs');
  const needs = { examples: false, passages: false, history: false };
  if (needsField !== undefined) {
    const items = needsField.value.replace(/^\[|\]$/g, '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const item of items) {
      if (item !== 'examples' && item !== 'passages' && item !== 'history') throw err(needsField.line, `Unknown need "${item}".`, 'needs: takes a list of "examples", "passages" and "history".');
      needs[item] = true;
    }
  }
  const intField = (name: string, dflt: number): number => {
    const f = meta.get(name);
    if (f === undefined) return dflt;
    const v = Number(f.value);
    if (!Number.isInteger(v) || v < 1) throw err(f.line, `Invalid ${name} "${f.value}".`, `Use a positive integer.`);
    return v;
  };

  const messages: ChatMessage[] = [];
  let current: { role: ChatMessage['role']; lines: string[] } | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    const content = current.lines.join('\n').replace(/^\s*\n/, '').trimEnd();
    messages.push({ role: current.role, content });
  };
  const used = new Set<string>();
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
      if (!(knownPlaceholders as readonly string[]).includes(name)) {
        throw err(i + 1, `Unknown placeholder {{${name}}}.`, `Known placeholders: ${knownPlaceholders.map((p) => `{{${p}}}`).join(', ')}.`);
      }
      used.add(name);
    }
    if (current === undefined) {
      if (l.trim() === '') continue;
      throw err(i + 1, 'Text before the first section.', 'Start the prompt with a line "[system]" or "[user]".');
    }
    current.lines.push(l);
  }
  flush();
  if (!messages.some((m) => m.role === 'user')) throw err(end + 2, 'The template has no [user] section.', 'Add a "[user]" line followed by the prompt.');
  if (!used.has('query')) throw err(end + 2, 'The template never uses {{query}}.', 'Put {{query}} where the query goes.');
  if (used.has('examples') !== needs.examples) throw err(needsField?.line ?? 2, `{{examples}} is ${used.has('examples') ? 'used but not declared' : 'declared but not used'}.`, 'List "examples" in needs: exactly when the prompt uses {{examples}}.');
  if (used.has('passages') !== needs.passages) throw err(needsField?.line ?? 2, `{{passages}} is ${used.has('passages') ? 'used but not declared' : 'declared but not used'}.`, 'List "passages" in needs: exactly when the prompt uses {{passages}}.');
  if (used.has('history') !== needs.history) throw err(needsField?.line ?? 2, `{{history}} is ${used.has('history') ? 'used but not declared' : 'declared but not used'}.`, 'List "history" in needs: exactly when the prompt uses {{history}}.');

  return {
    id,
    version,
    description: meta.get('description')?.value ?? '',
    language: meta.get('language')?.value ?? 'en',
    formulation: formulationField.value,
    needs,
    numExamples: intField('examples', 4),
    numPassages: intField('passages', 10),
    messages,
    sha256: createHash('sha256').update(text).digest('hex'),
    file,
    origin,
  };
}

/** Reads every `*.tmpl` of a folder (a missing folder holds none). */
export async function readTemplateDir(dir: string, origin: PromptTemplate['origin']): Promise<PromptTemplate[]> {
  if (!existsSync(dir)) return [];
  const names = (await readdir(dir)).filter((n) => n.endsWith('.tmpl')).sort();
  const out: PromptTemplate[] = [];
  for (const name of names) {
    const file = join(dir, name);
    out.push(parseTemplate(await readFile(file, 'utf8'), file, origin));
  }
  return out;
}

/**
 * The shipped templates overridden by the workspace's (`.qx/templates/`, passed in): a workspace
 * file with the same id wins. Two files with one id in the same folder are an error.
 */
export async function loadTemplates(options: { shippedDir?: string; workspaceDir?: string } = {}): Promise<Map<string, PromptTemplate>> {
  const byId = new Map<string, PromptTemplate>();
  const add = (list: PromptTemplate[]): void => {
    const seen = new Set<string>();
    for (const t of list) {
      if (seen.has(t.id)) throw new QxError('template', `Two templates have the id "${t.id}".`, { file: t.file, hint: 'Give each template file its own id.' });
      seen.add(t.id);
      byId.set(t.id, t);
    }
  };
  add(await readTemplateDir(options.shippedDir ?? shippedTemplateDir(), 'shipped'));
  if (options.workspaceDir !== undefined) add(await readTemplateDir(options.workspaceDir, 'workspace'));
  return byId;
}

/** A (query, passage) exemplar from a training split, for few-shot prompts. */
export interface FewShotExample {
  qid: string;
  query: string;
  passage: string;
}

/** What fills a template for one query. */
export interface TemplateInput {
  qid: string;
  query: string;
  examples?: FewShotExample[];
  /** Passage texts, best first. */
  passages?: string[];
  /** A conversational turn: its number and earlier turns (oldest first), for `{{history}}` and `{{turn}}`. */
  conversation?: { turn: number; history: readonly HistoryTurn[] };
}

/**
 * A conversation's earlier turns as prompt text, the layout of LLM4CS (Mao et al., EMNLP Findings
 * 2023) for the turns before the current one: per turn `Turn: <n>`, `Question: <utterance>` and,
 * when the dataset has the system's answer, `Response: <answer>`, turns separated by a blank line
 * (`(no earlier turns)` for the first turn). White space inside a text is collapsed.
 */
export function renderHistory(history: readonly HistoryTurn[]): string {
  if (history.length === 0) return '(no earlier turns)';
  const flat = (s: string): string => s.replace(/\s+/g, ' ').trim();
  return history
    .map((h, i) => [`Turn: ${i + 1}`, `Question: ${flat(h.utterance)}`, ...(h.response === undefined ? [] : [`Response: ${flat(h.response)}`])].join('\n'))
    .join('\n\n');
}

function normalizeQuery(q: string): string {
  return q.trim().toLowerCase().replace(/\s+/g, ' ');
}

/**
 * Draws `k` few-shot exemplars for a query from a training pool, never the query itself (same qid
 * or same text, case- and space-insensitive). The draw is deterministic per qid, so reruns hit the
 * cache. Throws QxError('config') when the pool has fewer than `k` usable exemplars.
 */
export function pickExamples(pool: readonly FewShotExample[], qid: string, query: string, k: number): FewShotExample[] {
  const own = normalizeQuery(query);
  const usable = pool.filter((e) => e.qid !== qid && normalizeQuery(e.query) !== own);
  if (usable.length < k) {
    throw new QxError('config', `Few-shot prompts need ${k} training exemplars other than query ${qid}; the pool has ${usable.length}.`, {
      hint: 'Pass a larger training split (never the evaluation queries).',
    });
  }
  const ranked = usable
    .map((e) => ({ e, r: createHash('sha256').update(`${qid}\u0000${e.qid}`).digest('hex') }))
    .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0));
  return ranked.slice(0, k).map((x) => x.e);
}

const exampleLabels: Record<string, { query: string; passage: string }> = {
  en: { query: 'Query', passage: 'Passage' },
  zh: { query: '查询', passage: '段落' },
};

/** Fills the placeholders; refuses to put the query being expanded among its own exemplars. */
export function renderTemplate(t: PromptTemplate, input: TemplateInput): ChatMessage[] {
  const labels = exampleLabels[t.language] ?? (exampleLabels.en as { query: string; passage: string });
  const sep = t.language === 'zh' ? '：' : ': ';
  let examples = '';
  if (t.needs.examples) {
    const ex = input.examples;
    if (ex === undefined || ex.length === 0) throw new QxError('config', `Template ${t.id} needs few-shot examples and none were given.`, { hint: 'Pass exemplars from a training split.' });
    const own = normalizeQuery(input.query);
    if (ex.some((e) => e.qid === input.qid || normalizeQuery(e.query) === own)) {
      throw new QxError('config', `Query ${input.qid} is among its own few-shot examples.`, { hint: 'Draw exemplars with pickExamples(), which excludes the query being expanded.' });
    }
    examples = ex.map((e) => `${labels.query}${sep}${e.query}\n${labels.passage}${sep}${e.passage}`).join('\n\n');
  }
  let passages = '';
  if (t.needs.passages) {
    const p = input.passages;
    if (p === undefined) throw new QxError('config', `Template ${t.id} needs retrieved passages and none were given.`, { hint: 'Pass a retriever and getDocText.' });
    // One passage per line, whatever line breaks the corpus text holds, so the enumeration stays readable.
    passages = p.map((text, i) => `${i + 1}. ${text.replace(/\s+/g, ' ').trim()}`).join('\n');
  }
  let history = '';
  let turn = '';
  if (t.needs.history || t.messages.some((m) => /\{\{\s*turn\s*\}\}/.test(m.content))) {
    const c = input.conversation;
    if (c === undefined) {
      throw new QxError('config', `Template ${t.id} rewrites a conversational turn, and query ${input.qid} is not one.`, { hint: 'Use it on a dataset whose topics are conversations (cast-json, topiocqa-json, qrecc-json).' });
    }
    history = renderHistory(c.history);
    turn = String(c.turn);
  }
  const values: Record<string, string> = { query: input.query, examples, passages, history, turn };
  return t.messages.map((m) => ({ role: m.role, content: m.content.replace(/\{\{\s*(\w+)\s*\}\}/g, (_all, name: string) => values[name] ?? '') }));
}
