// The whole flow on the sample workspace the harness opens (a temp copy of samples/dl19), through
// the contributed commands and the real Review webview.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { QxExtensionApi } from '../../../src/extension/extension.js';
import { after, describe, test } from '../runner.js';
import { activateQx, waitFor } from '../util.js';

async function api(): Promise<QxExtensionApi> {
  const exports = (await activateQx()) as QxExtensionApi | undefined;
  assert.ok(exports !== undefined, 'activate() returned undefined: activation failed');
  return exports;
}

describe('review flow on the sample', () => {
  const outputs: string[] = [];
  after(() => {
    for (const f of outputs) for (const p of [f, f.replace(/\.jsonl$/, '.manifest.json')]) if (existsSync(p)) vscode.workspace.fs.delete(vscode.Uri.file(p)).then(undefined, () => undefined);
  });

  test('the folder holding qx.dataset.json opens as the workspace and fills the query browser', async () => {
    const { session, tree } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace to open on activation', 30_000);
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.equal(ws.root, folder);
    // The browser fills once the opened workspace has been listed: wait for it, not for a fixed time.
    await waitFor(() => tree.getChildren().length > 0, 'the query browser to fill', 30_000);
    assert.equal(tree.getChildren().length, 43, 'the DL19 sample has 43 judged queries');
    const item = tree.getTreeItem(tree.getChildren()[0]!);
    assert.equal(item.command?.command, 'qx.reviewQuery');
    assert.match(String(item.description), /not scored/);
  }, { timeout: 60_000 });

  test('import → build index → score → build pairs, each through its command', async () => {
    const { session, tree } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const plan = JSON.parse(readFileSync(path.join(ws.root, 'demo.json'), 'utf8')) as { imports: { file: string; model: string; method: string; role: string }[] };
    for (const imp of plan.imports) {
      const r = (await vscode.commands.executeCommand('qx.importExpansions', { ...imp, file: path.join(ws.root, imp.file), format: 'querygym-tsv' })) as { imported: number } | undefined;
      assert.ok(r !== undefined && r.imported === 43, `${imp.file}: imported ${r?.imported}`);
    }
    await vscode.commands.executeCommand('qx.buildIndex');
    const scored = (await vscode.commands.executeCommand('qx.score')) as { scored: number } | undefined;
    assert.equal(scored?.scored, 43 * 6);
    const pairs = (await vscode.commands.executeCommand('qx.buildPairs')) as { pairs: number } | undefined;
    assert.ok(pairs !== undefined && pairs.pairs > 0, 'pairs were built');
    const rows = tree.getChildren();
    const withPairs = rows.filter((q) => q.pairs.auto > 0);
    assert.equal(withPairs.reduce((n, q) => n + q.pairs.auto, 0), pairs.pairs, 'the browser counts every new pair as auto');
    assert.match(String(tree.getTreeItem(withPairs[0]!).description), /Δ [+−]?\d\.\d{3}/);
  }, { timeout: 240_000 });

  test('the Review webview round trip: Alt+A reaches the panel, which accepts the focused pair', async () => {
    const { session, tree, review } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const q = tree.getChildren().find((r) => r.pairs.auto > 0);
    assert.ok(q !== undefined, 'a query with an auto pair');
    await vscode.commands.executeCommand('qx.reviewQuery', q.qid);
    await waitFor(() => review.isReady, 'the Review webview to post webview/ready', 30_000);
    await waitFor(() => review.currentQid === q.qid, 'the review to show the query');
    const pairId = ws.getQueryReview(q.qid).pairs.find((p) => p.state === 'auto')?.id;
    // Give the panel a moment to render the review it was just sent; then the keybinding command.
    await waitFor(async () => {
      await vscode.commands.executeCommand('qx.acceptPair');
      await new Promise((r) => setTimeout(r, 300));
      return ws.getQueryReview(q.qid).pairs.find((p) => p.id === pairId)?.state === 'accepted';
    }, 'the webview to accept the pair', 20_000, 500);
    assert.equal(tree.find(q.qid)?.pairs.accepted, 1, 'the query browser shows the accepted pair');
    await vscode.commands.executeCommand('qx.undo');
    assert.equal(ws.getQueryReview(q.qid).pairs.find((p) => p.id === pairId)?.state, 'auto', 'undo restores the pair');
    await vscode.commands.executeCommand('qx.acceptPair');
    await waitFor(() => ws.getQueryReview(q.qid).pairs.find((p) => p.id === pairId)?.state === 'accepted', 'accepting again');
  }, { timeout: 60_000 });

  test('editing an expansion: live preview, save, and the pair becomes edited', async () => {
    const { session, tree, review } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const q = tree.getChildren().find((r) => r.pairs.auto > 0);
    assert.ok(q !== undefined);
    await review.show(q.qid);
    const r = ws.getQueryReview(q.qid);
    const pair = r.pairs.find((p) => p.state === 'auto')!;
    const rejected = r.expansions.find((s) => s.expansion.id === pair.rejectedId)!;
    const text = `${rejected.expansion.generated} ${r.text} ${r.text}`;
    const preview = await review.handle('expansions/preview', { expansionId: rejected.expansion.id, generated: text });
    assert.ok(preview.final.endsWith(text), 'the preview scores the edited text in the expansion formulation');
    assert.ok(preview.score.ndcg10 >= 0 && preview.score.ndcg10 <= 1);
    const saved = await review.handle('expansions/save', { expansionId: rejected.expansion.id, generated: text });
    assert.equal(saved.expansion.editedFrom, rejected.expansion.id);
    assert.equal(saved.score?.ndcg10, preview.score.ndcg10, 'the saved score equals the live preview');
    const after = ws.getQueryReview(q.qid).pairs.find((p) => p.id === pair.id || p.rejectedId === saved.expansion.id);
    assert.equal(after?.state, 'edited');
  }, { timeout: 60_000 });

  test('a document that entered the top 10 opens as a qx-doc: virtual document, with its grade', async () => {
    const { session, tree, review } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const q = tree.getChildren().find((r) => ws.getQueryReview(r.qid).expansions.some((s) => (s.score?.entered.length ?? 0) > 0));
    assert.ok(q !== undefined);
    await review.show(q.qid);
    const move = ws.getQueryReview(q.qid).expansions.flatMap((s) => s.score?.entered ?? [])[0]!;
    await review.handle('docs/open', { docid: move.docid, qid: q.qid });
    const editor = await waitFor(() => vscode.window.activeTextEditor?.document.uri.scheme === 'qx-doc' && vscode.window.activeTextEditor, 'the document editor');
    const text = editor.document.getText();
    assert.ok(text.includes(ws.getDocument(move.docid)!.text), 'the passage text is shown');
    assert.ok(text.includes(move.grade === null ? 'unjudged' : `grade ${move.grade}`));
    assert.equal(vscode.workspace.fs.isWritableFileSystem('qx-doc'), undefined, 'a content provider, not a writable file system');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('bulk accept of the selected queries, then a DPO export holding exactly the exported states', async () => {
    const { session, tree } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const selected = tree.getChildren().filter((r) => r.pairs.auto > 0).slice(0, 3);
    const changed = (await vscode.commands.executeCommand('qx.acceptAutoPairs', selected[0], selected)) as number;
    assert.equal(changed, selected.reduce((n, q) => n + q.pairs.auto, 0));
    const rejectOne = tree.getChildren().find((r) => r.pairs.auto > 0);
    assert.ok(rejectOne !== undefined);
    await vscode.commands.executeCommand('qx.rejectAutoPairs', rejectOne);
    const out = path.join(ws.root, 'exports', 'it.trl-standard.jsonl');
    outputs.push(out);
    const result = (await vscode.commands.executeCommand('qx.exportDpo', { format: 'trl-standard', out, allowEvalQueries: true })) as { records: number; manifest: string } | undefined;
    assert.ok(result !== undefined, 'the export ran');
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const exportable = tree.getChildren().reduce((n, q) => n + q.pairs.auto + q.pairs.accepted + q.pairs.edited, 0);
    assert.equal(lines.length, exportable, 'one record per auto/accepted/edited pair; rejected pairs are left out');
    assert.equal(result.records, lines.length);
    for (const l of lines) for (const k of ['prompt', 'chosen', 'rejected']) assert.equal(typeof l[k], 'string', `record field ${k}`);
    assert.ok(existsSync(result.manifest));
  }, { timeout: 60_000 });

  test('changing qx.bm25.k1 shows every query as not scored; restoring it brings the scores back', async () => {
    const { tree } = await api();
    const c = vscode.workspace.getConfiguration('qx');
    const scoredBefore = tree.getChildren().filter((q) => q.bestDelta !== null).length;
    assert.ok(scoredBefore > 0);
    await c.update('bm25.k1', 1.2, vscode.ConfigurationTarget.Global);
    try {
      await waitFor(() => tree.getChildren().every((q) => q.bestDelta === null), 'scores keyed by the old k1 to disappear', 20_000);
    } finally {
      await c.update('bm25.k1', undefined, vscode.ConfigurationTarget.Global);
    }
    await waitFor(() => tree.getChildren().filter((q) => q.bestDelta !== null).length === scoredBefore, 'the k1 0.9 scores to come back', 20_000);
  }, { timeout: 60_000 });

  test('filter and sort of the query browser', async () => {
    const { tree } = await api();
    await vscode.commands.executeCommand('qx.sortQueries', { key: 'deltaDesc' });
    const rows = tree.getChildren();
    for (let i = 1; i < rows.length; i++) assert.ok((rows[i - 1]!.bestDelta ?? -9) >= (rows[i]!.bestDelta ?? -9), 'sorted by best delta, descending');
    await vscode.commands.executeCommand('qx.sortQueries', { key: 'qid' });
  });

  test('QX: Add BM25+RM3 Baseline adds one RM3 expansion per query; scored, it shows in the review but never as a query\'s best method', async () => {
    const { session, tree } = await api();
    const ws = await waitFor(() => session.workspace, 'the workspace');
    const r = (await vscode.commands.executeCommand('qx.addBaseline')) as { added: number; present: number } | undefined;
    assert.deepEqual([r?.added, r?.present], [43, 0]);
    const again = (await vscode.commands.executeCommand('qx.addBaseline')) as { added: number; present: number } | undefined;
    assert.deepEqual([again?.added, again?.present], [0, 43], 'a second run adds nothing');
    const scored = (await vscode.commands.executeCommand('qx.score')) as { scored: number } | undefined;
    assert.equal(scored?.scored, 43);
    const q = tree.getChildren()[0]!;
    const rm3 = ws.getQueryReview(q.qid).expansions.filter((e) => e.expansion.method === 'rm3');
    assert.equal(rm3.length, 1);
    assert.equal(rm3[0]!.expansion.role, 'baseline');
    assert.ok(rm3[0]!.score !== null, 'the RM3 expansion is scored');
    assert.deepEqual(tree.getChildren().filter((row) => row.bestMethod === 'rm3').map((row) => row.qid), []);
  }, { timeout: 120_000 });
});
