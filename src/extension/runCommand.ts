import * as vscode from 'vscode';
import { QxError, errorMessage, isCancellationError } from '../core/errors.js';
import type { ErrorPayload } from '../protocol/messages.js';
import type { ChannelLogger } from './logger.js';

const setApiKey = 'Set API Key';
const showLog = 'Show Log';
const openSettings = 'Open Settings';
const openFile = 'Open File';

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
      return [openSettings, showLog];
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
  const choice = await vscode.window.showErrorMessage(`QX Studio: ${message}`, ...actionsFor(e));
  if (choice === setApiKey) await vscode.commands.executeCommand('qx.setApiKey');
  else if (choice === showLog) logger.channel.show(true);
  else if (choice === openSettings) await vscode.commands.executeCommand('workbench.action.openSettings', '@ext:qx-studio.qx-studio');
  else if (choice === openFile && QxError.is(e) && e.file !== undefined) {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(e.file));
    const line = Math.max(0, (e.line ?? 1) - 1);
    await vscode.window.showTextDocument(doc, { selection: new vscode.Range(line, 0, line, 0) });
  }
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
