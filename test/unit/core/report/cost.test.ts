import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExpansionScore } from '../../../../src/core/curation/types.js';
import { examplePriceTable, type PriceTable } from '../../../../src/core/expansion/cost.js';
import type { ExpansionRecord } from '../../../../src/core/expansion/types.js';
import { buildCostSection, estimateOutputTokens, loadWorkspacePrices } from '../../../../src/core/report/cost.js';
import { renderReportHtml } from '../../../../src/core/report/html.js';
import { renderReportMarkdown } from '../../../../src/core/report/markdown.js';
import { buildReport } from '../../../../src/core/report/report.js';
import { makeExpansion, makeScore } from '../../../fixtures/curation/makeData.js';

const table: PriceTable = { asOf: '2026-01-15', models: { 'big-teacher': { inputPerMTok: 2, outputPerMTok: 10 }, 'Org/small <student>': { inputPerMTok: 0.5, outputPerMTok: 1 } } };
const source = { kind: 'workspace' as const, file: '.qx/prices.json', asOf: '2026-01-15', note: null };

function rec(id: string, over: Partial<ExpansionRecord>): ExpansionRecord {
  return { ...makeExpansion(over.qid ?? 'q1', id, {}), ...over };
}

test('cost per method: reported tokens, requests per query × template, wall time and price from the table', () => {
  const records = [
    // Two samples of q1 drawn in one call, one sample of q2.
    rec('t1', { qid: 'q1', model: 'big-teacher', sampleIndex: 0, usage: { promptTokens: 100, completionTokens: 40 }, latencyMs: 300 }),
    rec('t2', { qid: 'q1', model: 'big-teacher', sampleIndex: 1, usage: { promptTokens: 100, completionTokens: 60 }, latencyMs: 300 }),
    rec('t3', { qid: 'q2', model: 'big-teacher', usage: { promptTokens: 120, completionTokens: 50 }, latencyMs: 600 }),
    rec('s1', { qid: 'q1', role: 'student', model: 'Org/small <student>', usage: { promptTokens: 80, completionTokens: 70, estimated: true }, latencyMs: 50 }),
    // Not inference: a hand edit (keeps its source's fields) and a model-free baseline.
    rec('e1', { qid: 'q1', model: 'big-teacher', provider: 'edit', editedFrom: 't1' }),
    rec('b1', { qid: 'q1', role: 'baseline', method: 'rm3', model: 'rm3', provider: 'rm3' }),
  ];
  const c = buildCostSection(records, { table, source }, []);
  assert.deepEqual(c.methods.map((m) => m.key), ['teacher/query2doc-zs/big-teacher', 'student/query2doc-zs/Org/small <student>']);
  const [t, s] = c.methods;
  assert.deepEqual(
    [t?.expansions, t?.requests, t?.promptTokens, t?.completionTokens, t?.estimatedExpansions, t?.wallMs, t?.meanLatencyMs],
    [3, 2, 320, 150, 0, 1200, 400],
  );
  assert.ok(Math.abs((t?.usd as number) - (320 * 2 + 150 * 10) / 1e6) < 1e-15);
  assert.ok(Math.abs((t?.usdPerExpansion as number) - (t?.usd as number) / 3) < 1e-15);
  assert.equal(s?.estimatedExpansions, 1, 'counts from the local tokenizer are marked');
  assert.ok(Math.abs((s?.usd as number) - (80 * 0.5 + 70 * 1) / 1e6) < 1e-15);
});

test('imported without usage: output counted locally, input unknown, price a lower bound; Batch lines are one request each', () => {
  const records = [
    rec('i1', { qid: 'q1', role: 'teacher', model: 'big-teacher', provider: 'import', generated: 'four words of text' }),
    rec('i2', { qid: 'q2', role: 'teacher', model: 'big-teacher', provider: 'import', generated: 'two words' }),
    rec('b1', { qid: 'q1', role: 'student', model: 'Org/small <student>', provider: 'openai-batch', sampleIndex: 0, usage: { promptTokens: 10, completionTokens: 20 } }),
    rec('b2', { qid: 'q1', role: 'student', model: 'Org/small <student>', provider: 'openai-batch', sampleIndex: 1, usage: { promptTokens: 10, completionTokens: 30 } }),
  ];
  const estimatedOutput = new Map([['i1', 4]]);
  const c = buildCostSection(records, { table, source, estimatedOutput }, [
    { student: 'student/query2doc-zs/Org/small <student>', teacher: 'teacher/query2doc-zs/big-teacher', percent: 80 },
  ]);
  const [t, s] = c.methods;
  assert.deepEqual([t?.requests, t?.promptTokens, t?.completionTokens, t?.promptUnknown, t?.uncounted, t?.estimatedExpansions, t?.wallMs], [null, 0, 4, 1, 1, 1, null]);
  assert.ok(Math.abs((t?.usd as number) - (4 * 10) / 1e6) < 1e-15, 'only what is counted is priced');
  assert.equal(s?.requests, 2);
  const ratio = c.studentVsTeacher[0];
  assert.equal(ratio?.ndcgPercent, 80);
  assert.equal(ratio?.approximate, true);
  assert.ok(Math.abs((ratio?.costPercent as number) - (100 * (((10 * 0.5 + 20) + (10 * 0.5 + 30)) / 1e6 / 2)) / ((4 * 10) / 1e6)) < 1e-9);
});

