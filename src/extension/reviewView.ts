import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { QxError } from '../core/errors.js';
import type { QueryJudgeView } from '../core/judge/reviewJudge.js';
import type { QueryReview, WorkspaceApi } from '../core/workspace/api.js';
import { type EmptyState, type PlotData, type RequestHandlers, type RequestMethod, type RequestParams, type RequestResult, type ReviewAction, type ReviewPosition, paramsProblem } from '../protocol/messages.js';
import { HostEndpoint } from '../protocol/rpc.js';
import { docUri } from './docProvider.js';
import type { ChannelLogger } from './logger.js';
import type { QueryTreeProvider } from './queryTree.js';
import { computePlotData, finalWithGenerated } from './reviewData.js';
import { toErrorPayload } from './runCommand.js';
import type { Session } from './session.js';

/** A fresh nonce per HTML render, from the OS's CSPRNG. */
export function makeNonce(): string {
  return randomBytes(18).toString('base64').replace(/[+/=]/g, '');
}

/** The Review webview's HTML: strict CSP, one nonce'd module script, no inline script or style. */
export function reviewHtml(webview: Pick<vscode.Webview, 'cspSource' | 'asWebviewUri'>, extensionUri: vscode.Uri, nonce: string): string {
  const css = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'review.css'));
  const js = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css.toString()}">
