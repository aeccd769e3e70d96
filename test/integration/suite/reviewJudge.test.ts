// The LLM judge in the Review panel inside VS Code: judgments written to the open workspace's
// .qx/judgments/ (as qx judge writes them) reach the panel's review through ReviewViewProvider and
// the real Workspace; removing them takes the judge away again.
import * as assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as vscode from 'vscode';
import { JudgmentStore, judgmentsFile } from '../../../src/core/judge/store.js';
import type { QxExtensionApi } from '../../../src/extension/extension.js';
import { describe, test } from '../runner.js';
import { activateQx, waitFor } from '../util.js';

describe('the judge in the Review panel', () => {
  test('judgments in .qx/judgments/ show in the panel review (score, qrels grade, judge); without them the judge is null', async () => {
    const { session, tree, review } = (await activateQx()) as QxExtensionApi;
    const ws = await waitFor(() => session.workspace, 'the workspace', 30_000);
    const q = await waitFor(() => tree.getChildren()[0], 'a query in the browser', 30_000);
    const before = await review.handle('review/get', { qid: q.qid });
    assert.equal(before.judge, null, 'the sample ships no judgments');
    const template = { id: 'judge-binary', version: 1, hash: '0123456789abcdef' };
    const store = JudgmentStore.open(judgmentsFile(ws.root, 'it-judge', template));
    const docids = [...new Set([...(before.review.original?.top10 ?? []), ...before.review.expansions.flatMap((s) => s.score?.top10 ?? []), 'it-hole'])];
    store.add(docids.map((docid, i) => ({ qid: q.qid, docid, score: (i % 10) / 10, probs: {}, mass: 1, token: 'Yes', mode: 'binary' as const, method: 'judge:judge-binary', provider: 'openai-compatible', endpoint: 'http://127.0.0.1:9/v1', model: 'it-judge', template, createdAt: '2026-12-06T00:00:00Z' })));
    try {
      const shown = await review.handle('review/get', { qid: q.qid });
      assert.ok(shown.judge !== null);
      assert.equal(shown.judge.judge.model, 'it-judge');
      assert.equal(Object.keys(shown.judge.docs).length, docids.length);
      assert.equal(shown.judge.docs['it-hole']?.score, (docids.indexOf('it-hole') % 10) / 10);
      assert.equal(shown.judge.docs['it-hole']?.grade, null, 'a document the qrels do not judge is a hole');
      assert.equal(Object.keys(shown.judge.expansions).length, shown.review.expansions.filter((s) => s.score !== null).length);
      await vscode.commands.executeCommand('qx.reviewQuery', q.qid);
      await waitFor(() => review.currentQid === q.qid, 'the panel to show the query');
    } finally {
      rmSync(store.file, { force: true });
    }
    assert.equal((await review.handle('review/get', { qid: q.qid })).judge, null, 'judgments removed: no judge');
  }, { timeout: 60_000 });
});
