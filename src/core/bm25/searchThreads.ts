import { existsSync } from 'node:fs';
import { join } from 'node:path';
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
  /** Int32 state (0 running, 1 done, 2 failed) and count, then k float64 scores, then k int32 doc numbers. */
  shared: SharedArrayBuffer;
}

/** What a search thread posts back: that it opened the index, or why it failed. */
export type SearchThreadReply = { type: 'ready' } | { type: 'error'; message: string };

/** The worker thread's data: the index folder and the BM25 parameters it is searched with. */
export interface SearchThreadData {
  dir: string;
  params: Bm25Params;
}

/** A helper's answer: its k best of the range (heap order). */
export interface PartHits {
  count: number;
  scores: Float64Array;
  docs: Int32Array;
}

/** How long a search waits for a helper before scanning the helper's range itself. */
const WAIT_MS = 120_000;

/** The worker entry: searchWorker.ts beside this module (sources, tsx) or searchWorker.js beside the bundle. */
function searchWorkerFile(): string {
  const candidates = [join(__dirname, 'searchWorker.js'), join(__dirname, 'searchWorker.ts')];
  return candidates.find((f) => existsSync(f)) ?? candidates[0]!;
}

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
    const file = searchWorkerFile();
    // From the sources (tests, benches), the worker loads the TypeScript through tsx.
    const worker = file.endsWith('.ts') ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true, workerData: data }) : new Worker(file, { workerData: data });
    return new Promise((resolve, reject) => {
      const onMessage = (m: SearchThreadReply): void => {
        worker.off('error', onError);
        worker.off('message', onMessage);
        if (m.type === 'ready') resolve(new SearchHelper(worker));
        else {
          void worker.terminate();
          reject(new Error(m.message));
        }
      };
      const onError = (e: Error): void => {
        worker.off('message', onMessage);
        reject(e);
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
    });
  }

  private fail(message: string): void {
    if (!this.usable) return;
    this.usable = false;
    this.failure = message;
  }

  /** Hands the thread the scan of doc numbers [lo, hi); returns the shared buffer to `finish` with. */
  begin(weights: [string, number][], k: number, lo: number, hi: number): SharedArrayBuffer {
    const shared = new SharedArrayBuffer(8 + 12 * k);
    const job: SearchJob = { weights, k, lo, hi, shared };
    this.worker.postMessage(job);
    return shared;
  }

  /**
   * Waits for the thread's k best; undefined when it failed or did not answer in time (then it
   * is not used again and the caller scans the range itself).
   */
  finish(shared: SharedArrayBuffer, k: number): PartHits | undefined {
    const ctl = new Int32Array(shared, 0, 2);
    if (Atomics.wait(ctl, 0, 0, WAIT_MS) === 'timed-out') {
      this.fail(`the search thread did not answer within ${WAIT_MS / 1000} s`);
      void this.worker.terminate();
      return undefined;
    }
    if (Atomics.load(ctl, 0) !== 1) {
      this.fail('the search thread failed');
      return undefined;
    }
    return { count: ctl[1]!, scores: new Float64Array(shared, 8, k), docs: new Int32Array(shared, 8 + 8 * k, k) };
  }

  async close(): Promise<void> {
    this.usable = false;
    await this.worker.terminate();
  }
}
