import * as vscode from 'vscode';
import { CancellationError } from '../core/errors.js';
import type { ProgressReport, TaskOptions } from '../core/progress.js';
import type { Logger } from '../core/logger.js';

/** A CancellationToken as an AbortSignal for the core. */
export function toAbortSignal(token: vscode.CancellationToken): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort(new CancellationError());
  const sub = token.onCancellationRequested(() => controller.abort(new CancellationError()));
  return { signal: controller.signal, dispose: () => sub.dispose() };
}

/** "12/50 queries — scoring" from a core progress report. */
export function formatProgress(p: ProgressReport): string {
  const count = p.total === undefined ? `${p.done}` : `${p.done}/${p.total}`;
  const unit = p.unit === undefined ? '' : ` ${p.unit}`;
  return p.message === undefined ? `${count}${unit}` : `${count}${unit} — ${p.message}`;
}

let running = 0;

/**
 * Runs long core work under one cancellable notification with counts. The increment is derived
 * from done/total so the bar moves once per unit, whatever the report frequency.
 */
export function withTask<T>(title: string, logger: Logger, fn: (options: TaskOptions) => Promise<T>): Promise<T> {
  return Promise.resolve(
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `QX: ${title}`, cancellable: true }, async (progress, token) => {
      const { signal, dispose } = toAbortSignal(token);
      let reported = 0;
      running++;
      void vscode.commands.executeCommand('setContext', 'qx.busy', true);
      try {
        return await fn({
          signal,
          logger,
          onProgress: (p) => {
            const fraction = p.total !== undefined && p.total > 0 ? Math.min(1, p.done / p.total) : undefined;
            const increment = fraction === undefined ? undefined : Math.max(0, fraction * 100 - reported);
            if (increment !== undefined) reported += increment;
            progress.report({ message: formatProgress(p), ...(increment === undefined ? {} : { increment }) });
          },
        });
      } finally {
        dispose();
        running--;
        if (running === 0) void vscode.commands.executeCommand('setContext', 'qx.busy', false);
      }
    }),
  );
}
