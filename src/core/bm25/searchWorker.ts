// Worker-thread entry of a search thread (see searchThreads.ts): opens the index, then scans the
// doc-number ranges it is sent and writes each range's k best (and the documents tied with the
// k-th) into the job's shared buffer.
import { parentPort, workerData } from 'node:worker_threads';
import { Bm25Index } from './bm25Index.js';
import type { SearchJob, SearchThreadData, SearchThreadReply } from './searchThreads.js';

const port = parentPort;
if (port === null) throw new Error('searchWorker runs as a worker thread of Bm25Index.startSearchThreads');
const data = workerData as SearchThreadData;

Bm25Index.open(data.dir, data.params)
  .then(async (index) => {
    if (index.generation !== data.generation) {
      await index.close();
      throw new Error(`the index in ${data.dir} was rebuilt since it was opened`);
    }
    const fault = process.env.QX_TEST_SEARCH_THREAD_FAULT;
    port.on('message', (job: SearchJob) => {
      // Tests: a thread that hangs (never answers) or fails (state 2) on its job.
      if (fault === 'hang') return;
      const ctl = new Int32Array(job.shared, 0, 2);
      try {
        const scores = new Float64Array(job.shared, 8, job.cap);
        const docs = new Int32Array(job.shared, 8 + 8 * job.cap, job.cap);
        if (fault === 'fail') throw new Error('search thread fault injected by a test');
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
  })
  .catch((e: unknown) => {
    const reply: SearchThreadReply = { type: 'error', message: e instanceof Error ? e.message : String(e) };
    port.postMessage(reply);
  });
