import { startWorker, workerEntry } from '../workerThreads.js';
import { Worker } from 'node:worker_threads';
import type { Bm25Params } from './bm25Index.js';

/**
 * Search threads: a worker thread that opens the same on-disk index and scans a range of doc
 * numbers of an exhaustive search while the calling thread scans another (see
 * `Bm25Index.startSearchThreads`). Searches stay synchronous: the caller hands the range over,
 * scans its own, then waits on a shared flag (`Atomics.wait`) for the helper's k best.
 */

/** What the searching thread sends a search thread. */
export interface SearchJob {
  weights: [string, number][];
  k: number;
  lo: number;
  hi: number;
  /** Hits the shared buffer holds: k and the documents tied with the k-th (`partCapacity`). */
  cap: number;
  /** Int32 state (0 running, 1 done, 2 failed) and count, then `cap` float64 scores, then `cap` int32 doc numbers. */
  shared: SharedArrayBuffer;
}

/**
 * Room for a range's hits: its k best by score, and up to k + 1,024 more documents tied with
 * the k-th score (the thread does not read docids to break ties; the caller does).
 */
export function partCapacity(k: number): number {
  return 2 * k + 1024;
}

/** What a search thread posts back: that it opened the index, or why it failed. */
export type SearchThreadReply = { type: 'ready' } | { type: 'error'; message: string };

/** The worker thread's data: the index folder, the generation the caller opened, the BM25 parameters. */
export interface SearchThreadData {
  dir: string;
  /** The thread refuses to serve another generation (the index was rebuilt meanwhile). */
  generation: string;
  params: Bm25Params;
}

/** A helper's answer: its k best of the range and the documents tied with the k-th (heap order, then the ties). */
export interface PartHits {
  count: number;
  scores: Float64Array;
  docs: Int32Array;
}

/** How long a thread may take to open the index before it is given up. */
const START_MS = 60_000;


/** The searching thread's handle on one search thread. */
export class SearchHelper {
  /** False once the thread failed, exited or did not answer in time: it gets no more jobs. */
  usable = true;
  /** Why the thread is no longer used, when it is not. */
  failure: string | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: SearchThreadReply) => {
      if (m.type === 'error') this.fail(m.message);
    });
    worker.on('error', (e) => this.fail(e.message));
    worker.on('exit', () => this.fail('the search thread exited'));
    // An open index with search threads does not keep the process alive (listeners first: adding
    // a message listener refs the worker again).
    worker.unref();
  }

  /** Starts a thread that opens the index in `dir`; resolves once it is open. */
  static start(data: SearchThreadData): Promise<SearchHelper> {
    const worker = startWorker(workerEntry(__dirname, 'searchWorker'), data);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (m: SearchThreadReply): void => {
        done();
        if (m.type === 'ready') resolve(new SearchHelper(worker));
        else {
          void worker.terminate();
          reject(new Error(m.message));
        }
      };
      const onError = (e: Error): void => {
        done();
        void worker.terminate();
        reject(e);
      };
      const onExit = (code: number): void => {
        done();
        reject(new Error(`the search thread exited (code ${code}) before opening the index`));
      };
      const timer = setTimeout(() => onError(new Error(`the search thread did not open the index within ${START_MS / 1000} s`)), START_MS);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  private fail(message: string): void {
    if (!this.usable) return;
    this.usable = false;
    this.failure = message;
  }

  /** Hands the thread the scan of doc numbers [lo, hi); returns the shared buffer to `finish` with. */
  begin(weights: [string, number][], k: number, lo: number, hi: number): SharedArrayBuffer {
    const cap = partCapacity(k);
    const shared = new SharedArrayBuffer(8 + 12 * cap);
    const job: SearchJob = { weights, k, lo, hi, cap, shared };
    this.worker.postMessage(job);
    return shared;
  }

  /**
   * Waits up to `waitMs` for the thread's k best; undefined when it failed or did not answer in
   * time (then it is stopped, not used again, and the caller scans the range itself).
   */
  finish(shared: SharedArrayBuffer, k: number, waitMs: number): PartHits | undefined {
    const ctl = new Int32Array(shared, 0, 2);
    const answered = Atomics.wait(ctl, 0, 0, waitMs) !== 'timed-out';
    if (!answered || Atomics.load(ctl, 0) !== 1) {
      this.fail(answered ? 'the search thread failed' : `the search thread did not answer within ${Math.round(waitMs)} ms`);
      void this.worker.terminate();
      return undefined;
    }
    const cap = partCapacity(k);
    return { count: ctl[1]!, scores: new Float64Array(shared, 8, cap), docs: new Int32Array(shared, 8 + 8 * cap, cap) };
  }

  async close(): Promise<void> {
    this.usable = false;
    await this.worker.terminate();
  }
}
