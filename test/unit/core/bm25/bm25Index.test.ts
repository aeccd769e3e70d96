import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Bm25Index } from '../../../../src/core/bm25/bm25Index.js';
import { byte4ToInt, intToByte4 } from '../../../../src/core/bm25/smallFloat.js';
import { QxError, isCancellationError } from '../../../../src/core/errors.js';
import type { CorpusDoc } from '../../../../src/core/dataset/types.js';
import { CRANFIELD, expansions, meanNdcg10, poolDocs, poolStream, qrels, topics } from './dl19Data.js';
import { readCorpus } from '../../../../src/core/dataset/corpus.js';
import { readTopics } from '../../../../src/core/dataset/topics.js';
import { readQrels } from '../../../../src/core/dataset/qrels.js';
import { currentIndexFiles } from './indexBuildFixtures.js';
import { evaluate } from '../../../../src/core/eval/evaluate.js';

const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'qx-bm25-'));

async function* stream(docs: CorpusDoc[]): AsyncGenerator<CorpusDoc> {
  yield* docs;
}

test('Lucene norms: lengths below 24 are exact, longer ones keep 4 significant bits', () => {
  for (let n = 0; n < 24; n++) assert.equal(byte4ToInt(intToByte4(n)), n);
  assert.equal(byte4ToInt(intToByte4(100)), 96);
  let prev = -1;
  for (let n = 0; n < 5000; n++) {
    const d = byte4ToInt(intToByte4(n));
    assert.ok(d <= n && d >= prev, `decoded length of ${n} is ${d}`);
    prev = d;
  }
});

test('lucene mode reproduces Lucene BM25 nDCG@10 on the DL19 pool: 0.4644 original, 0.6421 query2doc', async () => {
  const { index, report } = await Bm25Index.build(poolStream());
  assert.equal(report.numDocs, 5492);
  const q = await qrels();
  const runOf = (qs: [string, string][]) => new Map(qs.map(([qid, text]) => [qid, index.searchSync(text)]));
  assert.equal(meanNdcg10(q, runOf(await topics())).toFixed(4), '0.4644');
  assert.equal(meanNdcg10(q, runOf(await expansions())).toFixed(4), '0.6421');
  assert.deepEqual(index.info().params, { k1: 0.9, b: 0.4, lengths: 'lucene' });
  assert.equal(index.info().analyzer.name, 'english');
});

test('exact-length mode ranks differently from Lucene but comparably well', async () => {
  const { index } = await Bm25Index.build(poolStream(), { lengths: 'exact' });
  const q = await qrels();
  const orig = meanNdcg10(q, new Map((await topics()).map(([qid, text]) => [qid, index.searchSync(text)])));
  assert.ok(orig > 0.45 && orig < 0.48, `exact mode nDCG@10 ${orig}`);
  assert.notEqual(orig.toFixed(4), '0.4644');
});

test('hits come sorted by score desc, ties by docid desc; k caps the list; a repeated term counts again', async () => {
  const docs = [
    { id: 'a', text: 'apple pie' },
    { id: 'c', text: 'apple pie' },
    { id: 'b', text: 'apple pie' },
    { id: 'd', text: 'banana split' },
  ];
  const { index } = await Bm25Index.build(docs, { analyzer: 'whitespace' });
  assert.deepEqual(index.searchSync('apple').map((h) => h.docid), ['c', 'b', 'a']);
  assert.deepEqual(index.searchSync('apple', 2).map((h) => h.docid), ['c', 'b']);
  const once = index.searchSync('apple banana');
  const twice = index.searchSync('apple banana banana');
  assert.equal(twice[0]!.docid, 'd');
  assert.ok(Math.abs(twice[0]!.score - 2 * once.find((h) => h.docid === 'd')!.score) < 1e-5);
});

test('a query that analyzes to no tokens returns an empty run', async () => {
  const { index } = await Bm25Index.build([{ id: '1', text: 'the cat sat' }]);
  assert.deepEqual(index.searchSync('the of and ...'), []);
  assert.deepEqual(await index.search('zebra'), []);
});

