import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QxError } from '../../../../src/core/errors.js';
import { readConversations, readRewrites } from '../../../../src/core/dataset/conversations.js';
import { MANIFEST_FILE, loadDataset, loadManifest } from '../../../../src/core/dataset/manifest.js';
import { readQrels } from '../../../../src/core/dataset/qrels.js';
import { readTopics } from '../../../../src/core/dataset/topics.js';
import { DATA } from '../../../fixtures/dataPaths.js';

const cast = join(DATA, 'trec-cast');
const y19 = join(cast, '2019/data/evaluation/evaluation_topics_v1.0.json');
const y19resolved = join(cast, '2019/data/evaluation/evaluation_topics_annotated_resolved_v1.0.tsv');
const y20manual = join(cast, '2020/2020_manual_evaluation_topics_v1.0.json');
const y20auto = join(cast, '2020/2020_automatic_evaluation_topics_v1.0.json');
const fixtures = resolve(__dirname, '../../../fixtures/dataset/conversational');

/** Judged turns: topics with at least one judgment in the qrels. */
function judged(topics: { qid: string }[], qrels: Map<string, unknown>): number {
  return topics.filter((t) => qrels.has(t.qid)).length;
}

/** The counts a shell reader gets from the same files, independent of our parser. */
function shellCount(cmd: string): number {
  return Number(execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim());
}

test('CAsT 2019 evaluation topics: 50 conversations, 479 turns, 173 judged, manual rewrites from the resolved TSV', async () => {
  const convs = await readConversations(y19);
  assert.equal(convs.length, 50);
  assert.equal(convs.reduce((s, c) => s + c.turns.length, 0), 479);
  // The same counts straight from the file: one "raw_utterance" per turn, one "turn" list per conversation.
  assert.equal(shellCount(`grep -c '"raw_utterance"' '${y19}'`), 479);
  assert.equal(shellCount(`grep -c '"turn"' '${y19}'`), 50);
  const first = convs[0]!;
  assert.equal(first.id, '31');
  assert.equal(first.turns[1]!.qid, '31_2');
  assert.equal(first.turns[1]!.utterance, 'Is it treatable?');
  assert.deepEqual(first.turns[1]!.rewrites, {}, '2019 topics carry no rewrite');
  assert.equal(first.turns[3]!.utterance, 'What are its symptoms?', 'utterances are trimmed');

  const rewrites = await readRewrites(y19resolved);
  assert.equal(rewrites.size, 479);
  assert.equal(rewrites.get('31_2')?.text, 'Is throat cancer treatable?');

  const qrels = await readQrels(join(cast, '2019/data/2019qrels.txt'));
  assert.equal(qrels.size, 173);
  assert.equal(shellCount(`awk '{print $1}' '${join(cast, '2019/data/2019qrels.txt')}' | sort -u | wc -l`), 173);
  const topics = await readTopics(y19);
  assert.equal(judged(topics, qrels), 173, 'every judged qid is a turn of the topics');
});

test('CAsT 2019 topics as queries: history is every earlier raw utterance, never a rewrite', async () => {
  const topics = await readTopics(y19);
  const t = topics.find((q) => q.qid === '31_4')!;
  assert.equal(t.text, 'What are its symptoms?');
  assert.deepEqual(t.conversation, {
    id: '31',
    turn: 4,
    history: [
      { qid: '31_1', utterance: 'What is throat cancer?' },
      { qid: '31_2', utterance: 'Is it treatable?' },
      { qid: '31_3', utterance: 'Tell me about lung cancer.' },
    ],
  });
  assert.deepEqual(topics.find((q) => q.qid === '31_1')!.conversation?.history, []);
});

test('CAsT 2020 manual and automatic topic files: 25 conversations, 216 turns, 208 judged, rewrites per turn', async () => {
  const manual = await readConversations(y20manual);
  const auto = await readConversations(y20auto);
  for (const convs of [manual, auto]) {
    assert.equal(convs.length, 25);
    assert.equal(convs.reduce((s, c) => s + c.turns.length, 0), 216);
  }
  assert.equal(shellCount(`grep -c '"raw_utterance"' '${y20manual}'`), 216);
  const t = manual[0]!.turns[1]!;
  assert.equal(t.qid, '81_2');
  assert.equal(t.utterance, 'Now it stopped working. Why?');
  assert.deepEqual(t.rewrites, { manual: 'Now my garage door opener stopped working. Why?', automatic: 'Why did garage door opener stop working?' });
  assert.equal(t.canonicalResult, 'MARCO_3942603');
  const a = auto[0]!.turns[1]!;
  assert.deepEqual(a.rewrites, { automatic: 'Why did garage door opener stop working?' }, 'the automatic file has no manual rewrite');
  assert.equal(a.canonicalResult, 'MARCO_5498474');
  const withManual = manual.flatMap((c) => c.turns).filter((x) => x.rewrites.manual !== undefined).length;
  assert.equal(withManual, shellCount(`grep -c '"manual_rewritten_utterance"' '${y20manual}'`));

  const qrels = await readQrels(join(cast, '2020/2020qrels.txt'));
  assert.equal(qrels.size, 208);
  assert.equal(judged(await readTopics(y20manual), qrels), 208);
});

