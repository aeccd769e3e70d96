import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenSearchRetriever, openSearchIndexBody, type OpenSearchConfig } from '../../../../src/core/retrieval/openSearchRetriever.js';
import { openManifestRetriever } from '../../../../src/core/retrieval/manifestRetriever.js';
import { QxError, isCancellationError } from '../../../../src/core/errors.js';
import type { Logger } from '../../../../src/core/logger.js';
import { startFakeOpenSearch } from './fakeOpenSearch.js';

const fastRetry = { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 20 };

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, trace() {}, debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {} };
}

const docs = Array.from({ length: 5 }, (_, i) => ({ id: `d${i}`, text: `text ${i}`, ...(i === 0 ? { title: 'T' } : {}) }));

test('index settings: one shard, BM25 k1/b, Anserini English chain; stop list is Lucene English', () => {
  const body = openSearchIndexBody(1.2, 0.75) as { settings: Record<string, unknown>; mappings: { properties: Record<string, Record<string, unknown>> } };
  assert.deepEqual(body.settings['similarity'], { qx_bm25: { type: 'BM25', k1: 1.2, b: 0.75 } });
  const analysis = body.settings['analysis'] as { analyzer: Record<string, { tokenizer: string; filter: string[] }>; filter: Record<string, Record<string, string>> };
  assert.equal(analysis.analyzer['qx_english']!.tokenizer, 'standard');
  assert.deepEqual(analysis.analyzer['qx_english']!.filter, ['qx_possessive', 'lowercase', 'qx_stop', 'qx_porter']);
  assert.equal(analysis.filter['qx_stop']!['stopwords'], '_english_');
  assert.equal(body.mappings.properties['contents']!['similarity'], 'qx_bm25');
});

test('build recreates the index, bulk-loads in batches with progress, refresh off while loading, then restores it and refreshes', async () => {
  const os = await startFakeOpenSearch();
  try {
    const r = new OpenSearchRetriever({ node: os.url, index: 'dl19' });
    const progress: number[] = [];
    assert.deepEqual(await r.build(docs, { batchSize: 2, concurrency: 1, onProgress: (p) => progress.push(p.done) }), { numDocs: 5 });
    assert.deepEqual(progress, [2, 4, 5]);
    assert.deepEqual(os.seen.slice(0, 2).map((s) => `${s.method} ${s.path}`), ['DELETE /dl19', 'PUT /dl19']);
    const created = JSON.parse(os.seen[1]!.body) as { settings: Record<string, unknown>; mappings: { _meta: unknown } };
    assert.equal(created.settings['refresh_interval'], '-1', 'no refresh while loading');
    assert.deepEqual(created.mappings._meta, { qx: { source: {}, loaded: 0, complete: false } });
    const bulks = os.seen.filter((s) => s.path === '/_bulk');
    assert.equal(bulks.length, 3);
    const lines = bulks[0]!.body.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines[0], { index: { _index: 'dl19', _id: 'd0' } });
    assert.deepEqual(lines[1], { contents: 'T text 0', title: 'T', text: 'text 0' });
    const tail = os.seen.slice(-3).map((s) => `${s.method} ${s.path}`);
    assert.deepEqual(tail, ['POST /dl19/_mapping', 'PUT /dl19/_settings', 'GET /dl19/_refresh']);
    const idx = os.indices.get('dl19')!;
    assert.equal(idx.docs.size, 5);
    assert.equal((idx.settings['index'] as Record<string, unknown>)['refresh_interval'], undefined, 'refresh interval back to the default');
    assert.deepEqual(idx.mappings['_meta'], { qx: { source: {}, loaded: 5, complete: true } });
    await r.close();
  } finally {
    await os.close();
  }
});

