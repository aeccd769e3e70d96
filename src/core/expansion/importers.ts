import { readFile } from 'node:fs/promises';
import { readExpansionFile } from '../dataset/expansionFile.js';
import type { ExpansionRow } from '../dataset/types.js';
import { parseJsonObjectLine } from '../dataset/textFile.js';
import { QxError, datasetError, throwIfAborted } from '../errors.js';
import type { TaskOptions } from '../progress.js';
import type { SamplingParams } from './expander.js';
import { type FormulationName, checkFormulationFit, formulate, splitFinal } from './formulation.js';
import { expansionId } from './records.js';
import { type ExpansionQuery, type TemplateContext, buildPrompt } from './runner.js';
import { type PromptTemplate, templateRef } from './templates.js';
import { stripThinking } from './thinking.js';
import type { ExpansionRecord, ExpansionRole, TemplateRef, TokenUsage } from './types.js';

/** Who made the imported expansions and how their final strings were formed. */
export interface ImportOptions {
  /** Model as the user names it, e.g. "Qwen2.5-72B-Instruct". */
  model: string;
  /** Method label, e.g. "query2doc-fs". */
  method: string;
  role: ExpansionRole;
  /** How the file's final strings were built, so the generated text can be separated. */
  formulation: FormulationName;
  /** Query text by qid: needed to separate the repeated query from the generated text. */
  queries: ReadonlyMap<string, string>;
  /** Shown in each record's `source`, e.g. the path relative to the workspace; default the file path. */
  source?: string;
  template?: TemplateRef;
}

/** A row that was not imported, and why. */
export interface ImportProblem {
  /** 1-based line of the file, 0 when the problem is a missing line. */
  line: number;
  qid?: string;
  message: string;
}

export interface ImportResult {
  records: ExpansionRecord[];
  /** Rows skipped; the records hold everything else. */
  problems: ImportProblem[];
  /**
   * Messages about rows imported as asked but probably with the wrong formulation: when most final
   * strings of the file do not look like the one named (see {@link checkFormulationFit}), one
   * message naming the file, how many rows, and the formulation they look like.
   */
  warnings: string[];
}

/** A row of an expansion file: the final string, or only the generated text. */
export interface ImportRow {
  qid: string;
  line: number;
  final?: string;
  generated?: string;
  usage?: TokenUsage;
}

/**
 * Turns rows into ExpansionRecords: the final string is kept exactly and the generated text is
 * separated from it with the formulation's inverse (or the final is built when only the generated
 * text is given). Rows of unknown queries, or whose final string does not have the formulation's
 * shape, are reported as problems. Several rows of one qid are samples 0, 1, ... in file order.
 * When fewer than half of the final strings split cleanly with the formulation (the rest keep
 * copies of the query in their text, or look like another formulation that takes more copies
 * out), `warnings` says so and names the formulation they look like.
 */
