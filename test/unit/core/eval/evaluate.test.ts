import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { QxError } from '../../../../src/core/errors.js';
import { readQrels } from '../../../../src/core/dataset/qrels.js';
import { readRun } from '../../../../src/core/dataset/runs.js';
import { evaluate, parseMeasures } from '../../../../src/core/eval/evaluate.js';
import { formatTrecEval } from '../../../../src/core/eval/trecEvalFormat.js';
import type { Qrels, Run } from '../../../../src/core/dataset/types.js';

import { DATA as data } from '../../../fixtures/dataPaths.js';
const fx = join(data, 'trec_eval-test-fixtures');
const dl19Qrels = join(data, 'trec-dl-topics-qrels/qrels.dl19-passage.txt');

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/** The fixture's lines for the measures we printed, in the fixture's order. */
function expectedLines(fixture: string, measures: readonly string[]): string[] {
  const wanted = new Set(measures);
  return lines(readFileSync(fixture, 'utf8')).filter((l) => wanted.has(l.split('\t')[0]!.trim()));
}

for (const [name, runPath, ref] of [
  ['BM25', 'msmarco-dl-bm25-top100-rankllm/trec_results_dl19.txt', 'trec_eval.ndcg_cut_10.perquery.bm25.dl19.txt'],
  ['BM25+RM3', 'msmarco-dl-bm25-top100-rankllm/BM25_RM3/trec_results_dl19.txt', 'trec_eval.ndcg_cut_10.perquery.bm25rm3.dl19.txt'],
] as const) {
  test(`DL19 ${name}: per-query and mean nDCG@10 equal trec_eval -c -q -m ndcg_cut.10 to 4 decimals`, async () => {
    const result = evaluate(await readQrels(dl19Qrels), await readRun(join(data, runPath)), ['ndcg_cut.10'], { complete: true });
    const reference = readFileSync(join(data, 'reference-outputs', ref), 'utf8');
    assert.deepEqual(lines(formatTrecEval(result, { perQuery: true })), lines(reference));
    assert.equal(result.perQuery.length, 43);
  });
}

test('trec_eval fixture out.test.aq (-m all_trec -q): every supported measure, every line', async () => {
  const result = evaluate(await readQrels(join(fx, 'qrels.test')), await readRun(join(fx, 'results.test')), ['all_trec', 'unj']);
  const got = lines(formatTrecEval(result, { perQuery: true }));
  const want = expectedLines(join(fx, 'out.test.aq'), result.measures);
  assert.equal(got.length, 197);
  assert.deepEqual(got, want);
});

test('trec_eval fixture out.test.a (means only) and out.test (default official measures)', async () => {
  const qrels = await readQrels(join(fx, 'qrels.test'));
  const run = await readRun(join(fx, 'results.test'));
  const all = evaluate(qrels, run, ['all_trec', 'unj']);
  assert.deepEqual(lines(formatTrecEval(all)), expectedLines(join(fx, 'out.test.a'), all.measures));
  const official = evaluate(qrels, run, []);
  assert.deepEqual(official.measures.slice(0, 7), ['num_q', 'num_ret', 'num_rel', 'num_rel_ret', 'map', 'Rprec', 'recip_rank']);
  assert.deepEqual(lines(formatTrecEval(official)), expectedLines(join(fx, 'out.test'), official.measures));
});

test('trec_eval fixture out.test.aql: graded qrels.rel_level with -l2', async () => {
  const result = evaluate(await readQrels(join(fx, 'qrels.rel_level')), await readRun(join(fx, 'results.test')), ['all_trec', 'unj'], { relevanceLevel: 2 });
  const got = lines(formatTrecEval(result, { perQuery: true }));
  assert.deepEqual(got, expectedLines(join(fx, 'out.test.aql'), result.measures));
  assert.ok(got.includes('num_rel               \tall\t97'));
});

test('trec_eval fixture out.test.meas_params: P.5,7,3  recall.20,2000  ndcg.1=3,2=9,4=4.5  ndcg_cut.10,20,23.4  success.2,5,20', async () => {
  const result = evaluate(await readQrels(join(fx, 'qrels.test')), await readRun(join(fx, 'results.test')),
    ['P.5,7,3', 'recall.20,2000', 'ndcg.1=3,2=9,4=4.5', 'ndcg_cut.10,20,23.4', 'success.2,5,20']);
  assert.deepEqual(result.measures, ['P_3', 'P_5', 'P_7', 'recall_20', 'recall_2000', 'ndcg_1=3,2=9,4=4.5', 'ndcg_cut_10', 'ndcg_cut_20', 'ndcg_cut_23', 'success_2', 'success_5', 'success_20']);
  const got = lines(formatTrecEval(result, { perQuery: true }));
  assert.equal(got.length, 48);
  assert.deepEqual(got, expectedLines(join(fx, 'out.test.meas_params'), result.measures));
});

