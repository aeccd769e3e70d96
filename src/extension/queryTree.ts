import * as vscode from 'vscode';
import type { QuerySummary, WorkspaceApi } from '../core/workspace/api.js';
import { type ConversationGroup, bestTurnDelta, groupConversations, isConversationGroup } from './conversationGroups.js';
import { type QueryFilter, QueryList, type SortKey, formatDelta, formatPairCounts } from './queryFilter.js';

/**
 * The query browser (`qx.queries`): the queries in the current filter and sort. Conversational
 * turns (CAsT, QReCC, TopiOCQA) are grouped by conversation (see conversationGroups.ts): a
 * conversation's first shown turn heads it, its later turns are nested below in turn order.
 */
export class QueryTreeProvider implements vscode.TreeDataProvider<QuerySummary> {
  private readonly changed = new vscode.EventEmitter<QuerySummary | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  private readonly list = new QueryList();
  private filterText = '';

  setWorkspace(ws: WorkspaceApi | undefined): void {
    this.list.setSource(ws === undefined ? undefined : () => ws.listQueries());
    this.changed.fire(undefined);
  }

  /** Data changed: drop the caches and redraw. */
  refresh(): void {
    this.list.invalidate();
    this.changed.fire(undefined);
  }

  /**
   * One query's data changed (a pair accepted, a note, an edit): redraws its row only when it keeps
   * its place in the list (see `QueryList.update`), else everything. With 100,000 rows a whole
   * refresh makes VS Code ask for every row's TreeItem again.
   */
  refreshQuery(qid: string): void {
    const row = this.list.update(qid);
    if (row === undefined) return this.refresh();
    if (row !== null) this.changed.fire(row);
  }

  get currentFilterText(): string {
    return this.filterText;
  }

  get currentSort(): SortKey {
    return this.list.sortKey;
  }

  setFilter(text: string, filter: QueryFilter): void {
    this.filterText = text;
    this.list.setFilter(filter);
    void vscode.commands.executeCommand('setContext', 'qx.queriesFiltered', !this.list.filterIsEmpty);
    this.changed.fire(undefined);
  }

  setSort(key: SortKey): void {
    this.list.setSort(key);
    this.changed.fire(undefined);
  }

  /** The queries in display order. */
  rows(): QuerySummary[] {
    return this.list.rows();
  }

  get totalCount(): number {
    return this.list.total;
  }

  find(qid: string): QuerySummary | undefined {
    return this.list.find(qid);
  }

  /** Position of a query in display order: -1 when filtered out. */
  indexOf(qid: string): number {
    return this.list.indexOf(qid);
  }

  neighbour(qid: string | undefined, direction: 'next' | 'previous'): QuerySummary | undefined {
    return this.list.neighbour(qid, direction);
  }

  private grouped: { rows: QuerySummary[]; top: QuerySummary[]; heads: Map<string, ConversationGroup>; headOf: Map<string, QuerySummary> } | undefined;

  /** Top-level rows (queries, or each conversation's first shown turn), rebuilt when the rows change. */
  private layout(): NonNullable<QueryTreeProvider['grouped']> {
    const rows = this.rows();
    if (this.grouped?.rows !== rows) {
      const top: QuerySummary[] = [];
      const heads = new Map<string, ConversationGroup>();
      const headOf = new Map<string, QuerySummary>();
      for (const r of groupConversations(rows)) {
        if (!isConversationGroup(r)) {
          top.push(r);
          continue;
        }
        const head = r.turns[0]!;
        top.push(head);
        heads.set(head.qid, r);
        for (const t of r.turns.slice(1)) headOf.set(t.qid, head);
      }
      this.grouped = { rows, top, heads, headOf };
    }
    return this.grouped;
  }

  getChildren(element?: QuerySummary): QuerySummary[] {
    const l = this.layout();
    if (element === undefined) return l.top;
    return l.heads.get(element.qid)?.turns.slice(1) ?? [];
  }

  getParent(element: QuerySummary): QuerySummary | undefined {
    return this.layout().headOf.get(element.qid);
  }

