import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type QxRun, runQx } from './runQx.js';

const repo = resolve(__dirname, '../..');
const sample = join(repo, 'samples', 'dl19');
const tmp = mkdtempSync(join(tmpdir(), 'qx-cli-e2e-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const qx = (argv: string[]): Promise<QxRun> => runQx(argv, { cwd: tmp });

const teacherFs = join(sample, 'expansions', 'Qwen2.5-72B-Instruct.query2doc-fs.0656857b.queries.tsv');
const studentFs = join(sample, 'expansions', 'Qwen2.5-7B-Instruct.query2doc-fs.79962ac6.queries.tsv');

describe('qx on a workspace made with qx init', () => {
  const ws = join(tmp, 'ws');
  before(async () => {
    const r = await qx(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('a command outside a workspace says how to make one (exit 3)', async () => {
    const r = await qx(['score', '--workspace', join(tmp)]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no QX workspace in .*qx init/);
  });

  test('qx export before any pair: clear message, exit 3, no file', async () => {
    const out = join(tmp, 'empty.jsonl');
    const r = await qx(['export', '--workspace', ws, '--format', 'trl-standard', '--out', out, '--allow-eval-queries']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /nothing to export.*no file was written/);
    assert.equal(existsSync(out), false);
  });

  test('import, score and pairs are idempotent', async () => {
    const imp = async (file: string, role: string, model: string) =>
      JSON.parse((await qx(['import', file, '--workspace', ws, '--model', model, '--method', 'query2doc-fs', '--role', role, '--json'])).stdout) as { imported: number; duplicates: number };
    assert.equal((await imp(teacherFs, 'teacher', 'Qwen2.5-72B-Instruct')).imported, 43);
    assert.equal((await imp(studentFs, 'student', 'Qwen2.5-7B-Instruct')).imported, 43);
    assert.deepEqual(await imp(teacherFs, 'teacher', 'Qwen2.5-72B-Instruct'), { ...(await imp(teacherFs, 'teacher', 'Qwen2.5-72B-Instruct')), imported: 0, duplicates: 43 });

    const score = async () => JSON.parse((await qx(['score', '--workspace', ws, '--json'])).stdout) as { scored: number; originals: number };
    assert.deepEqual(await score().then((s) => [s.scored, s.originals]), [86, 43]);
    assert.deepEqual(await score().then((s) => [s.scored, s.originals]), [0, 0]);

    const pairs = async () => JSON.parse((await qx(['pairs', '--workspace', ws, '--json'])).stdout) as { pairs: number; created: number; updated: number; deleted: number };
    const first = await pairs();
    assert.ok(first.pairs > 0);
    assert.equal(first.created, first.pairs);
    const second = await pairs();
    assert.deepEqual(second, { ...first, created: 0, updated: 0, deleted: 0 });
    const exported = async (): Promise<string> => {
      const out = join(tmp, 'dpo.jsonl');
      const r = await qx(['export', '--workspace', ws, '--format', 'trl-standard', '--out', out, '--allow-eval-queries']);
      assert.equal(r.code, 0, r.stderr);
      return readFileSync(out, 'utf8');
    };
    assert.equal(await exported(), await exported(), 'the same pairs export byte-identically');
  });

  test('exports refuse evaluation queries without the override (exit 3)', async () => {
    const out = join(tmp, 'leak.jsonl');
    const r = await qx(['export', '--workspace', ws, '--format', 'openai-preference', '--out', out]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /leak the evaluation set/);
    assert.equal(existsSync(out), false);
  });

  test('qx report prints the table with the original and each method', async () => {
    const r = await qx(['report', '--workspace', ws]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^original BM25\s.*0\.4644/m);
    assert.match(r.stdout, /^query2doc-fs\s+student\s+Qwen2\.5-7B-Instruct\s.*% \(query2doc-fs\)$/m);
    assert.ok(existsSync(join(ws, '.qx', 'reports', 'report.html')));
  });

  test('rows for unknown query ids are skipped and named', async () => {
    const file = join(tmp, 'mixed.jsonl');
    writeFileSync(file, [JSON.stringify({ qid: '1037798', generated: 'robert gray' }), JSON.stringify({ qid: '999999999', generated: 'x' })].join('\n') + '\n');
    const r = await qx(['import', file, '--workspace', ws, '--model', 'm', '--method', 'hand', '--role', 'imported']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported 1 new/);
    assert.match(r.stdout, /1 query ids not in the dataset: 999999999/);
  });

  test('bad usage exits 2 and names the problem', async () => {
    const r = await qx(['pairs', '--workspace', ws, '--strategy', 'random']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--strategy must be one of best-worst, all, best-sigma, margin-band/);
  });
});

test('a workspace whose store has a newer schema is refused (exit 3), untouched', async () => {
  const ws = join(tmp, 'newer');
  assert.equal((await qx(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws])).code, 0);
  assert.equal((await qx(['report', '--workspace', ws])).code, 0);
  const metaFile = join(ws, '.qx', 'store.json');
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Record<string, unknown>;
  const newer = JSON.stringify({ ...meta, schemaVersion: 99 });
  writeFileSync(metaFile, newer);
  const r = await qx(['score', '--workspace', ws]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /schema/i);
  assert.equal(readFileSync(metaFile, 'utf8'), newer);
});

test('a query without any positive judgment is reported and left out of the means', async () => {
  const ws = join(tmp, 'norel');
  assert.equal((await qx(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws])).code, 0);
  const manifest = JSON.parse(readFileSync(join(ws, 'qx.dataset.json'), 'utf8')) as { qrels: { path: string } };
  const qrelsFile = join(ws, 'qrels.txt');
  const victim = '1037798';
  writeFileSync(qrelsFile, readFileSync(resolve(ws, manifest.qrels.path), 'utf8').split('\n').map((l) => (l.startsWith(`${victim} `) ? l.replace(/\s\d+\s*$/, ' 0') : l)).join('\n'));
  writeFileSync(join(ws, 'qx.dataset.json'), JSON.stringify({ ...manifest, qrels: { path: 'qrels.txt' } }));
  assert.equal((await qx(['import', teacherFs, '--workspace', ws, '--model', 'M', '--method', 'q2d', '--role', 'teacher'])).code, 0);
  const s = await qx(['score', '--workspace', ws]);
  assert.match(s.stdout, new RegExp(`1 queries have no positive judgment and are left out of every mean: ${victim}`));
  const r = await qx(['report', '--workspace', ws]);
  assert.match(r.stdout, /^original BM25\s+-\s+-\s+42\s/m);
  assert.match(r.stdout, new RegExp(`excluded from means: 1 queries \\(${victim}: no positive judgment\\)`));
});

test('qx import of a QueryGym LameR run: as concat it warns and names --formulation lamer; as lamer the text has no query left', async () => {
  const ws = join(tmp, 'lamer');
  assert.equal((await qx(['init', '--manifest', join(sample, 'qx.dataset.json'), '--workspace', ws])).code, 0);
  const lamer = join(repo, 'test/fixtures/data/querygym-llm-expansions-dl/runs/msmarco-v1-passage.trecdl2019/lamer/openai/gpt-4.1/bm25/180972ca.queries.tsv');
  const concat = await qx(['import', lamer, '--workspace', ws, '--model', 'gpt-4.1', '--method', 'lamer-as-concat', '--role', 'teacher', '--formulation', 'concat']);
  assert.equal(concat.code, 0, concat.stderr);
  assert.match(concat.stdout, /^imported 43 new expansions/);
  assert.match(concat.stdout, /^warning: .*180972ca\.queries\.tsv: 43 of 43 rows do not look like the "concat" formulation .*--formulation lamer\.$/m);
  const asLamer = await qx(['import', lamer, '--workspace', ws, '--model', 'gpt-4.1', '--method', 'lamer', '--role', 'teacher', '--formulation', 'lamer', '--json']);
  assert.equal(asLamer.code, 0, asLamer.stderr);
  const j = JSON.parse(asLamer.stdout) as { imported: number; warnings: string[] };
  assert.deepEqual([j.imported, j.warnings], [43, []]);
});

test('qx init counts the topics with no judgments (TREC CAsT 2019: 306 of 479 turns), and qx score says trec_eval ignores them too', async () => {
  const ws = join(tmp, 'cast');
  const cast = join(repo, 'test/fixtures/data/trec-cast/2019/data');
  const corpus = join(tmp, 'cast-corpus.jsonl');
  writeFileSync(corpus, ['{"id":"MARCO_1","contents":"throat cancer is treatable"}', '{"id":"MARCO_2","contents":"the bronze age collapse"}'].join('\n') + '\n');
  const r = await qx(['init', '--workspace', ws, '--name', 'cast19', '--split', 'test', '--topics', join(cast, 'evaluation/evaluation_topics_annotated_resolved_v1.0.tsv'), '--qrels', join(cast, '2019qrels.txt'), '--corpus', corpus]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^479 topics: 173 with a positive judgment, 306 with no judgments at all \(33_9, 33_10, 34_9, 35_1, 35_2, …\), 0 judged with no grade > 0$/m);
  assert.match(r.stdout, /the 306 topics with no judgments are not in the qrels: they are left out of every mean, and trec_eval ignores them too, even with -c/);
  const s = await qx(['score', '--workspace', ws]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /^306 queries have no judgments at all and are left out of every mean: .*\(not in the qrels: trec_eval ignores them too, even with -c\)$/m);
  assert.doesNotMatch(s.stdout, /no positive judgment/);
  const j = await qx(['init', '--workspace', join(tmp, 'cast-json'), '--name', 'cast19', '--topics', join(cast, 'evaluation/evaluation_topics_annotated_resolved_v1.0.tsv'), '--qrels', join(cast, '2019qrels.txt'), '--corpus', corpus, '--json']);
  const topics = (JSON.parse(j.stdout) as { topics: { total: number; positive: number; unjudged: number; noPositive: number } }).topics;
  assert.deepEqual([topics.total, topics.positive, topics.unjudged, topics.noPositive], [479, 173, 306, 0]);
});

test('qx init from topics, qrels and corpus files makes a workspace that scores', async () => {
  const ws = join(tmp, 'fromfiles');
  const r = await qx(['init', '--workspace', ws, '--name', 'dl19-files', '--split', 'test', '--topics', join(sample, 'topics.dl19-passage.txt'), '--qrels', join(sample, 'qrels.dl19-passage.txt'), '--corpus', join(sample, 'corpus.dl19-pool.jsonl'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const manifest = JSON.parse(readFileSync(join(ws, 'qx.dataset.json'), 'utf8')) as { name: string; split: string; corpus: { paths: string[] } };
  assert.deepEqual([manifest.name, manifest.split], ['dl19-files', 'test']);
  assert.equal(resolve(ws, manifest.corpus.paths[0]!), join(sample, 'corpus.dl19-pool.jsonl'), 'paths resolve from the workspace');
  const s = await qx(['score', '--workspace', ws, '--json']);
  assert.equal(s.code, 0, s.stderr);
  assert.equal((JSON.parse(s.stdout) as { originals: number }).originals, 43);
  const again = await qx(['init', '--workspace', ws, '--manifest', join(ws, 'qx.dataset.json')]);
  assert.equal(again.code, 3);
  assert.match(again.stderr, /already a QX workspace/);
});
