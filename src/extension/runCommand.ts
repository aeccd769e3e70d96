import * as vscode from 'vscode';
import { QxError, errorMessage, isCancellationError } from '../core/errors.js';
import type { ErrorPayload } from '../protocol/messages.js';
import type { ChannelLogger } from './logger.js';

const setApiKey = 'Set API Key';
const showLog = 'Show Log';
const openSettings = 'Open Settings';
const openFile = 'Open File';

/** An error (or warning) message as the user sees it: its text and the buttons under it. */
export interface ShownError {
  /** What failed: the command id or the step ("Opening the workspace at …"). */
  what: string;
  /** The QxError code, "internal", or "warning" for a warning message. */
  code: string;
  message: string;
  actions: string[];
}

// Made on first use: loading this module must not touch the vscode API.
let shownErrors: vscode.EventEmitter<ShownError> | undefined;
/** Fires for every error message shown (integration tests read what the user was told). */
export const onDidShowError: vscode.Event<ShownError> = (listener, thisArgs, disposables) => (shownErrors ??= new vscode.EventEmitter<ShownError>()).event(listener, thisArgs, disposables);

/** Error → the payload the webview shows. Never carries a stack or a secret. */
export function toErrorPayload(e: unknown): ErrorPayload {
  if (QxError.is(e)) return { code: e.code, message: e.message };
  if (isCancellationError(e)) return { code: 'cancelled', message: 'Cancelled.' };
  return { code: 'internal', message: errorMessage(e) };
}

/** Actions offered for an error, by its code. */
export function actionsFor(e: unknown): string[] {
  if (!QxError.is(e)) return [showLog];
  switch (e.code) {
    case 'auth':
      return [setApiKey, showLog];
    case 'network':
    case 'timeout':
    case 'rateLimit':
    case 'badResponse':
      return [openSettings, showLog];
    case 'config':
      // A manifest problem names its file: open it rather than the settings.
      return e.file === undefined ? [openSettings, showLog] : [openFile, showLog];
    case 'dataset':
    case 'index':
    case 'store':
    case 'export':
    case 'template':
      return e.file === undefined ? [showLog] : [openFile, showLog];
    case 'modelLoad':
      return [openSettings, showLog];
    default:
      return [showLog];
  }
}

/**
 * Shows an error the way every command does: cancellation is silent, a known QxError gets its
 * message and actions, anything else logs its stack and shows one line.
 */
export async function reportError(e: unknown, logger: ChannelLogger, what: string): Promise<void> {
  if (isCancellationError(e)) {
    logger.info(`${what}: cancelled`);
    return;
  }
  if (QxError.is(e)) {
    logger.error(`${what}: [${e.code}] ${e.message}`);
  } else {
    logger.error(`${what} failed unexpectedly`);
    logger.error(e instanceof Error ? e : new Error(String(e)));
  }
  const message = QxError.is(e) ? e.message : `${what} failed: ${errorMessage(e).split('\n')[0] ?? ''}`;
  const actions = actionsFor(e);
  shownErrors?.fire({ what, code: QxError.is(e) ? e.code : 'internal', message: `QX Studio: ${message}`, actions });
  const choice = await vscode.window.showErrorMessage(`QX Studio: ${message}`, ...actions);
  if (choice === setApiKey) await vscode.commands.executeCommand('qx.setApiKey');
  else if (choice === showLog) logger.channel.show(true);
  else if (choice === openSettings) await vscode.commands.executeCommand('workbench.action.openSettings', '@ext:qx-studio.qx-studio');
  else if (choice === openFile && QxError.is(e) && e.file !== undefined) {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(e.file));
    const line = Math.max(0, (e.line ?? 1) - 1);
    await vscode.window.showTextDocument(doc, { selection: new vscode.Range(line, 0, line, 0) });
  }
}

/** A warning with a "Show Log" button, for work that finished with some failures. */
export function showWarning(logger: ChannelLogger, what: string, message: string): void {
  logger.warn(`${what}: ${message}`);
  shownErrors?.fire({ what, code: 'warning', message, actions: [showLog] });
  void vscode.window.showWarningMessage(message, showLog).then((choice) => {
    if (choice === showLog) logger.channel.show(true);
  });
}

/** Registers a command whose failures go through `reportError`. */
export function runCommand<A extends unknown[]>(id: string, logger: ChannelLogger, fn: (...args: A) => Promise<unknown> | unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: A) => {
    try {
      return await fn(...args);
    } catch (e) {
      // Not awaited: the message waits for the user, the command must not.
      void reportError(e, logger, id);
      return undefined;
    }
  });
}