test('an interrupted load resumes from its checkpoint, a complete one does nothing, a foreign index is refused', async () => {
  let reject: string | undefined = 'd3';
  const os = await startFakeOpenSearch({
    intercept: (s) => {
      if (s.path !== '/_bulk' || reject === undefined || !s.body.includes(`"_id":"${reject}"`)) return undefined;
      return { status: 200, body: { errors: true, items: [{ index: { _id: 'd2', status: 201 } }, { index: { _id: reject, status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse field [contents]' } } }] } };
    },
  });
  const source = { corpus0: 'c.jsonl 123 bytes' };
  try {
    const r = new OpenSearchRetriever({ node: os.url, index: 'x' });
    await assert.rejects(r.load(docs, { batchSize: 2, concurrency: 1, checkpointMs: 0, source }), (e: unknown) => {
      assert.ok(QxError.is(e, 'dataset'));
      assert.match((e as Error).message, /rejected document d3 \(HTTP 400 mapper_parsing_exception\): failed to parse field \[contents\]/);
      return true;
    });
    assert.deepEqual(os.indices.get('x')!.mappings['_meta'], { qx: { source, loaded: 2, complete: false } }, 'the first batch is checkpointed');

    reject = undefined;
    os.seen.length = 0;
    const progress: number[] = [];
    assert.deepEqual(await r.load(docs, { batchSize: 2, concurrency: 1, checkpointMs: 0, source, onProgress: (p) => progress.push(p.done) }), { numDocs: 5, resumedFrom: 2, alreadyComplete: false });
    const sent = os.seen.filter((s) => s.path === '/_bulk').flatMap((s) => [...s.body.matchAll(/"_id":"(d\d)"/g)].map((m) => m[1]));
    assert.deepEqual(sent, ['d2', 'd3', 'd4'], 'only what the checkpoint lacks is sent again');
    assert.deepEqual(progress, [4, 5]);
    assert.equal(os.indices.get('x')!.docs.size, 5);

    os.seen.length = 0;
    assert.deepEqual(await r.load(docs, { source }), { numDocs: 5, resumedFrom: 5, alreadyComplete: true });
    assert.equal(os.seen.filter((s) => s.path === '/_bulk').length, 0);

    await assert.rejects(r.load(docs, { source: { corpus0: 'other.jsonl 9 bytes' } }), /already exists and was not loaded by qx from this corpus.*--rebuild/s);
    await r.close();
  } finally {
    await os.close();
  }
});

test('a cancelled load checkpoints what finished and is not an error; the rerun resumes', async () => {
  const os = await startFakeOpenSearch({ delayMs: 20 });
  const source = { corpus0: 'c.jsonl 5 bytes' };
  try {
    const r = new OpenSearchRetriever({ node: os.url, index: 'x' });
    const ac = new AbortController();
    await assert.rejects(
      r.load(docs, { batchSize: 2, concurrency: 1, source, signal: ac.signal, onProgress: (p) => (p.done === 2 ? ac.abort() : undefined) }),
      (e: unknown) => isCancellationError(e),
    );
    assert.deepEqual(os.indices.get('x')!.mappings['_meta'], { qx: { source, loaded: 2, complete: false } });
    assert.deepEqual(await r.load(docs, { batchSize: 2, source }), { numDocs: 5, resumedFrom: 2, alreadyComplete: false });
    await r.close();
  } finally {
    await os.close();
  }
});

test('bulk items rejected with 429 are re-sent alone, with backoff', async () => {
  let busy = true;
  const os = await startFakeOpenSearch({
    intercept: (s) => {
      if (s.path !== '/_bulk' || !busy) return undefined;
      busy = false;
      return { status: 200, body: { errors: true, items: [{ index: { _id: 'd0', status: 201 } }, { index: { _id: 'd1', status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } } }] } };
    },
  });
  try {
    const logger = recordingLogger();
    const r = new OpenSearchRetriever({ node: os.url, index: 'x', retry: fastRetry, logger });
    await r.build(docs.slice(0, 2), { batchSize: 2 });
    const bulks = os.seen.filter((s) => s.path === '/_bulk');
    assert.equal(bulks.length, 2);
    assert.deepEqual([...bulks[1]!.body.matchAll(/"_id":"(d\d)"/g)].map((m) => m[1]), ['d1']);
    assert.match(logger.warnings.join('\n'), /1 documents rejected with 429; retry 1\/3/);
    await r.close();
  } finally {
    await os.close();
  }
});

test('searchMany sends one _msearch (header + match body per query), skips blank queries, re-sorts ties by docid desc', async () => {
  const os = await startFakeOpenSearch({ rank: () => [{ _id: 'a', _score: 1.5 }, { _id: 'c', _score: 2.5 }, { _id: 'b', _score: 1.5 }] });
  try {
    const r = new OpenSearchRetriever({ node: os.url, index: 'dl19' });
    await r.build(docs);
    os.seen.length = 0;
    const lists = await r.searchMany(['flea life cycle', '  ', 'cats'], 3);
    assert.deepEqual(lists.map((l) => l.map((h) => `${h.rank}:${h.docid}`)), [['1:c', '2:b', '3:a'], [], ['1:c', '2:b', '3:a']]);
    assert.equal(os.seen.length, 1);
    assert.equal(os.seen[0]!.path, '/dl19/_msearch');
    const lines = os.seen[0]!.body.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.deepEqual(lines, [
      { index: 'dl19' },
      { size: 3, track_total_hits: false, _source: false, query: { match: { contents: { query: 'flea life cycle' } } } },
      { index: 'dl19' },
      { size: 3, track_total_hits: false, _source: false, query: { match: { contents: { query: 'cats' } } } },
    ]);
    assert.deepEqual((await r.search('x', { k: 3 })).map((h) => h.docid), ['c', 'b', 'a']);
    assert.equal(r.info().engine, 'opensearch');
    assert.deepEqual(await r.doc('d0'), { id: 'd0', title: 'T', text: 'text 0' });
    assert.equal(await r.doc('nope'), undefined);
    await r.close();
  } finally {
    await os.close();
  }
});

test('an index of several shards is searched with dfs_query_then_fetch (whole-index BM25 statistics)', async () => {
  const os = await startFakeOpenSearch({ rank: () => [] });
  try {
    const r = new OpenSearchRetriever({ node: os.url, index: 'sharded' });
    await r.load(docs, { rebuild: true, shards: 4 });
    assert.equal((JSON.parse(os.seen.find((s) => s.method === 'PUT' && s.path === '/sharded')!.body) as { settings: { number_of_shards: number } }).settings.number_of_shards, 4);
    assert.equal((await r.checkSettings({ k1: 0.9, b: 0.4, analyzer: 'english', luceneNorms: true })).shards, 4);
    await r.searchMany(['q'], 10);
    assert.deepEqual(JSON.parse(os.seen.at(-1)!.body.split('\n')[0]!), { index: 'sharded', search_type: 'dfs_query_then_fetch' });
    await r.close();
  } finally {
    await os.close();
  }
});

test('checkSettings refuses an index built with other BM25 parameters, naming both values and the fix', async () => {
  const os = await startFakeOpenSearch();
  try {
    const built = new OpenSearchRetriever({ node: os.url, index: 'msmarco', k1: 1.2, b: 0.4 });
    await built.build(docs);
    await built.close();
    const ref = { engine: 'opensearch' as const, url: os.url, index: 'msmarco' };
    const base = { env: {}, logger: recordingLogger(), requestTimeoutMs: 5000, retry: fastRetry, signal: new AbortController().signal };
    await assert.rejects(openManifestRetriever(ref, { ...base, expected: { k1: 0.9, b: 0.4, analyzer: 'english', luceneNorms: true } }), (e: unknown) => {
      assert.ok(QxError.is(e, 'config'));
      const m = (e as Error).message;
      assert.match(m, /OpenSearch index "msmarco" at http:\/\/127\.0\.0\.1:\d+ scores with BM25 k1 1\.2 \(similarity "qx_bm25"\), the workspace with k1 0\.9/);
      assert.match(m, /Set qx\.bm25\.k1 \(or --k1\) to 1\.2 .* or rebuild it with 0\.9: qx index --opensearch .* --k1 0\.9/);
      return true;
    });
    assert.ok(os.seen.some((s) => s.method === 'GET' && s.path === '/msmarco/_settings'), 'the check reads GET /<index>/_settings');
    const ok = await openManifestRetriever(ref, { ...base, expected: { k1: 1.2, b: 0.4, analyzer: 'english', luceneNorms: true } });
    assert.deepEqual([ok.index.k1, ok.index.b, ok.index.analyzer], [1.2, 0.4, 'english']);
    await ok.retriever.close();
    await assert.rejects(openManifestRetriever(ref, { ...base, expected: { k1: 1.2, b: 0.4, analyzer: 'cjk', luceneNorms: true } }), /analyzes "contents" with english \(analyzer "qx_english"\), the workspace with cjk/);
    await assert.rejects(openManifestRetriever(ref, { ...base, expected: { k1: 1.2, b: 0.4, analyzer: 'english', luceneNorms: false } }), /exact lengths/);
  } finally {
    await os.close();
  }
});

test('an index made elsewhere: default similarity is BM25 k1 1.2 b 0.75, the built-in english analyzer counts as english', async () => {
  const os = await startFakeOpenSearch();
  try {
    const req = await fetch(`${os.url}/other`, { method: 'PUT', body: JSON.stringify({ settings: { number_of_shards: 1 }, mappings: { properties: { contents: { type: 'text', analyzer: 'english' } } } }) });
    assert.equal(req.status, 200);
    const r = new OpenSearchRetriever({ node: os.url, index: 'other' });
    const got = await r.indexRetrieval();
    assert.deepEqual([got.k1, got.b, got.analyzer, got.similarity], [1.2, 0.75, 'english', 'the default similarity (BM25 k1 1.2, b 0.75)']);
    await assert.rejects(r.checkSettings({ k1: 0.9, b: 0.4, analyzer: 'english', luceneNorms: true }), /k1 1\.2 \(the default similarity/);
    await assert.rejects(new OpenSearchRetriever({ node: os.url, index: 'missing' }).indexRetrieval(), (e: unknown) => QxError.is(e, 'config') && /no index "missing"/.test((e as Error).message));
    await r.close();
  } finally {
    await os.close();
  }
});

test('a 429 (HTTP or inside _msearch) is retried with backoff and then succeeds; a 503 after the last retry is a network error', async () => {
  const answers: ({ status: number; body: unknown; headers?: Record<string, string> } | undefined)[] = [
    { status: 429, body: { error: { type: 'too_many_requests' }, status: 429 }, headers: { 'retry-after': '0' } },
    { status: 200, body: { responses: [{ error: { type: 'es_rejected_execution_exception' }, status: 429 }] } },
  ];
  const os = await startFakeOpenSearch({ rank: () => [{ _id: 'a', _score: 1 }], intercept: (s) => (s.path.endsWith('_msearch') ? answers.shift() : undefined) });
  try {
    const logger = recordingLogger();
    const config: OpenSearchConfig = { node: os.url, index: 'x', retry: fastRetry, logger };
    const r = new OpenSearchRetriever(config);
    await r.build(docs);
    assert.deepEqual((await r.searchMany(['q'], 10)).map((l) => l.map((h) => h.docid)), [['a']]);
    assert.equal(os.seen.filter((s) => s.path.endsWith('_msearch')).length, 3, 'two retries, then the answer');
    assert.equal(logger.warnings.length, 2);
    assert.match(logger.warnings[0]!, /OpenSearch search: HTTP 429; retry 1\/3/);

    for (let i = 0; i < 4; i++) answers.push({ status: 503, body: { error: 'unavailable' } });
    await assert.rejects(r.searchMany(['q'], 10), (e: unknown) => QxError.is(e, 'network') && /failed at http/.test((e as Error).message));
    await r.close();
  } finally {
    await os.close();
  }
});

test('a connection error is retried; cancelling a search in flight is a cancellation, not an error', async () => {
  const logger = recordingLogger();
  const dead = new OpenSearchRetriever({ node: 'http://127.0.0.1:1', index: 'x', retry: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 2 }, logger });
  await assert.rejects(dead.searchMany(['q'], 10), (e: unknown) => QxError.is(e, 'network'));
  assert.match(logger.warnings.join('\n'), /ConnectionError.*retry 1\/1/);
  await dead.close();

  const os = await startFakeOpenSearch({ delayMs: 2000, rank: () => [] });
  try {
    const r = new OpenSearchRetriever({ node: os.url, index: 'x' });
    await r.build(docs);
    const ac = new AbortController();
    const started = Date.now();
    const p = r.searchMany(['q'], 10, ac.signal);
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, (e: unknown) => isCancellationError(e));
    assert.ok(Date.now() - started < 1500, 'the request is abandoned, not awaited');
    await r.close();
  } finally {
    await os.close();
  }
});

const live = process.env.QX_OPENSEARCH_URL;
test('live OpenSearch: loads a small corpus, checks its settings, ranks the matching document first', { skip: live ? false : 'set QX_OPENSEARCH_URL (e.g. http://localhost:9200) to run against a live OpenSearch' }, async () => {
  const index = `qx-test-${process.pid}`;
  const r = new OpenSearchRetriever({ node: live!, index });
  try {
    await r.build([
      { id: '1', text: 'The life cycle of a flea: egg, larva, pupa, adult.' },
      { id: '2', text: 'Cats sleep most of the day.' },
      { id: '3', text: 'Dogs enjoy long walks.' },
    ]);
    const got = await r.checkSettings({ k1: 0.9, b: 0.4, analyzer: 'english', luceneNorms: true });
    assert.deepEqual([got.k1, got.b, got.analyzer], [0.9, 0.4, 'english']);
    await assert.rejects(r.checkSettings({ k1: 1.2, b: 0.4, analyzer: 'english', luceneNorms: true }), /k1 0\.9 .*k1 1\.2/);
    const [hits] = await r.searchMany(["flea's life cycles", 'walks'], 10);
    assert.equal(hits![0]?.docid, '1');
    assert.equal((await r.doc('2'))?.text, 'Cats sleep most of the day.');
  } finally {
    await fetch(`${live!.replace(/\/+$/, '')}/${index}`, { method: 'DELETE' }).catch(() => undefined);
    await r.close();
  }
});
