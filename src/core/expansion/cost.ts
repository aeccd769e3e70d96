import { readFile } from 'node:fs/promises';
import { QxError } from '../errors.js';
import type { ExpansionRecord } from './types.js';

/** USD per one million tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/** A user-editable price table (JSON): `{ "asOf": "YYYY-MM-DD", "note": "...", "models": { "<model>": { "inputPerMTok": 2, "outputPerMTok": 8 } } }`. */
export interface PriceTable {
  /** Date the prices were read, ISO date. */
  asOf?: string;
  note?: string;
  models: Record<string, ModelPrice>;
}

/**
 * EXAMPLE prices only, as listed by the providers around the date below; they change often.
 * Copy them into your own table (`.qx/prices.json`) and check your provider's price page.
 * Models served locally (ONNX, your own vLLM) cost nothing per token here.
 */
export const examplePriceTable: PriceTable = {
  asOf: '2025-06-01',
  note: 'EXAMPLE prices for illustration; verify with your provider before quoting a cost.',
  models: {
    'gpt-4.1': { inputPerMTok: 2, outputPerMTok: 8 },
    'gpt-4.1-mini': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
    'gpt-4.1-nano': { inputPerMTok: 0.1, outputPerMTok: 0.4 },
    'deepseek-chat': { inputPerMTok: 0.27, outputPerMTok: 1.1 },
    'Qwen2.5-72B-Instruct': { inputPerMTok: 1.2, outputPerMTok: 1.2 },
    'Qwen2.5-7B-Instruct': { inputPerMTok: 0.3, outputPerMTok: 0.3 },
  },
};

/** Validates a price table's JSON text; errors name the file and the model entry. */
export function parsePriceTable(text: string, file: string): PriceTable {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new QxError('config', `The price table is not valid JSON (${(e as Error).message}).`, { file, hint: 'Write {"models": {"<model>": {"inputPerMTok": 2, "outputPerMTok": 8}}}.' });
  }
  const models = (v as { models?: unknown } | null)?.models;
  if (models === null || typeof models !== 'object' || Array.isArray(models)) {
    throw new QxError('config', 'The price table has no "models" object.', { file, hint: 'Write {"models": {"<model>": {"inputPerMTok": 2, "outputPerMTok": 8}}}.' });
  }
  for (const [name, p] of Object.entries(models as Record<string, unknown>)) {
    const price = p as Partial<ModelPrice> | null;
    for (const f of ['inputPerMTok', 'outputPerMTok'] as const) {
      const x = price?.[f];
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
        throw new QxError('config', `The price of "${name}" has no valid ${f}.`, { file, hint: 'Give USD per million tokens as a number >= 0.' });
      }
    }
  }
  return v as PriceTable;
}

/** Reads and validates a price table file (see `PriceTable`). */
export async function loadPriceTable(file: string): Promise<PriceTable> {
  return parsePriceTable(await readFile(file, 'utf8'), file);
}

/** The price of a model: exact name, then case-insensitive, then the part after an "org/" prefix. */
export function priceFor(table: PriceTable, model: string): ModelPrice | undefined {
  const exact = table.models[model];
  if (exact !== undefined) return exact;
  const lower = (s: string): string => s.toLowerCase();
  const short = model.includes('/') ? model.slice(model.lastIndexOf('/') + 1) : model;
  for (const [name, p] of Object.entries(table.models)) {
    if (lower(name) === lower(model) || lower(name) === lower(short)) return p;
  }
  return undefined;
}

/** Tokens, time and money of one provider × model × method. */
export interface CostRow {
  provider: string;
  model: string;
  method: string;
  expansions: number;
  promptTokens: number;
  completionTokens: number;
  /** True when some counts come from a local tokenizer, not the server. */
  estimatedTokens: boolean;
  /** Expansions without any usage figure (e.g. imported). */
  withoutUsage: number;
  /** Summed generation wall time, ms (samples of one call split its time). */
  wallMs: number;
  /** Mean wall time per expansion, ms; null without timings. */
  meanLatencyMs: number | null;
  /** Estimated price, USD; 0 for local ONNX models; null when the table has no price for the model. */
  usd: number | null;
}

/** What cost accounting reads of a record: expansions, and relevance judgments alike. */
export type CostedRecord = Pick<ExpansionRecord, 'provider' | 'model' | 'method' | 'usage' | 'latencyMs'>;

/**
 * Cost and latency accounting over expansions (or relevance judgments, method "judge:<template>"), grouped by provider, model and method, so teacher
 * vs student inference cost is a number. Rows are sorted by provider, model, method.
 */
export function summarizeCost(records: readonly CostedRecord[], table: PriceTable = examplePriceTable): CostRow[] {
  const rows = new Map<string, CostRow & { timed: number }>();
  for (const r of records) {
    const key = JSON.stringify([r.provider, r.model, r.method]);
    let row = rows.get(key);
    if (row === undefined) {
      row = { provider: r.provider, model: r.model, method: r.method, expansions: 0, promptTokens: 0, completionTokens: 0, estimatedTokens: false, withoutUsage: 0, wallMs: 0, meanLatencyMs: null, usd: 0, timed: 0 };
      rows.set(key, row);
    }
    row.expansions++;
    if (r.usage === undefined) row.withoutUsage++;
    else {
      row.promptTokens += r.usage.promptTokens;
      row.completionTokens += r.usage.completionTokens;
      if (r.usage.estimated === true) row.estimatedTokens = true;
    }
    if (r.latencyMs !== undefined) {
      row.wallMs += r.latencyMs;
      row.timed++;
    }
  }
  const out: CostRow[] = [];
  for (const { timed, ...row } of rows.values()) {
    const price = row.provider === 'onnx' ? (priceFor(table, row.model) ?? { inputPerMTok: 0, outputPerMTok: 0 }) : priceFor(table, row.model);
    row.usd = price === undefined ? null : (row.promptTokens * price.inputPerMTok + row.completionTokens * price.outputPerMTok) / 1e6;
    row.meanLatencyMs = timed === 0 ? null : row.wallMs / timed;
    out.push(row);
  }
  return out.sort((a, b) => a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model) || a.method.localeCompare(b.method));
}