test('a model missing from the table has no price; a local ONNX model costs nothing', () => {
  const c = buildCostSection(
    [
      rec('x', { model: 'unknown-model', usage: { promptTokens: 1, completionTokens: 1 } }),
      rec('o', { role: 'student', model: 'my-onnx', provider: 'onnx', usage: { promptTokens: 9, completionTokens: 9 } }),
    ],
    { table: examplePriceTable, source },
    [],
  );
  assert.deepEqual(c.methods.map((m) => [m.model, m.usd, m.price]), [['unknown-model', null, null], ['my-onnx', 0, { inputPerMTok: 0, outputPerMTok: 0 }]]);
});

test('output token counts of imports are cached by expansion id: the tokenizer runs once per text', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-cost-'));
  try {
    const cacheFile = join(dir, 'cache', 'token-counts.json');
    const records = [rec('a', { provider: 'import', generated: 'one two three' }), rec('b', { provider: 'import', generated: 'x' }), rec('c', { usage: { promptTokens: 1, completionTokens: 1 } })];
    const counted: string[] = [];
    const count = async (text: string): Promise<number> => {
      counted.push(text);
      return text.split(' ').length;
    };
    assert.deepEqual([...(await estimateOutputTokens(records, { cacheFile, count }))], [['a', 3], ['b', 1]]);
    assert.deepEqual(counted, ['one two three', 'x'], 'records with usage are not counted');
    assert.deepEqual([...(await estimateOutputTokens(records, { cacheFile, count }))], [['a', 3], ['b', 1]]);
    assert.equal(counted.length, 2, 'the second report counts nothing');
    writeFileSync(cacheFile, '{not json');
    assert.deepEqual([...(await estimateOutputTokens(records, { cacheFile, count }))], [['a', 3], ['b', 1]], 'a damaged cache is counted again');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the workspace price table when present, else the EXAMPLE table, labelled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qx-prices-'));
  try {
    const ex = await loadWorkspacePrices(dir);
    assert.equal(ex.table, examplePriceTable);
    assert.deepEqual(ex.source, { kind: 'example', file: null, asOf: examplePriceTable.asOf, note: examplePriceTable.note });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, '.qx'));
    writeFileSync(join(dir, '.qx', 'prices.json'), JSON.stringify({ asOf: '2026-03-01', models: { m: { inputPerMTok: 1, outputPerMTok: 2 } } }));
    const ws = await loadWorkspacePrices(dir);
    assert.deepEqual(ws.source, { kind: 'workspace', file: join('.qx', 'prices.json'), asOf: '2026-03-01', note: null });
    assert.deepEqual(ws.table.models, { m: { inputPerMTok: 1, outputPerMTok: 2 } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the report files show the cost section, the example label, the ratio beside the nDCG ratio, escaped', () => {
  const t = rec('t', { model: 'big-teacher', usage: { promptTokens: 1000, completionTokens: 1000 }, latencyMs: 2500 });
  const s = rec('s', { role: 'student', model: 'Org/small <student>', usage: { promptTokens: 1000, completionTokens: 1000 }, latencyMs: 100 });
  const scores = new Map<string, ExpansionScore>([[t.id, makeScore(t, 0.8, 0.4)], [s.id, makeScore(s, 0.6, 0.4)]]);
  const input = { datasetName: 'toy', queries: [{ qid: 'q1', text: 'query q1', relevant: 1 }], expansions: [t, s], scores, originals: new Map([['q1', makeScore({ id: 'original:q1', qid: 'q1' }, 0.4, 0.4)]]) };
  const r = buildReport({ ...input, cost: { table, source: { kind: 'example', file: null, asOf: '2025-06-01', note: null } } });
  assert.equal(buildReport(input).cost, null, 'no prices, no cost section');
  const md = renderReportMarkdown(r);
  assert.match(md, /## Inference cost\n\nPrices: the shipped EXAMPLE table \(as of 2025-06-01\), for illustration only/);
  // 0.012 vs 0.0015 USD per expansion: the student costs 12.5%, for 75.0% of the nDCG@10.
  assert.match(md, /\| 75\.0% \| 75\.0–75\.0% \| 0\/0\/1 \| 1\.0000 \| n\/a \| 50\.0% \| 12\.5% \|/);
  assert.ok(md.includes('| student | query2doc-zs | Org/small &lt;student&gt; | openai-compatible | 1 | 1 | 1000 | 1000 | 100 ms | 100 ms | 0.5 / 1 | 0.00150 |'), md);
  assert.ok(md.includes('| teacher | query2doc-zs | big-teacher | openai-compatible | 1 | 1 | 1000 | 1000 | 2.5 s | 2.5 s | 2 / 10 | 0.0120 |'), md);
  const html = renderReportHtml(r);
  assert.match(html, /<h2>Inference cost<\/h2>\n<p class="warn">Prices: the shipped EXAMPLE table/);
  assert.ok(html.includes('<td>Org/small &lt;student&gt;</td>') && !html.includes('<student>'));
});