  getTreeItem(q: QuerySummary): vscode.TreeItem {
    const group = this.layout().heads.get(q.qid);
    const label = q.conversation === undefined ? q.text : `${q.conversation.turn}. ${q.text}`;
    const item = new vscode.TreeItem(
      group === undefined ? label : `Conversation ${group.id} · ${label}`,
      group === undefined || group.turns.length === 1 ? vscode.TreeItemCollapsibleState.None : vscode.TreeItemCollapsibleState.Expanded,
    );
    item.id = q.qid;
    const method = q.bestMethod === null ? '' : ` · ${q.bestMethod}`;
    const pairs = q.pairs.auto + q.pairs.accepted + q.pairs.edited + q.pairs.rejected > 0 ? ` · ${formatPairCounts(q.pairs)}` : '';
    // Delta first: it is what a reviewer scans for, and the sidebar truncates from the right.
    item.description = q.bestDelta === null ? `not scored · ${q.qid}` : `Δ ${formatDelta(q.bestDelta)}${method}${pairs} · ${q.qid}`;
    if (group !== undefined) {
      const best = bestTurnDelta(group);
      item.description += ` · ${group.turns.length} ${group.turns.length === 1 ? 'turn' : 'turns'}${best === null ? '' : `, best Δ ${formatDelta(best)}`}`;
    }
    item.iconPath = iconFor(q);
    item.contextValue = q.pairs.auto > 0 ? 'query autoPairs' : 'query';
    item.command = { command: 'qx.reviewQuery', title: 'Review Query', arguments: [q.qid] };
    item.accessibilityInformation = { label: `Query ${q.qid}: ${q.text}. ${q.bestDelta === null ? 'Not scored' : `Best delta ${formatDelta(q.bestDelta)}`}. ${formatPairCounts(q.pairs)}.` };
    return item;
  }

  /** Tooltips are built on hover only: with 10k rows, building them up front doubles the draw time. */
  resolveTreeItem(item: vscode.TreeItem, q: QuerySummary): vscode.TreeItem {
    item.tooltip = tooltip(q);
    return item;
  }
}

function iconFor(q: QuerySummary): vscode.ThemeIcon {
  if (q.noRelevant) return new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('disabledForeground'));
  if (q.bestDelta === null) return new vscode.ThemeIcon('circle-outline', new vscode.ThemeColor('descriptionForeground'));
  // Chart colours: testing.iconPassed is a pale #73c991 on light themes (under 2:1) and
  // testing.iconFailed is unset in high contrast; these stay at >= 3:1 as icons need.
  if (q.bestDelta > 0) return new vscode.ThemeIcon('arrow-up', new vscode.ThemeColor('charts.green'));
  if (q.bestDelta < 0) return new vscode.ThemeIcon('arrow-down', new vscode.ThemeColor('charts.red'));
  return new vscode.ThemeIcon('dash', new vscode.ThemeColor('descriptionForeground'));
}

function fmt(v: number | null, digits = 3): string {
  return v === null ? '–' : v.toFixed(digits);
}

function tooltip(q: QuerySummary): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**Query ${escapeMd(q.qid)}**\n\n`);
  md.appendText(q.text);
  md.appendMarkdown('\n\n');
  md.appendMarkdown(`| | |\n|---|---|\n`);
  md.appendMarkdown(`| Judged documents | ${q.judged} (${q.relevant} relevant) |\n`);
  md.appendMarkdown(`| Original nDCG@10 | ${fmt(q.baseNdcg10)} |\n`);
  md.appendMarkdown(`| Best delta | ${formatDelta(q.bestDelta)}${q.bestMethod === null ? '' : ` (${escapeMd(q.bestMethod)})`} |\n`);
  md.appendMarkdown(`| Mean Judged@10 | ${q.judged10 === null ? '–' : `${Math.round(q.judged10 * 100)}%`} |\n`);
  md.appendMarkdown(`| Expansions | ${q.expansions} |\n`);
  md.appendMarkdown(`| Pairs | ${formatPairCounts(q.pairs)} |\n`);
  if (q.noRelevant) md.appendMarkdown(q.judged === 0 ? '\n$(warning) No judgments (not in the qrels): excluded from means.' : '\n$(warning) No relevant judgment: excluded from means.');
  return md;
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
