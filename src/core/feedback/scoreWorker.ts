// Worker-thread entry of scoreQueries (see score.ts): opens the on-disk index read-only once, then
// scores each chunk of queries it is sent and posts their scores back in stored order.
import { parentPort, workerData } from 'node:worker_threads';
import { Bm25Index } from '../bm25/bm25Index.js';
import { QxError, errorMessage } from '../errors.js';
import { scoreOneQuery, type ScoreWorkerData, type ScoreWorkerReply, type ScoreWorkerRequest } from './score.js';

const port = parentPort;
if (port === null) throw new Error('scoreWorker runs as a worker thread of scoreQueries');
const data = workerData as ScoreWorkerData;
const opened = Bm25Index.open(data.indexDir, data.params);

port.on('message', (request: ScoreWorkerRequest) => {
  void opened.then(
    (index) => {
      let reply: ScoreWorkerReply;
      try {
        const search = (q: string, k: number) => index.searchSync(q, k);
        const weighted = (w: ReadonlyMap<string, number>, k: number) => index.searchWeighted(w, k);
        reply = { id: request.id, scores: request.queries.map((q, i) => scoreOneQuery(search, weighted, q, request.judgments[i], data.settings).scores) };
      } catch (e) {
        reply = { id: request.id, error: failure(e) };
      }
      port.postMessage(reply);
    },
    (e: unknown) => port.postMessage({ id: request.id, error: failure(e) } satisfies ScoreWorkerReply),
  );
});

function failure(e: unknown): { message: string; code?: string; stack?: string } {
  return { message: errorMessage(e), ...(e instanceof QxError ? { code: e.code } : {}), ...(e instanceof Error && e.stack !== undefined ? { stack: e.stack } : {}) };
}