export function importRows(rows: readonly ImportRow[], file: string, options: ImportOptions): ImportResult {
  const records: ExpansionRecord[] = [];
  const problems: ImportProblem[] = [];
  const samples = new Map<string, number>();
  const createdAt = new Date().toISOString();
  let checked = 0;
  let fitting = 0;
  const lookLike = new Map<FormulationName, number>();
  for (const row of rows) {
    const query = options.queries.get(row.qid);
    if (query === undefined) {
      problems.push({ line: row.line, qid: row.qid, message: `${file}:${row.line}: unknown query id "${row.qid}" (not in the dataset's topics).` });
      continue;
    }
    let final: string;
    let generated: string;
    if (row.final !== undefined) {
      final = row.final;
      if (row.generated === undefined) {
        const fit = checkFormulationFit(options.formulation, query, final);
        checked++;
        if (fit.clean && fit.better === undefined) fitting++;
        if (fit.better !== undefined) lookLike.set(fit.better, (lookLike.get(fit.better) ?? 0) + 1);
      }
      const g = row.generated ?? splitFinal(options.formulation, query, final);
      if (g === undefined) {
        problems.push({
          line: row.line,
          qid: row.qid,
          message: `${file}:${row.line}: the text of query ${row.qid} does not have the "${options.formulation}" shape (${describe(options.formulation)}). Pick the formulation the file was made with.`,
        });
        continue;
      }
      generated = g;
    } else if (row.generated !== undefined) {
      generated = row.generated;
      final = formulate(options.formulation, query, generated);
    } else {
      problems.push({ line: row.line, qid: row.qid, message: `${file}:${row.line}: no text.` });
      continue;
    }
    const sampleIndex = samples.get(row.qid) ?? 0;
    samples.set(row.qid, sampleIndex + 1);
    const base = { qid: row.qid, method: options.method, model: options.model, sampleIndex, final, ...(options.template === undefined ? {} : { template: options.template }) };
    records.push({
      id: expansionId(base),
      ...base,
      query,
      role: options.role,
      provider: 'import',
      generated,
      formulation: options.formulation,
      ...(row.usage === undefined ? {} : { usage: row.usage }),
      source: `${options.source ?? file}:${row.line}`,
      createdAt,
    });
  }
  const warnings: string[] = [];
  if (checked > 0 && fitting * 2 < checked) {
    const [other, n] = [...lookLike].sort((a, b) => b[1] - a[1])[0] ?? [undefined, 0];
    const f = options.formulation;
    warnings.push(
      `${file}: ${checked - fitting} of ${checked} rows do not look like the "${f}" formulation (${describe(f)})` +
        (other === undefined ? '.' : `; ${n} look like "${other}" (${describe(other)}). If the file was made that way, import it again with --formulation ${other}.`),
    );
  }
  return { records, problems, warnings };
}

function describe(f: FormulationName): string {
  switch (f) {
    case 'query2doc':
      return 'the query 5 times, then the text, joined by single spaces';
    case 'mugi':
      return "the query repeated ⌊⌊len(text)/len(query)⌋/5⌋ times, then the text";
    case 'csqe':
      return 'the lower-cased query twice, then the text';
    case 'qa-expand':
      return 'the query 3 times, then the text';
    case 'lamer':
      return 'the query before each passage: q p1 q p2 …';
    case 'concat':
      return 'the query, a space, then the text';
    case 'keywords':
      return 'keywords only';
    case 'rewrite':
      return 'the rewrite alone';
  }
}

/** Reads JSONL rows {qid, text|expansion|generated, ...}; `text`/`expansion` hold the final string. */
export function parseExpansionJsonl(text: string, file: string): ImportRow[] {
  const rows: ImportRow[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const r = parseJsonObjectLine(file, line, raw, '{"qid": "1", "text": "..."}');
    if ((typeof r.qid !== 'string' && typeof r.qid !== 'number') || String(r.qid).trim() === '') throw datasetError(file, line, 'missing "qid".', 'Give each row the query id it expands.');
    const final = r.text ?? r.expansion;
    const generated = r.generated;
    if (final !== undefined && typeof final !== 'string') throw datasetError(file, line, '"text" is not a string.', 'Put the final retrieval string in "text".');
    if (generated !== undefined && typeof generated !== 'string') throw datasetError(file, line, '"generated" is not a string.', 'Put the model output in "generated".');
    if (final === undefined && generated === undefined) throw datasetError(file, line, 'neither "text", "expansion" nor "generated".', 'Give the final string in "text" or the model output in "generated".');
    rows.push({ qid: String(r.qid).trim(), line, ...(final === undefined ? {} : { final }), ...(generated === undefined ? {} : { generated }) });
  });
  if (rows.length === 0) throw datasetError(file, undefined, 'the file holds no rows.', 'Check that this is the right file.');
  return rows;
}

