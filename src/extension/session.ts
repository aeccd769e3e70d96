import * as vscode from 'vscode';
import type { WorkspaceApi } from '../core/workspace/api.js';
import type { QxSettings } from '../core/workspace/api.js';
import type { Logger } from '../core/logger.js';

export interface OpenDeps {
  settings: QxSettings;
  logger: Logger;
  getApiKey: (baseUrl: string) => Promise<string | undefined>;
  cacheDir: string;
  toolVersion: string;
}

/** What the extension uses of the core's workspace module (src/core/workspace/workspace.ts). */
export interface WorkspaceModule {
  openWorkspace(root: string, deps: OpenDeps): Promise<WorkspaceApi>;
  createWorkspace(root: string, manifest: Record<string, unknown>): Promise<string>;
  rebaseManifestPaths(manifest: Record<string, unknown>, fromDir: string, toDir: string): Record<string, unknown>;
}

export type SessionEvent = { kind: 'opened' | 'closed' } | { kind: 'data'; reason: string; qid?: string } | { kind: 'openFailed'; root: string; message: string };

/**
 * The one open QX workspace of this window. The core module is imported on first use so that
 * activation never loads the pipeline (or, through it, a native addon).
 */
export class Session implements vscode.Disposable {
  private ws: WorkspaceApi | undefined;
  private readonly emitter = new vscode.EventEmitter<SessionEvent>();
  readonly onDidChange = this.emitter.event;
  private opening: Promise<WorkspaceApi> | undefined;
  private failure: { root: string; message: string } | undefined;

  constructor(
    private readonly load: () => Promise<WorkspaceModule>,
    private readonly deps: () => OpenDeps,
  ) {}

  get workspace(): WorkspaceApi | undefined {
    return this.ws;
  }

  /** The last open that failed, until a workspace opens: what the Review panel explains. */
  get openFailure(): { root: string; message: string } | undefined {
    return this.failure;
  }

  async module(): Promise<WorkspaceModule> {
    return this.load();
  }

  /** Opens `root` (closing the current workspace first). A failed open leaves nothing half-open. */
  async open(root: string): Promise<WorkspaceApi> {
    if (this.opening !== undefined) await this.opening.catch(() => undefined);
    const p = (async () => {
      const mod = await this.load();
      let next: WorkspaceApi;
      try {
        next = await mod.openWorkspace(root, this.deps());
      } catch (e) {
        this.failure = { root, message: e instanceof Error ? e.message : String(e) };
        this.emitter.fire({ kind: 'openFailed', ...this.failure });
        throw e;
      }
      await this.closeCurrent();
      this.failure = undefined;
      this.ws = next;
      await vscode.commands.executeCommand('setContext', 'qx.workspaceOpen', true);
      this.emitter.fire({ kind: 'opened' });
      return next;
    })();
    this.opening = p;
    try {
      return await p;
    } finally {
      if (this.opening === p) this.opening = undefined;
    }
  }

  /** Reopens the current workspace, e.g. after retrieval settings changed. */
  async reopen(): Promise<void> {
    if (this.ws !== undefined) await this.open(this.ws.root);
  }

  /** The data under the views changed (scores, pairs, expansions). */
  changed(reason: string, qid?: string): void {
    this.emitter.fire(qid === undefined ? { kind: 'data', reason } : { kind: 'data', reason, qid });
  }

  private async closeCurrent(): Promise<void> {
    const old = this.ws;
    this.ws = undefined;
    if (old !== undefined) await old.close();
  }

  async close(): Promise<void> {
    await this.closeCurrent();
    await vscode.commands.executeCommand('setContext', 'qx.workspaceOpen', false);
    this.emitter.fire({ kind: 'closed' });
  }

  dispose(): void {
    void this.ws?.close();
    this.ws = undefined;
    this.emitter.dispose();
  }
}
