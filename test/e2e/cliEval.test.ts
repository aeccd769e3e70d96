import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DATA } from '../fixtures/dataPaths.js';
import { type QxRun, runQx } from './runQx.js';

const repo = resolve(__dirname, '../..');
const data = DATA;
const qrels = join(data, 'trec-dl-topics-qrels/qrels.dl19-passage.txt');
const bm25 = join(data, 'msmarco-dl-bm25-top100-rankllm/trec_results_dl19.txt');
const reference = readFileSync(join(data, 'reference-outputs/trec_eval.ndcg_cut_10.perquery.bm25.dl19.txt'), 'utf8');

const qx = (argv: string[]): Promise<QxRun> => runQx(argv, { cwd: repo });

test('qx eval -c -q -m ndcg_cut.10 on DL19 BM25 prints exactly trec_eval\'s reference output', async () => {
  const r = await qx(['eval', '-c', '-q', '-m', 'ndcg_cut.10', qrels, bm25]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trimEnd(), reference.trimEnd());
});

test('qx eval without -q prints only the all line; trec_eval-style -mX and -l2 are accepted', async () => {
  const r = await qx(['eval', '-c', '-mndcg_cut.10', '-m', 'recall.100', '-l2', qrels, bm25]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'recall_100            \tall\t0.4910\nndcg_cut_10           \tall\t0.5058\n');
});

test('qx eval -c: num_q and num_rel are the qrels\' (trec_eval 10.0), not the run\'s; -q prints the missing query\'s zero row', async () => {
  // DL19 BM25 run without its first 3 queries: trec_eval -c evaluates all 43 qrels queries.
  const dir = mkdtempSync(join(tmpdir(), 'qx-eval-c-'));
  try {
    const rows = readFileSync(bm25, 'utf8').split('\n').filter((l) => l.trim() !== '');
    const dropped = [...new Set(rows.map((l) => l.split(/\s+/)[0]!))].slice(0, 3);
    const partial = join(dir, 'partial.txt');
    writeFileSync(partial, rows.filter((l) => !dropped.includes(l.split(/\s+/)[0]!)).join('\n') + '\n');
    const judged = (qid: string) => readFileSync(qrels, 'utf8').split('\n').filter((l) => l.split(/\s+/)[0] === qid && Number(l.split(/\s+/)[3]) >= 1).length;
    const c = await qx(['eval', '-c', '-m', 'num_q', '-m', 'num_rel', '-m', 'ndcg_cut.10', qrels, partial]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^num_q\s+\tall\t43$/m);
    const full = await qx(['eval', '-m', 'num_rel', qrels, bm25]);
    assert.equal(/^num_rel\s+\tall\t(\d+)$/m.exec(c.stdout)?.[1], /^num_rel\s+\tall\t(\d+)$/m.exec(full.stdout)?.[1]);
    const plain = await qx(['eval', '-m', 'num_q', qrels, partial]);
    assert.match(plain.stdout, /^num_q\s+\tall\t40$/m);
    const q = await qx(['eval', '-c', '-q', '-m', 'num_rel', '-m', 'ndcg_cut.10', qrels, partial]);
    for (const qid of dropped) {
      assert.ok(q.stdout.includes(`num_rel               \t${qid}\t${judged(qid)}\n`), qid);
      assert.ok(q.stdout.includes(`ndcg_cut_10           \t${qid}\t0.0000\n`), qid);
    }
    assert.equal(q.stdout.split('\n').filter((l) => l.startsWith('ndcg_cut_10') && !l.includes('\tall\t')).length, 43);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('qx eval --json gives the per-query values and means', async () => {
  const r = await qx(['eval', '--json', '-m', 'ndcg_cut.10', qrels, bm25]);
  const json = JSON.parse(r.stdout) as { mean: Record<string, number>; perQuery: Array<{ qid: string }> };
  assert.equal(json.perQuery.length, 43);
  assert.equal(json.mean.ndcg_cut_10!.toFixed(4), '0.5058');
});

test('bad input: exit code 3 and a message naming file and line; usage errors exit 2', async () => {
  const bad = join(repo, 'test/fixtures/dataset/qrels-3-columns.txt');
  const r = await qx(['eval', bad, bm25]);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, '', 'nothing partial is printed');
  assert.match(r.stderr, /qrels-3-columns\.txt:3: expected 4 columns/);
  const missing = await qx(['eval', qrels, 'no/such/run.txt']);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /run\.txt: run file not found/);
  assert.equal((await qx(['eval', qrels])).code, 2);
  const unknown = await qx(['eval', '-m', 'bpref', qrels, bm25]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unsupported measure "bpref"/);
});

test('the real entry point: node src/cli/main.ts eval, relative paths from the cwd', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'eval', '-c', '-q', '-m', 'ndcg_cut.10',
    'test/fixtures/data/trec-dl-topics-qrels/qrels.dl19-passage.txt', 'test/fixtures/data/msmarco-dl-bm25-top100-rankllm/trec_results_dl19.txt'], { cwd: repo, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trimEnd(), reference.trimEnd());
});
