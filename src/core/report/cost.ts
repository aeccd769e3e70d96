import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { throwIfAborted } from '../errors.js';
import { type ModelPrice, type PriceTable, examplePriceTable, loadPriceTable, priceFor, summarizeCost } from '../expansion/cost.js';
import { countTokens } from '../expansion/tokenCount.js';
import type { ExpansionRecord, ExpansionRole } from '../expansion/types.js';
import { writeFileAtomic } from '../files/atomicWrite.js';
import type { StudentTeacherComparison } from './report.js';

/** The workspace's own price table, relative to the workspace folder. */
export const WORKSPACE_PRICE_FILE = join('.qx', 'prices.json');

/** Where the prices of a report come from. */
export interface PriceSource {
  /** "workspace": the workspace's `.qx/prices.json`; "example": the shipped EXAMPLE table. */
  kind: 'workspace' | 'example';
  /** The price file relative to the workspace; null for the example table. */
  file: string | null;
  /** The table's `asOf` date, null when it gives none. */
  asOf: string | null;
  note: string | null;
}

/** What the cost section is computed from. */
export interface CostInput {
  table: PriceTable;
  source: PriceSource;
  /** Output tokens counted locally for expansions that carry no usage, by expansion id (see `estimateOutputTokens`). */
  estimatedOutput?: ReadonlyMap<string, number>;
}

/** Tokens, calls, time and money of one method (role + method + model). */
export interface MethodCost {
  /** "role/method/model", the key of the method table. */
  key: string;
  role: ExpansionRole;
  method: string;
  model: string;
  /** Providers of its expansions, e.g. ["openai-compatible"], ["import"]. */
  providers: string[];
  expansions: number;
  /** Calls to the model: one per query × template (samples drawn together), one per Batch API line; null when unknown (imported files). */
  requests: number | null;
  /** Input tokens of the expansions whose input is known (see `promptUnknown`). */
  promptTokens: number;
  completionTokens: number;
  /** Expansions whose counts are estimates from the local Qwen3 tokenizer, not figures reported by the server. */
  estimatedExpansions: number;
  /** Expansions without usage (imported): their output is counted locally, their input is unknown and left out of tokens and price. */
  promptUnknown: number;
  /** Expansions without usage and without a local count: left out of tokens and price. */
  uncounted: number;
  /** Summed generation wall time, ms; null when no expansion has a timing (imports). */
  wallMs: number | null;
  /** Mean wall time per timed expansion, ms; null without timings. */
  meanLatencyMs: number | null;
  /** USD per million tokens used, null when the table has no price for the model (local ONNX models cost 0). */
  price: ModelPrice | null;
  /** Estimated price, USD; null without a price. A lower bound when `promptUnknown` > 0. */
  usd: number | null;
  /** `usd` over the expansions it covers; null without a price. */
  usdPerExpansion: number | null;
}

/** A student's cost per expansion as a percentage of a teacher's, beside its nDCG@10 percentage. */
export interface CostComparison {
  student: string;
  teacher: string;
  /** 100 × student / teacher mean nDCG@10 (the report's comparison); null when undefined. */
  ndcgPercent: number | null;
  /** 100 × student / teacher price per expansion; null without both prices or when the teacher's is 0. */
  costPercent: number | null;
  /** True when either side holds estimated counts or unknown input tokens. */
  approximate: boolean;
}

export interface CostSection {
  prices: PriceSource;
  methods: MethodCost[];
  studentVsTeacher: CostComparison[];
}

/** Inference cost only counts model generations: no hand edits (their source is counted already), no model-free baselines. */
function isGeneration(r: ExpansionRecord): boolean {
  return r.role !== 'baseline' && r.provider !== 'edit';
}

/**
 * Reads the workspace's `.qx/prices.json` when there is one (errors name the file and the model
 * entry), else returns the shipped EXAMPLE table labelled as such.
 */
export async function loadWorkspacePrices(root: string): Promise<Pick<CostInput, 'table' | 'source'>> {
  const file = join(root, WORKSPACE_PRICE_FILE);
  const table = existsSync(file) ? await loadPriceTable(file) : examplePriceTable;
  const text = (x: unknown): string | null => (typeof x === 'string' && x.trim() !== '' ? x : null);
  return {
    table,
    source: { kind: table === examplePriceTable ? 'example' : 'workspace', file: table === examplePriceTable ? null : WORKSPACE_PRICE_FILE, asOf: text(table.asOf), note: text(table.note) },
  };
}

/**
 * Output tokens of the expansions without usage (imported files), counted in their generated text
 * with the local Qwen3 tokenizer (an estimate for other model families). Counts are kept in
 * `cacheFile` by expansion id (ids hash the text, so a count never goes stale); the 11 MB
 * tokenizer is only loaded when some count is missing.
 */
