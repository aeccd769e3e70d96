// Worker-thread entry of an on-disk index build (see segmentFeeder.ts): analyzes the batches of
// documents it is sent into a segment, writes the segment to a file (fsynced) when told to flush
// and at the end, and posts back each batch's document lengths and postings held, and the
// segments written.
import { parentPort, workerData } from 'node:worker_threads';
import { SegmentBuilder, flushSegment } from './segments.js';
import type { WrittenSegment } from './buildJournal.js';
import type { IndexWorkerData, IndexWorkerReply, IndexWorkerRequest } from './segmentFeeder.js';

const port = parentPort;
if (port === null) throw new Error('indexWorker runs as a worker thread of Bm25Index.build');
const data = workerData as IndexWorkerData;
const builder = new SegmentBuilder(data.analyzer);
let segments = 0;
const flush = (): WrittenSegment | undefined => flushSegment(builder, `${data.prefix}-${segments++}.seg`);

port.on('message', (m: IndexWorkerRequest) => {
  let reply: IndexWorkerReply;
  try {
    if (m.type === 'batch') {
      const lengths = new Uint32Array(m.texts.length);
      for (let i = 0; i < m.texts.length; i++) lengths[i] = builder.add(m.base + i, m.texts[i]!);
      reply = { type: 'done', base: m.base, lengths, postings: builder.postings };
      port.postMessage(reply, [lengths.buffer]);
      return;
    }
    const segment = flush();
    reply = { type: m.type === 'flush' ? 'flushed' : 'ended', ...(segment === undefined ? {} : { segment }) };
  } catch (e) {
    reply = { type: 'error', message: e instanceof Error ? e.message : String(e), ...(e instanceof Error && e.stack !== undefined ? { stack: e.stack } : {}) };
  }
  port.postMessage(reply);
});
