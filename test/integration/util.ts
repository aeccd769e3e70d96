// Helpers for tests that run inside the extension host.
import * as vscode from 'vscode';

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
