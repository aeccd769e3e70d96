import type { PairState } from '../core/curation/types.js';
import type { QuerySummary } from '../core/workspace/api.js';
import { groupedOrder } from './conversationGroups.js';

/**
 * The query browser's filter and sort, kept free of `vscode` so they are unit-tested and
 * benchmarked on 10,000 queries outside the editor.
 *
 * Filter syntax (space-separated, all must match): free words match the qid or query text;
 * `state:auto|accepted|rejected|edited|none` (has a pair in that state, or no pair);
 * `method:<substring>` (best method); `delta>0.1`, `delta<0`; `judged>=0.5` (mean Judged@10);
 * `scored:yes|no`.
 */
export interface QueryFilter {
  words: string[];
  states: (PairState | 'none')[];
  methods: string[];
  delta: Comparison[];
  judged: Comparison[];
  scored?: boolean;
}

export interface Comparison {
  op: '>' | '>=' | '<' | '<=' | '=';
  value: number;
}

export type SortKey = 'qid' | 'deltaDesc' | 'deltaAsc' | 'method' | 'judged' | 'state';

export const sortLabels: Record<SortKey, string> = {
  deltaDesc: 'Best delta, highest first',
  deltaAsc: 'Best delta, lowest first',
  qid: 'Query id',
  method: 'Best method',
  judged: 'Judged@10, lowest first',
  state: 'Pairs still to review (auto) first',
};

const pairStateNames = ['auto', 'accepted', 'rejected', 'edited', 'none'] as const;

export const emptyFilter: QueryFilter = { words: [], states: [], methods: [], delta: [], judged: [] };

export function isEmptyFilter(f: QueryFilter): boolean {
  return f.words.length === 0 && f.states.length === 0 && f.methods.length === 0 && f.delta.length === 0 && f.judged.length === 0 && f.scored === undefined;
}

/** Parses the filter box; returns a problem sentence instead when a token is malformed. */
export function parseFilter(text: string): QueryFilter | string {
  const f: QueryFilter = { words: [], states: [], methods: [], delta: [], judged: [] };
  for (const token of text.trim().split(/\s+/).filter((t) => t.length > 0)) {
    const cmp = /^(delta|judged)(>=|<=|>|<|=)(-?\d*\.?\d+)$/i.exec(token);
    if (cmp) {
      const [, field, op, value] = cmp;
      (field?.toLowerCase() === 'delta' ? f.delta : f.judged).push({ op: op as Comparison['op'], value: Number(value) });
      continue;
    }
    const kv = /^(state|method|scored):(.*)$/i.exec(token);
    if (kv) {
      const key = kv[1]?.toLowerCase();
      const value = (kv[2] ?? '').toLowerCase();
      if (value.length === 0) return `"${token}" needs a value after the colon.`;
      if (key === 'state') {
        if (!(pairStateNames as readonly string[]).includes(value)) return `Unknown pair state "${value}": use ${pairStateNames.join(', ')}.`;
        f.states.push(value as PairState | 'none');
      } else if (key === 'method') f.methods.push(value);
      else if (value === 'yes' || value === 'no') f.scored = value === 'yes';
      else return `"scored:" takes yes or no, not "${value}".`;
      continue;
    }
    if (/^(delta|judged)[<>=]/i.test(token)) return `"${token}" is not a comparison like delta>0.1 or judged>=0.5.`;
    f.words.push(token.toLowerCase());
  }
  return f;
}

function compare(v: number, c: Comparison): boolean {
  switch (c.op) {
    case '>':
      return v > c.value;
    case '>=':
      return v >= c.value;
    case '<':
      return v < c.value;
    case '<=':
      return v <= c.value;
    case '=':
      return Math.abs(v - c.value) < 1e-9;
  }
}

export function matchesFilter(q: QuerySummary, f: QueryFilter): boolean {
  if (f.words.length > 0) {
    const hay = `${q.qid} ${q.text}`.toLowerCase();
    if (!f.words.every((w) => hay.includes(w))) return false;
  }
  if (f.states.length > 0) {
    const total = q.pairs.auto + q.pairs.accepted + q.pairs.rejected + q.pairs.edited;
    if (!f.states.some((s) => (s === 'none' ? total === 0 : q.pairs[s] > 0))) return false;
  }
  if (f.methods.length > 0 && !f.methods.some((m) => (q.bestMethod ?? '').toLowerCase().includes(m))) return false;
  if (f.delta.length > 0 && (q.bestDelta === null || !f.delta.every((c) => compare(q.bestDelta as number, c)))) return false;
  if (f.judged.length > 0 && (q.judged10 === null || !f.judged.every((c) => compare(q.judged10 as number, c)))) return false;
  if (f.scored !== undefined && (q.bestDelta !== null) !== f.scored) return false;
  return true;
}

/** Natural order of qids: "2" before "10", numeric ids before others. */
const qidCollator = new Intl.Collator('en', { numeric: true });

/** A plain decimal number without leading zeros (MS MARCO, TREC and BEIR qids mostly are). */
const plainNumber = /^(?:0|[1-9][0-9]*)$/;

export function compareQid(a: string, b: string): number {
  // Two plain numbers compare by length, then digit by digit: what the collator does, 3–4× faster
  // (it decides the sort time of the query browser at 100,000 queries).
  if (plainNumber.test(a) && plainNumber.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return qidCollator.compare(a, b);
}

function nullsLast(a: number | null, b: number | null, dir: 1 | -1): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  return (a - b) * dir;
}

