import type { QuerySummary } from '../core/workspace/api.js';

/**
 * The query browser's grouping of conversational turns (TREC CAsT, QReCC, TopiOCQA), free of
 * `vscode` so it is unit-tested outside the editor: turns of one conversation sit together under
 * it, in turn order (a conversation reads top-down: each turn depends on the ones before it);
 * conversations come in the order their first turn appears in the current filter and sort (so
 * sorting by delta puts the conversation with the best turn first). Queries that are not turns
 * stay where the sort put them, at the top level.
 */
export interface ConversationGroup {
  kind: 'conversation';
  id: string;
  /** The conversation's turns in the current filter, in turn order. */
  turns: QuerySummary[];
}

/** A top-level row of the query browser: a conversation or a query that is not a turn. */
export type QueryBrowserRow = ConversationGroup | QuerySummary;

export function isConversationGroup(x: unknown): x is ConversationGroup {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'conversation';
}

/** The top-level rows for `rows` (filtered and sorted); the same rows when no query is a turn. */
export function groupConversations(rows: readonly QuerySummary[]): QueryBrowserRow[] {
  if (!rows.some((q) => q.conversation !== undefined)) return [...rows];
  const out: QueryBrowserRow[] = [];
  const byId = new Map<string, ConversationGroup>();
  for (const q of rows) {
    const c = q.conversation;
    if (c === undefined) {
      out.push(q);
      continue;
    }
    let g = byId.get(c.id);
    if (g === undefined) {
      byId.set(c.id, (g = { kind: 'conversation', id: c.id, turns: [] }));
      out.push(g);
    }
    g.turns.push(q);
  }
  for (const g of byId.values()) g.turns.sort((a, b) => a.conversation!.turn - b.conversation!.turn);
  return out;
}

/** The queries in display order once grouped (what next/previous query walk through). */
export function groupedOrder(rows: readonly QuerySummary[]): QuerySummary[] {
  return groupConversations(rows).flatMap((r) => (isConversationGroup(r) ? r.turns : [r]));
}

/** Best delta over a conversation's scored turns, null when none is scored. */
export function bestTurnDelta(g: ConversationGroup): number | null {
  let best: number | null = null;
  for (const t of g.turns) if (t.bestDelta !== null && (best === null || t.bestDelta > best)) best = t.bestDelta;
  return best;
}
