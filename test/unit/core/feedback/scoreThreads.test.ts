import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Bm25Index } from '../../../../src/core/bm25/bm25Index.js';
import { rm3Query } from '../../../../src/core/bm25/rm3.js';
import type { ExpansionScore } from '../../../../src/core/curation/types.js';
import type { Qrels } from '../../../../src/core/dataset/types.js';
import { isCancellationError } from '../../../../src/core/errors.js';
import type { ExpansionRecord } from '../../../../src/core/expansion/types.js';
import { scoreQueries, type FeedbackSettings, type QueryToScore } from '../../../../src/core/feedback/score.js';
import { expansions, poolDocs, qrels, topics } from '../bm25/dl19Data.js';

// Worker-thread scoring over the on-disk DL19 pool index must give the one-thread scores, in the
// same order, with progress counting only stored queries.
const dir = mkdtempSync(path.join(tmpdir(), 'qx-score-threads-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let index: Bm25Index;
let judged: Qrels;
let work: QueryToScore[];
const settings: FeedbackSettings = { topK: 1000, relevanceLevel: 2 };

before(async () => {
  index = (await Bm25Index.build(await poolDocs(), { dir })).index;
  judged = await qrels();
  const exp = new Map(await expansions());
  const passages = (await poolDocs()).map((d) => d.text ?? '');
  work = (await topics()).map(([qid, text], q) => {
    const list: ExpansionRecord[] = [];
    // query2doc, then 8 pool passages as "expansions", then the RM3 weighted query.
    list.push({ id: `${qid}-q2d`, qid, final: exp.get(qid)! } as ExpansionRecord);
    for (let i = 0; i < 8; i++) list.push({ id: `${qid}-p${i}`, qid, final: `${text} ${passages[(q * 8 + i) % passages.length]}` } as ExpansionRecord);
    list.push({ id: `${qid}-rm3`, qid, final: 'rm3', weightedQuery: { terms: [...rm3Query(index, text)], parameters: {} } } as ExpansionRecord);
    return { qid, text, expansions: list };
  });
});

async function run(threads: number, signal?: AbortSignal, onBatch?: () => void): Promise<{ scores: ExpansionScore[]; progress: number[]; stored: number[]; r?: { scored: number; originals: number }; error?: unknown }> {
  const scores: ExpansionScore[] = [];
  const progress: number[] = [];
  const stored: number[] = [];
  const storedQids = new Set<string>();
  try {
    const r = await scoreQueries((q, k) => index.searchSync(q, k), judged, work, settings, {
      searchWeighted: (w, k) => index.searchWeighted(w, k),
      // minWork 0: this small batch would otherwise stay in the calling thread.
      threads: { threads, indexDir: dir, params: index.params, numDocs: index.numDocs, minWork: 0 },
      batchSize: 5,
      signal: signal ?? new AbortController().signal,
      onScores: async (batch) => {
        await new Promise((res) => setTimeout(res, 5));
        scores.push(...batch);
        for (const s of batch) storedQids.add(s.qid);
        onBatch?.();
      },
      onProgress: (p) => {
        progress.push(p.done);
        stored.push(storedQids.size);
      },
    });
    return { scores, progress, stored, r };
  } catch (error) {
    return { scores, progress, stored, error };
  }
}

test('2 worker threads give the one-thread scores in the same order; progress counts stored queries', async () => {
  const one = await run(1);
  const two = await run(2);
  assert.equal(one.r?.scored, 43 * 10);
  assert.deepEqual(two.r, one.r);
  assert.equal(two.scores.length, 43 * 11);
  assert.deepEqual(two.scores, one.scores);
  assert.equal(two.progress.at(-1), 43);
  two.progress.forEach((done, i) => assert.ok(done <= two.stored[i]!, `progress ${done} with ${two.stored[i]} queries stored`));
  assert.ok(two.progress.every((d, i) => i === 0 || d >= two.progress[i - 1]!));
});

test('cancelling worker scoring keeps every query reported done, and the rest can be scored after', async () => {
  const ac = new AbortController();
  let batches = 0;
  const part = await run(2, ac.signal, () => {
    if (++batches === 2) ac.abort();
  });
  assert.ok(isCancellationError(part.error), String(part.error));
  const reported = Math.max(0, ...part.progress);
  const storedQids = new Set(part.scores.map((s) => s.qid));
  assert.ok(storedQids.size >= reported && storedQids.size < 43, `${storedQids.size} stored, ${reported} reported`);
  // Every stored query is complete (original + its 10 expansions), equal to the one-thread scores.
  const one = await run(1);
  const byId = new Map(one.scores.map((s) => [s.expansionId, s]));
  for (const s of part.scores) assert.deepEqual(s, byId.get(s.expansionId));
  for (const qid of storedQids) assert.equal(part.scores.filter((s) => s.qid === qid).length, 11);
});