/** Under one sort key: the value rows are ordered by (then by qid), and the comparison of two rows by it. */
interface SortRule {
  value: (q: QuerySummary) => string | number | null;
  compare: (a: QuerySummary, b: QuerySummary) => number;
}

function sortRule<T extends string | number | null>(value: (q: QuerySummary) => T, compare: (a: T, b: T) => number): SortRule {
  return { value, compare: (a, b) => compare(value(a), value(b)) };
}

const sortRules: Record<SortKey, SortRule> = {
  qid: sortRule((q) => q.qid, compareQid),
  deltaDesc: sortRule((q) => q.bestDelta, (a, b) => nullsLast(a, b, -1)),
  deltaAsc: sortRule((q) => q.bestDelta, (a, b) => nullsLast(a, b, 1)),
  method: sortRule((q) => q.bestMethod, (a, b) => (a ?? '\uffff').localeCompare(b ?? '\uffff')),
  judged: sortRule((q) => q.judged10, (a, b) => nullsLast(a, b, 1)),
  state: sortRule((q) => q.pairs.auto, (a, b) => b - a),
};

export function sortQueries(list: QuerySummary[], key: SortKey): QuerySummary[] {
  const { compare } = sortRules[key];
  return [...list].sort((a, b) => compare(a, b) || compareQid(a.qid, b.qid));
}

/** Signed delta with three decimals and a real minus sign: "+0.125", "−0.031", "0.000". */
export function formatDelta(d: number | null): string {
  if (d === null) return '–';
  const r = Math.round(d * 1000) / 1000;
  if (r === 0) return '0.000';
  return `${r > 0 ? '+' : '−'}${Math.abs(r).toFixed(3)}`;
}

/** "2 auto · 1 accepted" (states with zero omitted), or "no pairs". */
export function formatPairCounts(p: Record<PairState, number>): string {
  const parts = (['auto', 'accepted', 'edited', 'rejected'] as const).filter((s) => p[s] > 0).map((s) => `${p[s]} ${s}`);
  return parts.length === 0 ? 'no pairs' : parts.join(' · ');
}

/**
 * The browser's rows: the workspace's query list, filtered and sorted, cached until `invalidate`.
 * Kept apart from the TreeDataProvider so it runs (and is benchmarked) outside VS Code.
 */
export class QueryList {
  private all: QuerySummary[] | undefined;
  private visible: QuerySummary[] | undefined;
  private filter: QueryFilter = emptyFilter;
  private sort: SortKey = 'qid';
  private index: Map<string, number> | undefined;

  constructor(private source: (() => QuerySummary[]) | undefined = undefined) {}

  setSource(source: (() => QuerySummary[]) | undefined): void {
    this.source = source;
    this.invalidate();
  }

  invalidate(): void {
    this.all = undefined;
    this.visible = undefined;
    this.index = undefined;
  }

  setFilter(f: QueryFilter): void {
    this.filter = f;
    this.visible = undefined;
    this.index = undefined;
  }

  /**
   * One query's summary changed (a pair or expansion edit): when its row keeps its place (the same
   * sort value, still shown or still hidden by the filter, not a conversation turn), the row object
   * shown is updated in place from the source and returned, so a tree redraws that row only; null
   * when the query is hidden either way; undefined when the list must be rebuilt (`invalidate`).
   */
  update(qid: string): QuerySummary | null | undefined {
    if (this.source === undefined || this.all === undefined) return undefined;
    const next = this.source().find((q) => q.qid === qid);
    const old = this.all.find((q) => q.qid === qid);
    if (next === undefined || old === undefined || old.conversation !== undefined || next.conversation !== undefined) return undefined;
    const shown = matchesFilter(old, this.filter);
    if (shown !== matchesFilter(next, this.filter) || sortRules[this.sort].value(old) !== sortRules[this.sort].value(next)) return undefined;
    if (old !== next) Object.assign(old, next);
    return shown ? old : null;
  }

  get filterIsEmpty(): boolean {
    return isEmptyFilter(this.filter);
  }

  setSort(key: SortKey): void {
    this.sort = key;
    this.visible = undefined;
    this.index = undefined;
  }

  get sortKey(): SortKey {
    return this.sort;
  }

  rows(): QuerySummary[] {
    if (this.source === undefined) return [];
    this.all ??= this.source();
    // Conversational turns are shown grouped by conversation (see conversationGroups.ts); next/previous follow that order.
    this.visible ??= groupedOrder(sortQueries(isEmptyFilter(this.filter) ? this.all : this.all.filter((q) => matchesFilter(q, this.filter)), this.sort));
    return this.visible;
  }

  get total(): number {
    this.rows();
    return this.all?.length ?? 0;
  }

  /** Position in display order, -1 when filtered out. O(1) after the first call. */
  indexOf(qid: string): number {
    if (this.index === undefined) {
      this.index = new Map();
      this.rows().forEach((q, i) => this.index?.set(q.qid, i));
    }
    return this.index.get(qid) ?? -1;
  }

  find(qid: string): QuerySummary | undefined {
    const i = this.indexOf(qid);
    return i >= 0 ? this.rows()[i] : this.all?.find((q) => q.qid === qid);
  }

  /** The query after/before `qid` in display order (the first/last when `qid` is not shown). */
  neighbour(qid: string | undefined, direction: 'next' | 'previous'): QuerySummary | undefined {
    const rows = this.rows();
    if (rows.length === 0) return undefined;
    const i = qid === undefined ? -1 : this.indexOf(qid);
    if (i < 0) return direction === 'next' ? rows[0] : rows[rows.length - 1];
    return rows[Math.max(0, Math.min(rows.length - 1, direction === 'next' ? i + 1 : i - 1))];
  }
}
