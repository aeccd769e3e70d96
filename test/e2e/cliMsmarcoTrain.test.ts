// `qx init` on MS MARCO training files in the formats they are distributed in, and its seeded
// query sampling. The files are written by this test in those exact formats; their text is
// invented (no MS MARCO text is copied): queries.train.tsv is `qid<TAB>text`, qrels.train.tsv is
// `qid<TAB>0<TAB>pid<TAB>1` (TAB-separated, one relevant passage per query, "0" not "Q0"),
// collection.tsv is `pid<TAB>passage`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type QxRun, runQx } from './runQx.js';

const tmp = mkdtempSync(join(tmpdir(), 'qx-msmarco-train-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const qx = (argv: string[]): Promise<QxRun> => runQx(argv, { cwd: tmp });

const topics = ['wind', 'glacier', 'copper', 'violin', 'tomato', 'comet', 'granite', 'falcon', 'cactus', 'harbor', 'lantern', 'meadow', 'nickel', 'orchid', 'pepper', 'quartz', 'saddle', 'tunnel', 'walnut', 'yogurt', 'anchor', 'barley', 'candle', 'dolphin', 'ember', 'fossil', 'ginger', 'hazel', 'iris', 'juniper'];
/** qids 1000 + i; the last 5 queries have no judgment (MS MARCO train queries without a qrels line). */
const judged = topics.length - 5;
const data = join(tmp, 'msmarco');

before(() => {
  mkdirSync(data);
  // The queries do not name their topic (so the original query cannot find its passage and an
  // expansion that names it can); passage i is about topic i; passages 100+ are filler that
  // shares the query words.
  const queries = topics.map((_, i) => `${1000 + i}\twhat is this thing used for\n`).join('');
  const passages = [
    ...topics.map((w, i) => `${i}\tA ${w} is used for many things: the ${w} serves people who need a ${w} every day.\n`),
    ...Array.from({ length: 20 }, (_, k) => `${100 + k}\tThis passage says what things are used for in general, without naming any one thing.\n`),
  ].join('');
  const qrels = topics.slice(0, judged).map((_, i) => `${1000 + i}\t0\t${i}\t1\n`).join('');
  writeFileSync(join(data, 'queries.train.tsv'), queries);
  writeFileSync(join(data, 'qrels.train.tsv'), qrels);
  writeFileSync(join(data, 'collection.tsv'), passages);
  // Two expansions per judged query: one naming the topic (finds its passage), one off topic.
  const exps = topics.slice(0, judged).flatMap((w, i) => [
    JSON.stringify({ qid: String(1000 + i), generated: `The ${w} serves people who need a ${w}.` }),
    JSON.stringify({ qid: String(1000 + i), generated: 'Things in general are used for many purposes.' }),
  ]);
  writeFileSync(join(data, 'expansions.jsonl'), exps.join('\n') + '\n');
});

const files = (): string[] => ['--topics', join(data, 'queries.train.tsv'), '--qrels', join(data, 'qrels.train.tsv'), '--corpus', join(data, 'collection.tsv')];

describe('qx init on MS MARCO training files', () => {
  test('formats detected: the workspace scores, pairs and exports every judged query', async () => {
    const ws = join(tmp, 'detected');
    const init = await qx(['init', '--workspace', ws, '--name', 'msmarco-train', '--split', 'train', '--relevance-level', '1', ...files()]);
    assert.equal(init.code, 0, init.stderr);
    const imp = await qx(['import', join(data, 'expansions.jsonl'), '--workspace', ws, '--model', 'teacher-x', '--method', 'query2doc-zs', '--role', 'teacher', '--json']);
    assert.equal(imp.code, 0, imp.stderr);
    assert.equal((JSON.parse(imp.stdout) as { imported: number }).imported, judged * 2);
    const score = await qx(['score', '--workspace', ws, '--json']);
    assert.equal(score.code, 0, score.stderr);
    const s = JSON.parse(score.stdout) as { scored: number; originals: number; noRelevant: string[] };
    assert.equal(s.scored, judged * 2);
    assert.equal(s.originals, topics.length);
    // The 5 queries without a qrels line are the ones with no relevant judgment; none of the judged
    // ones is, so the TAB-separated "qid 0 pid 1" lines were read with their grades.
    assert.deepEqual(s.noRelevant, topics.slice(judged).map((_, i) => String(1000 + judged + i)));
    const pairs = await qx(['pairs', '--workspace', ws, '--json']);
    assert.equal(pairs.code, 0, pairs.stderr);
    assert.equal((JSON.parse(pairs.stdout) as { pairs: number }).pairs, judged, 'the on-topic expansion beats the off-topic one on every judged query');
    const out = join(tmp, 'dpo.jsonl');
    const exp = await qx(['export', '--workspace', ws, '--format', 'trl-standard', '--out', out]);
    assert.equal(exp.code, 0, exp.stderr);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { chosen: unknown; rejected: unknown });
    assert.equal(rows.length, judged);
    assert.match(JSON.stringify(rows[0]!.chosen), /glacier|wind/);
  });

  test('formats named on the command line are written to the manifest', async () => {
    const ws = join(tmp, 'named');
    const r = await qx(['init', '--workspace', ws, '--name', 'msmarco-train', ...files(), '--topics-format', 'tsv', '--qrels-format', 'trec', '--corpus-format', 'tsv']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(readFileSync(join(ws, 'qx.dataset.json'), 'utf8')) as { topics: { format: string }; qrels: { format: string }; corpus: { format: string } };
    assert.deepEqual([m.topics.format, m.qrels.format, m.corpus.format], ['tsv', 'trec', 'tsv']);
    const bad = await qx(['init', '--workspace', join(tmp, 'named-bad'), '--name', 'x', ...files(), '--qrels-format', 'beir-tsv']);
    assert.equal(bad.code, 3, 'qrels.train.tsv read as BEIR (3 columns) is refused');
    assert.match(bad.stderr, /qrels\.train\.tsv:1: expected 3 TAB-separated columns/);
    assert.equal(existsSync(join(tmp, 'named-bad', 'qx.dataset.json')), false, 'nothing is left behind');
  });
});

describe('qx init --sample-queries', () => {
  type Manifest = { topics: { path: string; format: string }; sample: { from: string; queries: number; seed: number; eligible: number; total: number } };
  const init = async (name: string, ...extra: string[]) => {
    const ws = join(tmp, name);
    const r = await qx(['init', '--workspace', ws, '--name', 'msmarco-train', '--split', 'train', ...files(), ...extra]);
    return { ws, ...r };
  };
  const sampled = (ws: string): string[] => readFileSync(join(ws, 'sample.topics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { _id: string })._id);

  test('draws a seeded subset of the judged queries, records the seed, and the workspace holds only those', async () => {
    const a = await init('sample-a', '--sample-queries', '10', '--seed', '7');
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /sampled 10 of 25 queries .*seed 7/);
    const qids = sampled(a.ws);
    assert.equal(qids.length, 10);
    assert.equal(new Set(qids).size, 10);
    assert.ok(qids.every((q) => Number(q) < 1000 + judged), `only judged queries: ${qids.join(',')}`);
    assert.deepEqual(qids, [...qids].sort(), 'kept in file order');
    const m = JSON.parse(readFileSync(join(a.ws, 'qx.dataset.json'), 'utf8')) as Manifest;
    assert.deepEqual(m.topics, { path: 'sample.topics.jsonl', format: 'beir-jsonl' });
    assert.equal(join(a.ws, m.sample.from), join(data, 'queries.train.tsv'));
    assert.deepEqual([m.sample.queries, m.sample.seed, m.sample.eligible, m.sample.total], [10, 7, judged, topics.length]);
    const score = await qx(['score', '--workspace', a.ws, '--json']);
    assert.equal(score.code, 0, score.stderr);
    assert.equal((JSON.parse(score.stdout) as { originals: number }).originals, 10, 'the workspace scores the 10 sampled queries');
  });

  test('the same seed gives the same queries; another seed other ones', async () => {
    const a = await init('seed-7a', '--sample-queries', '10', '--seed', '7');
    const b = await init('seed-7b', '--sample-queries', '10', '--seed', '7');
    const c = await init('seed-8', '--sample-queries', '10', '--seed', '8');
    for (const r of [a, b, c]) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sampled(a.ws), sampled(b.ws));
    assert.notDeepEqual(sampled(a.ws), sampled(c.ws));
    const d = await init('seed-default', '--sample-queries', '10');
    assert.equal(d.code, 0, d.stderr);
    assert.equal((JSON.parse(readFileSync(join(d.ws, 'qx.dataset.json'), 'utf8')) as Manifest).sample.seed, 42, 'the default seed is recorded');
  });

  test('asking for more queries than are judged is refused with the count, and leaves nothing', async () => {
    const r = await init('too-many', '--sample-queries', '26');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot sample 26 queries: only 25 of the 30 queries have a relevant judgment/);
    assert.equal(existsSync(join(r.ws, 'qx.dataset.json')), false);
    assert.equal(existsSync(join(r.ws, 'sample.topics.jsonl')), false);
    const seedOnly = await init('seed-only', '--seed', '3');
    assert.equal(seedOnly.code, 2);
    assert.match(seedOnly.stderr, /--seed only applies with --sample-queries/);
  });

  test('--manifest with --sample-queries samples the manifest\'s topics', async () => {
    const src = join(tmp, 'manifest-src');
    mkdirSync(src);
    writeFileSync(join(src, 'qx.dataset.json'), JSON.stringify({ version: 1, name: 'mm', language: 'en', split: 'train', topics: { path: join(data, 'queries.train.tsv') }, qrels: { path: join(data, 'qrels.train.tsv') }, corpus: { path: join(data, 'collection.tsv') } }));
    const ws = join(tmp, 'from-manifest');
    const r = await qx(['init', '--manifest', join(src, 'qx.dataset.json'), '--workspace', ws, '--sample-queries', '10', '--seed', '7', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { sample: { seed: number } }).sample.seed, 7);
    assert.deepEqual(sampled(ws), sampled(join(tmp, 'sample-a')), 'the same draw as from the files');
  });
});