function fromExpansionRows(rows: ExpansionRow[]): ImportRow[] {
  return rows.map((r) => {
    const g = r.extra?.generated;
    return { qid: r.qid, line: r.line, final: r.text, ...(typeof g === 'string' ? { generated: g } : {}) };
  });
}

/**
 * Imports expansions made elsewhere: a QueryGym TSV (`qid<TAB>final string`, RFC-4180 quoting),
 * JSONL rows, or an OpenAI Batch API / `vllm run-batch` output file (custom ids made by
 * `buildBatchInput`; the template is then taken from the custom id when `templates` has it).
 */
export async function importExpansionFile(
  file: string,
  format: 'querygym-tsv' | 'jsonl' | 'openai-batch-output',
  options: ImportOptions & { templates?: ReadonlyMap<string, PromptTemplate> },
): Promise<ImportResult> {
  if (format === 'querygym-tsv') return importRows(fromExpansionRows(await readExpansionFile(file, 'tsv')), file, options);
  const text = await readFile(file, 'utf8').catch((e: unknown) => {
    throw datasetError(file, undefined, `cannot read the file (${(e as Error).message}).`, 'Check the path.');
  });
  if (format === 'jsonl') return importRows(parseExpansionJsonl(text, file), file, options);
  return importBatchOutput(text, file, options);
}

/** The parts of a batch line's `custom_id`. */
export interface BatchCustomId {
  qid: string;
  templateId: string;
  sampleIndex: number;
}

/** `qx:<qid>:<template id>:<sample index>`, the parts URI-encoded so any qid round-trips. */
export function formatCustomId(id: BatchCustomId): string {
  return `qx:${encodeURIComponent(id.qid)}:${encodeURIComponent(id.templateId)}:${id.sampleIndex}`;
}

/** The parts of a custom id made by `formatCustomId`, or undefined for any other id. */
export function parseCustomId(s: string): BatchCustomId | undefined {
  const m = /^qx:([^:]+):([^:]+):(\d+)$/.exec(s);
  if (m === null) return undefined;
  try {
    return { qid: decodeURIComponent(m[1] as string), templateId: decodeURIComponent(m[2] as string), sampleIndex: Number(m[3]) };
  } catch {
    return undefined;
  }
}

export interface BatchInputOptions extends TemplateContext, Pick<TaskOptions, 'signal'> {
  templates: readonly PromptTemplate[];
  queries: readonly ExpansionQuery[];
  /** Samples per query and template, >= 1, default 1. */
  samples?: number;
  model: string;
  sampling: SamplingParams;
  extraBody?: Record<string, unknown>;
}

/**
 * An OpenAI Batch API (or `vllm run-batch`) input file: one JSONL line per query × template ×
 * sample, `{custom_id, method: "POST", url: "/v1/chat/completions", body}`. With a seed, sample i
 * uses seed + i.
 */
export async function buildBatchInput(options: BatchInputOptions): Promise<{ jsonl: string; lines: number }> {
  const samples = Math.max(1, Math.floor(options.samples ?? 1));
  const out: string[] = [];
  for (const template of options.templates) {
    for (const query of options.queries) {
      throwIfAborted(options.signal);
      const messages = await buildPrompt(template, query, options, options.signal);
      for (let i = 0; i < samples; i++) {
        const s = options.sampling;
        const body = {
          ...options.extraBody,
          model: options.model,
          messages,
          temperature: s.temperature,
          top_p: s.topP,
          max_tokens: s.maxTokens,
          ...(s.seed === undefined ? {} : { seed: s.seed + i }),
        };
        out.push(JSON.stringify({ custom_id: formatCustomId({ qid: query.qid, templateId: template.id, sampleIndex: i }), method: 'POST', url: '/v1/chat/completions', body }));
      }
    }
  }
  return { jsonl: out.length === 0 ? '' : `${out.join('\n')}\n`, lines: out.length };
}

