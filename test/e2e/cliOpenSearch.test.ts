// qx with an OpenSearch index as the workspace retriever, end to end through the CLI and the real
// @opensearch-project/opensearch client, against a local fake that answers like OpenSearch
// (test/unit/core/retrieval/fakeOpenSearch.ts) and ranks with the embedded BM25 engine over the
// documents `qx index --opensearch` sent it, with the k1/b of the index settings. So the scores
// `qx score` stores through OpenSearch must equal, record for record, those of local scoring.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Bm25Index } from '../../src/core/bm25/bm25Index.js';
import { nullLogger } from '../../src/core/logger.js';
import { type Workspace, openWorkspace } from '../../src/core/workspace/workspace.js';
import { withSettings } from '../../src/core/workspace/settings.js';
import { type FakeIndex, type FakeOpenSearch, startFakeOpenSearch } from '../unit/core/retrieval/fakeOpenSearch.js';
import { type QxRun, runQx } from './runQx.js';

const repo = resolve(__dirname, '../..');
const sample = join(repo, 'samples', 'dl19');
const corpus = join(sample, 'corpus.dl19-pool.jsonl');
const teacherFs = join(sample, 'expansions', 'Qwen2.5-72B-Instruct.query2doc-fs.0656857b.queries.tsv');
const tmp = mkdtempSync(join(tmpdir(), 'qx-opensearch-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const qx = (argv: string[], env: Record<string, string> = {}): Promise<QxRun> => runQx(argv, { cwd: tmp, env });

async function prepare(os: FakeOpenSearch, name: string, ranker: { built: WeakMap<FakeIndex, { size: number; index: Bm25Index }> }): Promise<void> {
  const idx = os.indices.get(name)!;
  const sim = ((idx.settings['index'] as Record<string, unknown>)['similarity'] as Record<string, Record<string, string>>)['qx_bm25']!;
  const docs = [...idx.docs].map(([id, src]) => ({ id, text: String(src['contents']) }));
  const { index } = await Bm25Index.build(docs, { k1: Number(sim['k1']), b: Number(sim['b']) });
  ranker.built.set(idx, { size: idx.docs.size, index });
}

async function makeWorkspace(name: string, retriever?: Record<string, unknown>): Promise<string> {
  const ws = join(tmp, name);
  const init = await qx(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws]);
  assert.equal(init.code, 0, init.stderr);
  if (retriever !== undefined) {
    const file = join(ws, 'qx.dataset.json');
    writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, 'utf8')) as object), retriever }, null, 2));
  }
  const imp = await qx(['import', teacherFs, '--workspace', ws, '--model', 'Qwen2.5-72B-Instruct', '--method', 'query2doc-fs', '--role', 'teacher']);
  assert.equal(imp.code, 0, imp.stderr);
  return ws;
}

/** Opens the local and the OpenSearch workspace through the core API, runs `fn`, closes both. */
async function withBoth(local: string, remote: string, fn: (a: Workspace, b: Workspace) => Promise<void>): Promise<void> {
  const deps = { settings: withSettings(), logger: nullLogger, getApiKey: async () => undefined };
  const a = await openWorkspace(local, deps);
  try {
    const b = await openWorkspace(remote, deps);
    try {
      await fn(a, b);
    } finally {
      await b.close();
    }
  } finally {
    await a.close();
  }
}