test('a CAsT manifest with a resolved-rewrite file: topics get their manual rewrite; the counts hold through the manifest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-cast-'));
  writeFileSync(join(dir, 'corpus.jsonl'), '{"id": "CAR_x", "contents": "throat cancer"}\n');
  const manifest = {
    version: 1,
    name: 'cast19',
    language: 'en',
    split: 'test',
    topics: { path: y19 },
    rewrites: [{ path: y19resolved, kind: 'manual' }],
    qrels: { path: join(cast, '2019/data/2019qrels.txt') },
    corpus: { path: 'corpus.jsonl' },
  };
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest));
  const m = await loadManifest(dir);
  assert.deepEqual(m.rewrites, [{ path: y19resolved, kind: 'manual' }]);
  const ds = await loadDataset(m);
  assert.equal(ds.topics.length, 479);
  assert.equal(ds.topics.filter((t) => t.rewrites?.manual !== undefined).length, 479);
  assert.equal(ds.topics.find((t) => t.qid === '31_2')!.rewrites?.manual, 'Is throat cancer treatable?');

  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify({ ...manifest, rewrites: [{ path: y19resolved, kind: 'human' }] }));
  await assert.rejects(loadManifest(dir), (e: unknown) => QxError.is(e, 'config') && /rewrites\[0\]\.kind.*manual, automatic/.test(e.message));

  // Rewrites of another year's turns are refused with the line, not half-applied.
  const other = join(dir, 'other.tsv');
  writeFileSync(other, '31_1\tWhat is throat cancer?\n999_1\tNot a turn\n');
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify({ ...manifest, rewrites: [{ path: other, kind: 'automatic' }] }));
  await assert.rejects(loadDataset(await loadManifest(dir)), (e: unknown) => QxError.is(e, 'dataset') && e.message.startsWith(`${other}:2: rewrite of "999_1"`));
});

test('QReCC: turns grouped by Conversation_no, the person\'s Rewrite kept as manual, answers in the history', async () => {
  const convs = await readConversations(join(fixtures, 'qrecc-sample.json'));
  assert.deepEqual(convs.map((c) => [c.id, c.turns.length]), [['74', 2], ['75', 1]]);
  const topics = await readTopics(join(fixtures, 'qrecc-sample.json'));
  const t = topics.find((q) => q.qid === '74_2')!;
  assert.equal(t.text, 'Tell me more about Tesla');
  assert.deepEqual(t.rewrites, { manual: 'Tell me more about Tesla the car company.' });
  assert.equal(t.conversation?.history.length, 1);
  assert.equal(t.conversation?.history[0]?.utterance, 'What are the pros and cons of electric cars?');
  assert.match(t.conversation?.history[0]?.response ?? '', /^Some pros are/);
});

test('TopiOCQA JSON Lines: turns with answers and the topic as title; no rewrite', async () => {
  const convs = await readConversations(join(fixtures, 'topiocqa-sample.jsonl'));
  assert.equal(convs.length, 1);
  assert.equal(convs[0]!.title, 'Australian contribution to the Battle of Normandy');
  const topics = await readTopics(join(fixtures, 'topiocqa-sample.jsonl'));
  assert.deepEqual(topics.map((t) => t.qid), ['1_1', '1_2']);
  assert.equal(topics[1]!.rewrites, undefined);
  assert.equal(topics[1]!.conversation?.history[0]?.response, 'The army personnel and thousands of Australian airmen took part in the invasion.');
});

test('bad conversational files name the file, the line and the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-conv-bad-'));
  const f = join(dir, 'cast.json');
  writeFileSync(f, '[\n  {"number": 1, "turn": [\n    {"number": 1, "raw_utterance": "a"},\n    {"number": 2, "raw_utterance": "  "}\n  ]}\n]\n');
  await assert.rejects(readConversations(f), (e: unknown) => QxError.is(e, 'dataset') && e.message.startsWith(`${f}:4: turn 1_2 has no "raw_utterance"`));
  writeFileSync(f, '[\n  {"number": 1, "turn": [\n    {"number": 1, "raw_utterance": "a"},\n    {"number": 1, "raw_utterance": "b"}\n  ]}\n]\n');
  await assert.rejects(readConversations(f), (e: unknown) => QxError.is(e, 'dataset') && e.message.startsWith(`${f}:4: duplicate turn "1_1" (first on line 3)`));
  const q = join(dir, 'qrecc.jsonl');
  writeFileSync(q, '{"Conversation_no": 1, "Turn_no": 1, "Question": "q", "Rewrite": "r"}\n{"Conversation_no": 1, "Turn_no": 2, "Question": "q2", "Rewrite": ""}\n');
  await assert.rejects(readConversations(q, 'qrecc-json'), (e: unknown) => QxError.is(e, 'dataset') && e.message.startsWith(`${q}:2: turn 1_2 has no "Rewrite"`) && /topiocqa-json/.test(e.message));
  writeFileSync(q, '{"Conversation_no": 1, "Turn_no": 1, "Question": "q"\n');
  await assert.rejects(readConversations(q, 'topiocqa-json'), (e: unknown) => QxError.is(e, 'dataset') && e.message.startsWith(`${q}:1: not valid JSON`));
  const tsv = join(dir, 'rw.tsv');
  writeFileSync(tsv, '1_1\tok\n1_2 no tab\n');
  await assert.rejects(readRewrites(tsv), (e: unknown) => QxError.is(e, 'dataset') && e.message.startsWith(`${tsv}:2: expected "qid<TAB>rewrite"`));
});
