// The document store of an on-disk index: pointers into the user's corpus (byte spans + a
// fingerprint of the file) or a copy. What a user notices: doc(docid) returns the right text,
// the index stays searchable, and a moved or edited corpus is a clear error saying what to do.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bm25Index } from '../../../../src/core/bm25/bm25Index.js';
import { corpusForIndex, planDocStore } from '../../../../src/core/bm25/docStore.js';
import { readCorpus } from '../../../../src/core/dataset/corpus.js';
import { QxError } from '../../../../src/core/errors.js';
import type { CorpusDoc } from '../../../../src/core/dataset/types.js';

const tmp = mkdtempSync(join(tmpdir(), 'qx-docstore-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function write(name: string, content: string | Buffer): string {
  const f = join(tmp, `${n++}-${name}`);
  writeFileSync(f, content);
  return f;
}

async function build(corpus: string, copyDocs = false): Promise<{ index: Bm25Index; dir: string; mode: string }> {
  const dir = join(tmp, `idx-${n++}`);
  const { docs, plan } = await corpusForIndex([corpus], undefined, { copyDocs });
  const { index } = await Bm25Index.build(docs, { dir, store: plan });
  return { index, dir, mode: plan.mode };
}

/** Every document of the corpus, read back through the index's store, equals what the reader yields. */
async function assertStoreMatchesReader(index: Bm25Index, corpus: string): Promise<CorpusDoc[]> {
  const expected: CorpusDoc[] = [];
  for await (const d of readCorpus(corpus)) expected.push(d);
  for (const d of expected) assert.deepEqual(await index.doc(d.id), d, `document ${d.id}`);
  return expected;
}

function storeFiles(dir: string): string[] {
  const gen = readdirSync(dir).find((e) => e.startsWith('gen-'))!;
  return readdirSync(join(dir, gen)).filter((f) => f.startsWith('store.'));
}

test('indexing one corpus file reports megabytes of it with a total, the documents so far and an ETA, then the documents at the end', async () => {
  const lines: string[] = [];
  for (let i = 0; i < 8000; i++) lines.push(JSON.stringify({ id: `p${i}`, text: `passage ${i} about rivers, lakes and the ${i % 97} boats that sail on them `.repeat(6) }));
  const corpus = write('progress.jsonl', lines.join('\n') + '\n');
  const size = statSync(corpus).size;
  assert.ok(size > 2e6, 'the corpus spans several megabytes');
  const seen: { done: number; total?: number; unit?: string; message?: string }[] = [];
  const { docs, plan, onProgress } = await corpusForIndex([corpus], undefined, { onProgress: (p) => seen.push(p) });
  await Bm25Index.build(docs, { dir: join(tmp, `idx-${n++}`), store: plan, ...(onProgress === undefined ? {} : { onProgress }), threads: 0 });
  const mb = seen.filter((p) => p.unit === 'MB');
  assert.ok(mb.length >= 3, `one report per 1,000 documents while reading (got ${mb.length})`);
  for (const p of mb) {
    assert.equal(p.total, Math.ceil(size / 1e6), 'the bar ends at the file size');
    assert.ok(p.done <= p.total!, 'never past the end');
    assert.match(p.message ?? '', /^[\d,]+ documents/);
  }
  assert.ok(mb.some((p) => /ETA \d+ (s|min)/.test(p.message ?? '')), `an ETA while reading: ${mb.map((p) => p.message).join(' | ')}`);
  const last = seen.at(-1)!;
  assert.deepEqual([last.unit, last.done, last.total], ['documents', 8000, 8000], 'the final report counts documents');
});

test('JSONL with CRLF endings, multi-byte UTF-8, a BOM, blank lines and no final newline: pointed reads are exact', async () => {
  const lines = [
    JSON.stringify({ id: 'a', text: 'café au lait, naïve façade' }),
    '',
    JSON.stringify({ id: 'b', title: '北京大学', text: '中文 文本 和 emoji 🎉 mixed' }),
    JSON.stringify({ id: 'c', text: 'plain ascii text about rivers' }),
    JSON.stringify({ id: 'd', text: 'the last line has no newline ✓' }),
  ];
  const corpus = write('c.jsonl', '\ufeff' + lines.join('\r\n'));
  const { index, dir, mode } = await build(corpus);
  assert.equal(mode, 'pointer');
  assert.deepEqual(storeFiles(dir), ['store.ptr'], 'no copy of the texts in the index');
  const docs = await assertStoreMatchesReader(index, corpus);
  assert.equal(docs.length, 4);
  assert.equal((await index.doc('d'))!.text, 'the last line has no newline ✓');
  assert.deepEqual((await index.search('rivers')).map((h) => h.docid), ['c']);
  await index.close();
});

test('TSV (MS MARCO collection.tsv layout) with multi-byte text and CRLF: pointed reads are exact', async () => {
  const corpus = write('collection.tsv', ['0\tThe presence of communication amid scientific minds', '1\tÜber 50 % der Fläche — ein Test', '2\tthird passage\tA Title', '3\tno final newline'].join('\r\n'));
  const { index, mode } = await build(corpus);
  assert.equal(mode, 'pointer');
  await assertStoreMatchesReader(index, corpus);
  assert.equal((await index.doc('1'))!.text, 'Über 50 % der Fläche — ein Test');
  await index.close();
});

test('CSV with quoted values holding commas, quotes and line breaks: pointed reads are exact', async () => {
  const corpus = write(
    'c.csv',
    '\ufeffid,text,title\r\n' +
      'd1,"hello, wörld",First\r\n' +
      'd2,"multi\r\nline ""quoted"" text",\r\n' +
      '\r\n' +
      'd3,"ends here ✓\nwith LF inside",Third',
  );
  const { index, mode } = await build(corpus);
  assert.equal(mode, 'pointer');
  const docs = await assertStoreMatchesReader(index, corpus);
  assert.deepEqual(
    docs.map((d) => d.id),
    ['d1', 'd2', 'd3'],
  );
  assert.equal((await index.doc('d2'))!.text, 'multi\r\nline "quoted" text');
  await index.close();
});

test('a duplicate id keeps pointing at the first record', async () => {
  const corpus = write('dup.jsonl', [{ id: 'x', text: 'first version' }, { id: 'y', text: 'other' }, { id: 'x', text: 'second version' }].map((d) => JSON.stringify(d)).join('\n') + '\n');
  const { index } = await build(corpus);
  assert.equal((await index.doc('x'))!.text, 'first version');
  assert.equal((await index.doc('y'))!.text, 'other');
  await index.close();
});

test('search results and doc() are the same with a pointer store and a copied store', async () => {
  const words = ['river', 'bank', 'money', 'water', 'flow', 'loan', 'fish', 'bridge', 'città', 'straße'];
  const rows: string[] = [];
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 300; i++) {
    const len = 3 + Math.floor(rnd() * 12);
    rows.push(`p${i}\t${Array.from({ length: len }, () => words[Math.floor(rnd() * words.length)]).join(' ')}`);
  }
  const corpus = write('rand.tsv', rows.join('\n') + '\n');
  const pointer = await build(corpus);
  const copy = await build(corpus, true);
  assert.equal(pointer.mode, 'pointer');
  assert.equal(copy.mode, 'copy');
  assert.deepEqual(storeFiles(copy.dir), ['store.blk', 'store.jsonl.z', 'store.off']);
  for (const q of ['river bank', 'money loan', 'fish bridge water', 'straße']) {
    const a = await pointer.index.search(q, { k: 50 });
    assert.ok(a.length > 0);
    assert.deepEqual(a, await copy.index.search(q, { k: 50 }), q);
    for (const h of a.slice(0, 5)) assert.deepEqual(await pointer.index.doc(h.docid), await copy.index.doc(h.docid));
  }
  await pointer.index.close();
  await copy.index.close();
});

