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

/** A task under a progress notification, as the user sees it, with the notification's Cancel. */
export interface RunningTask {
  title: string;
  /** The last progress line, e.g. "12/43 queries". */
  message: string | undefined;
  cancel(): void;
}

const tasks = new Set<RunningTask>();
// Made on first use: loading this module must not touch the vscode API (activation stays cheap).
let progressEvents: vscode.EventEmitter<RunningTask> | undefined;
const progressEmitter = () => (progressEvents ??= new vscode.EventEmitter<RunningTask>());
/** Fires on every progress line shown (integration tests follow long work through it). */
export const onDidReportProgress: vscode.Event<RunningTask> = (listener, thisArgs, disposables) => progressEmitter().event(listener, thisArgs, disposables);

/** The tasks whose notifications are showing now. */
export function runningTasks(): readonly RunningTask[] {
  return [...tasks];
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
      // The notification's Cancel and RunningTask.cancel end the work the same way.
      const controller = new AbortController();
      const abort = () => controller.abort(new CancellationError());
      if (signal.aborted) abort();
      signal.addEventListener('abort', abort, { once: true });
      const task: RunningTask = { title: `QX: ${title}`, message: undefined, cancel: abort };
      tasks.add(task);
      let reported = 0;
      running++;
      void vscode.commands.executeCommand('setContext', 'qx.busy', true);
      try {
        return await fn({
          signal: controller.signal,
          logger,
          onProgress: (p) => {
            const fraction = p.total !== undefined && p.total > 0 ? Math.min(1, p.done / p.total) : undefined;
            const increment = fraction === undefined ? undefined : Math.max(0, fraction * 100 - reported);
            if (increment !== undefined) reported += increment;
            task.message = formatProgress(p);
            progress.report({ message: task.message, ...(increment === undefined ? {} : { increment }) });
            progressEvents?.fire(task);
          },
        });
      } finally {
        signal.removeEventListener('abort', abort);
        dispose();
        tasks.delete(task);
        running--;
        if (running === 0) void vscode.commands.executeCommand('setContext', 'qx.busy', false);
      }
    }),
  );
}