describe('qx with an OpenSearch index as the retriever (DL19 pool, local fake cluster)', () => {
  const built = new WeakMap<FakeIndex, { size: number; index: Bm25Index }>();
  let os: FakeOpenSearch;
  before(async () => {
    os = await startFakeOpenSearch({
      rank: (idx, query, k) => {
        const b = built.get(idx);
        if (b === undefined) throw new Error('fake: index not prepared');
        return b.index.searchSync(query, k).map((h) => ({ _id: h.docid, _score: h.score }));
      },
    });
  });
  after(() => os.close());

  test('qx index --opensearch bulk-loads the corpus with the right settings; a rerun does nothing', async () => {
    const r = await qx(['index', '--opensearch', os.url, '--index', 'dl19-pool', '--corpus', corpus, '--batch-size', '500', '--concurrency', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^loaded 5492 documents into OpenSearch index dl19-pool at http:\/\/127\.0\.0\.1:\d+ in [\d.]+ s; 5492 in all$/m);
    const idx = os.indices.get('dl19-pool')!;
    assert.equal(idx.docs.size, 5492);
    const s = idx.settings['index'] as Record<string, unknown>;
    assert.deepEqual(s['similarity'], { qx_bm25: { type: 'BM25', k1: '0.9', b: '0.4' } });
    assert.equal(s['number_of_shards'], '1');
    assert.equal(os.seen.filter((q) => q.path === '/_bulk').length, 11, '5492 documents in batches of 500');
    const again = await qx(['index', '--opensearch', os.url, '--index', 'dl19-pool', '--corpus', corpus]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already holds the 5492 documents of this corpus: nothing to do/);
    assert.equal(os.seen.filter((q) => q.path === '/_bulk').length, 11);
    await prepare(os, 'dl19-pool', { built });
  });

  test('qx score through OpenSearch stores the same score records as local scoring, one _msearch per query', async () => {
    const local = await makeWorkspace('local');
    const remote = await makeWorkspace('remote', { engine: 'opensearch', url: os.url, index: 'dl19-pool', concurrency: 3 });
    assert.equal((await qx(['score', '--workspace', local])).code, 0);
    const before = os.seen.length;
    const r = await qx(['score', '--workspace', remote, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { scored: number; originals: number; retrieval: Record<string, unknown> };
    assert.deepEqual([out.scored, out.originals], [43, 43]);
    assert.deepEqual(out.retrieval, { engine: 'opensearch', index: 'dl19-pool', analyzer: 'english', k1: 0.9, b: 0.4, lengths: 'lucene', topK: 1000, relevanceLevel: 2, ndcgCutoff: 10 });
    const calls = os.seen.slice(before);
    assert.deepEqual(calls.slice(0, 2).map((c) => `${c.method} ${c.path}`), ['GET /dl19-pool/_settings', 'GET /dl19-pool/_mapping'], 'settings are checked before scoring');
    const msearch = calls.filter((c) => c.path === '/dl19-pool/_msearch');
    assert.equal(msearch.length, 43, 'one _msearch per query: its original and its expansion');
    assert.equal(msearch[0]!.body.trim().split('\n').length, 4);

    await withBoth(local, remote, async (a, b) => {
      const la = a.currentScores();
      const lb = b.currentScores();
      assert.notEqual(a.settingsKey, b.settingsKey, 'full-collection and pool scores are kept apart');
      assert.equal(lb.size, 86);
      assert.deepEqual([...lb.keys()].sort(), [...la.keys()].sort());
      for (const [id, s] of la) assert.deepEqual(lb.get(id), s, id);

      const qid = a.topics[0]!.qid;
      const text = 'how long does a flea live in a house without a host';
      assert.deepEqual(await b.previewScore(qid, text), await a.previewScore(qid, text), 'live re-scoring through OpenSearch');
      const e = b.expansionRecords().find((x) => x.qid === qid)!;
      const before = os.seen.length;
      const edited = await b.editExpansion(e.id, text);
      assert.equal(os.seen.slice(before).filter((c) => c.path.endsWith('_msearch')).length, 1, 'an edit is scored through OpenSearch');
      assert.deepEqual(edited.score, (await a.editExpansion(e.id, text)).score);
      assert.deepEqual(b.currentScores().get(edited.expansion.id), edited.score, 'the edit\'s score is stored');
    });
    const report = await qx(['report', '--workspace', remote]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /^original BM25\s+-\s+-\s+43\s+0\.4644\s/m, 'nDCG@10 of the original queries from the returned hits (the local engine gives 0.4644)');
  });

  test('an index built with k1 0.9 is refused when the workspace scores with k1 1.2, naming both and the fix; nothing is scored', async () => {
    const ws = await makeWorkspace('mismatch', { engine: 'opensearch', url: os.url, index: 'dl19-pool' });
    const before = os.seen.length;
    const r = await qx(['score', '--workspace', ws, '--k1', '1.2']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /OpenSearch index "dl19-pool" at http:\/\/127\.0\.0\.1:\d+ scores with BM25 k1 0\.9 \(similarity "qx_bm25"\), the workspace with k1 1\.2/);
    assert.match(r.stderr, /Set qx\.bm25\.k1 \(or --k1\) to 0\.9/);
    assert.equal(os.seen.slice(before).filter((c) => c.path.endsWith('_msearch')).length, 0);
  });

  test('auth comes from the environment variable the manifest names, never from the manifest', async () => {
    const ws = await makeWorkspace('auth', { engine: 'opensearch', url: os.url, index: 'dl19-pool', authEnv: 'QX_TEST_OS_AUTH' });
    const missing = await qx(['score', '--workspace', ws]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /retriever\.authEnv names QX_TEST_OS_AUTH, which is not set/);
    const before = os.seen.length;
    const r = await qx(['score', '--workspace', ws], { QX_TEST_OS_AUTH: 'reader:s3cret' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(os.seen[before]!.authorization, `Basic ${Buffer.from('reader:s3cret').toString('base64')}`);
    const url = await makeWorkspace('url-secret').then(async (dir) => {
      const file = join(dir, 'qx.dataset.json');
      writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, 'utf8')) as object), retriever: { engine: 'opensearch', url: 'http://reader:s3cret@localhost:9200', index: 'x' } }));
      return qx(['score', '--workspace', dir]);
    });
    assert.notEqual(url.code, 0);
    assert.match(url.stderr, /field "retriever\.url": holds a user name or password/);
  });
});