test('a copied store compressed in blocks: every document of a multi-block store reads back, in any order; a damaged block is an index error', async () => {
  const rows: string[] = [];
  for (let i = 0; i < 4000; i++) rows.push(JSON.stringify(i % 7 === 0 ? { id: `q${i}`, title: `Titel ${i} — ü`, text: `document ${i} ${'lorem ipsum '.repeat(i % 13)}` } : { id: `q${i}`, text: `document ${i} über ${'dolor '.repeat(i % 17)}` }));
  const corpus = write('blocks.jsonl', rows.join('\n') + '\n');
  const { index, dir, mode } = await build(corpus, true);
  assert.equal(mode, 'copy');
  const gen = readdirSync(dir).find((e) => e.startsWith('gen-'))!;
  const z = join(dir, gen, 'store.jsonl.z');
  assert.ok(statSync(z).size < statSync(corpus).size / 2, `compressed ${statSync(z).size} of ${statSync(corpus).size} bytes`);
  const blocks = statSync(join(dir, gen, 'store.blk')).size / 16 - 1;
  assert.ok(blocks >= 3, `${blocks} blocks`);
  const expected: CorpusDoc[] = [];
  for await (const d of readCorpus(corpus)) expected.push(d);
  const order = expected.map((_, i) => (i * 2654435761) % expected.length);
  for (const i of order) assert.deepEqual(await index.doc(expected[i]!.id), expected[i], expected[i]!.id);
  await index.close();
  // Flip bytes in the middle of the compressed data.
  const buf = readFileSync(z);
  buf.fill(0x55, buf.length >> 1, (buf.length >> 1) + 64);
  writeFileSync(z, buf);
  const damaged = await Bm25Index.open(dir);
  await assert.rejects(
    (async () => {
      for (const d of expected) await damaged.doc(d.id);
    })(),
    (e: unknown) => e instanceof QxError && e.code === 'index' && e.file === z && /damaged/.test(e.message),
  );
  await damaged.close();
});

