import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QxError } from '../../../../src/core/errors.js';
import { nullLogger } from '../../../../src/core/logger.js';
import type { QxSettings } from '../../../../src/core/workspace/api.js';
import { defaultSettings, withSettings } from '../../../../src/core/workspace/settings.js';
import { createWorkspace, openWorkspace, type Workspace } from '../../../../src/core/workspace/workspace.js';
import { DATA } from '../../../fixtures/dataPaths.js';

const repo = resolve(__dirname, '../../../..');
const sample = join(repo, 'samples', 'dl19');
const signal = new AbortController().signal;
const tmp = mkdtempSync(join(tmpdir(), 'qx-ws-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function copySample(name: string, edit?: (dir: string) => void): string {
  const dir = join(tmp, name);
  cpSync(sample, dir, { recursive: true });
  edit?.(dir);
  return dir;
}

const open = (dir: string, settings: QxSettings = defaultSettings): Promise<Workspace> => openWorkspace(dir, { settings, logger: nullLogger, getApiKey: async () => undefined });
const teacherFs = { file: 'expansions/Qwen2.5-72B-Instruct.query2doc-fs.0656857b.queries.tsv', model: 'Qwen2.5-72B-Instruct', method: 'query2doc-fs', role: 'teacher' as const };
const studentFs = { file: 'expansions/Qwen2.5-7B-Instruct.query2doc-fs.79962ac6.queries.tsv', model: 'Qwen2.5-7B-Instruct', method: 'query2doc-fs', role: 'student' as const };

test('a folder without qx.dataset.json is refused with what to do', async () => {
  await assert.rejects(open(tmp), (e: unknown) => QxError.is(e, 'config') && /no QX workspace in .*run `qx init`/.test(e.message));
});

test('a store written by a newer schema is refused, not read', async () => {
  const dir = copySample('newer', (d) => {
    cpSync(join(d, 'qx.dataset.json'), join(d, 'qx.dataset.json.bak'));
  });
  const ws = await open(dir);
  await ws.close();
  const meta = JSON.parse(readFileSync(join(dir, '.qx', 'store.json'), 'utf8')) as { schemaVersion: number };
  writeFileSync(join(dir, '.qx', 'store.json'), JSON.stringify({ ...meta, schemaVersion: meta.schemaVersion + 1 }));
  await assert.rejects(open(dir), (e: unknown) => QxError.is(e, 'store') && /newer|schema/i.test(e.message));
});

test('createWorkspace writes a manifest, refuses a second time, and leaves nothing on a bad manifest', async () => {
  const dir = join(tmp, 'created');
  const m = { version: 1, name: 'x', language: 'en', topics: { path: join(sample, 'topics.dl19-passage.txt') }, qrels: { path: join(sample, 'qrels.dl19-passage.txt') }, corpus: { path: join(sample, 'corpus.dl19-pool.jsonl') } };
  await createWorkspace(dir, m);
  assert.ok(existsSync(join(dir, 'qx.dataset.json')));
  await assert.rejects(createWorkspace(dir, m), (e: unknown) => QxError.is(e, 'config') && /already a QX workspace/.test(e.message));
  const bad = join(tmp, 'bad');
  await assert.rejects(createWorkspace(bad, { ...m, qrels: { path: 'missing.txt' } }), (e: unknown) => QxError.is(e, 'config') && /qrels\.path/.test(e.message));
  assert.equal(existsSync(join(bad, 'qx.dataset.json')), false);
});

describe('the DL19 sample pipeline', () => {
  let dir: string;
  let ws: Workspace;
  before(async () => {
    dir = copySample('pipeline');
    ws = await open(dir);
    await ws.buildIndex({ signal });
    for (const f of [teacherFs, studentFs]) await ws.importExpansions(f, { signal });
  });
  after(async () => ws.close());

  test('scoring reproduces Lucene on the pool: original 0.4644, query2doc-fs 72B 0.6421 (SOURCES.md)', async () => {
    const r = await ws.score({ signal });
    assert.deepEqual([r.scored, r.originals, r.noRelevant.length], [86, 43, 0]);
    const report = ws.report();
    assert.equal(report.original.meanNdcg10.toFixed(4), '0.4644');
    const teacher = report.methods.find((m) => m.role === 'teacher' && m.method === 'query2doc-fs');
    assert.equal(teacher?.meanNdcg10.toFixed(4), '0.6421');
    assert.equal(teacher?.queries, 43);
  });

  test('re-running import and score does nothing new', async () => {
    const again = await ws.importExpansions(teacherFs, { signal });
    assert.deepEqual([again.imported, again.duplicates], [0, 43]);
    assert.equal((await ws.score({ signal })).scored, 0);
  });

  test('rebuilding pairs yields the same pairs', async () => {
    const first = await ws.buildPairs({}, { signal });
    const ids1 = ws.listQueries().flatMap((q) => ws.getQueryReview(q.qid).pairs.map((p) => p.id));
    const second = await ws.buildPairs({}, { signal });
    const ids2 = ws.listQueries().flatMap((q) => ws.getQueryReview(q.qid).pairs.map((p) => p.id));
    assert.ok(first.pairs > 0);
    assert.deepEqual([second.pairs, second.created, second.updated, second.deleted], [first.pairs, 0, 0, 0]);
    assert.deepEqual(ids2, ids1);
  });

  test('query summaries and review carry the scores', () => {
    const rows = ws.listQueries();
    assert.equal(rows.length, 43);
    for (const q of rows) {
      assert.equal(q.expansions, 2);
      assert.notEqual(q.baseNdcg10, null);
      assert.notEqual(q.bestDelta, null);
    }
    const q = rows[0]!;
    const review = ws.getQueryReview(q.qid);
    assert.equal(review.expansions.length, 2);
    assert.ok(review.expansions.every((e) => e.score !== null && e.score.top10.length === 10));
    assert.equal(review.original?.ndcg10, q.baseNdcg10);
    assert.equal(Object.values(review.qrels.byGrade).reduce((a, b) => a + b, 0), review.qrels.judged);
  });

  test('previewScore scores a draft like the stored expansion and stores nothing (its speed: bench/RESULTS.md, re-score p95)', async () => {
    const q = ws.listQueries()[3]!;
    const e = ws.getQueryReview(q.qid).expansions[0]!;
    const stored = ws.getQueryReview(q.qid).expansions.length;
    const same = await ws.previewScore(q.qid, e.expansion.final);
    assert.equal(same.ndcg10, e.score?.ndcg10, 'the same string scores the same');
    const other = await ws.previewScore(q.qid, q.text);
    assert.equal(other.ndcg10, q.baseNdcg10, 'the bare query scores as the original');
    for (let i = 0; i < 20; i++) await ws.previewScore(q.qid, `${e.expansion.final} variant ${i}`);
    assert.equal(ws.getQueryReview(q.qid).expansions.length, stored);
  });

  test('editing an expansion re-scores it, marks its pairs edited, and undo restores them', async () => {
    const withPair = ws.listQueries().find((q) => q.pairs.auto > 0)!;
    const pair = ws.getQueryReview(withPair.qid).pairs[0]!;
    const edited = await ws.editExpansion(pair.chosenId, 'a completely different text about nothing');
    assert.equal(edited.expansion.editedFrom, pair.chosenId);
    assert.notEqual(edited.score, null);
    const after1 = ws.getQueryReview(withPair.qid).pairs.find((p) => p.id === pair.id)!;
    assert.equal(after1.state, 'edited');
    assert.equal(after1.chosenId, edited.expansion.id);
    assert.ok(Math.abs(after1.margin - (edited.score!.ndcg10 - ws.getQueryReview(withPair.qid).expansions.find((e) => e.expansion.id === pair.rejectedId)!.score!.ndcg10)) < 1e-12);
    const u = ws.undo();
    assert.equal(u.qid, withPair.qid);
    const restored = ws.getQueryReview(withPair.qid).pairs.find((p) => p.id === pair.id)!;
    assert.deepEqual([restored.state, restored.chosenId], ['auto', pair.chosenId]);
    assert.equal(ws.getQueryReview(withPair.qid).expansions.length, 2);
  });

  test('a pair edit on query A refreshes A only: every other query keeps its cached summary, and A matches a full rebuild', async () => {
    const queries = ws.listQueries().filter((q) => q.pairs.auto + q.pairs.accepted + q.pairs.edited + q.pairs.rejected > 0);
    const a = queries[0]!.qid;
    const b = queries[1]!.qid;
    const pair = ws.getQueryReview(a).pairs[0]!;
    const reviewB = ws.getQueryReview(b);
    const edits: [string, () => unknown][] = [
      ['accept', () => ws.setPairState(pair.id, 'accepted')],
      ['note', () => ws.setPairNote(pair.id, 'checked by hand')],
      ['swap', () => ws.swapPair(pair.id)],
      ['undo', () => ws.undo()],
      ['edit', () => ws.editExpansion(pair.rejectedId, 'another text entirely')],
    ];
    for (const [what, edit] of edits) {
      const before = ws.listQueries();
      await edit();
      const after = ws.listQueries();
      assert.notEqual(after, before, `${what}: the list changed`);
      const i = after.findIndex((q) => q.qid === a);
      after.forEach((q, k) => {
        if (k !== i) assert.equal(q, before[k], `${what}: ${q.qid}'s cached summary is reused`);
      });
      assert.notEqual(after[i], before[i], `${what}: ${a}'s summary is rebuilt`);
      assert.deepEqual(ws.getQueryReview(b), reviewB, `${what}: ${b}'s review is unchanged`);
      // What a rebuild of every query gives (updateSettings drops the whole cache).
      await ws.updateSettings(ws.settings);
      assert.deepEqual(ws.listQueries(), after, `${what}: the per-query update equals a full rebuild`);
    }
    const review = ws.getQueryReview(a);
    const now = review.pairs.find((p) => p.id === pair.id)!;
    assert.deepEqual([now.state, now.note], ['edited', 'checked by hand'], 'accepted, noted, swapped, the swap undone, then re-pointed by the edit');
    assert.equal(ws.listQueries().find((q) => q.qid === a)!.expansions, 3);
    ws.undo();
    ws.undo();
    ws.undo();
    assert.equal(ws.getQueryReview(a).pairs.find((p) => p.id === pair.id)!.state, pair.state);
  });

  test('an export with zero pairs says so and writes no file', async () => {
    const out = join(dir, 'exports', 'none.jsonl');
    await assert.rejects(ws.exportData({ format: 'trl-standard', out, states: ['rejected'], allowEvalQueries: true }, { signal }), (e: unknown) => QxError.is(e, 'export') && /nothing to export/.test(e.message));
    assert.equal(existsSync(out), false);
  });

  test('evaluation queries are refused unless overridden', async () => {
    const out = join(dir, 'exports', 'dpo.jsonl');
    await assert.rejects(ws.exportData({ format: 'trl-standard', out }, { signal }), (e: unknown) => QxError.is(e, 'export') && /leak/.test(e.message));
    assert.equal(existsSync(out), false);
    const r = await ws.exportData({ format: 'trl-standard', out, allowEvalQueries: true }, { signal });
    assert.ok(r.records > 0);
    const manifest = JSON.parse(readFileSync(r.manifest, 'utf8')) as { leakage: { overridden: boolean } };
    assert.equal(manifest.leakage.overridden, true);
  });
});

test('changing retrieval settings invalidates scores (they are keyed to analyzer, k1, b, norms, topK)', async () => {
  const dir = copySample('settings');
  let ws = await open(dir);
  await ws.importExpansions(teacherFs, { signal });
  assert.equal((await ws.score({ signal })).scored, 43);
  await ws.close();
  ws = await open(dir, withSettings({ bm25: { k1: 1.2 } }));
  try {
    assert.equal(ws.listQueries()[0]!.baseNdcg10, null, 'no score under the new settings yet');
    assert.equal((await ws.score({ signal })).scored, 43);
  } finally {
    await ws.close();
  }
  ws = await open(dir);
  try {
    assert.equal((await ws.score({ signal })).scored, 0, 'the old scores are still there for the old settings');
    const before = ws.listQueries()[0]!.baseNdcg10;
    const beforeAll = ws.listQueries().map((q) => q.baseNdcg10);
    await ws.updateSettings(withSettings({ bm25: { b: 0.75 } }));
    assert.equal(ws.listQueries()[0]!.baseNdcg10, null, 'a live settings change shows expansions unscored');
    assert.equal((await ws.score({ signal })).scored, 43);
    assert.notEqual(ws.listQueries()[0]!.baseNdcg10, null);
    assert.notDeepEqual(ws.listQueries().map((q) => q.baseNdcg10), beforeAll, 'b = 0.75 ranks differently');
    await ws.updateSettings(withSettings());
    assert.equal(ws.listQueries()[0]!.baseNdcg10, before);
    assert.equal((await ws.score({ signal })).scored, 0);
  } finally {
    await ws.close();
  }
});

test('a QueryGym LameR run imported as concat is imported with a warning (summary and log) naming lamer; as lamer, without one', async () => {
  const dir = copySample('lamer-import');
  const warned: string[] = [];
  const logger = { ...nullLogger, warn: (m: string) => void warned.push(m) };
  const ws = await openWorkspace(dir, { settings: defaultSettings, logger, getApiKey: async () => undefined });
  const file = join(DATA, 'querygym-llm-expansions-dl/runs/msmarco-v1-passage.trecdl2019/lamer/Qwen/Qwen2.5-72B-Instruct/bm25/a045ea41.queries.tsv');
  try {
    const asConcat = await ws.importExpansions({ file, model: 'Qwen2.5-72B-Instruct', method: 'lamer-concat', role: 'teacher', formulation: 'concat' }, { signal });
    assert.equal(asConcat.imported, 43);
    assert.equal(asConcat.warnings.length, 1);
    assert.match(asConcat.warnings[0]!, /43 of 43 rows do not look like the "concat" formulation.*--formulation lamer/);
    assert.deepEqual(warned, asConcat.warnings);
    const asLamer = await ws.importExpansions({ file, model: 'Qwen2.5-72B-Instruct', method: 'lamer', role: 'teacher', formulation: 'lamer' }, { signal });
    assert.equal(asLamer.imported, 43);
    assert.deepEqual(asLamer.warnings, []);
    const review = ws.getQueryReview('1037798');
    const lamer = review.expansions.find((e) => e.expansion.method === 'lamer')!.expansion;
    assert.equal(lamer.generated.split('\n').length, 5);
    assert.ok(!lamer.generated.includes(` ${lamer.query} `));
  } finally {
    await ws.close();
  }
});

test('expansions of query ids not in the dataset are skipped, counted and named', async () => {
  const dir = copySample('unknown');
  const file = join(dir, 'extra.jsonl');
  const known = '1037798';
  writeFileSync(file, [JSON.stringify({ qid: known, generated: 'robert gray was an american sea captain' }), JSON.stringify({ qid: 'nope-1', generated: 'x' }), JSON.stringify({ qid: 'nope-2', generated: 'y' }), JSON.stringify({ qid: 'nope-1', generated: 'z' })].join('\n') + '\n');
  const ws = await open(dir);
  try {
    const r = await ws.importExpansions({ file, model: 'm', method: 'x', role: 'imported' }, { signal });
    assert.equal(r.imported, 1);
    assert.equal(r.skipped, 3);
    assert.deepEqual(r.unknownQids, ['nope-1', 'nope-2']);
    const none = join(dir, 'none.jsonl');
    writeFileSync(none, JSON.stringify({ qid: 'nope-3', generated: 'x' }) + '\n');
    await assert.rejects(ws.importExpansions({ file: none, model: 'm', method: 'x', role: 'imported' }, { signal }), (e: unknown) => QxError.is(e, 'dataset') && /nope-3/.test(e.message));
  } finally {
    await ws.close();
  }
});

test('a query with no positive judgment is reported and left out of the means', async () => {
  const victim = '1037798';
  const dir = copySample('norel', (d) => {
    const f = join(d, 'qrels.dl19-passage.txt');
    const lines = readFileSync(f, 'utf8').split('\n').map((l) => (l.startsWith(`${victim} `) ? l.replace(/\s\d+\s*$/, ' 0') : l));
    writeFileSync(f, lines.join('\n'));
  });
  const ws = await open(dir);
  try {
    await ws.importExpansions(teacherFs, { signal });
    const r = await ws.score({ signal });
    assert.deepEqual(r.noRelevant, [victim]);
    const row = ws.listQueries().find((q) => q.qid === victim)!;
    assert.equal(row.noRelevant, true);
    const report = ws.report();
    assert.equal(report.queries.included, 42);
    assert.deepEqual(report.queries.excluded.map((q) => [q.qid, q.reason]), [[victim, 'no positive judgment']]);
    const rows = ws.listQueries().filter((q) => !q.noRelevant);
    const mean = rows.reduce((s, q) => s + q.baseNdcg10!, 0) / rows.length;
    assert.ok(Math.abs(report.original.meanNdcg10 - mean) < 1e-12);
  } finally {
    await ws.close();
  }
});

test('a topic absent from the qrels is reported as having no judgments, apart from one judged with no grade > 0', async () => {
  const [absent, zero] = ['1037798', '104861'];
  const dir = copySample('unjudged', (d) => {
    const f = join(d, 'qrels.dl19-passage.txt');
    const lines = readFileSync(f, 'utf8').split('\n').filter((l) => !l.startsWith(`${absent} `)).map((l) => (l.startsWith(`${zero} `) ? l.replace(/\s\d+\s*$/, ' 0') : l));
    writeFileSync(f, lines.join('\n'));
  });
  const ws = await open(dir);
  try {
    await ws.importExpansions(teacherFs, { signal });
    const r = await ws.score({ signal });
    assert.deepEqual([...r.noRelevant].sort(), [absent, zero].sort());
    assert.deepEqual(r.unjudged, [absent]);
    const report = ws.report();
    assert.equal(report.queries.included, 41);
    assert.deepEqual(
      [...report.queries.excluded].sort((a, b) => a.qid.localeCompare(b.qid)).map((q) => [q.qid, q.reason]),
      [
        [absent, 'no judgments'],
        [zero, 'no positive judgment'],
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );
  } finally {
    await ws.close();
  }
});

test('10,000 queries: listQueries and getQueryReview serve every query (timings: bench/extension/reviewLatency.ts)', async () => {
  const dir = join(tmp, 'big');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  const words = Array.from({ length: 400 }, (_, i) => `w${i}`);
  const pick = (i: number, n: number): string => Array.from({ length: n }, (_, j) => words[(i * 7 + j * 13) % words.length]).join(' ');
  writeFileSync(join(dir, 'corpus.jsonl'), Array.from({ length: 500 }, (_, i) => JSON.stringify({ id: `d${i}`, text: pick(i, 30) })).join('\n') + '\n');
  writeFileSync(join(dir, 'topics.tsv'), Array.from({ length: 10_000 }, (_, i) => `q${i}\t${pick(i, 3)}`).join('\n') + '\n');
  writeFileSync(join(dir, 'qrels.txt'), Array.from({ length: 10_000 }, (_, i) => `q${i} 0 d${i % 500} 2\nq${i} 0 d${(i + 1) % 500} 0`).join('\n') + '\n');
  writeFileSync(join(dir, 'exp.jsonl'), Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ qid: `q${i % 10_000}`, generated: pick(i, 8) })).join('\n') + '\n');
  await createWorkspace(dir, { version: 1, name: 'big', language: 'en', topics: { path: 'topics.tsv' }, qrels: { path: 'qrels.txt' }, corpus: { path: 'corpus.jsonl' } });
  const ws = await open(dir, withSettings({ bm25: { topK: 100 } }));
  try {
    await ws.importExpansions({ file: join(dir, 'exp.jsonl'), model: 'm', method: 'x', role: 'teacher', formulation: 'concat' }, { signal });
    await ws.score({ signal });
    const rows = ws.listQueries();
    assert.equal(rows.length, 10_000);
    assert.equal(rows.filter((q) => q.bestDelta !== null && q.bestDelta !== undefined).length, 10_000, 'every query has a best delta');
    assert.deepEqual(ws.listQueries(), rows, 'a second listing is the same');
    const review = ws.getQueryReview('q9999');
    assert.equal(review.expansions.length, 2);
    assert.ok(review.expansions.every((e) => e.score !== null));
  } finally {
    await ws.close();
  }
});