describe('bounded concurrency and retries against a slow, busy cluster', () => {
  test('qx score --concurrency 2 never has more than 2 searches in flight, and rides out 429s', async () => {
    let busy = 3;
    const built = new WeakMap<FakeIndex, { size: number; index: Bm25Index }>();
    const os = await startFakeOpenSearch({
      delayMs: 20,
      rank: (idx, query, k) => built.get(idx)!.index.searchSync(query, k).map((h) => ({ _id: h.docid, _score: h.score })),
      intercept: (r) => (r.path.endsWith('_msearch') && busy-- > 0 ? { status: 429, body: { error: { type: 'too_many_requests' }, status: 429 }, headers: { 'retry-after': '0' } } : undefined),
    });
    try {
      const load = await qx(['index', '--opensearch', os.url, '--index', 'pool', '--corpus', corpus]);
      assert.equal(load.code, 0, load.stderr);
      await prepare(os, 'pool', { built });
      const ws = await makeWorkspace('slow', { engine: 'opensearch', url: os.url, index: 'pool', concurrency: 8 });
      const r = await qx(['score', '--workspace', ws, '--concurrency', '2', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { scored: number }).scored, 43);
      assert.equal(os.maxInFlight(), 2, '--concurrency 2 overrides the manifest\'s 8, and 2 are used');
      assert.match(r.stderr, /OpenSearch search: HTTP 429; retry 1\/4/);
      assert.equal(os.seen.filter((c) => c.path.endsWith('_msearch')).length, 43 + 3, 'each 429 retried once');
    } finally {
      await os.close();
    }
  });
});

const live = process.env.QX_OPENSEARCH_URL;
test('live OpenSearch: qx index --opensearch loads the DL19 pool and qx score through it matches local scoring', { skip: live ? false : 'set QX_OPENSEARCH_URL (e.g. http://localhost:9200) to run against a live OpenSearch' }, async () => {
  const url = live!.replace(/\/+$/, '');
  const index = `qx-e2e-dl19-${process.pid}`;
  const env: Record<string, string> = process.env.QX_OPENSEARCH_AUTH ? { QX_OPENSEARCH_AUTH: process.env.QX_OPENSEARCH_AUTH } : {};
  try {
    const load = await qx(['index', '--opensearch', url, '--index', index, '--corpus', corpus], env);
    assert.equal(load.code, 0, load.stderr);
    const local = await makeWorkspace('live-local');
    const remote = await makeWorkspace('live-remote', { engine: 'opensearch', url, index, ...(env.QX_OPENSEARCH_AUTH ? { authEnv: 'QX_OPENSEARCH_AUTH' } : {}) });
    assert.equal((await qx(['score', '--workspace', local])).code, 0);
    const r = await qx(['score', '--workspace', remote], env);
    assert.equal(r.code, 0, r.stderr);
    await withBoth(local, remote, async (a, b) => {
      const la = a.currentScores();
      const lb = b.currentScores();
      assert.equal(lb.size, la.size);
      const mean = (m: ReadonlyMap<string, { ndcg10: number }>) => [...m.values()].reduce((x, s) => x + s.ndcg10, 0) / m.size;
      // Lucene's BM25 and analyzers on both sides: equal up to ties within float rounding.
      assert.ok(Math.abs(mean(lb) - mean(la)) < 0.005, `mean nDCG@10 ${mean(lb)} (OpenSearch) vs ${mean(la)} (local)`);
      const sameTop10 = [...la].filter(([id, s]) => JSON.stringify(lb.get(id)?.top10) === JSON.stringify(s.top10)).length;
      assert.ok(sameTop10 / la.size >= 0.9, `identical top 10 for ${sameTop10} of ${la.size} rankings`);
    });
  } finally {
    await fetch(`${url}/${index}`, { method: 'DELETE', ...(env.QX_OPENSEARCH_AUTH ? { headers: { authorization: `Basic ${Buffer.from(env.QX_OPENSEARCH_AUTH).toString('base64')}` } } : {}) }).catch(() => undefined);
  }
});
