import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { QxError } from '../../../../src/core/errors.js';
import { readExpansionFile } from '../../../../src/core/dataset/expansionFile.js';
import { readTopics } from '../../../../src/core/dataset/topics.js';

import { DATA as data } from '../../../fixtures/dataPaths.js';
const fixtures = resolve(__dirname, '../../../fixtures/dataset');
const dl19Runs = join(data, 'querygym-llm-expansions-dl/runs/msmarco-v1-passage.trecdl2019');

function findTsv(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? findTsv(p) : n.endsWith('.queries.tsv') ? [p] : [];
  });
}

test('every QueryGym DL19 expansion file parses to one row per judged query (43)', async () => {
  const topics = await readTopics(join(data, 'trec-dl-topics-qrels/topics.dl19-passage.txt'));
  const judged = topics.map((t) => t.qid).sort();
  const files = findTsv(dl19Runs);
  assert.equal(files.length, 40);
  assert.ok(files.filter((f) => f.includes('/query2doc/')).length >= 12);
  let multiLine = 0;
  for (const f of files) {
    const rows = await readExpansionFile(f);
    assert.equal(rows.length, 43, f);
    assert.deepEqual(rows.map((r) => r.qid).sort(), judged, f);
    multiLine += rows.filter((r) => r.text.includes('\n')).length;
  }
  assert.ok(multiLine > 0, 'some QueryGym values span lines');
});

test('query2doc rows hold the query repeated 5x followed by the generated passage', async () => {
  const topics = new Map((await readTopics(join(data, 'trec-dl-topics-qrels/topics.dl19-passage.txt'))).map((t) => [t.qid, t.text]));
  for (const f of findTsv(join(dl19Runs, 'query2doc'))) {
    for (const r of await readExpansionFile(f)) {
      const q = topics.get(r.qid)!;
      assert.ok(r.text.startsWith(Array(5).fill(q).join(' ')), `${f} ${r.qid}`);
    }
  }
});

test('a quoted multi-line value is kept intact with its start line', async () => {
  const f = findTsv(dl19Runs).find((p) => readFileSync(p, 'utf8').includes('"\n') || /\t"[^\n]*\n/.test(readFileSync(p, 'utf8')))!;
  const rows = await readExpansionFile(f);
  const lines = readFileSync(f, 'utf8').split('\n');
  const multi = rows.find((r) => r.text.includes('\n'))!;
  assert.ok(multi, 'a multi-line row exists');
  // the row starts on the line that begins with its qid and an opening quote
  assert.ok(lines[multi.line - 1]!.startsWith(`${multi.qid}\t"`), `line ${multi.line} of ${f}`);
  const next = rows[rows.indexOf(multi) + 1];
  if (next) assert.ok(lines[next.line - 1]!.startsWith(`${next.qid}\t`));
});

test('RFC-4180 quoting: "" escapes and embedded newlines; blank lines skipped', async () => {
  const rows = await readExpansionFile(join(fixtures, 'expansions-good.tsv'));
  assert.deepEqual(rows, [
    { qid: '1', text: 'plain expansion', line: 1 },
    { qid: '2', text: 'quoted with "inner" quotes\nand a second line', line: 2 },
    { qid: '3', text: 'third', line: 5 },
  ]);
});

test('an unterminated quote is an error naming the line where the quote opens', async () => {
  const f = join(fixtures, 'expansions-unterminated.tsv');
  await assert.rejects(readExpansionFile(f), (e: unknown) =>
    QxError.is(e, 'dataset') && e.file === f && e.line === 4 && /never closed/.test(e.message) && /""/.test(e.hint ?? ''));
});

test('JSONL expansions: qid + text, other fields kept; a non-JSON line is an error', async () => {
  const f = join(fixtures, 'expansions-bad-json.jsonl');
  await assert.rejects(readExpansionFile(f), (e: unknown) => QxError.is(e, 'dataset') && e.file === f && e.line === 3 && /not valid JSON/.test(e.message));
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const g = join(mkdtempSync(join(tmpdir(), 'qx-exp-')), 'ok.jsonl');
  writeFileSync(g, '{"qid": 1, "text": "expanded one", "model": "m1"}\n{"qid": "2", "expansion": "two"}\n');
  assert.deepEqual(await readExpansionFile(g), [
    { qid: '1', text: 'expanded one', line: 1, extra: { model: 'm1' } },
    { qid: '2', text: 'two', line: 2 },
  ]);
});
