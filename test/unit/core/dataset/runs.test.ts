import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QxError } from '../../../../src/core/errors.js';
import { formatRun, readRun, readRunLines, writeRun } from '../../../../src/core/dataset/runs.js';
import type { Run } from '../../../../src/core/dataset/types.js';

import { DATA as data } from '../../../fixtures/dataPaths.js';
const fixtures = resolve(__dirname, '../../../fixtures/dataset');

test('the DL19 BM25 run: 43 queries x 100 hits, numbers read exactly', async () => {
  const run = await readRun(join(data, 'msmarco-dl-bm25-top100-rankllm/trec_results_dl19.txt'));
  assert.equal(run.size, 43);
  assert.ok([...run.values()].every((h) => h.length === 100));
  assert.deepEqual(run.get('264014')![0], { docid: '5611210', score: 15.780599594116211, rank: 1 });
});

test('trec_eval fixture run (TAB-separated, padded scores) keeps tags', async () => {
  const lines = await readRunLines(join(data, 'trec_eval-test-fixtures/results.test'));
  assert.equal(lines.length, 1500);
  assert.deepEqual(lines[0], { qid: '301', docid: 'FR940202-2-00150', rank: 104, score: 2.129133, tag: 'STANDARD' });
});

test('formatRun sorts like trec_eval (score desc, docid desc on ties) and re-ranks 1..n', () => {
  const run: Run = new Map([
    ['q2', [{ docid: 'a', score: 1 }, { docid: 'b', score: 3 }]],
    ['q1', [{ docid: 'd10', score: 2, rank: 1 }, { docid: 'd9', score: 2, rank: 2 }, { docid: 'd2', score: 5, rank: 3 }]],
  ]);
  assert.equal(formatRun(run, 'bm25'), [
    'q2 Q0 b 1 3 bm25', 'q2 Q0 a 2 1 bm25',
    'q1 Q0 d2 1 5 bm25', 'q1 Q0 d9 2 2 bm25', 'q1 Q0 d10 3 2 bm25', '',
  ].join('\n'));
  assert.throws(() => formatRun(run, 'has space'), (e: unknown) => QxError.is(e, 'usage'));
});

test('writeRun writes atomically, leaves no temp file, and reads back the same run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-run-'));
  const f = join(dir, 'sub', 'out.run');
  const run: Run = new Map([['1', [{ docid: 'x', score: 0.1 + 0.2 }, { docid: 'y', score: -1.5e-7 }]]]);
  await writeRun(f, run, 'tag');
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['out.run']);
  const back = await readRun(f);
  assert.deepEqual(back.get('1'), [{ docid: 'x', score: 0.1 + 0.2, rank: 1 }, { docid: 'y', score: -1.5e-7, rank: 2 }]);
  assert.match(readFileSync(f, 'utf8'), /^1 Q0 x 1 0.30000000000000004 tag\n/);
});

test('a run line with a missing score is an error naming file, line and the missing column', async () => {
  const f = join(fixtures, 'run-missing-score.txt');
  await assert.rejects(readRun(f), (e: unknown) =>
    QxError.is(e, 'dataset') && e.file === f && e.line === 2 && /expected 6 columns .* found 5 \(is the tag missing\?\)/.test(e.message));
});

test('a non-numeric score and a duplicate docid are errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-run-'));
  const { writeFileSync } = await import('node:fs');
  const a = join(dir, 'a.run');
  writeFileSync(a, '1 Q0 d1 1 1.5 t\n1 Q0 d2 2 n/a t\n');
  await assert.rejects(readRun(a), (e: unknown) => QxError.is(e, 'dataset') && e.line === 2 && /score "n\/a" is not a number/.test(e.message));
  const b = join(dir, 'b.run');
  writeFileSync(b, '1 Q0 d1 1 1.5 t\n1 Q0 d1 2 1.0 t\n');
  await assert.rejects(readRun(b), (e: unknown) => QxError.is(e, 'dataset') && e.line === 2 && /appears twice/.test(e.message));
});

test('a missing run file is a dataset error', async () => {
  await assert.rejects(readRun(join(fixtures, 'nope.run')), (e: unknown) => QxError.is(e, 'dataset') && /run file not found/.test(e.message));
});
