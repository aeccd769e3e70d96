import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { errorMessage } from '../core/errors.js';
import { registerCommands, manifestName } from './commands.js';
import { classifyChange, readSettings } from './config.js';
import { DocumentProvider, docScheme } from './docProvider.js';
import { registerJudgeCommands } from './judgeCommands.js';
import { ChannelLogger } from './logger.js';
import { QueryTreeProvider } from './queryTree.js';
import { ReviewViewProvider } from './reviewView.js';
import { type RunningTask, onDidReportProgress, runningTasks } from './progress.js';
import { type ShownError, onDidShowError, reportError } from './runCommand.js';
import { ApiKeys } from './secrets.js';
import { Session, type WorkspaceModule } from './session.js';

/** What `activate` returns: lets the integration tests reach the live objects. */
export interface QxExtensionApi {
  session: Session;
  tree: QueryTreeProvider;
  review: ReviewViewProvider;
  /** Folders the extension writes to: its log folder and its global storage. */
  paths: { logs: string; globalStorage: string };
  /** Error and warning messages as shown, with their buttons. */
  onDidShowError: vscode.Event<ShownError>;
  /** Progress notifications: the running tasks, each progress line, and their Cancel. */
  progress: { running: () => readonly RunningTask[]; onDidReport: vscode.Event<RunningTask> };
}

let logger: ChannelLogger | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<QxExtensionApi | undefined> {
  const channel = vscode.window.createOutputChannel('QX Studio', { log: true });
  context.subscriptions.push(channel);
  const log = new ChannelLogger(channel);
  logger = log;
  try {
    return await activateInner(context, log);
  } catch (e) {
    log.error('Activation failed');
    log.error(e instanceof Error ? e : new Error(String(e)));
    void vscode.window.showErrorMessage(`QX Studio failed to start: ${errorMessage(e)}`, 'Show Log').then((c) => {
      if (c === 'Show Log') channel.show();
    });
    return undefined;
  }
}

async function activateInner(context: vscode.ExtensionContext, log: ChannelLogger): Promise<QxExtensionApi> {
  const started = Date.now();
  const keys = new ApiKeys(context.secrets, log);
  const load = (): Promise<WorkspaceModule> => import('../core/workspace/workspace.js');
  const session = new Session(load, () => ({
    settings: readSettings(),
    logger: log,
    getApiKey: (baseUrl: string) => keys.getOrPrompt(baseUrl),
    cacheDir: vscode.Uri.joinPath(context.globalStorageUri, 'cache').fsPath,
    toolVersion: `qx-studio ${String((context.extension.packageJSON as { version?: unknown }).version ?? 'dev')}`,
  }));
  const tree = new QueryTreeProvider();
  const treeView = vscode.window.createTreeView('qx.queries', { treeDataProvider: tree, canSelectMany: true, showCollapseAll: false });
  const reveal = (qid: string) => {
    const q = tree.find(qid);
    if (q !== undefined && treeView.visible) void treeView.reveal(q, { select: true, focus: false }).then(undefined, () => undefined);
  };
  const review = new ReviewViewProvider(context.extensionUri, session, tree, log, reveal);

  const updateTitle = () => {
    const ws = session.workspace;
    treeView.description = ws === undefined ? undefined : `${ws.name} · ${tree.rows().length}/${tree.totalCount}`;
  };
  const commandContext = { context, session, tree, treeView: treeView as vscode.TreeView<unknown>, review, keys, logger: log };
  context.subscriptions.push(
    session,
    treeView,
    review,
    vscode.window.registerWebviewViewProvider(ReviewViewProvider.viewId, review),
    vscode.workspace.registerTextDocumentContentProvider(docScheme, new DocumentProvider(session)),
    session.onDidChange((e) => {
      if (e.kind === 'openFailed') return;
      if (e.kind !== 'data') tree.setWorkspace(session.workspace);
      else if (e.qid !== undefined) tree.refreshQuery(e.qid);
      else tree.refresh();
      updateTitle();
    }),
    tree.onDidChangeTreeData(() => updateTitle()),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      const change = classifyChange(e);
      const ws = session.workspace;
      if (change === null || ws === undefined) return;
      log.info(`Settings changed (${Object.entries(change).filter(([, v]) => v).map(([k]) => k).join(', ')})`);
      try {
        // Scores are keyed by the retrieval settings: new BM25 settings show as "not scored" until
        // the next Score run, and the old scores come back with the old settings.
        if (ws.updateSettings !== undefined) await ws.updateSettings(readSettings());
        else await session.reopen();
        if (change.retrieval) session.changed('retrieval settings changed');
      } catch (err) {
        await reportError(err, log, 'Applying the new settings');
      }
    }),
    ...registerCommands(commandContext),
    ...registerJudgeCommands(commandContext),
  );
  await vscode.commands.executeCommand('setContext', 'qx.workspaceOpen', false);

  const folderRoot = vscode.workspace.workspaceFolders?.map((f) => f.uri.fsPath).find((p) => existsSync(path.join(p, manifestName)));
  const lastRoot = context.workspaceState.get<string>('qx.lastRoot');
  const root = folderRoot ?? (lastRoot !== undefined && existsSync(path.join(lastRoot, manifestName)) ? lastRoot : undefined);
  log.info(`QX Studio activated in ${Date.now() - started} ms`);
  if (root !== undefined) {
    // Opening reads the dataset: don't hold activation for it.
    session.open(root).then(
      (ws) => log.info(`Opened workspace ${ws.name} at ${root}`),
      (e: unknown) => void reportError(e, log, `Opening the workspace at ${root}`),
    );
  }
  return {
    session,
    tree,
    review,
    paths: { logs: context.logUri.fsPath, globalStorage: context.globalStorageUri.fsPath },
    onDidShowError,
    progress: { running: runningTasks, onDidReport: onDidReportProgress },
  };
}

export function deactivate(): void {
  logger = undefined;
}