test('defaultSettings match the defaults the extension declares in package.json', () => {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { contributes?: { configuration?: { properties: Record<string, { default?: unknown }> }[] } };
  const props = Object.assign({}, ...(pkg.contributes?.configuration ?? []).map((c) => c.properties)) as Record<string, { default?: unknown }>;
  assert.ok(Object.keys(props).length > 0, 'package.json declares no qx.* settings');
  const flat: Record<string, unknown> = {
    'qx.teacher.baseUrl': defaultSettings.teacher.baseUrl,
    'qx.teacher.model': defaultSettings.teacher.model,
    'qx.teacher.temperature': defaultSettings.teacher.temperature,
    'qx.teacher.maxTokens': defaultSettings.teacher.maxTokens,
    'qx.student.baseUrl': defaultSettings.student.baseUrl,
    'qx.student.model': defaultSettings.student.model,
    'qx.student.kind': defaultSettings.student.kind,
    'qx.student.temperature': defaultSettings.student.temperature,
    'qx.bm25.k1': defaultSettings.bm25.k1,
    'qx.bm25.b': defaultSettings.bm25.b,
    'qx.bm25.analyzer': defaultSettings.bm25.analyzer,
    'qx.bm25.luceneNorms': defaultSettings.bm25.luceneNorms,
    'qx.bm25.topK': defaultSettings.bm25.topK,
    'qx.pairs.minMargin': defaultSettings.pairs.minMargin,
    'qx.pairs.strategy': defaultSettings.pairs.strategy,
    'qx.concurrency': defaultSettings.concurrency,
    'qx.requestTimeoutMs': defaultSettings.requestTimeoutMs,
    'qx.maxRetries': defaultSettings.maxRetries,
  };
  for (const [k, v] of Object.entries(flat)) {
    if (props[k] === undefined) continue;
    assert.deepEqual(props[k]!.default, v, k);
  }
});
