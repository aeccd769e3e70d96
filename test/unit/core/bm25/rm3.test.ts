import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bm25Index } from '../../../../src/core/bm25/bm25Index.js';
import { rm3Query, rm3Search } from '../../../../src/core/bm25/rm3.js';
import { QxError } from '../../../../src/core/errors.js';
import { meanNdcg10, poolStream, qrels, topics } from './dl19Data.js';

test('RM3 (Anserini defaults) beats plain BM25 on the DL19 pool original queries', async () => {
  const { index } = await Bm25Index.build(poolStream());
  const q = await qrels();
  const qs = await topics();
  const bm25 = meanNdcg10(q, new Map(qs.map(([qid, t]) => [qid, index.searchSync(t)])));
  const rm3 = meanNdcg10(q, new Map(qs.map(([qid, t]) => [qid, rm3Search(index, t)])));
  assert.equal(bm25.toFixed(4), '0.4644');
  assert.ok(rm3 >= 0.466, `RM3 nDCG@10 ${rm3.toFixed(4)} should beat BM25 ${bm25.toFixed(4)}`);
});

test('the RM3 query keeps the original terms at half the mass and adds at most 10 feedback terms', async () => {
  const docs = [
    { id: '1', text: 'flea life cycle egg larva pupa adult' },
    { id: '2', text: 'flea eggs hatch into larva then pupa' },
    { id: '3', text: 'cat food brands' },
    ...Array.from({ length: 30 }, (_, i) => ({ id: `f${i}`, text: `filler text number ${i} about weather` })),
  ];
  const { index } = await Bm25Index.build(docs);
  const q = rm3Query(index, 'flea');
  assert.ok(Math.abs([...q.values()].reduce((s, w) => s + w, 0) - 1) < 1e-9);
  assert.ok((q.get('flea') ?? 0) >= 0.5);
  assert.ok(q.has('larva') && q.has('pupa'), `feedback terms: ${[...q.keys()].join(' ')}`);
  assert.ok(q.size <= 11);
  assert.deepEqual(rm3Search(index, 'the of'), []);
});

test('RM3 on an index without document texts is a clear config error', async () => {
  const { index } = await Bm25Index.build([{ id: '1', text: 'a b c' }], { keepDocs: false });
  assert.throws(() => rm3Query(index, 'b'), (e: unknown) => QxError.is(e, 'config') && /document texts/.test((e as Error).message));
});