export async function estimateOutputTokens(
  records: readonly ExpansionRecord[],
  options: { cacheFile?: string; count?: (text: string) => Promise<number>; signal?: AbortSignal } = {},
): Promise<Map<string, number>> {
  const uncounted = records.filter((r) => r.usage === undefined && isGeneration(r));
  const out = new Map<string, number>();
  if (uncounted.length === 0) return out;
  let cached: Record<string, number> = {};
  if (options.cacheFile !== undefined && existsSync(options.cacheFile)) {
    try {
      const v = JSON.parse(await readFile(options.cacheFile, 'utf8')) as { tokenizer?: unknown; counts?: unknown };
      if (v.tokenizer === 'qwen3' && v.counts !== null && typeof v.counts === 'object') cached = v.counts as Record<string, number>;
    } catch {
      // a damaged cache is only a slower report: count again
    }
  }
  const count = options.count ?? countTokens;
  let added = 0;
  for (const r of uncounted) {
    const c = cached[r.id];
    if (typeof c === 'number' && Number.isInteger(c) && c >= 0) {
      out.set(r.id, c);
      continue;
    }
    throwIfAborted(options.signal);
    const n = await count(r.generated);
    out.set(r.id, n);
    cached[r.id] = n;
    added++;
  }
  if (added > 0 && options.cacheFile !== undefined) {
    mkdirSync(dirname(options.cacheFile), { recursive: true });
    writeFileAtomic(options.cacheFile, JSON.stringify({ tokenizer: 'qwen3', counts: cached }));
  }
  return out;
}

const roleOrder: Record<ExpansionRole, number> = { teacher: 0, student: 1, imported: 2, baseline: 3 };

/**
 * Cost and latency per method over every generated expansion (scored or not; hand edits and
 * baselines excluded). Rules:
 * - tokens are the server's usage figures; counts made with the local Qwen3 tokenizer (by the
 *   expander when the server reported none, or here for expansions imported without usage) are
 *   estimates and counted in `estimatedExpansions`;
 * - for an expansion without usage only the output is counted: its prompt was not recorded, so
 *   its input tokens are unknown (`promptUnknown`) and the price is a lower bound;
 * - price = input tokens × input rate + output tokens × output rate, per million, from the table
 *   (`priceFor`: exact, case-insensitive, or without an "org/" prefix); local ONNX models cost 0;
 * - requests: one per query × template (a query's samples are drawn in one call), one per line
 *   for Batch API results, unknown for imported files;
 * - the student/teacher cost ratio compares the price per expansion.
 */
