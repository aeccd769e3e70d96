import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Bm25Index } from '../../../../src/core/bm25/bm25Index.js';
import { rm3Query, rm3Search } from '../../../../src/core/bm25/rm3.js';
import { readCorpus } from '../../../../src/core/dataset/corpus.js';
import { QxError } from '../../../../src/core/errors.js';
import { scoreRanking } from '../../../../src/core/feedback/score.js';
import { nullLogger } from '../../../../src/core/logger.js';
import type { QxSettings } from '../../../../src/core/workspace/api.js';
import { defaultSettings, withSettings } from '../../../../src/core/workspace/settings.js';
import { openWorkspace, type Workspace } from '../../../../src/core/workspace/workspace.js';

const repo = resolve(__dirname, '../../../..');
const sample = join(repo, 'samples', 'dl19');
const signal = new AbortController().signal;
const tmp = mkdtempSync(join(tmpdir(), 'qx-baseline-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const open = (dir: string, settings: QxSettings = defaultSettings): Promise<Workspace> => openWorkspace(dir, { settings, logger: nullLogger, getApiKey: async () => undefined });
const teacherFs = { file: 'expansions/Qwen2.5-72B-Instruct.query2doc-fs.0656857b.queries.tsv', model: 'Qwen2.5-72B-Instruct', method: 'query2doc-fs', role: 'teacher' as const };
const studentFs = { file: 'expansions/Qwen2.5-7B-Instruct.query2doc-fs.79962ac6.queries.tsv', model: 'Qwen2.5-7B-Instruct', method: 'query2doc-fs', role: 'student' as const };

function copySample(name: string): string {
  const dir = join(tmp, name);
  cpSync(sample, dir, { recursive: true, filter: (p) => !p.includes(join(sample, '.qx')) });
  return dir;
}

describe('the RM3 baseline on the DL19 sample', () => {
  let dir: string;
  let ws: Workspace;
  /** The sample's pool indexed apart from the workspace, with the same (default) settings. */
  let index: Bm25Index;
  before(async () => {
    dir = copySample('rm3');
    ws = await open(dir);
    for (const f of [teacherFs, studentFs]) await ws.importExpansions(f, { signal });
    index = (await Bm25Index.build(readCorpus(join(sample, 'corpus.dl19-pool.jsonl'), 'jsonl'))).index;
  });
  after(async () => {
    await ws.close();
    await index.close();
  });

  test('adds one baseline per query with the Anserini defaults recorded, and a rerun adds nothing', async () => {
    const first = await ws.expandBaseline({ method: 'rm3' }, { signal });
    assert.equal(first.added, 43);
    assert.equal(first.present, 0);
    assert.deepEqual([first.parameters.fbDocs, first.parameters.fbTerms, first.parameters.originalQueryWeight], [10, 10, 0.5]);
    const again = await ws.expandBaseline({ method: 'rm3' }, { signal });
    assert.deepEqual([again.added, again.present], [0, 43]);
    for (const q of ws.listQueries()) assert.equal(q.expansions, 3, `${q.qid}: teacher, student and one RM3`);
  });

  test('each stored baseline is the RM3 query of rm3Query, rendered readably, and searches to the rm3Search run', async () => {
    // Reopen so the records come back from the store's JSON, as a later session would read them.
    await ws.close();
    ws = await open(dir);
    for (const t of ws.topics) {
      const rm3 = ws.getQueryReview(t.qid).expansions.map((e) => e.expansion).filter((e) => e.role === 'baseline');
      assert.equal(rm3.length, 1, t.qid);
      const e = rm3[0]!;
      assert.deepEqual([e.method, e.model, e.provider], ['rm3', 'BM25+RM3', 'rm3']);
      const expected = rm3Query(index, t.text);
      assert.deepEqual(e.weightedQuery?.terms, [...expected], `${t.qid}: same terms, weights and order`);
      assert.equal(e.final, [...expected].map(([term, w]) => `${term}^${w.toFixed(4)}`).join(' '));
      assert.deepEqual(index.searchWeighted(new Map(e.weightedQuery!.terms), 1000), rm3Search(index, t.text), `${t.qid}: the stored query gives the rm3Search run`);
    }
  });

  test('scoring gives per query the scores of the rm3Search run, and the report a baseline row of 0.4690 (bench/RESULTS.md)', async () => {
    const r = await ws.score({ signal });
    assert.equal(r.scored, 3 * 43);
    const settings = { topK: 1000, relevanceLevel: 2 };
    for (const t of ws.topics) {
      const review = ws.getQueryReview(t.qid);
      const e = review.expansions.find((x) => x.expansion.role === 'baseline')!;
      const original = { ndcg10: review.original!.ndcg10, top10: review.original!.top10 };
      const expected = scoreRanking(e.expansion.id, t.qid, rm3Search(index, t.text), ws.qrels.get(t.qid), settings, original);
      assert.deepEqual(e.score, expected, t.qid);
    }
    const report = ws.report();
    const row = report.methods.find((m) => m.role === 'baseline');
    assert.ok(row !== undefined, 'a baseline row');
    assert.deepEqual([row.method, row.model, row.queries, row.samplesPerQuery], ['rm3', 'BM25+RM3', 43, 1]);
    assert.equal(row.meanNdcg10.toFixed(4), '0.4690');
    assert.ok(Math.abs(row.meanDelta - (row.meanNdcg10 - report.original.meanNdcg10)) < 1e-12);
    assert.equal(row.wins + row.ties + row.losses, 43);
    assert.notEqual(row.tTest, null);
    assert.ok(report.studentVsTeacher.every((c) => !c.student.startsWith('baseline/') && !c.teacher.startsWith('baseline/')));
    assert.equal(report.methods.at(-1)?.role, 'baseline', 'listed after the teacher and student rows');
  });

  test('pairs leave baselines out unless named, and exports never carry them', async () => {
    const baselineIds = new Set(ws.topics.flatMap((t) => ws.getQueryReview(t.qid).expansions.filter((e) => e.expansion.role === 'baseline').map((e) => e.expansion.id)));
    const pairIds = (): string[][] => ws.topics.flatMap((t) => ws.getQueryReview(t.qid).pairs.map((p) => [p.chosenId, p.rejectedId]));
    const byDefault = await ws.buildPairs({ minMargin: 0 }, { signal });
    assert.ok(byDefault.pairs > 0);
    assert.ok(pairIds().every((ids) => ids.every((id) => !baselineIds.has(id))), 'no default pair has a baseline side');

    const named = await ws.buildPairs({ minMargin: 0, pools: ['teacher', 'student', 'baseline'], strategy: 'all' }, { signal });
    const withBaseline = pairIds().filter((ids) => ids.some((id) => baselineIds.has(id))).length;
    assert.ok(withBaseline > 0, 'naming the baseline pool pairs them');
    const out = join(dir, 'exports', 'dpo.jsonl');
    const exported = await ws.exportData({ format: 'trl-standard', out, allowEvalQueries: true }, { signal });
    assert.equal(exported.records, named.pairs - withBaseline);
    const manifest = JSON.parse(readFileSync(exported.manifest, 'utf8')) as { provenance: { chosen: { role: string }; rejected: { role: string } }[] };
    assert.ok(manifest.provenance.every((p) => p.chosen.role !== 'baseline' && p.rejected.role !== 'baseline'));
    const sft = JSON.parse(readFileSync((await ws.exportData({ format: 'sft-messages', out: join(dir, 'exports', 'sft.jsonl'), allowEvalQueries: true }, { signal })).manifest, 'utf8')) as {
      provenance: { chosen: { role: string } }[];
    };
    assert.ok(sft.provenance.every((p) => p.chosen.role === 'teacher'));
  });

  test('a baseline is not text: editing it is refused', async () => {
    const e = ws.getQueryReview(ws.topics[0]!.qid).expansions.find((x) => x.expansion.role === 'baseline')!;
    await assert.rejects(ws.editExpansion(e.expansion.id, 'some text'), (err: unknown) => QxError.is(err, 'usage') && /BM25\+RM3 baseline/.test(err.message));
  });

  test('other RM3 settings make their own row; bad settings are refused', async () => {
    const r = await ws.expandBaseline({ method: 'rm3', fbTerms: 20, qids: ['156493'] }, { signal });
    assert.equal(r.added, 1);
    await ws.score({ signal });
    const models = ws.report().methods.filter((m) => m.role === 'baseline').map((m) => [m.model, m.queries]).sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1));
    assert.deepEqual(models, [
      ['BM25+RM3', 43],
      ['BM25+RM3 (fb_docs 10, fb_terms 20, weight 0.5)', 1],
    ]);
    await assert.rejects(ws.expandBaseline({ method: 'rm3', originalQueryWeight: 1.5 }, { signal }), (e: unknown) => QxError.is(e, 'usage') && /between 0 and 1/.test(e.message));
    await assert.rejects(ws.expandBaseline({ method: 'rm3', fbDocs: 0 }, { signal }), (e: unknown) => QxError.is(e, 'usage') && /fb_docs/.test(e.message));
  });
});

test('RM3 baselines made under other BM25 settings are not scored; a rerun under the new settings adds their own', async () => {
  const dir = copySample('rm3-settings');
  let ws = await open(dir);
  try {
    assert.equal((await ws.expandBaseline({ method: 'rm3' }, { signal })).added, 43);
  } finally {
    await ws.close();
  }
  ws = await open(dir, withSettings({ bm25: { k1: 1.2 } }));
  try {
    assert.equal((await ws.score({ signal })).scored, 0, 'weights from the k1 0.9 first pass are not scored under k1 1.2');
    assert.equal(ws.report().methods.length, 0);
    assert.deepEqual(await ws.expandBaseline({ method: 'rm3' }, { signal }).then((r) => [r.added, r.present, r.parameters.k1]), [43, 0, 1.2]);
    assert.equal((await ws.score({ signal })).scored, 43);
    assert.deepEqual(ws.report().methods.map((m) => [m.role, m.model, m.queries]), [['baseline', 'BM25+RM3', 43]]);
  } finally {
    await ws.close();
  }
});
