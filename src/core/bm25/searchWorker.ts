// Worker-thread entry of a search thread (see searchThreads.ts): opens the index, then scans the
// doc-number ranges it is sent and writes each range's k best into the job's shared buffer.
import { parentPort, workerData } from 'node:worker_threads';
import { Bm25Index } from './bm25Index.js';
import type { SearchJob, SearchThreadData, SearchThreadReply } from './searchThreads.js';

const port = parentPort;
if (port === null) throw new Error('searchWorker runs as a worker thread of Bm25Index.startSearchThreads');
const data = workerData as SearchThreadData;

Bm25Index.open(data.dir, data.params).then(
  (index) => {
    port.on('message', (job: SearchJob) => {
      const ctl = new Int32Array(job.shared, 0, 2);
      try {
        const scores = new Float64Array(job.shared, 8, job.k);
        const docs = new Int32Array(job.shared, 8 + 8 * job.k, job.k);
        ctl[1] = index.scanPart(new Map(job.weights), job.k, job.lo, job.hi, scores, docs);
        Atomics.store(ctl, 0, 1);
      } catch (e) {
        Atomics.store(ctl, 0, 2);
        const reply: SearchThreadReply = { type: 'error', message: e instanceof Error ? e.message : String(e) };
        port.postMessage(reply);
      }
      Atomics.notify(ctl, 0);
    });
    const ready: SearchThreadReply = { type: 'ready' };
    port.postMessage(ready);
  },
  (e: unknown) => {
    const reply: SearchThreadReply = { type: 'error', message: e instanceof Error ? e.message : String(e) };
    port.postMessage(reply);
  },
);