export function buildCostSection(records: readonly ExpansionRecord[], input: CostInput, comparisons: readonly Pick<StudentTeacherComparison, 'student' | 'teacher' | 'percent'>[]): CostSection {
  const groups = new Map<string, ExpansionRecord[]>();
  for (const r of records) {
    if (!isGeneration(r)) continue;
    const key = `${r.role}/${r.method}/${r.model}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [r]);
    else g.push(r);
  }
  const methods: MethodCost[] = [];
  for (const [key, group] of groups) {
    const first = group[0] as ExpansionRecord;
    let promptUnknown = 0;
    let uncounted = 0;
    const counted: ExpansionRecord[] = [];
    for (const r of group) {
      if (r.usage !== undefined) {
        counted.push(r);
        continue;
      }
      const out = input.estimatedOutput?.get(r.id);
      if (out === undefined) uncounted++;
      else {
        promptUnknown++;
        counted.push({ ...r, usage: { promptTokens: 0, completionTokens: out, estimated: true } });
      }
    }
    const byProvider = summarizeCost(counted, input.table);
    const priced = byProvider.every((p) => p.usd !== null);
    const usd = priced ? byProvider.reduce((s, p) => s + (p.usd as number), 0) : null;
    const timed = group.filter((r) => r.latencyMs !== undefined);
    const wallMs = timed.reduce((s, r) => s + (r.latencyMs as number), 0);
    const onlyOnnx = group.every((r) => r.provider === 'onnx');
    let requests: number | null = 0;
    const prompts = new Set<string>();
    for (const r of group) {
      if (r.provider === 'import') requests = null;
      else if (r.provider === 'openai-batch') {
        if (requests !== null) requests++;
      } else prompts.add(JSON.stringify([r.provider, r.qid, r.template?.hash ?? '']));
    }
    if (requests !== null) requests += prompts.size;
    methods.push({
      key,
      role: first.role,
      method: first.method,
      model: first.model,
      providers: [...new Set(group.map((r) => r.provider))].sort(),
      expansions: group.length,
      requests,
      promptTokens: byProvider.reduce((s, p) => s + p.promptTokens, 0),
      completionTokens: byProvider.reduce((s, p) => s + p.completionTokens, 0),
      estimatedExpansions: counted.filter((r) => r.usage?.estimated === true).length,
      promptUnknown,
      uncounted,
      wallMs: timed.length === 0 ? null : wallMs,
      meanLatencyMs: timed.length === 0 ? null : wallMs / timed.length,
      price: priceFor(input.table, first.model) ?? (onlyOnnx ? { inputPerMTok: 0, outputPerMTok: 0 } : null),
      usd,
      usdPerExpansion: usd === null || counted.length === 0 ? null : usd / counted.length,
    });
  }
  methods.sort((a, b) => roleOrder[a.role] - roleOrder[b.role] || a.method.localeCompare(b.method) || a.model.localeCompare(b.model));
  const byKey = new Map(methods.map((m) => [m.key, m]));
  const studentVsTeacher = comparisons.map((c): CostComparison => {
    const s = byKey.get(c.student);
    const t = byKey.get(c.teacher);
    const sp = s?.usdPerExpansion ?? null;
    const tp = t?.usdPerExpansion ?? null;
    const approx = (m: MethodCost | undefined): boolean => m !== undefined && (m.estimatedExpansions > 0 || m.promptUnknown > 0 || m.uncounted > 0);
    return { student: c.student, teacher: c.teacher, ndcgPercent: c.percent, costPercent: sp === null || tp === null || tp <= 0 ? null : (100 * sp) / tp, approximate: approx(s) || approx(t) };
  });
  return { prices: input.source, methods, studentVsTeacher };
}

/** A price in USD for tables: 3 significant digits below $1, cents above. */
export function formatUsd(x: number): string {
  if (x === 0) return '0';
  return x >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

/** Wall time for tables: ms below a second, then seconds, then minutes. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** A student/teacher cost percentage for tables; `~` when approximate. */
export function costPercentText(c: CostComparison | undefined): string {
  if (c === undefined || c.costPercent === null) return 'n/a';
  return `${c.approximate ? '~' : ''}${c.costPercent.toFixed(1)}%`;
}

/** Where the prices come from, one sentence (says loudly when they are the shipped example). */
export function priceSourceText(p: PriceSource): string {
  const date = p.asOf === null ? 'no date given' : `as of ${p.asOf}`;
  return p.kind === 'example'
    ? `Prices: the shipped EXAMPLE table (${date}), for illustration only; put your provider's prices in ${WORKSPACE_PRICE_FILE}.`
    : `Prices: ${p.file ?? WORKSPACE_PRICE_FILE} (${date})${p.note === null ? '' : `: ${p.note}`}.`;
}

/** One method's token columns: `~` marks estimates, `+?` input tokens left out (unknown). */
export function tokenCells(m: MethodCost): { input: string; output: string } {
  const est = m.estimatedExpansions > 0 ? '~' : '';
  const known = m.expansions - m.promptUnknown - m.uncounted;
  const input = known === 0 ? 'n/a' : `${m.promptUnknown > 0 ? '' : est}${m.promptTokens}${m.promptUnknown > 0 || m.uncounted > 0 ? '+?' : ''}`;
  const output = m.expansions === m.uncounted ? 'n/a' : `${est}${m.completionTokens}${m.uncounted > 0 ? '+?' : ''}`;
  return { input, output };
}

/** The price column: "n/a" without a price, "≥" for a lower bound. */
export function usdCell(m: MethodCost): string {
  if (m.usd === null) return 'n/a';
  return `${m.promptUnknown > 0 || m.uncounted > 0 ? '≥' : ''}${formatUsd(m.usd)}`;
}

/** The rules behind the cost figures, for the report's notes. */
export const COST_RULES: readonly string[] = [
  'Tokens are the server-reported usage. `~` marks estimates counted with the local Qwen3 tokenizer: where the server reported no usage, and for expansions imported without usage (their output text only).',
  'The prompt of an expansion imported without usage was not recorded: its input tokens are unknown (`n/a`, `+?`) and its price is a lower bound (`≥`).',
  'Price = input tokens × input rate + output tokens × output rate (USD per million tokens) from the price table; local ONNX models cost 0; `n/a` when the table has no price for the model.',
  'Requests: one per query × template (a query\'s samples are drawn in one call), one per line of a Batch API result, unknown for imported files. Wall time is the generation time recorded per expansion (unknown for imports).',
  'Cost ratio: the student\'s price per expansion as a percentage of the teacher\'s, beside its nDCG@10 as a percentage of the teacher\'s.',
];
