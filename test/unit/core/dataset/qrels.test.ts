import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QxError } from '../../../../src/core/errors.js';
import { readJudgments, readQrels } from '../../../../src/core/dataset/qrels.js';

import { DATA as data } from '../../../fixtures/dataPaths.js';
const fixtures = resolve(__dirname, '../../../fixtures/dataset');

function gradeHistogram(qrels: Map<string, Map<string, number>>): Record<string, number> {
  const h: Record<string, number> = {};
  for (const m of qrels.values()) for (const g of m.values()) h[g] = (h[g] ?? 0) + 1;
  return h;
}

test('DL19 qrels: 43 queries, 9,260 judgments with the documented grade counts', async () => {
  const qrels = await readQrels(join(data, 'trec-dl-topics-qrels/qrels.dl19-passage.txt'));
  assert.equal(qrels.size, 43);
  assert.deepEqual(gradeHistogram(qrels), { 0: 5158, 1: 1601, 2: 1804, 3: 697 });
});

test('MIRACL qrels are TAB-separated trec qrels', async () => {
  const j = await readJudgments(join(data, 'miracl-zh-dev-topics-qrels/qrels.miracl-v1.0-zh-dev.tsv'));
  assert.equal(j.length, 3928);
  assert.deepEqual(j[0], { qid: '1009493#0', docid: '1016228#22', grade: 1 });
});

test('cranqrel: detected by name, gain = 5 - code, code -1 -> 0', async () => {
  const j = await readJudgments(join(data, 'cranfield/cranqrel'));
  assert.equal(j.length, 1837); // 128 + 387 + 734 + 363 + 225; the last line has no newline
  assert.deepEqual(j[0], { qid: '1', docid: '184', grade: 3 });
  assert.deepEqual(j.find((x) => x.qid === '1' && x.docid === '486'), { qid: '1', docid: '486', grade: 0 });
  const counts: Record<number, number> = {};
  for (const x of j) counts[x.grade] = (counts[x.grade] ?? 0) + 1;
  // codes 1:128 2:387 3:734 4:363 -1:225
  assert.deepEqual(counts, { 4: 128, 3: 387, 2: 734, 1: 363, 0: 225 });
  assert.equal(new Set(j.map((x) => x.qid)).size, 225);
});

test('BEIR qrels TSV with a header line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-qrels-'));
  const f = join(dir, 'test.tsv');
  writeFileSync(f, 'query-id\tcorpus-id\tscore\n1\tdocA\t1\n1\tdocB\t2\n');
  const q = await readQrels(f);
  assert.deepEqual([...q.get('1')!.entries()], [['docA', 1], ['docB', 2]]);
});

test('a qrels line with 3 columns is an error naming file, line and the fix', async () => {
  const f = join(fixtures, 'qrels-3-columns.txt');
  await assert.rejects(readQrels(f), (e: unknown) =>
    QxError.is(e, 'dataset') && e.file === f && e.line === 3 && /expected 4 columns \(qid iter docid grade\), found 3/.test(e.message) && e.hint !== undefined);
});

test('a non-numeric grade is an error naming the value', async () => {
  const f = join(fixtures, 'qrels-bad-grade.txt');
  await assert.rejects(readQrels(f), (e: unknown) => QxError.is(e, 'dataset') && e.file === f && e.line === 2 && /grade "high" is not a number/.test(e.message));
});

test('a duplicate (qid, docid) judgment is an error, not last-wins', async () => {
  const f = join(fixtures, 'qrels-duplicate.txt');
  await assert.rejects(readQrels(f), (e: unknown) => QxError.is(e, 'dataset') && e.line === 4 && /duplicate judgment for qid "1", docid "d1" \(first on line 1\)/.test(e.message));
});

test('a missing qrels file is a dataset error', async () => {
  const f = join(fixtures, 'no-such-qrels.txt');
  await assert.rejects(readQrels(f), (e: unknown) => QxError.is(e, 'dataset') && e.file === f && /qrels file not found/.test(e.message));
});
