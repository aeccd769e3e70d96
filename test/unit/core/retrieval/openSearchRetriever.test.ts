import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenSearchRetriever, openSearchIndexBody } from '../../../../src/core/retrieval/openSearchRetriever.js';
import { QxError } from '../../../../src/core/errors.js';

interface Seen {
  method: string;
  url: string;
  body: string;
}

/** A local stand-in for the few OpenSearch endpoints the retriever calls; records every request. */
async function fakeOpenSearch(handler?: (r: Seen) => unknown): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', body };
      seen.push(r);
      let answer = handler?.(r);
      if (answer === undefined) {
        if (r.url.startsWith('/_bulk')) answer = { errors: false, items: [] };
        else if (r.url.includes('/_search')) answer = { hits: { hits: [{ _id: 'a', _score: 1.5 }, { _id: 'c', _score: 2.5 }, { _id: 'b', _score: 1.5 }] } };
        else answer = { acknowledged: true };
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

test('index settings: one shard, BM25 k1/b, Anserini English chain; stop list is Lucene English', () => {
  const body = openSearchIndexBody(1.2, 0.75) as { settings: Record<string, unknown>; mappings: { properties: Record<string, Record<string, unknown>> } };
  assert.deepEqual(body.settings['similarity'], { qx_bm25: { type: 'BM25', k1: 1.2, b: 0.75 } });
  const analysis = body.settings['analysis'] as { analyzer: Record<string, { tokenizer: string; filter: string[] }>; filter: Record<string, Record<string, string>> };
  assert.equal(analysis.analyzer['qx_english']!.tokenizer, 'standard');
  assert.deepEqual(analysis.analyzer['qx_english']!.filter, ['qx_possessive', 'lowercase', 'qx_stop', 'qx_porter']);
  assert.equal(analysis.filter['qx_stop']!['stopwords'], '_english_');
  assert.equal(body.mappings.properties['contents']!['similarity'], 'qx_bm25');
});

test('build recreates the index and bulk-indexes in batches with progress; search re-sorts ties by docid desc', async () => {
  const os = await fakeOpenSearch();
  try {
    const r = new OpenSearchRetriever({ node: os.url, index: 'dl19' });
    const progress: number[] = [];
    const docs = Array.from({ length: 5 }, (_, i) => ({ id: `d${i}`, text: `text ${i}`, ...(i === 0 ? { title: 'T' } : {}) }));
    assert.deepEqual(await r.build(docs, { batchSize: 2, onProgress: (p) => progress.push(p.done) }), { numDocs: 5 });
    assert.deepEqual(progress, [2, 4, 5]);
    assert.deepEqual(os.seen.slice(0, 2).map((s) => `${s.method} ${s.url.split('?')[0]}`), ['DELETE /dl19', 'PUT /dl19']);
    const bulks = os.seen.filter((s) => s.url.startsWith('/_bulk'));
    assert.equal(bulks.length, 3);
    const lines = bulks[0]!.body.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines[0], { index: { _index: 'dl19', _id: 'd0' } });
    assert.deepEqual(lines[1], { contents: 'T text 0', title: 'T', text: 'text 0' });
    assert.ok(os.seen.some((s) => s.url.startsWith('/dl19/_refresh')));

    const hits = await r.search('flea life cycle', { k: 3 });
    assert.deepEqual(hits.map((h) => h.docid), ['c', 'b', 'a']);
    const search = JSON.parse(os.seen.find((s) => s.url.includes('/_search'))!.body) as Record<string, unknown>;
    assert.deepEqual(search, { size: 3, track_total_hits: false, _source: false, query: { match: { contents: { query: 'flea life cycle' } } } });
    assert.equal(r.info().engine, 'opensearch');
    assert.equal(r.info().numDocs, 5);
    await r.close();
  } finally {
    await os.close();
  }
});

test('a rejected bulk item is a clear error naming the document', async () => {
  const os = await fakeOpenSearch((s) =>
    s.url.startsWith('/_bulk') ? { errors: true, items: [{ index: { _id: 'd0', status: 201 } }, { index: { _id: 'd1', error: { reason: 'mapper_parsing_exception' } } }] } : undefined,
  );
  try {
    const r = new OpenSearchRetriever({ node: os.url, index: 'x' });
    await assert.rejects(r.build([{ id: 'd0', text: 'a' }, { id: 'd1', text: 'b' }]), (e: unknown) => QxError.is(e) && /document d1: mapper_parsing_exception/.test((e as Error).message));
    await r.close();
  } finally {
    await os.close();
  }
});

const live = process.env.QX_OPENSEARCH_URL;
test('live OpenSearch: indexes a small corpus and ranks the matching document first', { skip: live ? false : 'set QX_OPENSEARCH_URL to run against a live OpenSearch' }, async () => {
  const r = new OpenSearchRetriever({ node: live!, index: `qx-test-${process.pid}` });
  try {
    await r.build([
      { id: '1', text: 'The life cycle of a flea: egg, larva, pupa, adult.' },
      { id: '2', text: 'Cats sleep most of the day.' },
      { id: '3', text: 'Dogs enjoy long walks.' },
    ]);
    const hits = await r.search("flea's life cycles");
    assert.equal(hits[0]?.docid, '1');
    assert.equal((await r.doc('2'))?.text, 'Cats sleep most of the day.');
  } finally {
    await r.close();
  }
});