test('empty corpus is a dataset error', async () => {
  await assert.rejects(Bm25Index.build(stream([])), (e: unknown) => QxError.is(e, 'dataset') && /no documents/.test((e as Error).message));
});

test('duplicate ids: first document kept, the rest counted; text-less docs indexed as empty and reported', async () => {
  const { index, report } = await Bm25Index.build([
    { id: 'x', text: 'first copy' },
    { id: 'x', text: 'second copy unique' },
    { id: 'e', text: '' },
    { id: 's', text: 'the and of' },
  ]);
  assert.equal(report.duplicates, 1);
  assert.deepEqual(report.duplicateIds, ['x']);
  assert.equal(report.emptyDocs, 2);
  assert.deepEqual(report.emptyIds, ['e', 's']);
  assert.equal(index.numDocs, 3);
  assert.deepEqual(index.searchSync('unique'), []);
  assert.equal(index.docSync('x')?.text, 'first copy');
});

test('on disk: reopened without re-indexing gives the same run, and doc texts are fetched lazily', async () => {
  const dir = tmp();
  try {
    const docs = (await poolDocs()).slice(0, 800);
    const progress: number[] = [];
    const { index: built } = await Bm25Index.build(stream(docs), { dir, onProgress: (p) => progress.push(p.done) });
    assert.ok(progress.length >= 1 && progress.at(-1) === 800);
    const reopened = await Bm25Index.open(dir);
    const q = (await topics())[0]![1];
    assert.deepEqual(reopened.searchSync(q, 50), built.searchSync(q, 50));
    const top = reopened.searchSync(q, 1)[0]!;
    assert.equal((await reopened.doc(top.docid))?.text, docs.find((d) => d.id === top.docid)!.text);
    assert.equal(await reopened.doc('no-such-doc'), undefined);
    await reopened.close();
    await built.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on disk in segments: two worker threads and many small segments merged give exactly the in-memory index (DL19 pool, original and query2doc queries)', async () => {
  const dir = tmp();
  try {
    const docs = await poolDocs();
    const progress: string[] = [];
    const { index: disk, report } = await Bm25Index.build(stream(docs), { dir, threads: 2, segmentPostings: 20_000, onProgress: (p) => progress.push(p.message ?? '') });
    const { index: memory } = await Bm25Index.build(stream(docs), { keepDocs: false });
    assert.equal(report.numDocs, memory.numDocs);
    assert.ok(progress.some((m) => /documents\/s/.test(m)), 'progress reports a rate');
    assert.equal(readdirSync(path.join(dir, readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim())).filter((n) => n.endsWith('.seg')).length, 0, 'segment files removed');
    assert.equal(disk.data.numPostings, memory.data.numPostings);
    assert.equal(disk.data.terms.size, memory.data.terms.size);
    const queries = [...(await topics()).map(([, q]) => q), ...(await expansions()).slice(0, 20).map(([, q]) => q)];
    for (const q of queries) {
      for (const k of [10, 1000]) assert.deepEqual(disk.searchSync(q, k), memory.searchSync(q, k), `${k}: ${q.slice(0, 60)}`);
    }
    assert.equal(disk.docNo(docs[4000]!.id), 4000);
    assert.equal((await disk.doc(docs[4000]!.id))?.text, docs[4000]!.text);
    await disk.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on disk: one segment and many small segments merged write byte-identical index files (DL19 pool)', async () => {
  const one = tmp();
  const many = tmp();
  try {
    const docs = await poolDocs();
    // One segment: every term's postings are copied from it as they are; many: most terms are merged.
    await (await Bm25Index.build(stream(docs), { dir: one, threads: 1, segmentPostings: 10_000_000 })).index.close();
    await (await Bm25Index.build(stream(docs), { dir: many, threads: 2, segmentPostings: 20_000 })).index.close();
    const a = currentIndexFiles(one);
    const b = currentIndexFiles(many);
    assert.deepEqual([...a.keys()], [...b.keys()]);
    for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), `${name} differs`);
  } finally {
    rmSync(one, { recursive: true, force: true });
    rmSync(many, { recursive: true, force: true });
  }
});

