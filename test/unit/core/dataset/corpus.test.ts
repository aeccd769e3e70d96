import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { QxError, isCancellationError } from '../../../../src/core/errors.js';
import { readCorpus, readCorpusPool } from '../../../../src/core/dataset/corpus.js';
import type { CorpusDoc } from '../../../../src/core/dataset/types.js';

import { DATA as data } from '../../../fixtures/dataPaths.js';
const fixtures = resolve(__dirname, '../../../fixtures/dataset');

async function all(it: AsyncIterable<CorpusDoc>): Promise<CorpusDoc[]> {
  const out: CorpusDoc[] = [];
  for await (const d of it) out.push(d);
  return out;
}

test('rank_llm DL19 BM25 pool: 4,297 unique passages with text', async () => {
  const docs = await all(readCorpus(join(data, 'msmarco-dl-bm25-top100-rankllm/retrieve_results_dl19.json')));
  assert.equal(docs.length, 4297);
  assert.equal(new Set(docs.map((d) => d.id)).size, 4297);
  assert.equal(docs[0]!.id, '5611210');
  assert.match(docs[0]!.text, /^5\. Cancel\. A flea can live up to a year/);
});

test('readCorpusPool: BM25 and RM3 DL19 pools union to 5,492 passages', async () => {
  const docs = await all(readCorpusPool([
    join(data, 'msmarco-dl-bm25-top100-rankllm/retrieve_results_dl19.json'),
    join(data, 'msmarco-dl-bm25-top100-rankllm/BM25_RM3/retrieve_results_dl19.json'),
  ]));
  assert.equal(docs.length, 5492);
});

test('Cranfield cran.all.1400: 1,400 docs with .T title and .W text, CRLF removed', async () => {
  const docs = await all(readCorpus(join(data, 'cranfield/cran.all.1400')));
  assert.equal(docs.length, 1400);
  assert.deepEqual(docs[0]!.id, '1');
  assert.equal(docs[0]!.title, 'experimental investigation of the aerodynamics of a wing in a slipstream .');
  assert.match(docs[0]!.text, /^experimental investigation of the aerodynamics of a wing in a slipstream \. an experimental study/);
  assert.ok(!docs[0]!.text.includes('brenckman'), 'the .A author line is not text');
  assert.equal(docs[1399]!.id, '1400');
  assert.ok(docs.every((d) => !d.text.includes('\r')));
});

test('jsonl, tsv and csv corpora (id aliases, optional title, quoted multi-line CSV)', async () => {
  assert.deepEqual(await all(readCorpus(join(fixtures, 'corpus.jsonl'))), [
    { id: 'd1', title: 'First', text: 'hello world' },
    { id: '2', text: 'second doc' },
  ]);
  assert.deepEqual(await all(readCorpus(join(fixtures, 'corpus.tsv'))), [
    { id: 'd1', title: 'First', text: 'hello world' },
    { id: 'd2', text: 'second doc' },
  ]);
  assert.deepEqual(await all(readCorpus(join(fixtures, 'corpus.csv'))), [
    { id: 'd1', title: 'First', text: 'hello, world' },
    { id: 'd2', text: 'multi\nline "quoted" text' },
  ]);
});

test('a CSV corpus hands out its header once, and the first byte span starts right after it (BOM and CRLF counted)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-csv-'));
  try {
    const f = join(dir, 'c.csv');
    const bytes = Buffer.from('\ufeffid,title,text\r\nd1,Ä,"one, two"\r\nd2,,three\r\n');
    writeFileSync(f, bytes);
    const headers: string[][] = [];
    const docs = await all(readCorpus(f, undefined, { spans: true, onCsvColumns: (c) => headers.push(c) }));
    assert.deepEqual(headers, [['id', 'title', 'text']]);
    assert.deepEqual(
      docs.map((d) => bytes.subarray(d.span!.start, d.span!.start + d.span!.bytes).toString('utf8')),
      ['d1,Ä,"one, two"\r\n', 'd2,,three\r\n'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('MS MARCO v2 passage lines ({pid, passage, spans, docid}): the passage id, not its document id, and the passage text; gzipped as shipped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-v2-'));
  try {
    // The v2 layout: docid names the document the passage comes from, shared by its passages.
    const lines = [
      { pid: 'msmarco_passage_00_0', passage: 'The hot glowing surfaces of stars emit energy.', spans: '(0,46)', docid: 'msmarco_doc_00_0' },
      { pid: 'msmarco_passage_00_49', passage: 'Stars are huge balls of gas.', spans: '(47,75)', docid: 'msmarco_doc_00_0' },
    ].map((o) => JSON.stringify(o));
    const plain = join(dir, 'msmarco_passage_00.jsonl');
    writeFileSync(plain, lines.join('\n') + '\n');
    const gz = join(dir, 'msmarco_passage_00.gz');
    writeFileSync(gz, gzipSync(readFileSync(plain)));
    const want = [
      { id: 'msmarco_passage_00_0', text: 'The hot glowing surfaces of stars emit energy.' },
      { id: 'msmarco_passage_00_49', text: 'Stars are huge balls of gas.' },
    ];
    assert.deepEqual(await all(readCorpus(plain)), want);
    assert.deepEqual(await all(readCorpus(gz, 'jsonl')), want);
    const bad = join(dir, 'no-text.jsonl');
    writeFileSync(bad, JSON.stringify({ pid: 'p1', spans: '(0,1)' }) + '\n');
    await assert.rejects(all(readCorpus(bad)), (e: unknown) => QxError.is(e, 'dataset') && e.line === 1 && /"contents", "text" or "passage"/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a JSONL line that is not JSON is an error naming file and line', async () => {
  const f = join(fixtures, 'corpus-bad-json.jsonl');
  await assert.rejects(all(readCorpus(f)), (e: unknown) => QxError.is(e, 'dataset') && e.file === f && e.line === 2 && /not valid JSON/.test(e.message));
});

test('a missing corpus file fails before any document', async () => {
  const f = join(fixtures, 'missing.jsonl');
  const it = readCorpus(f);
  await assert.rejects(it.next(), (e: unknown) => QxError.is(e, 'dataset') && e.file === f && /corpus file not found/.test(e.message));
});

test('an aborted signal stops the stream with a cancellation', async () => {
  const ac = new AbortController();
  let n = 0;
  await assert.rejects(async () => {
    for await (const _ of readCorpus(join(data, 'cranfield/cran.all.1400'), undefined, { signal: ac.signal })) {
      if (++n === 10) ac.abort();
    }
  }, (e: unknown) => isCancellationError(e));
  assert.ok(n < 1400);
});

test('progress: reported every N documents and once at the end with the total', async () => {
  const reports: number[] = [];
  const docs = await all(readCorpus(join(data, 'cranfield/cran.all.1400'), 'cranfield', { onProgress: (p) => reports.push(p.done), progressEvery: 500 }));
  assert.equal(docs.length, 1400);
  assert.deepEqual(reports, [500, 1000, 1400]);
});
