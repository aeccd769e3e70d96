import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QxError } from '../../../../src/core/errors.js';
import { type DistillInput, exportDistillation } from '../../../../src/core/export/distill.js';
import type { Qrels, Topic } from '../../../../src/core/dataset/types.js';

const docs = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, '0')}`);
const topics: Topic[] = [
  { qid: 'a_1', text: 'first', conversation: { id: 'a', turn: 1, history: [] } },
  { qid: 'a_2', text: 'and it?', conversation: { id: 'a', turn: 2, history: [{ qid: 'a_1', utterance: 'first', response: 'an answer' }] } },
  { qid: 'b_1', text: 'no judgments' },
  { qid: 'c_1', text: 'positive outside the ranking' },
];
const qrels: Qrels = new Map([
  ['a_1', new Map([['p03', 2], ['p05', 1], ['p07', 0]])],
  ['a_2', new Map([['p10', 1]])],
  ['c_1', new Map([['zz', 2]])],
]);
// The teacher ranks every passage, p00 first, score 30 − i.
const input = (evalQids: string[] = []): DistillInput => ({
  datasetName: 'unit',
  topics,
  qrels,
  teacherRanking: (t) => (t.qid === 'b_1' ? undefined : { candidates: docs.map((d, i) => ({ docid: d, score: 30 - i })), provenance: { kind: 'test' } }),
  docText: (d) => (d === 'zz' || docs.includes(d) ? `text of ${d}` : undefined),
  docIds: () => docs,
  teacherDescription: 'a made-up ranking',
  evalQids,
  evalSplitName: 'test',
  toolVersion: 'unit',
  now: () => new Date('2026-01-01T00:00:00Z'),
});

test('kd-listwise: positives in the ranking plus the asked number of negatives, by teacher score; skips are counted', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'qx-kd-')), 'kd.jsonl');
  const r = await exportDistillation(input(), { format: 'kd-listwise', out, strategy: 'score-bands', negatives: 6, positives: 2, seed: 1, sampleTopK: 20, bands: 3 });
  assert.equal(r.records, 2);
  assert.deepEqual(r.skipped, { noPositive: 2, noTeacher: 0, noNegative: 0, positivesOutsideRanking: 1, docsWithoutText: 0 });
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { qid: string; history: unknown[]; docs: Array<{ docid: string; teacher_score: number; label: number | null }> });
  const a1 = lines[0]!;
  assert.equal(a1.docs.length, 8);
  assert.deepEqual(a1.docs.filter((d) => (d.label ?? 0) > 0).map((d) => d.docid), ['p03', 'p05'], 'the two positives, highest grade first');
  assert.ok(a1.docs.every((d) => d.teacher_score === 30 - docs.indexOf(d.docid)), 'teacher scores are the ranking\'s');
  assert.deepEqual(lines[1]!.history, [{ utterance: 'first', response: 'an answer' }]);
  const m = JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8')) as { sampler: Record<string, unknown>; counts: { records: number } };
  assert.deepEqual(m.sampler.strategy, 'score-bands');
  assert.deepEqual([m.sampler.negativesPerQuery, m.sampler.seed, m.sampler.bands, m.sampler.sampleTopK], [6, 1, 3, 20]);
});

test('contrastive triples keep a positive outside the ranking (teacher_score null); evaluation queries are refused and nothing is written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-kd-'));
  const out = join(dir, 't.jsonl');
  const r = await exportDistillation(input(), { format: 'contrastive-triples', out, strategy: 'random-top-k', negatives: 3, seed: 2, sampleTopK: 10 });
  assert.equal(r.records, 9, '3 queries × 1 positive × 3 negatives');
  const c1 = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { qid: string; positive: { docid: string; teacher_score: number | null } }).filter((l) => l.qid === 'c_1');
  assert.equal(c1[0]!.positive.teacher_score, null);
  const out2 = join(dir, 'eval.jsonl');
  await assert.rejects(exportDistillation(input(['a_2']), { format: 'contrastive-triples', out: out2, strategy: 'top-k-hard' }), (e: unknown) => QxError.is(e, 'export') && /1 queries .* test split \(a_2\)/.test(e.message));
  assert.equal(existsSync(out2), false);
  const ok = await exportDistillation(input(['a_2']), { format: 'contrastive-triples', out: out2, strategy: 'top-k-hard', allowEvalQueries: true });
  assert.ok(ok.records > 0);
  assert.deepEqual((JSON.parse(readFileSync(`${out2}.manifest.json`, 'utf8')) as { leakage: unknown }).leakage, { evalSplit: 'test', evalQueriesInExport: ['a_2'], overridden: true });
});
