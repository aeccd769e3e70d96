import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QxError } from '../../../../src/core/errors.js';
import { readTopics } from '../../../../src/core/dataset/topics.js';

import { DATA as data } from '../../../fixtures/dataPaths.js';
const fixtures = resolve(__dirname, '../../../fixtures/dataset');

test('DL19 topics (tsv): 43 queries, first is 156493', async () => {
  const topics = await readTopics(join(data, 'trec-dl-topics-qrels/topics.dl19-passage.txt'));
  assert.equal(topics.length, 43);
  assert.deepEqual(topics[0], { qid: '156493', text: 'do goldfish grow' });
});

test('MIRACL zh topics keep "#" qids and Chinese text', async () => {
  const topics = await readTopics(join(data, 'miracl-zh-dev-topics-qrels/topics.miracl-v1.0-zh-dev.tsv'));
  assert.equal(topics.length, 393);
  assert.deepEqual(topics[0], { qid: '1719936#0', text: '二战是什么时候开始的？' });
});

test('Cranfield queries are numbered by position 1..225, not by their .I ids', async () => {
  const topics = await readTopics(join(data, 'cranfield/cran.qry'));
  assert.equal(topics.length, 225);
  assert.equal(topics[0]!.qid, '1');
  assert.equal(topics[0]!.text, 'what similarity laws must be obeyed when constructing aeroelastic models of heated high speed aircraft .');
  // the third record is ".I 004" but must be qid 3 to match cranqrel
  assert.equal(topics[2]!.qid, '3');
  assert.match(topics[2]!.text, /^what problems of heat conduction in composite slabs/);
  assert.equal(topics[224]!.qid, '225');
  assert.ok(topics.every((t) => !t.text.includes('\r')));
});

test('TREC topics: <num> and multi-line <title>, "Topic:" prefix dropped', async () => {
  const topics = await readTopics(join(fixtures, 'topics-trec.txt'));
  assert.deepEqual(topics, [
    { qid: '301', text: 'International Organized Crime' },
    { qid: '302', text: 'Poliomyelitis and Post-Polio' },
  ]);
});

test('BEIR queries.jsonl, detected from the extension; numeric _id becomes a string', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-topics-'));
  const f = join(dir, 'queries.jsonl');
  writeFileSync(f, '{"_id": 7, "text": "covid origin", "metadata": {}}\n{"_id": "q2", "text": " spaced "}\n');
  assert.deepEqual(await readTopics(f), [{ qid: '7', text: 'covid origin' }, { qid: 'q2', text: 'spaced' }]);
});

test('bad topics: a line without TAB, a duplicate qid, a bad JSON line name file and line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-topics-'));
  const noTab = join(dir, 'a.tsv');
  writeFileSync(noTab, '1\tone\n2 two\n');
  await assert.rejects(readTopics(noTab), (e: unknown) => QxError.is(e, 'dataset') && e.file === noTab && e.line === 2 && /no TAB/.test(e.message));
  const dup = join(dir, 'b.tsv');
  writeFileSync(dup, '1\tone\n2\ttwo\n1\tagain\n');
  await assert.rejects(readTopics(dup), (e: unknown) => QxError.is(e, 'dataset') && e.line === 3 && /duplicate qid "1" \(first on line 1\)/.test(e.message));
  const bad = join(dir, 'c.jsonl');
  writeFileSync(bad, '{"_id": "1", "text": "a"}\n{oops\n');
  await assert.rejects(readTopics(bad), (e: unknown) => QxError.is(e, 'dataset') && e.line === 2 && /not valid JSON/.test(e.message));
});

test('a missing topics file is a dataset error naming the path', async () => {
  const f = join(tmpdir(), 'qx-no-such-dir', 'topics.tsv');
  await assert.rejects(readTopics(f), (e: unknown) => QxError.is(e, 'dataset') && e.file === f && /not found/.test(e.message));
});
