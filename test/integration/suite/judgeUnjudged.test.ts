// The relevance judge as the user runs it: "QX: Judge Unjudged Documents" under a cancellable
// notification with counts, against a local logprobs server started here, on a fresh copy of the
// sample (so the suites before and after see their own workspace unchanged).
import * as assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { JudgeSummary } from '../../../src/core/judge/workflow.js';
import type { QxExtensionApi } from '../../../src/extension/extension.js';
import { type FakeJudgeServer, startFakeJudgeServer } from '../../fixtures/llm/fakeJudgeServer.js';
import { after, before, describe, test } from '../runner.js';
import { activateQx, runWatched, waitFor } from '../util.js';

async function api(): Promise<QxExtensionApi> {
  const exports = (await activateQx()) as QxExtensionApi | undefined;
  assert.ok(exports !== undefined, 'activation failed');
  return exports;
}

const title = 'QX: Judging unjudged documents (tiny-judge)';

/** "12/150 documents" → 12. */
const doneOf = (line: string | undefined): number => Number(/^(\d+)\//.exec(line ?? '')?.[1] ?? Number.NaN);

describe('relevance judge command: progress, cancel, cache', () => {
  let server: FakeJudgeServer;
  let originalRoot = '';
  let copy = '';
  const settings = ['judge.baseUrl', 'judge.model', 'concurrency'];

  before(async () => {
    const { session } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    originalRoot = ws.root;
    copy = path.join(mkdtempSync(path.join(tmpdir(), 'qx-judge-it-')), 'dl19');
    cpSync(originalRoot, copy, { recursive: true, filter: (src) => src !== path.join(originalRoot, '.qx') });
    // P(Yes) 0.9 for passages whose text length is even, else 0.2: deterministic, and a mix of both.
    server = await startFakeJudgeServer({ answer: (document) => (document.length % 2 === 0 ? { Yes: 0.9, No: 0.1 } : { Yes: 0.2, No: 0.8 }), delayMs: 40 });
    const c = vscode.workspace.getConfiguration('qx');
    await c.update('judge.baseUrl', server.baseUrl, vscode.ConfigurationTarget.Global);
    await c.update('judge.model', 'tiny-judge', vscode.ConfigurationTarget.Global);
    await c.update('concurrency', 2, vscode.ConfigurationTarget.Global);
  });

  after(async () => {
    await server.close();
    const c = vscode.workspace.getConfiguration('qx');
    for (const k of settings) await c.update(k, undefined, vscode.ConfigurationTarget.Global);
    const { session } = await api();
    if (originalRoot !== '' && session.workspace?.root !== originalRoot) await session.open(originalRoot);
  });

  test('judges the unjudged documents of every top 10 with counts; Cancel keeps what was judged; a rerun judges the rest; another makes no request', async () => {
    const { session } = await api();
    await vscode.commands.executeCommand('qx.openWorkspace', copy);
    const ws = await waitFor(() => session.workspace?.root === copy && session.workspace, 'the copy to open');
    await vscode.commands.executeCommand('qx.score');
    // What should be judged, from the qrels file and the scored original top 10s.
    const judged = new Set(
      readFileSync(path.join(copy, 'qrels.dl19-passage.txt'), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const [qid, , docid] = l.trim().split(/\s+/);
          return `${qid}\t${docid}`;
        }),
    );
    const pool = new Set<string>();
    for (const q of ws.listQueries()) {
      const review = ws.getQueryReview(q.qid);
      for (const top of [review.original?.top10 ?? [], ...review.expansions.map((e) => e.score?.top10 ?? [])]) for (const d of top) if (!judged.has(`${q.qid}\t${d}`)) pool.add(`${q.qid}\t${d}`);
    }
    const expected = pool.size;
    assert.ok(expected > 20, `${expected} unjudged documents in the top 10s`);

    const first = await runWatched('qx.judgeUnjudged', title, (line) => doneOf(line) >= 10);
    assert.equal(first.result, undefined, 'a cancelled command returns nothing');
    assert.deepEqual(first.errors, [], 'Cancel is not an error');
    for (const l of first.lines) assert.match(l, new RegExp(`^\\d+/${expected} documents$`), 'every line counts documents');
    const stoppedAt = doneOf(first.lines.at(-1));
    assert.ok(stoppedAt >= 10 && stoppedAt < expected, `cancelled part way: ${first.lines.join(' | ')}`);
    const sentByCancel = server.requests;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(server.requests, sentByCancel, 'no request after Cancel');
    const dir = path.join(copy, '.qx', 'judgments');
    const file = () => path.join(dir, readdirSync(dir).find((n) => n.startsWith('tiny-judge.')) ?? 'none');
    assert.ok(existsSync(dir), 'the judgments folder exists after Cancel');
    const lines = () => readFileSync(file(), 'utf8').trim().split('\n').length;
    const kept = lines();
    assert.ok(kept >= stoppedAt && kept < expected, `the ${stoppedAt} judgments counted before Cancel are stored (${kept} lines)`);

    const second = await runWatched('qx.judgeUnjudged', title);
    const r = second.result as JudgeSummary | undefined;
    assert.ok(r !== undefined, 'the rerun completes');
    assert.deepEqual(second.errors, []);
    assert.equal(r.failed, 0);
    assert.equal(r.unjudgedInPool, expected);
    assert.equal(r.judged + r.cached, expected);
    assert.ok(r.cached >= stoppedAt, `what was judged before Cancel comes from the cache (cached ${r.cached})`);
    assert.equal(server.requests - sentByCancel, r.judged, 'the rerun requested only what was not judged');
    assert.equal(second.lines.at(-1), `${expected}/${expected} documents`);
    assert.equal(r.file, file());
    assert.equal(lines(), expected, 'one judgment per unjudged document of the top 10s');
    const records = readFileSync(r.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { qid: string; docid: string; model: string; endpoint: string; score: number });
    assert.deepEqual(new Set(records.map((x) => `${x.qid}\t${x.docid}`)), pool);
    assert.ok(records.every((x) => x.model === 'tiny-judge' && x.endpoint === server.baseUrl));
    assert.ok(records.some((x) => x.score > 0.8) && records.some((x) => x.score < 0.3), 'the scores are read from the logprobs');

    const sent = server.requests;
    const third = (await vscode.commands.executeCommand('qx.judgeUnjudged')) as JudgeSummary | undefined;
    assert.equal(server.requests, sent, 'a rerun makes no request');
    assert.equal(third?.cached, expected);
    assert.equal(lines(), expected);

    // The judge-filled feedback in the log, computed from the judgments just stored.
    const feedback = (await vscode.commands.executeCommand('qx.showJudgeFeedback')) as { judgments: number; fill: { methods: { key: string; expansions: number; judgedOnly: number; filled: number }[] } } | null;
    assert.equal(feedback?.judgments, expected);
    const original = feedback?.fill.methods.find((m) => m.key === 'original');
    assert.equal(original?.expansions, 43);
    assert.ok(original !== undefined && original.filled !== original.judgedOnly, 'the judge fills holes of the original top 10s');
  }, { timeout: 300_000 });
});