async function docError(dir: string, docid: string): Promise<QxError> {
  const index = await Bm25Index.open(dir);
  try {
    await index.doc(docid);
  } catch (e) {
    assert.ok(e instanceof QxError, String(e));
    return e;
  } finally {
    await index.close();
  }
  assert.fail('expected an error');
}

test('an edited, truncated, touched or moved corpus is a clear error naming the file and the fix; search still works', async () => {
  const body = [{ id: 'a', text: 'alpha river' }, { id: 'b', text: 'beta bank' }, { id: 'c', text: 'gamma loan' }].map((d) => JSON.stringify(d)).join('\n') + '\n';
  const corpus = write('edit.jsonl', body);
  const { index, dir } = await build(corpus);
  await index.close();

  // Same size, different content, same mtime: the sampled hash catches it.
  const st = statSync(corpus);
  writeFileSync(corpus, body.replace('alpha', 'ALPHA'));
  utimesSync(corpus, st.atimeMs / 1000, st.mtimeMs / 1000);
  let e = await docError(dir, 'a');
  assert.equal(e.code, 'index');
  assert.equal(e.file, corpus);
  assert.match(e.message, /changed since the index was built \(content differs\)/);
  assert.match(e.hint ?? '', new RegExp(`qx index --corpus ${corpus.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --out`));
  assert.match(e.hint ?? '', /--copy-docs/);

  // Appended to: size differs.
  writeFileSync(corpus, body);
  appendFileSync(corpus, JSON.stringify({ id: 'd', text: 'delta' }) + '\n');
  e = await docError(dir, 'b');
  assert.match(e.message, /size \d+ → \d+ bytes/);

  // Truncated.
  writeFileSync(corpus, body.slice(0, 30));
  e = await docError(dir, 'c');
  assert.match(e.message, /size/);

  // Same bytes, only the modification time changed (e.g. touched): still refused, the index cannot tell.
  writeFileSync(corpus, body);
  e = await docError(dir, 'a');
  assert.match(e.message, /modified/);

  // Moved away: missing.
  utimesSync(corpus, st.atimeMs / 1000, st.mtimeMs / 1000);
  const moved = corpus + '.moved';
  renameSync(corpus, moved);
  e = await docError(dir, 'a');
  assert.match(e.message, /is missing \(moved or deleted\)/);
  assert.equal(e.file, corpus);

  // Put back unchanged (same bytes and mtime): texts are readable again, and searching never needed them.
  renameSync(moved, corpus);
  const again = await Bm25Index.open(dir);
  assert.deepEqual(await again.doc('a'), { id: 'a', text: 'alpha river' });
  renameSync(corpus, moved);
  assert.deepEqual((await again.search('bank')).map((h) => h.docid), ['b']);
  await again.close();
  const blind = await Bm25Index.open(dir);
  assert.deepEqual((await blind.search('loan')).map((h) => h.docid), ['c'], 'search works without the corpus');
  await blind.close();
});