test('-c averages over every qrels query (missing = 0); without it only over queries in the run', async () => {
  const qrels = await readQrels(dl19Qrels);
  const full = await readRun(join(data, 'msmarco-dl-bm25-top100-rankllm/trec_results_dl19.txt'));
  const reference = new Map(lines(readFileSync(join(data, 'reference-outputs/trec_eval.ndcg_cut_10.perquery.bm25.dl19.txt'), 'utf8'))
    .map((l) => l.split('\t')).map(([, q, v]) => [q!, Number(v)]));
  const partial: Run = new Map([...full].slice(0, 30));
  partial.set('not-a-judged-query', [{ docid: 'x', score: 1 }]);
  const present = evaluate(qrels, partial, ['ndcg_cut.10']);
  const complete = evaluate(qrels, partial, ['ndcg_cut.10'], { complete: true });
  assert.equal(present.averagedOver, 30);
  assert.equal(complete.averagedOver, 43);
  assert.deepEqual(present.notInQrels, ['not-a-judged-query']);
  assert.equal(complete.missingFromRun.length, 13);
  const sum = [...partial.keys()].filter((q) => reference.has(q)).reduce((s, q) => s + reference.get(q)!, 0);
  assert.ok(Math.abs(present.mean.ndcg_cut_10! - sum / 30) < 30 * 5e-5);
  assert.ok(Math.abs(complete.mean.ndcg_cut_10! - sum / 43) < 30 * 5e-5);
  assert.equal(complete.perQuery.length, 43, 'with -c the 13 missing queries are evaluated too');
  assert.equal(present.perQuery.length, 30);
});

// trec_eval 10.0 (usnistgov/trec_eval trec_eval.c, `bogus_ranking`): with -c every qrels topic
// missing from the run is evaluated on a placeholder ranking whose num_ret and unj are then zeroed;
// -q prints its row, its num_rel counts, and num_q is the number of qrels topics (m_num_q.c: "number
// of topics in the rel_info file is used"). So for results.test without topic 302, trec_eval -c -q
// prints 301 and 303 exactly as out.test.aq, 302's rows with num_rel 77 and every other value 0,
// num_q 3 and num_rel 561 (the sum over all three topics).
test('-c -q with a topic missing from the run: its zero rows are printed, num_q and num_rel count it (trec_eval 10.0 rules on out.test.aq)', async () => {
  const qrels = await readQrels(join(fx, 'qrels.test'));
  const full = await readRun(join(fx, 'results.test'));
  const run: Run = new Map([...full].filter(([q]) => q !== '302'));
  const measures = ['num_q', 'num_ret', 'num_rel', 'num_rel_ret', 'map', 'Rprec', 'recip_rank', 'P', 'recall', 'ndcg', 'ndcg_cut', 'map_cut', 'success', 'unj'];
  const result = evaluate(qrels, run, measures, { complete: true });
  const got = lines(formatTrecEval(result, { perQuery: true }));
  const aq = expectedLines(join(fx, 'out.test.aq'), result.measures);
  const integer = new Set(result.integerMeasures);
  const row = (l: string) => l.split('\t') as [string, string, string];
  const want302 = aq.filter((l) => row(l)[1] === '302').map((l) => {
    const [m, q, v] = row(l);
    const name = m.trim();
    return `${m}\t${q}\t${name === 'num_rel' ? v : integer.has(name) ? '0' : '0.0000'}`;
  });
  assert.equal(want302.length, 49);
  assert.ok(want302.includes('num_rel               \t302\t77'));
  const perQueryWanted = aq.filter((l) => row(l)[1] === '301').concat(want302, aq.filter((l) => row(l)[1] === '303'));
  assert.deepEqual(got.filter((l) => row(l)[1] !== 'all'), perQueryWanted);
  const all = new Map(got.filter((l) => row(l)[1] === 'all').map((l) => [row(l)[0].trim(), row(l)[2]]));
  assert.equal(all.get('num_q'), '3');
  assert.equal(all.get('num_rel'), '561');
  assert.equal(Number(all.get('num_ret')), 1000);
  assert.deepEqual(result.perQuery.map((q) => [q.qid, q.missing === true]), [['301', false], ['302', true], ['303', false]]);
  // Every mean is over the three topics: the fixture's 301 and 303 values summed, divided by 3.
  const value = (qid: string, m: string) => Number(row(aq.find((l) => row(l)[0].trim() === m && row(l)[1] === qid)!)[2]);
  for (const m of result.measures.filter((x) => !integer.has(x))) {
    assert.ok(Math.abs(Number(all.get(m)) - (value('301', m) + value('303', m)) / 3) < 1.5e-4, m);
  }
  const without = evaluate(qrels, run, measures);
  assert.equal(without.mean.num_q, 2, 'without -c only the topics of the run count');
  assert.equal(without.perQuery.length, 2);
});