test('an index of another format version is refused with a rebuild hint', async () => {
  const dir = tmp();
  try {
    await Bm25Index.build([{ id: '1', text: 'hello world' }], { dir });
    const gen = readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim();
    const metaFile = path.join(dir, gen, 'meta.json');
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { version: number };
    meta.version = 0;
    writeFileSync(metaFile, JSON.stringify(meta));
    await assert.rejects(Bm25Index.open(dir), (e: unknown) => {
      assert.ok(QxError.is(e, 'index'));
      assert.match(e.message, /version 0, this qx reads version 3/);
      assert.match(e.message, /qx index --corpus/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged index file is refused naming the file (postings when first read); a missing index says how to build one', async () => {
  const dir = tmp();
  try {
    await Bm25Index.build([{ id: '1', text: 'hello world' }, { id: '2', text: 'hello there' }], { dir });
    const gen = readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim();
    const flip = (name: string): void => {
      const file = path.join(dir, gen, name);
      const bytes = readFileSync(file);
      bytes[0] = bytes[0]! ^ 0xff;
      writeFileSync(file, bytes);
    };
    // Postings are checked per term on first read (opening stays fast at any size).
    flip('postings.bin');
    const opened = await Bm25Index.open(dir);
    assert.throws(() => opened.searchSync('hello'), (e: unknown) => QxError.is(e, 'index') && /postings\.bin.*damaged.*Rebuild/.test((e as Error).message));
    await opened.close();
    // The small tables are checked when the index is opened.
    flip('terms.df');
    await assert.rejects(Bm25Index.open(dir), (e: unknown) => QxError.is(e, 'index') && /terms\.df.*damaged.*Rebuild/.test((e as Error).message));
    await assert.rejects(Bm25Index.open(path.join(dir, 'nope')), (e: unknown) => QxError.is(e, 'index') && /no index at .*qx index/.test((e as Error).message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cancelled rebuild leaves the previous index usable and no temp files behind', async () => {
  const dir = tmp();
  try {
    await Bm25Index.build([{ id: 'old', text: 'previous generation' }], { dir });
    const controller = new AbortController();
    async function* slow(): AsyncGenerator<CorpusDoc> {
      for (let i = 0; i < 5000; i++) {
        if (i === 2500) controller.abort();
        yield { id: String(i), text: `doc ${i}` };
      }
    }
    await assert.rejects(Bm25Index.build(slow(), { dir, signal: controller.signal }), (e: unknown) => isCancellationError(e));
    const index = await Bm25Index.open(dir);
    assert.deepEqual(index.searchSync('previous').map((h) => h.docid), ['old']);
    assert.equal(readdirSync(dir).filter((n) => n.endsWith('.tmp')).length, 0);
    const rebuilt = await Bm25Index.build([{ id: 'new', text: 'next generation' }], { dir });
    assert.deepEqual((await Bm25Index.open(dir)).searchSync('generation').map((h) => h.docid), ['new']);
    assert.equal(readdirSync(dir).filter((n) => n.startsWith('gen-')).length, 1, 'old generation removed');
    await rebuilt.index.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Cranfield (complete collection, graded qrels): nDCG@10 and MAP of the engine as evaluated by trec_eval rules', async () => {
  const { index, report } = await Bm25Index.build(readCorpus(path.join(CRANFIELD, 'cran.all.1400')));
  assert.equal(report.numDocs, 1400);
  const q = await readQrels(path.join(CRANFIELD, 'cranqrel'), 'cranfield');
  const run = new Map((await readTopics(path.join(CRANFIELD, 'cran.qry'))).map((t) => [t.qid, index.searchSync(t.text)]));
  const r = evaluate(q, run, ['ndcg_cut.10', 'map'], { complete: true });
  // Measured 0.3510 / 0.2879 (bench/RESULTS.md); a broken analyzer or scorer falls well below.
  assert.ok(r.mean['ndcg_cut_10']! >= 0.35, `nDCG@10 ${r.mean['ndcg_cut_10']}`);
  assert.ok(r.mean['map']! >= 0.285, `MAP ${r.mean['map']}`);
});

test('scores equal Lucene 8 BM25Similarity float arithmetic, also on the tabulated path for long posting lists', async () => {
  // 20,000 documents so that the common term's posting list takes the tabulated fast path.
  let seed = 3;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const docs = Array.from({ length: 20_000 }, (_, i) => {
    const words: string[] = [];
    const len = 1 + Math.floor(rnd() * 300);
    for (let j = 0; j < len; j++) words.push(rnd() < 0.05 ? 'common' : rnd() < 0.01 ? 'rare' : `w${Math.floor(rnd() * 500)}`);
    return { id: `d${i}`, text: words.join(' ') };
  });
  const { index } = await Bm25Index.build(docs, { analyzer: 'whitespace' });
  const f = Math.fround;
  const N = docs.filter((d) => d.text.length > 0).length;
  const lengths = docs.map((d) => d.text.split(' ').length);
  const avgdl = f(lengths.reduce((s, l) => s + l, 0) / N);
  const expected = (term: string, boost: number): Map<string, number> => {
    const tfs = docs.map((d) => d.text.split(' ').filter((w) => w === term).length);
    const df = tfs.filter((t) => t > 0).length;
    const w = f(f(boost) * f(Math.log(1 + (N - df + 0.5) / (df + 0.5))));
    const out = new Map<string, number>();
    docs.forEach((d, i) => {
      if (tfs[i] === 0) return;
      const dl = byte4ToInt(intToByte4(lengths[i]!));
      const ni = f(1 / f(f(0.9) * f(f(1 - f(0.4)) + f(f(f(0.4) * dl) / avgdl))));
      out.set(d.id, f(w - f(w / f(1 + f(tfs[i]! * ni)))));
    });
    return out;
  };
  for (const [term, boost] of [['common', 2], ['rare', 1]] as const) {
    const want = expected(term, boost);
    assert.ok(term === 'rare' || want.size > 16_384, 'common term must take the tabulated path');
    const hits = index.searchWeighted(new Map([[term, boost]]), 100_000);
    assert.equal(hits.length, want.size);
    for (const h of hits) assert.equal(h.score, want.get(h.docid), `${term} ${h.docid}`);
  }
});

test('a build killed with SIGKILL mid-write leaves the previous index usable; the next build cleans up', async () => {
  const dir = tmp();
  try {
    await Bm25Index.build([{ id: 'old', text: 'previous generation' }], { dir });
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'slowBuildChild.ts'), dir], { stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    const writing = (): boolean =>
      readdirSync(dir).some((n) => n.endsWith('.tmp') && existsSync(path.join(dir, n, 'store.jsonl.z')) && statSync(path.join(dir, n, 'store.jsonl.z')).size > 100_000);
    while (!writing()) {
      assert.ok(Date.now() < deadline, 'the child never started writing');
      await new Promise((r) => setTimeout(r, 50));
    }
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    assert.ok(readdirSync(dir).some((n) => n.endsWith('.tmp')), 'the killed build left its temp generation');
    const index = await Bm25Index.open(dir);
    assert.deepEqual(index.searchSync('previous').map((h) => h.docid), ['old']);
    assert.deepEqual(index.searchSync('replacement'), []);
    await index.close();
    await Bm25Index.build([{ id: 'new', text: 'next' }], { dir });
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an index folder holding only another process\'s lock temp file (it is taking the lock right now) is built into; a folder with other files is refused, naming it', async () => {
  const dir = tmp();
  try {
    const temp = `.write.lock.${process.ppid}.0a1b2c3d.tmp`;
    writeFileSync(path.join(dir, temp), '{"pid":1,"host":"h","started":"t"}\n');
    await Bm25Index.build([{ id: 'a', text: 'alpha beta' }], { dir });
    assert.deepEqual((await Bm25Index.open(dir)).searchSync('alpha').map((h) => h.docid), ['a']);
    const other = tmp();
    writeFileSync(path.join(other, 'notes.txt'), 'mine');
    await assert.rejects(Bm25Index.build([{ id: 'a', text: 'alpha' }], { dir: other }), (e: unknown) => QxError.is(e, 'config') && e.message.includes(`${other} is not empty and holds no qx index`));
    rmSync(other, { recursive: true, force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
