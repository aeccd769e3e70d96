import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatMethodTable } from '../../../../src/cli/commands/report.js';
import { nullLogger } from '../../../../src/core/logger.js';
import { renderReportMarkdown } from '../../../../src/core/report/markdown.js';
import { withSettings } from '../../../../src/core/workspace/settings.js';
import { createWorkspace, openWorkspace } from '../../../../src/core/workspace/workspace.js';

const signal = new AbortController().signal;
const tmp = mkdtempSync(join(tmpdir(), 'qx-recall-flag-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A scored workspace over `docs` (id → text), topics q1 "apple" and q2 "banana", top 10. */
async function scoredReport(name: string, docs: Record<string, string>, qrels: string, expansions: Record<string, string>) {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'corpus.jsonl'), Object.entries(docs).map(([id, text]) => JSON.stringify({ id, text })).join('\n') + '\n');
  writeFileSync(join(dir, 'topics.tsv'), 'q1\tapple\nq2\tbanana\n');
  writeFileSync(join(dir, 'qrels.txt'), qrels);
  writeFileSync(join(dir, 'exp.jsonl'), Object.entries(expansions).map(([qid, generated]) => JSON.stringify({ qid, generated })).join('\n') + '\n');
  await createWorkspace(dir, { version: 1, name, language: 'en', topics: { path: 'topics.tsv' }, qrels: { path: 'qrels.txt' }, corpus: { path: 'corpus.jsonl' } });
  const ws = await openWorkspace(dir, { settings: withSettings({ bm25: { topK: 10 } }), logger: nullLogger, getApiKey: async () => undefined });
  try {
    await ws.importExpansions({ file: join(dir, 'exp.jsonl'), model: 'm', method: 'x', role: 'teacher', formulation: 'concat' }, { signal });
    await ws.score({ signal });
    return ws.report();
  } finally {
    await ws.close();
  }
}

test('a 6-document corpus scored at top 10: the Recall@10 column is flagged in the report and the CLI table', async () => {
  const docs = { d1: 'apple pie', d2: 'red apple fruit', d3: 'banana bread', d4: 'yellow fruit', d5: 'green tea', d6: 'black coffee' };
  const r = await scoredReport('tiny', docs, 'q1 0 d1 2\nq1 0 d4 2\nq2 0 d3 2\nq2 0 d9 2\n', { q1: 'fruit', q2: 'yellow bread' });
  assert.deepEqual([r.recall.corpusSize, r.recall.k, r.recall.corpusWithinK, r.recall.cannotMove], [6, 10, true, true]);
  // Ceilings: q1 2/2, q2 1/2 (d9 is not in the corpus).
  assert.ok(Math.abs((r.recall.meanCeiling as number) - 0.75) < 1e-12);
  assert.match(formatMethodTable(r), /^method\s.*\sR@10\*\s/m);
  assert.match(formatMethodTable(r), /^\* R@10 cannot tell runs apart: the 6-document corpus has no more than 10 documents/m);
  assert.ok(renderReportMarkdown(r).includes('| R@10\\* orig | R@10\\* |'));
});

test('a 30-document corpus: the expansion reaching every relevant document the corpus holds is marked, the column is not', async () => {
  const docs: Record<string, string> = { d1: 'apple pie', d2: 'fresh fruit salad', d3: 'banana bread' };
  for (let i = 4; i <= 30; i++) docs[`d${i}`] = `filler ${i} words`;
  // q1: d1 has "apple", d2 only "fruit", d99 is not in the corpus: the ceiling is 2/3; the original finds 1 of 3.
  const r = await scoredReport('pool', docs, 'q1 0 d1 2\nq1 0 d2 2\nq1 0 d99 2\nq2 0 d3 2\n', { q1: 'fruit', q2: 'bread' });
  assert.deepEqual([r.recall.corpusSize, r.recall.corpusWithinK, r.recall.originalAtCeiling, r.recall.cannotMove], [30, false, false, false]);
  const m = r.methods[0];
  assert.ok(m !== undefined && m.recallAtCeiling === true);
  assert.ok(Math.abs(m.meanRecall - (2 / 3 + 1) / 2) < 1e-12 && Math.abs(r.original.meanRecall - (1 / 3 + 1) / 2) < 1e-12);
  const table = formatMethodTable(r);
  assert.match(table, /^method\s.*\sR@10\s/m);
  assert.match(table, /^x\s+teacher\s+m\s+2\s.*\s0\.8333\*\s/m);
  assert.match(table, /^\* at the R@10 ceiling on every query: the method retrieves, within 10, every judged relevant document in the 30-document corpus/m);
});