test('a qrels query without any relevant document is evaluated and scores 0 (trec_eval m_ndcg_cut.c / m_recall.c)', () => {
  const qrels: Qrels = new Map([
    ['1', new Map([['a', 2], ['b', 0]])],
    ['2', new Map([['c', 0], ['d', 0]])],
  ]);
  const run: Run = new Map([
    ['1', [{ docid: 'a', score: 2 }, { docid: 'b', score: 1 }]],
    ['2', [{ docid: 'c', score: 2 }, { docid: 'd', score: 1 }]],
  ]);
  const r = evaluate(qrels, run, ['ndcg_cut.10', 'recall.10', 'map', 'judged.10']);
  assert.deepEqual(r.perQuery.map((q) => q.values), [
    { ndcg_cut_10: 1, recall_10: 1, map: 1, judged_10: 0.2 },
    { ndcg_cut_10: 0, recall_10: 0, map: 0, judged_10: 0.2 },
  ]);
  assert.equal(r.mean.ndcg_cut_10, 0.5);
});

test('judged.k is 1 - unj.k wherever the run retrieves at least k documents', async () => {
  const r = evaluate(await readQrels(join(fx, 'qrels.rel_level')), await readRun(join(fx, 'results.test')), ['judged.5,10,20', 'unj.5,10,20']);
  for (const q of r.perQuery) for (const k of [5, 10, 20]) assert.ok(Math.abs(q.values[`judged_${k}`]! + q.values[`unj_${k}`]! - 1) < 1e-12);
});

test('recip_rank_cut.10 (MRR@10) equals recip_rank on the run cut to its top 10', async () => {
  const qrels = await readQrels(dl19Qrels);
  const run = await readRun(join(data, 'msmarco-dl-bm25-top100-rankllm/trec_results_dl19.txt'));
  const cut: Run = new Map([...run].map(([q, hits]) => [q, [...hits].sort((a, b) => b.score - a.score || (a.docid < b.docid ? 1 : -1)).slice(0, 10)]));
  const a = evaluate(qrels, run, ['recip_rank_cut.10'], { relevanceLevel: 2 });
  const b = evaluate(qrels, cut, ['recip_rank'], { relevanceLevel: 2 });
  assert.equal(a.mean.recip_rank_cut_10, b.mean.recip_rank);
  assert.ok(a.mean.recip_rank_cut_10! > 0 && a.mean.recip_rank_cut_10! < 1);
});

test('measure parsing: unknown names, bad cutoffs and parameters on plain measures are usage errors', () => {
  assert.throws(() => parseMeasures(['bpref']), (e: unknown) => QxError.is(e, 'usage') && /unsupported measure "bpref"/.test(e.message));
  assert.throws(() => parseMeasures(['ndcg_cut.0']), (e: unknown) => QxError.is(e, 'usage') && /bad cutoff "0"/.test(e.message));
  assert.throws(() => parseMeasures(['map.5']), (e: unknown) => QxError.is(e, 'usage') && /takes no parameters/.test(e.message));
  assert.deepEqual(parseMeasures(['ndcg_cut.20', 'ndcg_cut.10,20']), [{ base: 'ndcg_cut', cutoffs: [10, 20] }]);
});

test('no query in both run and qrels is a dataset error with a hint', () => {
  const qrels: Qrels = new Map([['1', new Map([['a', 1]])]]);
  assert.throws(() => evaluate(qrels, new Map([['001', [{ docid: 'a', score: 1 }]]]), ['map']), (e: unknown) => QxError.is(e, 'dataset') && /no query is in both/.test(e.message));
});
