import { CancellationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ProgressCallback } from '../progress.js';

/** How failed calls are retried. */
export interface RetryPolicy {
  /** Retries after the first attempt, >= 0, default 4. */
  maxRetries: number;
  /** Delay before the first retry, ms, default 500; doubles per retry. */
  baseDelayMs: number;
  /** Cap on one backoff delay and on a server's Retry-After, ms, default 30 000. */
  maxDelayMs: number;
}

/** 4 retries, 0.5 s doubling per retry, 30 s cap. */
export const defaultRetryPolicy: RetryPolicy = { maxRetries: 4, baseDelayMs: 500, maxDelayMs: 30_000 };

/**
 * Delay before retry number `attempt` (0-based), ms: exponential with "equal jitter", i.e. a random
 * value in [d/2, d] where d = min(maxDelayMs, baseDelayMs × 2^attempt). A server's Retry-After,
 * when given, replaces it (capped at maxDelayMs).
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(policy.maxDelayMs, Math.max(0, retryAfterMs));
  const d = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return d / 2 + (random() * d) / 2;
}

/**
 * Parses an HTTP Retry-After value: delta-seconds ("3", "1.5") or an HTTP date. Returns ms from
 * `now`, never negative, or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/** Waits `ms`, rejecting with CancellationError as soon as the signal fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new CancellationError());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CancellationError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order.
 * Stops starting new items once the signal fires; rejects with the first rejection after the
 * calls already running have settled (so none is left writing behind the caller's back).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, signal: AbortSignal, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && !signal.aborted && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
        done++;
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, () => worker());
  await Promise.all(workers);
  if (failure !== undefined) throw failure.error;
  if (done < items.length) throw new CancellationError();
  return results;
}

/** A failed call that a retry may fix (`retryable`), with the server's Retry-After when it sent one. */
export interface RetryableFailure {
  retryable: boolean;
  retryAfterMs?: number | undefined;
  message: string;
}

/**
 * Calls `fn` until it succeeds, retrying failures that `asFailure` recognises as retryable with
 * `backoffDelay` between attempts (at most `policy.maxRetries` retries); anything else is thrown at
 * once. Each retry is logged as a warning naming `key`. Cancellation interrupts the wait.
 */
export async function withRetries<T>(
  fn: () => Promise<T>,
  options: { policy: RetryPolicy; key: string; signal: AbortSignal; logger: Logger; asFailure: (e: unknown) => RetryableFailure | undefined },
): Promise<T> {
  const { policy, key, signal, logger } = options;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const f = options.asFailure(e);
      if (f === undefined || !f.retryable || attempt >= policy.maxRetries) throw e;
      const delay = backoffDelay(policy, attempt, f.retryAfterMs);
      logger.warn(`${key}: ${f.message}; retry ${attempt + 1}/${policy.maxRetries} in ${Math.round(delay)} ms`);
      await sleep(delay, signal);
    }
  }
}

/**
 * Runs `call` over `items` with at most `concurrency` in flight (see `mapLimit`); each outcome is
 * handed to `onResult` as soon as it settles, beside the next call, and every `onResult` is awaited
 * before the batch settles, also when it settles by cancellation or failure. A failing `onResult`
 * (a cache that cannot be written) stops the batch before more calls are made. Progress is in
 * `unit` (default "requests").
 */
export async function runBatch<T, R>(
  items: readonly T[],
  options: { concurrency: number; signal: AbortSignal; onResult?: ((outcome: R) => Promise<void> | void) | undefined; onProgress?: ProgressCallback | undefined; unit?: string },
  call: (item: T) => Promise<R>,
): Promise<R[]> {
  const { signal } = options;
  let done = 0;
  const handled: Promise<void>[] = [];
  let handlerFailure: { error: unknown } | undefined;
  let outcomes: R[];
  try {
    outcomes = await mapLimit(items, options.concurrency, signal, async (item) => {
      if (signal.aborted) throw new CancellationError();
      if (handlerFailure !== undefined) throw handlerFailure.error;
      const outcome = await call(item);
      const h = (async () => {
        await options.onResult?.(outcome);
        done++;
        options.onProgress?.({ done, total: items.length, unit: options.unit ?? 'requests' });
      })();
      h.catch((error: unknown) => {
        handlerFailure ??= { error };
      });
      handled.push(h);
      return outcome;
    });
  } catch (e) {
    await Promise.allSettled(handled);
    throw e;
  }
  await Promise.all(handled);
  return outcomes;
}
