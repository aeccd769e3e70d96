import type { Logger } from './logger.js';

/** One progress report of a long task: `done` of `total` units (queries, documents, requests). */
export interface ProgressReport {
  done: number;
  /** Unknown while streaming a file of unknown length. */
  total?: number;
  /** Unit of `done`/`total`, e.g. "queries", "documents". */
  unit?: string;
  message?: string;
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
