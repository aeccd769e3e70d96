// Helpers for tests that run inside the extension host.
import * as vscode from 'vscode';
import type { QxExtensionApi } from '../../src/extension/extension.js';
import type { RunningTask } from '../../src/extension/progress.js';
import type { ShownError } from '../../src/extension/runCommand.js';

export const extensionId = 'qx-studio.qx-studio';

/** The extension under test; fails with a clear message when VS Code did not load it. */
export function qxExtension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(extensionId);
  if (ext === undefined) throw new Error(`Extension ${extensionId} is not loaded: was extensionDevelopmentPath set to the repository?`);
  return ext;
}

/** Activates the extension (a no-op when already active) and returns what `activate` returned. */
export async function activateQx(): Promise<unknown> {
  const ext = qxExtension();
  return ext.isActive ? ext.exports : await ext.activate();
}

/** Polls `probe` until it returns something other than undefined/false; rejects after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Runs `command`, watching the progress lines of the notification titled `title`; `cancelWhen`
 * is asked on each line and cancels the task (as the notification's Cancel does) when it says so.
 */
export async function runWatched(command: string, title: string, cancelWhen: (line: string) => boolean = () => false): Promise<{ result: unknown; lines: string[]; errors: ShownError[] }> {
  const exports = (await activateQx()) as QxExtensionApi | undefined;
  if (exports === undefined) throw new Error('activation failed');
  const { progress, onDidShowError } = exports;
  const lines: string[] = [];
  const errors: ShownError[] = [];
  const subs = [
    progress.onDidReport((t: RunningTask) => {
      if (t.title !== title || t.message === undefined) return;
      lines.push(t.message);
      if (cancelWhen(t.message)) t.cancel();
    }),
    onDidShowError((e) => errors.push(e)),
  ];
  try {
    const result = await vscode.commands.executeCommand(command);
    await new Promise((r) => setTimeout(r, 50));
    return { result, lines, errors };
  } finally {
    for (const s of subs) s.dispose();
  }
}
