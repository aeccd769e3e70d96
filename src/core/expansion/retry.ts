import { CancellationError } from '../errors.js';

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
