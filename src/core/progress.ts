import type { Logger } from './logger.js';

/** One progress report of a long task: `done` of `total` units (queries, documents, requests). */
export interface ProgressReport {
  done: number;
  /** Unknown while streaming a file of unknown length. */
  total?: number;
  /** Unit of `done`/`total`, e.g. "queries", "documents". */
  unit?: string;
  message?: string;
  /**
   * Of `done`, units reused from an earlier, interrupted run instead of worked on again (a resumed
   * index build): a rate or ETA counts from where they end.
   */
  reused?: number;
}

export type ProgressCallback = (p: ProgressReport) => void;

/**
 * What every long-running core function takes. `signal` is required: cancellation is checked
 * between units of work and passed on to network and model calls.
 */
export interface TaskOptions {
  signal: AbortSignal;
  onProgress?: ProgressCallback;
  logger?: Logger;
}

/**
 * "ETA 4 min 10 s" for a task that has done `done` of `total` units in `elapsedMs`, assuming the
 * rate so far holds; `undefined` before anything is done or after the end.
 */
export function etaText(elapsedMs: number, done: number, total: number): string | undefined {
  if (!(done > 0) || !(total > done) || !(elapsedMs >= 0)) return undefined;
  const s = Math.round((elapsedMs / 1000) * ((total - done) / done));
  if (s < 60) return `ETA ${s} s`;
  if (s < 3600) return `ETA ${Math.floor(s / 60)} min ${s % 60} s`;
  return `ETA ${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
