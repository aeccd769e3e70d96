import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Bm25Index } from '../../../../src/core/bm25/bm25Index.js';
import { expansions, poolStream, topics } from './dl19Data.js';

// A long exhaustive search split over search threads (each scanning its own range of doc numbers)
// must give what one thread gives: the same docids, order, ranks and bit-identical scores.
// `minPostings: 0` lets the small test corpora split (real searches split from 1M postings).

const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'qx-threads-'));

async function* words(n: number): AsyncGenerator<{ id: string; text: string }> {
  // Few words and lengths: many exact score ties, broken by docid across the ranges' borders.
  const vocab = ['a', 'b', 'c', 'd', 'e', 'f'];
  let seed = 7;
  for (let i = 0; i < n; i++) {
    const len = 1 + (i % 4);
    const ws: string[] = [];
    for (let j = 0; j < len; j++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      ws.push(vocab[seed % vocab.length]!);
    }
    yield { id: `d${(i * 7919) % 10007}-${i}`, text: ws.join(' ') };
  }
}

test('three search threads give the one-thread hits for every DL19 query and query2doc expansion (top 10 and top 1000), and a thread that dies is scanned for', async () => {
  const dir = tmp();
  try {
    await Bm25Index.build(poolStream(), { dir });
    const one = await Bm25Index.open(dir);
    const three = await Bm25Index.open(dir);
    assert.equal(await three.startSearchThreads(3, { minPostings: 0 }), 3);
    const queries = [...(await topics()), ...(await expansions())];
    assert.ok(queries.length >= 80);
    for (const [qid, q] of queries) {
      for (const k of [10, 1000]) {
        const want = one.searchSync(q, k, { exhaustive: true });
        assert.ok(want.length > 0, qid);
        assert.deepEqual(three.searchSync(q, k, { exhaustive: true }), want, `query ${qid}, top ${k}`);
        // The default path (pruned for short queries, exhaustive for long ones) agrees too.
        assert.deepEqual(three.searchSync(q, k), one.searchSync(q, k), `query ${qid}, top ${k}, default path`);
      }
    }
    // A search thread that dies between searches: later searches scan its range in the calling thread.
    const helpers = (three as unknown as { helpers: { worker: { terminate(): Promise<number> } }[] }).helpers;
    await helpers[0]!.worker.terminate();
    await new Promise((r) => setTimeout(r, 50));
    for (const [qid, q] of queries.slice(-5)) assert.deepEqual(three.searchSync(q, 1000, { exhaustive: true }), one.searchSync(q, 1000, { exhaustive: true }), `query ${qid} after a thread died`);
    assert.equal(await three.startSearchThreads(1), 2, 'the dead thread is no longer counted');
    await three.close();
    // A thread that fails its job, or never answers: the caller scans its range (after waiting
    // at least 2 s for the hung one), gets the same hits, says why, and stops using the thread.
    for (const fault of ['fail', 'hang']) {
      process.env.QX_TEST_SEARCH_THREAD_FAULT = fault;
      const faulty = await Bm25Index.open(dir);
      try {
        assert.equal(await faulty.startSearchThreads(2, { minPostings: 0 }), 2);
      } finally {
        delete process.env.QX_TEST_SEARCH_THREAD_FAULT;
      }
      const [qid, q] = queries.at(-1)!;
      const t0 = performance.now();
      assert.deepEqual(faulty.searchSync(q, 1000, { exhaustive: true }), one.searchSync(q, 1000, { exhaustive: true }), `query ${qid}, thread fault "${fault}"`);
      if (fault === 'hang') assert.ok(performance.now() - t0 >= 2000, 'waited for the hung thread first');
      assert.match(faulty.searchThreadFailure ?? '', fault === 'fail' ? /failed/ : /did not answer within \d+ ms/);
      assert.equal(await faulty.startSearchThreads(1), 1, 'the thread is no longer used');
      await faulty.close();
    }
    await one.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('split searches break score ties by docid across range borders exactly as one thread does; in-memory indexes search on one thread', async () => {
  const dir = tmp();
  try {
    await Bm25Index.build(words(20_000), { dir, analyzer: 'whitespace' });
    const one = await Bm25Index.open(dir);
    const two = await Bm25Index.open(dir);
    assert.equal(await two.startSearchThreads(2, { minPostings: 0 }), 2);
    for (const q of ['a b c d e f', 'a a b', 'f e e d d d', 'c']) {
      for (const k of [1, 10, 1000, 50_000]) {
        const want = one.searchSync(q, k, { exhaustive: true });
        assert.deepEqual(two.searchSync(q, k, { exhaustive: true }), want, `"${q}" top ${k}`);
      }
    }
    await one.close();
    await two.close();
    const { index: memory } = await Bm25Index.build(words(100), { analyzer: 'whitespace' });
    assert.equal(await memory.startSearchThreads(4), 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a search thread\'s part is the k best by score plus every document tied with the k-th (the caller breaks the ties by docid); ties that do not fit are ranked by docid in the thread', async () => {
  const docs = (tied: number): { id: string; text: string }[] => [
    ...Array.from({ length: tied }, (_, i) => ({ id: `t${String((i * 37) % tied).padStart(5, '0')}`, text: 'x' })),
    ...Array.from({ length: 5 }, (_, i) => ({ id: `top${i}`, text: 'x x' })),
  ];
  const part = (index: Bm25Index, k: number, cap: number): { docs: number[]; scores: number[] } => {
    const scores = new Float64Array(cap);
    const nos = new Int32Array(cap);
    const n = index.scanPart(index.queryTerms('x'), k, 0, index.numDocs, scores, nos);
    assert.ok(n >= 0 && n <= cap, `${n} hits`);
    return { docs: [...nos.subarray(0, n)], scores: [...scores.subarray(0, n)] };
  };
  const { index: few } = await Bm25Index.build(docs(50), { analyzer: 'whitespace' });
  const fewPart = part(few, 10, 2 * 10 + 1024);
  assert.equal(fewPart.docs.length, 55, 'the 5 best and all 50 documents tied with the 10th');
  assert.deepEqual(new Set(fewPart.docs), new Set(docs(50).map((d) => few.docNo(d.id))));
  assert.equal(Math.min(...fewPart.scores), few.searchSync('x', 10)[9]!.score);
  const { index: many } = await Bm25Index.build(docs(3000), { analyzer: 'whitespace' });
  assert.equal(part(many, 10, 4000).docs.length, 3005, 'room for every tie: all kept');
  const ranked = part(many, 10, 2 * 10 + 1024);
  assert.equal(ranked.docs.length, 10, '2,995 ties do not fit in 1,034: the thread ranks them');
  assert.deepEqual(new Set(ranked.docs), new Set(many.searchSync('x', 10).map((h) => many.docNo(h.docid))));
});

test('ties that overflowed are forgotten when the k-th score rises past them; a split search on an index opened from disk never reads the docids in its threads\' ranges', async () => {
  // 3,000 tied documents first (more than the 1,034 ties a part has room for), then 15 better
  // ones: the minimum rises, the overflow is forgotten, and the part is the 15 better ones.
  const docs = [...Array.from({ length: 3000 }, (_, i) => ({ id: `t${i}`, text: 'x' })), ...Array.from({ length: 15 }, (_, i) => ({ id: `top${i}`, text: 'x x' }))];
  const { index } = await Bm25Index.build(docs, { analyzer: 'whitespace' });
  const cap = 2 * 10 + 1024;
  const scores = new Float64Array(cap);
  const nos = new Int32Array(cap);
  const n = index.scanPart(index.queryTerms('x'), 10, 0, index.numDocs, scores, nos);
  assert.equal(n, 15, 'the 10 kept and the 5 tied with them, not a docid-ranked top 10');
  const best = index.searchSync('x', 1)[0]!.score;
  assert.deepEqual([...scores.subarray(0, n)], Array.from({ length: 15 }, () => best));
  assert.deepEqual(new Set(nos.subarray(0, n)), new Set(Array.from({ length: 15 }, (_, i) => index.docNo(`top${i}`))));

  const dir = tmp();
  try {
    await Bm25Index.build(words(20_000), { dir, analyzer: 'whitespace' });
    const opened = await Bm25Index.open(dir);
    const k = 10;
    const part = new Float64Array(2 * k + 1024);
    assert.ok(opened.scanPart(opened.queryTerms('a b c d e f'), k, 10_000, 20_000, part, new Int32Array(part.length)) > k, 'ties with the 10th were kept');
    assert.equal(opened.docIdsLoaded(), false, 'the part was ranked without docids');
    await opened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
