import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { QxError } from '../../../../src/core/errors.js';
import { type KdCandidateList, listwiseRecords, marginMseRecords, sampledPairs, topVersusRest, validateKdRecords, writeKdExport } from '../../../../src/core/judge/kdExport.js';

const tmp = mkdtempSync(join(tmpdir(), 'qx-kd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const lists: KdCandidateList[] = [
  {
    qid: 'q1',
    query: 'are sharks warm blooded',
    docs: [
      { docid: 'a', text: 'A', score: 0.4 },
      { docid: 'b', text: 'B', score: 0.9 },
      { docid: 'c', text: 'C', score: 0.4 },
      { docid: 'd', text: 'D', score: 0.1 },
    ],
  },
  { qid: 'q2', query: 'lonely', docs: [{ docid: 'x', text: 'X', score: 0.5 }] },
  { qid: 'q3', query: 'ties only', docs: [{ docid: 'y', text: 'Y', score: 0.5 }, { docid: 'z', text: 'Z', score: 0.5 }] },
];
const provenance = { dataset: 'toy', candidates: 'original top 10', judge: { provider: 'openai-compatible', endpoint: 'http://127.0.0.1:1/v1', model: 'j', template: { id: 'judge-binary', version: 1, hash: '0123456789abcdef' }, mode: 'binary' as const }, toolVersion: 'test', evalQueriesAllowed: false };

describe('KD exports', () => {
  it('MarginMSE: the top-scored candidate against each lower one, margins as labels, ties skipped', () => {
    const rows = marginMseRecords(lists);
    assert.deepEqual(
      rows.map((r) => [r.positive, r.negative, Number(r.label.toFixed(6))]),
      [
        ['B', 'A', 0.5],
        ['B', 'C', 0.5],
        ['B', 'D', 0.8],
      ],
    );
    assert.ok(rows.every((r) => r.query === 'are sharks warm blooded'));
    // Two positives: B against all, then the tie-broken A (docid order) against D only (C ties it).
    const two = marginMseRecords(lists, topVersusRest({ positives: 2, minMargin: 0.3 }));
    assert.deepEqual(two.map((r) => `${r.positive}>${r.negative}`), ['B>A', 'B>C', 'B>D', 'A>D']);
  });

  it('listwise keeps the source order and drops queries with fewer than two candidates', () => {
    const rows = listwiseRecords(lists);
    assert.deepEqual(rows.map((r) => r.qid), ['q1', 'q3']);
    assert.deepEqual(rows[0]!.docs.map((d) => d.docid), ['a', 'b', 'c', 'd']);
  });

  it('writes validated JSONL whose rows have exactly the trainer columns, with a manifest', () => {
    const out = join(tmp, 'mm.jsonl');
    const w = writeKdExport('kd-margin-mse', out, lists, provenance);
    assert.equal(w.records, 3);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of rows) {
      // sentence-transformers: inputs are every non-label column in order; the label column is "label".
      assert.deepEqual(Object.keys(r), ['query', 'positive', 'negative', 'label']);
      assert.equal(typeof r.label, 'number');
    }
    const m = JSON.parse(readFileSync(join(tmp, 'mm.manifest.json'), 'utf8')) as { format: string; records: number; judge: { model: string } };
    assert.equal(m.format, 'kd-margin-mse');
    assert.equal(m.records, 3);
    assert.equal(m.judge.model, 'j');
  });

  it('refuses records outside the schema and an empty export', () => {
    assert.throws(() => validateKdRecords('kd-margin-mse', [{ query: 'q', positive: 'p', negative: 'n', label: 0.1, qid: 'x' }]), (e: unknown) => QxError.is(e, 'export') && /record 1 does not match the kd-margin-mse schema/.test((e as Error).message));
    assert.throws(() => validateKdRecords('kd-listwise', [{ qid: 'q', query: 'q', docs: [{ docid: 'a', text: 'A', score: 'high' }, { docid: 'b', text: 'B', score: 1 }] }]), /kd-listwise schema: \/docs\/0\/score must be number/);
    assert.throws(() => writeKdExport('kd-margin-mse', join(tmp, 'none.jsonl'), [lists[2]!], provenance), /would be empty/);
  });
});

describe('sampledPairs: MarginMSE negatives from the shared sampler', () => {
  const list = {
    qid: 'q1',
    query: 'q',
    docs: [
      { docid: 'd3', text: 't3', score: 0.2 },
      { docid: 'd1', text: 't1', score: 0.9 },
      { docid: 'd5', text: 't5', score: 0.9 },
      { docid: 'd2', text: 't2', score: 0.5 },
      { docid: 'd4', text: 't4', score: 0.1 },
      { docid: 'd6', text: 't6', score: 0.4 },
    ],
  };
  it('the positive is the top-scored candidate; negatives are the count asked for, never the positive nor one scored as high', () => {
    for (const strategy of ['top-k-hard', 'random-top-k', 'score-bands', 'random'] as const) {
      const pairs = sampledPairs({ strategy, count: 3, seed: 7 })(list);
      assert.equal(pairs.length, 3, strategy);
      for (const p of pairs) {
        assert.equal(list.docs[p.positive]!.docid, 'd1', strategy);
        assert.ok(list.docs[p.negative]!.score < 0.9, `${strategy}: a negative below the positive`);
      }
      assert.equal(new Set(pairs.map((p) => p.negative)).size, 3, `${strategy}: distinct negatives`);
      assert.deepEqual(sampledPairs({ strategy, count: 3, seed: 7 })(list), pairs, `${strategy}: same seed, same pairs`);
    }
    // top-k-hard takes the hardest: the next three by teacher score.
    assert.deepEqual(sampledPairs({ strategy: 'top-k-hard', count: 3, seed: 1 })(list).map((p) => list.docs[p.negative]!.docid), ['d2', 'd6', 'd3']);
    // More negatives asked than there are: every eligible one.
    assert.equal(sampledPairs({ strategy: 'random', count: 10, seed: 1 })(list).length, 4);
  });
  it('marginMseRecords with it: labels are positive margins', () => {
    const rows = marginMseRecords([list], sampledPairs({ strategy: 'random-top-k', count: 2, seed: 3 }));
    assert.equal(rows.length, 2);
    for (const r of rows) assert.ok(r.label > 0 && r.positive === 't1');
  });
});