/**
 * Reads a Batch API output file back into ExpansionRecords. Lines with an error, a non-200
 * status, no content or a foreign custom id are problems; with `expected` (the custom ids sent),
 * every id without a line is reported as missing. The formulation of a record is its template's
 * when `templates` knows the id, else `options.formulation`; the method is the template id unless
 * `options.method` is set.
 */
export function importBatchOutput(
  text: string,
  file: string,
  options: Omit<ImportOptions, 'method'> & { method?: string; templates?: ReadonlyMap<string, PromptTemplate>; expected?: readonly string[] },
): ImportResult {
  const problems: ImportProblem[] = [];
  const records: ExpansionRecord[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(raw) as Record<string, unknown>;
    } catch (e) {
      problems.push({ line, message: `${file}:${line}: not valid JSON (${(e as Error).message}).` });
      return;
    }
    const customId = typeof o.custom_id === 'string' ? o.custom_id : '';
    const id = parseCustomId(customId);
    if (id === undefined) {
      problems.push({ line, message: `${file}:${line}: custom_id "${customId}" was not made by QX Studio (expected qx:<qid>:<template>:<sample>).` });
      return;
    }
    seen.add(customId);
    const response = (o.response ?? null) as { status_code?: unknown; body?: { choices?: { message?: { content?: unknown } }[]; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } } } | null;
    if (o.error !== null && o.error !== undefined) {
      const err = o.error as { message?: unknown; code?: unknown };
      problems.push({ line, qid: id.qid, message: `${file}:${line}: ${customId} failed: ${String(err.message ?? err.code ?? JSON.stringify(o.error))}` });
      return;
    }
    if (response === null || response.status_code !== 200) {
      problems.push({ line, qid: id.qid, message: `${file}:${line}: ${customId} has status ${String(response?.status_code ?? 'none')}.` });
      return;
    }
    const content = response.body?.choices?.[0]?.message?.content;
    if (typeof content !== 'string') {
      problems.push({ line, qid: id.qid, message: `${file}:${line}: ${customId} has no message content.` });
      return;
    }
    const template = options.templates?.get(id.templateId);
    const formulation = template?.formulation ?? options.formulation;
    const query = options.queries.get(id.qid);
    if (query === undefined) {
      problems.push({ line, qid: id.qid, message: `${file}:${line}: unknown query id "${id.qid}" (not in the dataset's topics).` });
      return;
    }
    const u = response.body?.usage;
    const usage = typeof u?.prompt_tokens === 'number' && typeof u.completion_tokens === 'number' ? { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens } : undefined;
    const answer = stripThinking(content);
    if (answer.stripped && answer.text === '') {
      problems.push({ line, qid: id.qid, message: `${file}:${line}: ${customId} holds only the model's reasoning (<think> without an answer); raise max_tokens or turn thinking off, and run it again.` });
      return;
    }
    const generated = answer.text;
    const ref = template === undefined ? options.template : templateRef(template);
    const final = formulate(formulation, query, generated);
    const base = { qid: id.qid, method: options.method ?? id.templateId, model: options.model, sampleIndex: id.sampleIndex, final, ...(ref === undefined ? {} : { template: ref }) };
    records.push({
      id: expansionId(base),
      ...base,
      query,
      role: options.role,
      provider: 'openai-batch',
      generated,
      formulation,
      ...(usage === undefined ? {} : { usage }),
      source: `${options.source ?? file}:${line}`,
      createdAt: new Date().toISOString(),
    });
  });
  for (const e of options.expected ?? []) {
    if (seen.has(e)) continue;
    const qid = parseCustomId(e)?.qid;
    problems.push({ line: 0, ...(qid === undefined ? {} : { qid }), message: `${file}: no result line for ${e}.` });
  }
  if (records.length === 0 && problems.length === 0) throw new QxError('dataset', 'The batch output file holds no lines.', { file, hint: 'Check that this is the output file, not the input.' });
  return { records, problems, warnings: [] };
}