<title>QX Review</title>
</head>
<body>
<main id="app" aria-live="polite"><p class="loading">Loading…</p></main>
<script type="module" nonce="${nonce}" src="${js.toString()}"></script>
</body>
</html>`;
}

const noWorkspace: EmptyState = {
  title: 'No QX workspace is open',
  hint: 'Open the bundled TREC DL 2019 sample, a folder holding qx.dataset.json, or create a workspace from a dataset manifest.',
  actions: [
    { label: 'Open Sample', command: 'qx.openSample' },
    { label: 'Open Workspace…', command: 'qx.openWorkspace' },
    { label: 'Create Workspace…', command: 'qx.createWorkspace' },
  ],
};

function openFailed(root: string, message: string): EmptyState {
  return {
    title: `The QX workspace in ${path.basename(root)} could not be opened`,
    hint: message,
    actions: [
      { label: 'Show Log', command: 'qx.showLog' },
      { label: 'Open Workspace…', command: 'qx.openWorkspace' },
      { label: 'Open Sample', command: 'qx.openSample' },
    ],
  };
}

const noQuerySelected: EmptyState = {
  title: 'Pick a query',
  hint: 'Select a query in the QX Studio query browser, or press j / k here to step through them. Score and build pairs first to see deltas and pairs.',
  actions: [
    { label: 'Score', command: 'qx.score' },
    { label: 'Build Pairs', command: 'qx.buildPairs' },
  ],
};

/** The `qx.review` webview view: shows one query's review and applies the user's edits. */
export class ReviewViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'qx.review';
  private view: vscode.WebviewView | undefined;
  private readonly endpoint: HostEndpoint;
  private readonly handlerMap: RequestHandlers;
  private qid: string | undefined;
  private plots: PlotData | undefined;
  private empty: EmptyState | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** Resolves when the webview has posted `webview/ready` (used by tests and by `show`). */
  private readyWaiters: (() => void)[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly session: Session,
    private readonly tree: QueryTreeProvider,
    private readonly logger: ChannelLogger,
    private readonly reveal: (qid: string) => void,
  ) {
    this.handlerMap = this.handlers();
    this.endpoint = new HostEndpoint((m) => this.view?.webview.postMessage(m), this.handlerMap, (e) => {
      if (!QxError.is(e)) this.logger.error(e instanceof Error ? e : new Error(String(e)));
      return toErrorPayload(e);
    });
    this.endpoint.onReady(() => {
      for (const w of this.readyWaiters) w();
      this.readyWaiters = [];
      this.pushCurrent();
    });
    this.disposables.push(
      session.onDidChange((e) => {
        // A failed open leaves the current workspace (if any) on screen; without one, say why.
        if (e.kind === 'openFailed') {
          if (session.workspace === undefined) this.pushCurrent();
          return;
        }
        this.plots = undefined;
        if (e.kind !== 'data') this.qid = undefined;
        this.pushCurrent();
        this.endpoint.notify('queries/changed', { reason: e.kind === 'data' ? e.reason : e.kind });
      }),
      vscode.window.onDidChangeActiveColorTheme((t) => this.endpoint.notify('theme/changed', { kind: themeKind(t.kind) })),
    );
  }

  get currentQid(): string | undefined {
    return this.qid;
  }

  /** The message the panel shows instead of a review (no workspace, a failed open…), if any. */
  get emptyState(): EmptyState | undefined {
    return this.empty;
  }

  get isReady(): boolean {
    return this.endpoint.isReady;
  }

  /** Runs a request through the handlers the webview's requests reach (automation, tests). */
  async handle<M extends RequestMethod>(method: M, params: RequestParams<M>): Promise<RequestResult<M>> {
    const problem = paramsProblem(method, params);
    if (problem !== null) throw new QxError('usage', `${method}: ${problem}`);
    const handler = this.handlerMap[method] as (p: RequestParams<M>) => Promise<RequestResult<M>> | RequestResult<M>;
    return handler(params);
  }

  /** Resolves once the webview is loaded and listening. */
  whenReady(): Promise<void> {
    if (this.endpoint.isReady) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.endpoint.reset();
    view.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'media'), vscode.Uri.joinPath(this.extensionUri, 'dist')],
    };
    view.webview.html = reviewHtml(view.webview, this.extensionUri, makeNonce());
    const sub = view.webview.onDidReceiveMessage((m: unknown) => void this.endpoint.receive(m));
    view.onDidDispose(() => {
      sub.dispose();
      this.view = undefined;
      this.endpoint.reset();
      void vscode.commands.executeCommand('setContext', 'qx.reviewFocused', false);
    });
  }

  /** Shows a query's review, opening the panel if needed. */
  async show(qid: string, focus = false): Promise<void> {
    this.qid = qid;
    if (this.view === undefined || focus) await vscode.commands.executeCommand(`${ReviewViewProvider.viewId}.focus`, { preserveFocus: !focus });
    else if (!this.view.visible) this.view.show(true);
    this.pushCurrent();
  }

  /** Forwards a keybinding (alt+a, …) to the panel, which knows the focused pair. */
  async action(action: ReviewAction): Promise<void> {
    if (action === 'next' || action === 'previous') {
      const next = this.tree.neighbour(this.qid, action);
      if (next !== undefined) {
        await this.show(next.qid);
        this.reveal(next.qid);
      }
      return;
    }
    if (action === 'undo') {
      await this.undo();
      return;
    }
    this.endpoint.notify('review/action', { action });
  }

  async undo(): Promise<void> {
    const ws = this.requireWorkspace();
    const r = ws.undo();
    if (r.description === null) {
      void vscode.window.setStatusBarMessage('QX: nothing to undo', 3000);
      return;
    }
    void vscode.window.setStatusBarMessage(`QX: undid ${r.description}`, 4000);
    if (r.qid !== null) this.qid = r.qid;
    this.session.changed('undo', r.qid ?? undefined);
  }

  private position(qid: string): ReviewPosition {
    return { index: this.tree.indexOf(qid), total: this.tree.rows().length };
  }

  private pushCurrent(): void {
    this.empty = undefined;
    const ws = this.session.workspace;
    if (ws === undefined) {
      const failed = this.session.openFailure;
      this.showEmpty(failed === undefined ? noWorkspace : openFailed(failed.root, failed.message));
      return;
    }
    if (this.qid === undefined) {
      this.showEmpty({ ...noQuerySelected, title: `${ws.name}: pick a query` });
      return;
    }
    let review: QueryReview;
    try {
      review = ws.getQueryReview(this.qid);
    } catch (e) {
      this.logger.warn(`Review of query ${this.qid} failed: ${e instanceof Error ? e.message : String(e)}`);
      this.showEmpty({ title: `Query ${this.qid} cannot be shown`, hint: e instanceof Error ? e.message : String(e), actions: [{ label: 'Show Log', command: 'qx.showLog' }] });
      return;
    }
    this.endpoint.notify('review/show', { review, position: this.position(this.qid), judge: this.judgeOf(ws, review) });
  }

  /** The judge's view of a query; a judgments file that cannot be read is logged and shows as no judge. */
  private judgeOf(ws: WorkspaceApi, review: QueryReview): QueryJudgeView | null {
    const qid = review.qid;
    try {
      return ws.getQueryJudge?.(qid, review) ?? null;
    } catch (e) {
      this.logger.warn(`Judgments of query ${qid} could not be read: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  }

  private showEmpty(state: EmptyState): void {
    this.empty = state;
    this.endpoint.notify('review/empty', state);
  }

  private requireWorkspace() {
    const ws = this.session.workspace;
    if (ws === undefined) throw new QxError('config', 'No QX workspace is open.', { hint: 'Run "QX: Open Workspace…" or "QX: Open Sample Workspace".' });
    return ws;
  }

  private expansion(expansionId: string) {
    const ws = this.requireWorkspace();
    const qid = this.qid;
    const found = qid === undefined ? undefined : ws.getQueryReview(qid).expansions.find((s) => s.expansion.id === expansionId);
    if (found === undefined) throw new QxError('store', `Expansion ${expansionId} is not part of the query on screen.`, { hint: 'Reload the panel (pick the query again).' });
    return found.expansion;
  }

  /** The session's listener (extension.ts) redraws the query's row in the tree. */
  private mutated(reason: string, qid: string): void {
    this.session.changed(reason, qid);
  }

  private handlers(): RequestHandlers {
    return {
      'review/get': ({ qid }) => {
        const ws = this.requireWorkspace();
        this.qid = qid;
        const review = ws.getQueryReview(qid);
        return { review, position: this.position(qid), judge: this.judgeOf(ws, review) };
      },
      'queries/select': async (p) => {
        const target = 'qid' in p ? this.tree.find(p.qid) : this.tree.neighbour(this.qid, p.direction);
        if (target === undefined) return null;
        await this.show(target.qid);
        this.reveal(target.qid);
        return { qid: target.qid };
      },
      'pairs/setState': ({ pairId, state }) => {
        const r = this.requireWorkspace().setPairState(pairId, state);
        this.mutated(`pair ${state}`, r.qid);
        return r;
      },
      'pairs/swap': ({ pairId }) => {
        const r = this.requireWorkspace().swapPair(pairId);
        this.mutated('pair swapped', r.qid);
        return r;
      },
      'pairs/create': ({ qid, chosenId, rejectedId }) => {
        const r = this.requireWorkspace().createPair(qid, chosenId, rejectedId);
        this.mutated('pair created', r.qid);
        return r;
      },
      'pairs/note': ({ pairId, note }) => {
        const r = this.requireWorkspace().setPairNote(pairId, note);
        this.mutated('note', r.qid);
        return r;
      },
      'expansions/preview': async ({ expansionId, generated }) => {
        const e = this.expansion(expansionId);
        const final = finalWithGenerated(e, generated);
        const score = await this.requireWorkspace().previewScore(e.qid, final);
        return { final, score };
      },
      'expansions/save': async ({ expansionId, generated }) => {
        const e = this.expansion(expansionId);
        const saved = await this.requireWorkspace().editExpansion(expansionId, generated);
        this.mutated('expansion edited', e.qid);
        return saved;
      },
      'docs/open': async ({ docid, qid }) => {
        const ws = this.requireWorkspace();
        if (ws.getDocument(docid) === undefined) throw new QxError('dataset', `Document ${docid} is not in the corpus.`);
        const review = ws.getQueryReview(qid);
        const move = review.expansions.flatMap((s) => [...(s.score?.entered ?? []), ...(s.score?.left ?? [])]).find((m) => m.docid === docid);
        const doc = await vscode.workspace.openTextDocument(docUri(docid, qid, move?.grade ?? null));
        await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Active });
        return { opened: true };
      },
      'edit/undo': () => {
        const r = this.requireWorkspace().undo();
        if (r.description !== null) {
          if (r.qid !== null) this.qid = r.qid;
          this.session.changed('undo', r.qid ?? undefined);
        }
        return r;
      },
      'plots/get': () => {
        this.plots ??= computePlotData(this.requireWorkspace());
        return this.plots;
      },
      'commands/run': async ({ command }) => {
        await vscode.commands.executeCommand(command);
        return null;
      },
      'ui/focus': ({ focused }) => {
        void vscode.commands.executeCommand('setContext', 'qx.reviewFocused', focused);
        return null;
      },
    };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function themeKind(k: vscode.ColorThemeKind): 'light' | 'dark' | 'highContrast' | 'highContrastLight' {
  switch (k) {
    case vscode.ColorThemeKind.Light:
      return 'light';
    case vscode.ColorThemeKind.HighContrast:
      return 'highContrast';
    case vscode.ColorThemeKind.HighContrastLight:
      return 'highContrastLight';
    default:
      return 'dark';
  }
}