test('automatic choice: a pointer for one plain jsonl/tsv/csv file, a copy for gzip, pools, rank_llm JSON, Cranfield and --copy-docs', async () => {
  const jsonl = write('p.jsonl', '{"id":"a","text":"x"}\n');
  assert.equal((await planDocStore([jsonl], undefined)).mode, 'pointer');
  assert.deepEqual(await planDocStore([jsonl], undefined, true), { mode: 'copy', reason: 'asked for (--copy-docs)' });
  assert.equal((await planDocStore([jsonl, jsonl], undefined)).mode, 'copy');
  assert.equal((await planDocStore([write('r.json', '[]')], undefined)).mode, 'copy');
  const cran = join(mkdtempSync(join(tmp, 'cran-')), 'cran.all.1400');
  writeFileSync(cran, '.I 1\n');
  assert.equal((await planDocStore([cran], undefined)).mode, 'copy');
  const { gzipSync } = await import('node:zlib');
  // Detected by the magic bytes, even under a name without .gz.
  const plan = await planDocStore([write('hidden.jsonl', gzipSync('{"id":"a","text":"x"}\n'))], undefined);
  assert.deepEqual(plan, { mode: 'copy', reason: 'the corpus is a gzip file' });
});

test('the store mode is recorded in the index metadata', async () => {
  const corpus = write('m.tsv', '1\tone\n2\ttwo\n');
  const { index, dir } = await build(corpus);
  await index.close();
  const gen = readdirSync(dir).find((e) => e.startsWith('gen-'))!;
  const meta = JSON.parse(readFileSync(join(dir, gen, 'meta.json'), 'utf8')) as { store: { mode: string; corpus: string; format: string; fingerprint: { size: number } } };
  assert.equal(meta.store.mode, 'pointer');
  assert.equal(meta.store.corpus, corpus);
  assert.equal(meta.store.format, 'tsv');
  assert.equal(meta.store.fingerprint.size, statSync(corpus).size);
});

test('an index built before pointer stores (plain store.jsonl, no "store" in meta.json) still opens and reads its texts', async () => {
  const corpus = write('legacy.jsonl', [{ id: 'a', text: 'alpha river' }, { id: 'b', title: 'B', text: 'beta bank' }].map((d) => JSON.stringify(d)).join('\n') + '\n');
  const { index, dir } = await build(corpus, true);
  await index.close();
  // Rewrite the generation the way the previous qx wrote it: JSONL texts, Float64 offsets, no store field.
  const gen = join(dir, readdirSync(dir).find((e) => e.startsWith('gen-'))!);
  const lines = [JSON.stringify({ id: 'a', text: 'alpha river' }) + '\n', JSON.stringify({ id: 'b', title: 'B', text: 'beta bank' }) + '\n'];
  writeFileSync(join(gen, 'store.jsonl'), lines.join(''));
  for (const f of ['store.jsonl.z', 'store.blk']) rmSync(join(gen, f));
  const meta = JSON.parse(readFileSync(join(gen, 'meta.json'), 'utf8')) as { store?: unknown; files: { name: string; bytes: number; crc32: number }[] };
  delete meta.store;
  meta.files = meta.files.filter((f) => !['store.jsonl.z', 'store.blk'].includes(f.name));
  meta.files.push({ name: 'store.jsonl', bytes: Buffer.byteLength(lines.join('')), crc32: -1 });
  writeFileSync(join(gen, 'meta.json'), JSON.stringify(meta));
  const old = await Bm25Index.open(dir);
  assert.deepEqual(await old.doc('b'), { id: 'b', title: 'B', text: 'beta bank' });
  assert.deepEqual((await old.search('river')).map((h) => h.docid), ['a']);
  await old.close();
});
