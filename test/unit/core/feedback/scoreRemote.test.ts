import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CancellationError } from '../../../../src/core/errors.js';
import type { ExpansionScore } from '../../../../src/core/curation/types.js';
import type { RunHit } from '../../../../src/core/dataset/types.js';
import type { ExpansionRecord } from '../../../../src/core/expansion/types.js';
import { type FeedbackSettings, type QueryToScore, type SyncSearch, scoreQueries } from '../../../../src/core/feedback/score.js';
import { type BatchSearch, scoreQueriesRemote } from '../../../../src/core/feedback/scoreRemote.js';

const settings: FeedbackSettings = { topK: 1000, relevanceLevel: 2 };
const judgments = new Map([['a', 2], ['b', 1], ['c', 0]]);
const hits = (...ids: string[]): RunHit[] => ids.map((docid, i) => ({ docid, score: 100 - i, rank: i + 1 }));
const rank: SyncSearch = (q) => (q.endsWith('1') ? hits('a', 'b') : q.endsWith('2') ? hits('c', 'a') : hits('d'));

function expansion(qid: string, i: number): ExpansionRecord {
  return { id: `${qid}-${i}`, qid, query: 'q', method: 'm', role: 'teacher', model: 'x', provider: 'import', sampleIndex: i, generated: 'g', formulation: 'concat', final: `q ${i}`, createdAt: '' };
}

/** A batch search over `rank` that resolves after `ms`, counting the calls in flight. */
function slowBatch(ms: number): BatchSearch & { max: number; calls: string[][] } {
  let inFlight = 0;
  const fn = (async (queries: readonly string[], k: number, signal: AbortSignal) => {
    fn.calls.push([...queries]);
    fn.max = Math.max(fn.max, ++inFlight);
    try {
      await new Promise((r) => setTimeout(r, ms));
      if (signal.aborted) throw new CancellationError();
      return queries.map((q) => rank(q, k));
    } finally {
      inFlight--;
    }
  }) as BatchSearch & { max: number; calls: string[][] };
  fn.max = 0;
  fn.calls = [];
  return fn;
}

const queries = (n: number): QueryToScore[] => Array.from({ length: n }, (_, i) => ({ qid: `q${i}`, text: 'q', expansions: [expansion(`q${i}`, 1), expansion(`q${i}`, 2)] }));

test('scoreQueriesRemote stores the scores scoreQueries does, one batch search per query, at most `concurrency` in flight', async () => {
  const qrels = new Map(queries(12).map((q) => [q.qid, judgments]));
  const local: ExpansionScore[] = [];
  await scoreQueries(rank, qrels, queries(12), settings, { signal: new AbortController().signal, onScores: (s) => void local.push(...s) });
  const search = slowBatch(5);
  const remote: ExpansionScore[] = [];
  const progress: number[] = [];
  const r = await scoreQueriesRemote(search, qrels, queries(12), settings, {
    signal: new AbortController().signal,
    concurrency: 3,
    batchSize: 4,
    onScores: (s) => void remote.push(...s),
    onProgress: (p) => {
      progress.push(p.done);
      assert.ok(remote.length >= p.done * 3, 'a query is reported done only once its scores are stored');
    },
  });
  assert.deepEqual(r, { scored: 24, originals: 12 });
  const byId = (xs: ExpansionScore[]) => new Map(xs.map((s) => [s.expansionId, s]));
  assert.deepEqual(byId(remote), byId(local));
  assert.equal(search.calls.length, 12);
  assert.deepEqual(search.calls[0], ['q', 'q 1', 'q 2'], 'the original, then the expansions');
  assert.equal(search.max, 3);
  assert.equal(progress.at(-1), 12);

  const withOriginal = queries(2).map((q) => ({ ...q, original: local.find((s) => s.expansionId === `original:${q.qid}`)! }));
  const again = slowBatch(0);
  const more: ExpansionScore[] = [];
  assert.deepEqual(await scoreQueriesRemote(again, qrels, withOriginal, settings, { signal: new AbortController().signal, concurrency: 2, onScores: (s) => void more.push(...s) }), { scored: 4, originals: 0 });
  assert.deepEqual(again.calls[0], ['q 1', 'q 2'], 'a stored original is not searched again');
  assert.deepEqual(more.find((s) => s.expansionId === 'q0-1'), local.find((s) => s.expansionId === 'q0-1'));
});

test('scoreQueriesRemote: cancellation hands over every finished query, then throws CancellationError', async () => {
  const controller = new AbortController();
  const search = slowBatch(10);
  const stored: ExpansionScore[] = [];
  setTimeout(() => controller.abort(), 35);
  await assert.rejects(
    scoreQueriesRemote(search, new Map(), queries(40), settings, { signal: controller.signal, concurrency: 2, batchSize: 100, onScores: (s) => void stored.push(...s) }),
    (e: unknown) => e instanceof CancellationError,
  );
  assert.ok(stored.length > 0 && stored.length < 120, `some but not all queries stored (${stored.length / 3})`);
  assert.equal(stored.length % 3, 0, 'whole queries only: original and both expansions');
  assert.ok(search.calls.length < 40, 'no new searches after the cancel');
});
